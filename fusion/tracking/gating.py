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

from fusion.tracking.measurements import wrap_angle

Array = NDArray[np.float64]


def chi2_gates(probability: float, max_dim: int = 6) -> Array:
    """Gate thresholds indexed by degrees of freedom 0..max_dim (0 dof never passes)."""
    gates = np.zeros(max_dim + 1)
    gates[1:] = chi2.ppf(probability, np.arange(1, max_dim + 1))
    return gates


@dataclass(frozen=True)
class Gating:
    """Everything computed for tracks × detections of one model; reused by the update."""

    y: Array  # (N, M, m) innovations, masked components zeroed
    s: Array  # (N, M, m, m) innovation covariances, masked components unit and uncoupled
    d2: Array  # (N, M) squared Mahalanobis distances
    log_det_ratio: Array  # (N, M) ln|S| - ln|R| ≥ 0: how much wider than the sensor the track looks
    inside: NDArray[np.bool_]  # (N, M) within the chi² gate


def masked_covariance(cov: Array, mask: NDArray[np.bool_]) -> Array:
    """``cov`` (..., m, m) with rows/columns of absent components replaced by the identity."""
    both = mask[..., :, None] & mask[..., None, :]
    eye = np.broadcast_to(np.eye(cov.shape[-1], dtype=bool), both.shape)
    return np.where(both, cov, eye.astype(float))


def gate(z_pred: Array, hph: Array, z: Array, r: Array, mask: NDArray[np.bool_],
         angles: tuple[int, ...], thresholds: Array) -> Gating:
    """Gate predicted measurements z_pred (N, m) with projected covariances HPHᵀ (N, m, m)
    against detections z (M, m) with covariances R (M, m, m) and component masks (M, m)."""
    y = z[None, :, :] - z_pred[:, None, :]
    if angles:
        idx = list(angles)
        y[..., idx] = wrap_angle(y[..., idx])
    y = np.where(mask[None], y, 0.0)
    r_masked = masked_covariance(r, mask)
    s = masked_covariance(hph[:, None] + r[None], np.broadcast_to(mask[None], y.shape))
    d2 = np.einsum("nmi,nmi->nm", y, np.linalg.solve(s, y[..., None])[..., 0])
    log_det_ratio = np.linalg.slogdet(s)[1] - np.linalg.slogdet(r_masked)[1][None, :]
    dof = mask.sum(axis=1)
    inside = (d2 <= thresholds[dof][None, :]) & (dof > 0)[None, :]
    return Gating(y=y, s=s, d2=d2, log_det_ratio=log_det_ratio, inside=inside)
