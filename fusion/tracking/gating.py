"""Mahalanobis gating of every track against every detection of one measurement model, batched.

For tracks i and detections j: ``S_ij = H_i P_i H_iᵀ + R_j`` and ``d²_ij = y_ijᵀ S_ij⁻¹ y_ij``.
Components a detection does not carry (masked) get a zero innovation and a unit, uncoupled
block in S, so they add nothing to d² or to ln|S|, and the chi² gate uses the number of
present components as its degrees of freedom.

An IMM track predicts a mixture of Gaussians, one per motion mode r with probability c_r, each
linearised at its own prediction: its likelihood for a detection is ``p(z) = Σ_r c_r N(z; ẑ_r, S_r)``
and its gate the union of the χ² gates of its most probable mode and of its modes of probability at
least ``floor``. Each such mode's gate holds its own measurements with the gate probability Pg, so
the union holds the mixture's with at least Pg less the probability of the modes left out; a target that stops or
turns hard, which only its hover or turn mode predicts, stays in its track's gate instead of
falling outside the moment-matched Gaussian's. (Gating on a level of the mixture's density instead,
the mixture of the modes' densities on their own gates, a smaller region within this union, was
measured worse on the swarm: 9 ID switches against 5 before and 3 with the union.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.stats import chi2

from fusion.tracking.measurements import POSITION, RADAR, MeasurementModel, wrap_angle

Array = NDArray[np.float64]

#: The smallest positive float: a mode's weight floor before its logarithm.
_TINY = float(np.finfo(float).tiny)


def chi2_gates(probability: float, max_dim: int = 6) -> Array:
    """Gate thresholds indexed by degrees of freedom 0..max_dim (0 dof never passes)."""
    gates = np.zeros(max_dim + 1)
    gates[1:] = chi2.ppf(probability, np.arange(1, max_dim + 1))
    return gates


@dataclass(frozen=True)
class Gating:
    """Everything the assignment needs for tracks × detections of one model."""

    #: (N, M) squared Mahalanobis distances (a mixture's: of its nearest gating mode); inf beyond the pre-gate
    d2: Array
    #: (N, M) the association cost ``-2 ln(p(z) √|2πR|)``: p the track's predicted density of the detection, √|2πR| the
    #: sensor's resolution cell; ``d² + ln|S| - ln|R|`` for one Gaussian. inf beyond the pre-gate (``gate``)
    cost: Array
    inside: NDArray[np.bool_]  # (N, M) within the chi² gate


def masked_covariance(cov: Array, mask: NDArray[np.bool_]) -> Array:
    """``cov`` (..., m, m) with rows/columns of absent components replaced by the identity."""
    if mask.shape[:-1] == cov.shape[:-2] and mask.all():
        return cov.copy()
    both = mask[..., :, None] & mask[..., None, :]
    return np.where(both, cov, np.eye(cov.shape[-1]))


def innovations(z_pred: Array, hph: Array, z: Array, r: Array, mask: NDArray[np.bool_],
                angles: tuple[int, ...]) -> tuple[Array, Array]:
    """Innovations y = z - h(x) (azimuths wrapped, absent components zeroed) and S = HPHᵀ + R
    (absent components unit and uncoupled); all arguments broadcast against each other."""
    y = z - z_pred
    for angle in angles:
        y[..., angle] = wrap_angle(y[..., angle])
    mask = np.broadcast_to(mask, y.shape)
    if not mask.all():
        y = np.where(mask, y, 0.0)
    return y, masked_covariance(hph + r, mask)


def short_sum(a: Array, axis: int) -> Array:
    """``a.sum(axis=axis)`` over a short axis (a position's 3 coordinates, a covariance's diagonal): the same numbers
    for an axis of fewer than 8 elements, which numpy adds in order (a longer contiguous one it sums pairwise), except
    a line of only -0.0, which numpy sums to +0.0 and this to -0.0 (``_short_reduce``)."""
    return _short_reduce(np.add, a, axis)


def squared_distances(a: Array, b: Array) -> Array:
    """Squared distances (k, N) between k points ``a`` (k, d) and N points ``b`` (N, d) over their few axes, added
    axis by axis in order: the same numbers as ``((a[:, None] - b[None]) ** 2).sum(axis=2)`` without building the
    (k, N, d) array and reducing its innermost d-long axis, which cost several times more."""
    total = (a[:, None, 0] - b[None, :, 0]) ** 2
    for axis in range(1, a.shape[1]):
        total = total + (a[:, None, axis] - b[None, :, axis]) ** 2
    return total


def short_max(a: Array, axis: int) -> Array:
    """``a.max(axis=axis)`` over a short axis (a measurement's components, a track's modes), NaN propagating alike
    (``_short_reduce``)."""
    return _short_reduce(np.maximum, a, axis)


def _short_reduce(op: np.ufunc, a: Array, axis: int) -> Array:
    """``op.reduce(a, axis=axis)`` as one elementwise ``op`` per element of a short axis: numpy's reduction over a
    few elements per output costs several times more once there are hundreds of outputs."""
    index: list[slice | int] = [slice(None)] * a.ndim
    index[axis] = 0
    out = a[tuple(index)].copy()
    for k in range(1, a.shape[axis]):
        index[axis] = k
        op(out, a[tuple(index)], out=out)
    return out


def gate(z_pred: Array, hph: Array, z: Array, r: Array, mask: NDArray[np.bool_],
         angles: tuple[int, ...], thresholds: Array, wide: float = 1.0, weights: Array | None = None,
         floor: float = 0.0, place: tuple[NDArray[np.intp], int] | None = None) -> Gating:
    """Gate predicted measurements z_pred (N, m) with projected covariances HPHᵀ (N, m, m) against
    detections z (M, m) with covariances R (M, m, m) and component masks (M, m); or, with mode
    ``weights`` (N, K) summing to 1, tracks that predict a mixture of K Gaussians, z_pred (N, K, m)
    and HPHᵀ (N, K, m, m), whose gate is the union of those of the most probable mode and of the modes of
    weight at least ``floor``.

    A cheap exact pre-gate comes first: for any single component i, d²_r ≥ y_i² / S_ii, so a
    pair whose worst component already exceeds ``wide`` times its gate in every mode is within
    ``wide`` gates of none, and only the remaining pairs get the full m×m solves, of every mode.
    ``d2`` and ``cost`` are exact for every pair within ``wide`` gates of a mode (callers may look that
    far) and inf beyond. With ``place`` = (rows (N,), n), the N tracks are those rows of a table of n tracks (the
    others beyond every gate), written in place (spreading a subset's result afterwards cost as much again).
    """
    if weights is None:
        z_pred, hph, weights = z_pred[:, None], hph[:, None], np.ones((len(z_pred), 1))
    n, m = len(z_pred), len(z)
    dof = mask.sum(axis=1)
    limit = thresholds[dof]
    complete = bool(mask.all())  # the usual case: every detection has every component, nothing to mask
    y_all = z[None, None, :, :] - z_pred[:, :, None, :]  # (N, K, M, m)
    for angle in angles:
        y_all[..., angle] = wrap_angle(y_all[..., angle])
    var = (np.diagonal(hph, axis1=2, axis2=3)[:, :, None, :]
           + np.diagonal(r, axis1=1, axis2=2)[None, None, :, :])
    ratio = y_all * y_all / var
    if not complete:
        ratio = np.where(mask[None, None], ratio, 0.0)
    bound = short_max(ratio, 3).min(axis=1)
    table_rows, n_out = (None, n) if place is None else place
    d2, cost = np.full((n_out, m), np.inf), np.full((n_out, m), np.inf)
    rows, cols = np.nonzero(bound <= wide * limit[None, :])
    if len(rows):
        y = y_all[rows, :, cols]  # (p, K, m) = innovations(...)[0], already wrapped
        s = hph[rows] + r[cols][:, None]
        r_masked = r
        if not complete:
            kept = mask[cols][:, None, :]
            y = np.where(kept, y, 0.0)
            s = masked_covariance(s, kept)
            r_masked = masked_covariance(r, mask)
        d2_modes = np.einsum("pki,pki->pk", y, np.linalg.solve(s, y[..., None])[..., 0])
        # ln|S| of every pair's modes and ln|R| of every detection in one call (each matrix is factored alone).
        log_det = np.linalg.slogdet(np.concatenate([s.reshape(-1, *s.shape[2:]), r_masked]))[1]
        n_pairs = len(rows) * s.shape[1]
        cost_modes = d2_modes + (log_det[:n_pairs].reshape(s.shape[:2]) - log_det[n_pairs:][cols][:, None])
        finite = np.isfinite(cost_modes)  # a diverged mode (NaN or infinite state) predicts nothing
        if not finite.all():
            d2_modes, cost_modes = np.where(finite, d2_modes, np.inf), np.where(finite, cost_modes, np.inf)
        w = weights[rows]
        out = rows if table_rows is None else table_rows[rows]
        cost[out, cols] = _neg2_log_sum_exp(np.log(np.maximum(w, _TINY)), cost_modes)
        # The most probable mode gates whatever the floor (a floor above every weight would gate nothing).
        gating_mode = (w >= floor) | (w == w.max(axis=1, keepdims=True))
        d2[out, cols] = np.where(gating_mode, d2_modes, np.inf).min(axis=1)
    inside = (d2 <= limit[None, :]) & (dof > 0)[None, :]
    return Gating(d2=d2, cost=cost, inside=inside)


def _neg2_log_sum_exp(log_weight: Array, value: Array) -> Array:
    """``-2 ln Σ_k exp(log_weight_k - value_k / 2)`` over the last axis, shifted by the largest term (no term
    underflows that matters; one term of weight 1 gives its value exactly); inf where every value is inf."""
    term = log_weight - 0.5 * value
    top = term.max(axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return -2.0 * (top[..., 0] + np.log(np.exp(term - top).sum(axis=-1)))


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
