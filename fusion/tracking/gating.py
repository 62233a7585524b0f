"""Mahalanobis gating of every track against every detection of one measurement model, batched.

For tracks i and detections j: ``S_ij = H_i P_i H_iᵀ + R_j`` and ``d²_ij = y_ijᵀ S_ij⁻¹ y_ij``.
Components a detection does not carry (masked) get a zero innovation and a unit, uncoupled
block in S, so they add nothing to d² or to ln|S|, and the chi² gate uses the number of
present components as its degrees of freedom.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.stats import chi2

from fusion.tracking.measurements import POSITION, RADAR, MeasurementModel, wrap_angle

Array = NDArray[np.float64]


def chi2_gates(probability: float, max_dim: int = 6) -> Array:
    """Gate thresholds indexed by degrees of freedom 0..max_dim (0 dof never passes)."""
    gates = np.zeros(max_dim + 1)
    gates[1:] = chi2.ppf(probability, np.arange(1, max_dim + 1))
    return gates


@dataclass(frozen=True)
class Gating:
    """Everything the assignment needs for tracks × detections of one model."""

    d2: Array  # (N, M) squared Mahalanobis distances; inf for pairs the marginal pre-gate ruled out
    log_det_ratio: Array  # (N, M) ln|S| - ln|R| ≥ 0: how much wider than the sensor the track looks
    inside: NDArray[np.bool_]  # (N, M) within the chi² gate


def masked_covariance(cov: Array, mask: NDArray[np.bool_]) -> Array:
    """``cov`` (..., m, m) with rows/columns of absent components replaced by the identity."""
    both = mask[..., :, None] & mask[..., None, :]
    if both.shape == cov.shape and mask.all():
        return cov.copy()
    return np.where(both, cov, np.eye(cov.shape[-1]))


def innovations(z_pred: Array, hph: Array, z: Array, r: Array, mask: NDArray[np.bool_],
                angles: tuple[int, ...]) -> tuple[Array, Array]:
    """Innovations y = z - h(x) (azimuths wrapped, absent components zeroed) and S = HPHᵀ + R
    (absent components unit and uncoupled); all arguments broadcast against each other."""
    y = z - z_pred
    if angles:
        idx = list(angles)
        y[..., idx] = wrap_angle(y[..., idx])
    mask = np.broadcast_to(mask, y.shape)
    y = np.where(mask, y, 0.0)
    return y, masked_covariance(hph + r, mask)


def gate(z_pred: Array, hph: Array, z: Array, r: Array, mask: NDArray[np.bool_],
         angles: tuple[int, ...], thresholds: Array, wide: float = 1.0) -> Gating:
    """Gate predicted measurements z_pred (N, m) with projected covariances HPHᵀ (N, m, m)
    against detections z (M, m) with covariances R (M, m, m) and component masks (M, m).

    A cheap exact pre-gate comes first: for any single component i, d² ≥ y_i² / S_ii, so a
    pair whose worst component already exceeds ``wide`` times its gate cannot be within
    ``wide`` gates, and only the remaining pairs get the full m×m solve. ``d2`` is exact for
    every pair within ``wide`` gates (callers may look that far) and inf beyond.
    """
    n, m = len(z_pred), len(z)
    dof = mask.sum(axis=1)
    y_all = z[None, :, :] - z_pred[:, None, :]
    if angles:
        idx = list(angles)
        y_all[..., idx] = wrap_angle(y_all[..., idx])
    var = np.diagonal(hph, axis1=1, axis2=2)[:, None, :] + np.diagonal(r, axis1=1, axis2=2)[None, :, :]
    bound = np.where(mask[None], y_all * y_all / var, 0.0).max(axis=2, initial=0.0)
    limit = thresholds[dof]
    rows, cols = np.nonzero(bound <= wide * limit[None, :])
    kept = mask[cols]
    y = np.where(kept, y_all[rows, cols], 0.0)  # = innovations(...)[0], already wrapped
    s = masked_covariance(hph[rows] + r[cols], kept)
    d2 = np.full((n, m), np.inf)
    d2[rows, cols] = np.einsum("ki,ki->k", y, np.linalg.solve(s, y[..., None])[..., 0])
    log_det_ratio = np.zeros((n, m))
    log_det_ratio[rows, cols] = np.linalg.slogdet(s)[1] - np.linalg.slogdet(masked_covariance(r, mask))[1][cols]
    inside = (d2 <= limit[None, :]) & (dof > 0)[None, :]
    return Gating(d2=d2, log_det_ratio=log_det_ratio, inside=inside)


def plausible(pos: Array, var: Array, offset: Array, z: Array, r: Array, mask: NDArray[np.bool_],
              model: MeasurementModel, m: Array, b: Array, limits: Array) -> NDArray[np.bool_]:
    """Which of N tracks may be within ``limits`` (N, M) of d² of some of M detections of one block.

    A conservative bound that needs no filter prediction: ``pos`` (N, 3) is a track's position
    carried at constant velocity, ``offset`` (N,) bounds how far its IMM prediction can be from it
    (turns) and ``var`` (N,) bounds the trace of the predicted position covariance. Each tested
    component c of the measurement obeys d² ≥ y_c²/S_c, with S_c ≤ the bound + R_cc: range and
    azimuth for radar, azimuth for bearings, each present axis for positions. Elevation and radial
    velocity are not tested (a pair is only ever kept too often, never dropped wrongly).
    """
    if model is POSITION:
        near = np.ones((len(pos), len(z)), dtype=bool)
        for axis in range(3):
            y = np.abs(z[None, :, axis] - pos[:, None, axis]) - offset[:, None]
            s = var[:, None] + r[None, :, axis, axis]
            near &= ~mask[None, :, axis] | (y <= 0.0) | (y * y <= limits * s)
        return np.asarray(near.any(axis=1))
    p = pos @ m.T + b
    ground = np.hypot(p[:, 0], p[:, 1])
    az_col = 1 if model is RADAR else 0
    # Azimuth: the prediction's own azimuth is within asin(offset / ground) of this one, and its
    # ground distance at least ground - offset (tracks closer than that to the sensor always pass).
    reach = ground - offset
    slack = np.where(reach > 0.0, np.arcsin(np.minimum(offset / np.maximum(ground, 1e-9), 1.0)), np.pi)
    dz = np.abs(wrap_angle(z[None, :, az_col] - np.arctan2(p[:, 0], p[:, 1])[:, None])) - slack[:, None]
    s = var[:, None] / np.maximum(reach, 1e-9)[:, None] ** 2 + r[None, :, az_col, az_col]
    near = (reach[:, None] <= 0.0) | (dz <= 0.0) | (dz * dz <= limits * s)
    if model is RADAR:
        dr = np.abs(z[None, :, 0] - np.linalg.norm(p, axis=1)[:, None]) - offset[:, None]
        near &= (dr <= 0.0) | (dr * dr <= limits * (var[:, None] + r[None, :, 0, 0]))
    return np.asarray(near.any(axis=1))
