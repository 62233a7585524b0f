"""Batched extended Kalman filter and interacting multiple model (IMM), plain numpy in the style of FilterPy.

Every array has a leading batch axis (tracks, or track/measurement pairs); IMM arrays have a
second axis over motion modes. The update uses the Joseph form, which keeps P symmetric
positive definite even with the rounding of large initial covariances.

IMM (Blom & Bar-Shalom; Bar-Shalom, Li & Kirubarajan 11.6): each track keeps one state per
mode and the mode probabilities μ. Before a prediction the modes are mixed through the
Markov transition matrix Π(dt); after an update μ is reweighted by each mode's measurement
likelihood. Every mode here shares the 6-state (CV, coordinated turns of fixed rate, hover), so
mixing is a plain weighted sum. The combined (moment-matched) estimate is what is published and
managed; gating and association use the modes themselves (``gating.gate``). Tracks that only
bearings see use a slower chain (``slower_switching``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from fusion.tracking.motion import ModeLayout, layout_matrices, mode_layout

Array = NDArray[np.float64]


def project_covariance(h: Array, p: Array) -> Array:
    """H P Hᵀ (N, m, m): the state uncertainty seen in measurement space."""
    return h @ p @ np.swapaxes(h, -1, -2)


def update(x: Array, p: Array, y: Array, h: Array, s: Array, r: Array) -> tuple[Array, Array]:
    """EKF update of k pairs: states (k, 6), covariances (k, 6, 6), innovations (k, m), H (k, m, 6),
    innovation covariances S (k, m, m) and measurement covariances R (k, m, m); Joseph form."""
    pht = p @ np.swapaxes(h, -1, -2)
    k = np.swapaxes(np.linalg.solve(s, np.swapaxes(pht, -1, -2)), -1, -2)
    x_new = x + np.einsum("kij,kj->ki", k, y)
    i_kh = np.eye(x.shape[-1]) - k @ h
    p_new = i_kh @ p @ np.swapaxes(i_kh, -1, -2) + k @ r @ np.swapaxes(k, -1, -2)
    return x_new, 0.5 * (p_new + np.swapaxes(p_new, -1, -2))


@dataclass(frozen=True)
class Mode:
    """One IMM motion mode: a coordinated turn of rate ``omega`` (rad/s; 0 is CV), its process noise,
    its mean sojourn time (s) before switching to another mode, and for a hover mode the time
    constant (s) with which its velocity decays to zero (``motion.hover_matrices``; ∞: none) and the
    mean time (s) the other modes take to enter it (``mode_transition``; ∞: their even split); for any
    other mode, the time constant (s) with which its vertical velocity decays (``motion.ou_axis``: altitude
    hold; ∞: a random walk like the horizontal)."""

    omega: float
    q_horizontal: float
    q_vertical: float
    sojourn_s: float
    velocity_tau_s: float = math.inf
    entry_s: float = math.inf
    vertical_tau_s: float = math.inf


def slower_switching(modes: tuple[Mode, ...], factor: float) -> tuple[Mode, ...]:
    """The modes with the mean sojourn of every quiet mode (no turn, no velocity decay: the CV) and every finite
    entry time (the hover) ``factor`` times longer, for tracks whose measurements cannot tell the modes apart:
    bearings give every mode nearly the same likelihood, so the Markov prior alone sets μ, and the turn and
    hover shares it keeps act as extra process noise and shrink the speed at every mixing."""
    return tuple(replace(mode, sojourn_s=mode.sojourn_s * factor, entry_s=mode.entry_s * factor)
                 if mode.omega == 0.0 and math.isinf(mode.velocity_tau_s)
                 else replace(mode, entry_s=mode.entry_s * factor) for mode in modes)


def mode_transition(dt: Array, sojourn_s: Array, entry_s: Array | None = None) -> Array:
    """Markov mode transition matrices Π (N, r, r) over ``|dt|``: mode i stays with e^(-|dt|/τ_i), else
    switches evenly to the others. The long-run share of mode i is proportional to τ_i, so a long
    CV sojourn keeps weakly observed (bearing-only) tracks mostly CV instead of drifting to a uniform
    mix whose opposite turns would shrink the speed. Modes with a finite ``entry_s`` (hovers) are
    entered at their own rate (``_entered_at_rate``)."""
    if entry_s is not None and np.isfinite(entry_s).any():
        return _entered_at_rate(dt, _EntryLayout.of(tuple(np.asarray(sojourn_s, dtype=float).tolist()),
                                                    tuple(np.asarray(entry_s, dtype=float).tolist())))
    n_modes = len(sojourn_s)
    if n_modes == 1:
        return np.ones((len(dt), 1, 1))
    stay = np.exp(-np.abs(dt)[:, None] / np.asarray(sojourn_s)[None, :])
    off = (1.0 - stay) / (n_modes - 1)
    return np.where(np.eye(n_modes, dtype=bool), stay[:, :, None], off[:, :, None])


@dataclass(frozen=True)
class _EntryLayout:
    """What ``_entered_at_rate`` needs of the modes besides ``dt``: their sojourn times, the entry times of those
    entered at their own rate (``entry_s``), each mode's number of targets of its even split (``n_targets``, at
    least 1), which modes have some (``has_targets``) and whether all do (``all_switch``), and ``index`` (r·r): the
    column of each entry of Π among the values ``_entered_at_rate`` computes side by side."""

    sojourn_s: Array
    entry_s: Array
    n_targets: Array
    has_targets: NDArray[np.bool_]
    all_switch: bool
    index: NDArray[np.intp]

    @staticmethod
    @lru_cache(maxsize=16)
    def of(sojourn_s: tuple[float, ...], entry_s: tuple[float, ...]) -> _EntryLayout:
        """The layout of modes with these sojourn and entry times (cached: every prediction uses the same few)."""
        r = len(sojourn_s)
        entered = np.isfinite(entry_s)
        targets = ~entered[None, :] & ~np.eye(r, dtype=bool)
        n_targets = targets.sum(axis=1)
        # Value columns: 0, stay (r), off (r), stay and off scaled by the chance of entering none (r each), enter.
        mode = np.arange(r)
        index = np.where(targets, (1 + r + mode)[:, None], 0)
        index[mode, mode] = 1 + mode
        others = ~entered
        index[others] += 2 * r * (index[others] > 0)
        index[np.ix_(others, entered)] = 1 + 4 * r + np.arange(entered.sum())
        layout = _EntryLayout(np.array(sojourn_s), np.array(entry_s)[entered], np.maximum(n_targets, 1).astype(float),
                              n_targets > 0, bool((n_targets > 0).all()), index.ravel())
        for value in vars(layout).values():  # shared by every caller of the cache
            if isinstance(value, np.ndarray):
                value.flags.writeable = False
        return layout


def _entered_at_rate(dt: Array, layout: _EntryLayout) -> Array:
    """Π (N, r, r) when some modes (finite ``entry_s``: a hover, as drones stop now and then whatever they
    were doing) are entered from every other mode with 1 - e^(-|dt|/entry_s) and take no share of the
    others' even splits, so adding a hover leaves the other modes' switching among themselves as it was
    (scaled by the chance of not stopping); such a mode leaves evenly to the other modes.

    Π has only a few distinct values per step: they are computed side by side and gathered by ``layout.index``
    (one small numpy call each instead of building Π by broadcast products and indexed writes)."""
    n, r = len(dt), len(layout.sojourn_s)
    a = np.abs(dt)[:, None]
    stay = np.exp(-a / layout.sojourn_s[None, :])
    if not layout.all_switch:
        stay = np.where(layout.has_targets, stay, 1.0)
    off = (1.0 - stay) / layout.n_targets
    enter = -np.expm1(-a / layout.entry_s)
    scale = 1.0 - enter.sum(axis=1)[:, None]
    values = np.concatenate([np.zeros((n, 1)), stay, off, stay * scale, off * scale, enter], axis=1)
    return np.take(values, layout.index, axis=1).reshape(n, r, r)


def imm_mix(xm: Array, pm: Array, mu: Array, pi: Array) -> tuple[Array, Array, Array]:
    """Mixed initial states (N, r, 6), covariances (N, r, 6, 6) and predicted mode probabilities c (N, r).

    ``c_j = Σ_i Π_ij μ_i``, ``μ_i|j = Π_ij μ_i / c_j``, ``x0_j = Σ_i μ_i|j x_i`` and
    ``P0_j = Σ_i μ_i|j (P_i + (x_i - x0_j)(x_i - x0_j)ᵀ)``.
    """
    joint = pi * mu[:, :, None]
    c = joint.sum(axis=1)
    w = joint / np.maximum(c[:, None, :], 1e-300)
    # The spread term via offsets from the mean (small numbers, no cancellation):
    # Σ_i w_ij (P_i + (x_i - x0_j)(..)ᵀ) = Σ_i w_ij (P_i + d_i d_iᵀ) - e_j e_jᵀ, d = x - x̄, e = x0 - x̄.
    # x0 and that sum are one einsum over rows [P_i + d_i d_iᵀ | x_i] (flattened): half the cost of two.
    n, r, dim = xm.shape
    mean = np.einsum("ni,nia->na", mu, xm)[:, None, :]
    d = xm - mean
    rows = np.empty((n, r, dim * dim + dim))
    rows[..., :dim * dim] = (pm + d[..., :, None] * d[..., None, :]).reshape(n, r, dim * dim)
    rows[..., dim * dim:] = xm
    mixed = np.einsum("nij,nia->nja", w, rows)
    x0 = np.ascontiguousarray(mixed[..., dim * dim:])
    e = x0 - mean
    p0 = mixed[..., :dim * dim].reshape(n, r, dim, dim) - e[..., :, None] * e[..., None, :]
    return x0, p0, c


@dataclass(frozen=True)
class _Plan:
    """What ``imm_predict`` needs of a mode set besides the states: the transition matrices' ``_EntryLayout`` (None
    when no mode has a finite entry time; then ``sojourn_s``) and the motion matrices' ``ModeLayout``."""

    entry: _EntryLayout | None
    sojourn_s: Array
    motion: ModeLayout

    @staticmethod
    @lru_cache(maxsize=16)
    def of(modes: tuple[Mode, ...]) -> _Plan:
        """The plan of these modes (cached: every prediction uses the same few mode sets, and converting their
        parameters anew cost a good part of a small prediction)."""
        sojourn, entry = tuple(mode.sojourn_s for mode in modes), tuple(mode.entry_s for mode in modes)
        sojourn_s = np.array(sojourn)
        sojourn_s.flags.writeable = False
        return _Plan(_EntryLayout.of(sojourn, entry) if any(map(math.isfinite, entry)) else None, sojourn_s,
                     mode_layout(*(tuple(float(getattr(mode, name)) for mode in modes) for name in (
                         "omega", "q_horizontal", "q_vertical", "velocity_tau_s", "vertical_tau_s"))))


def imm_predict(xm: Array, pm: Array, mu: Array, dt: Array, modes: tuple[Mode, ...]) -> tuple[Array, Array, Array]:
    """Mix, then move every mode's state by ``dt`` (N,): predicted states, covariances and mode probabilities."""
    plan = _Plan.of(modes)
    pi = mode_transition(dt, plan.sojourn_s) if plan.entry is None else _entered_at_rate(dt, plan.entry)
    x0, p0, c = imm_mix(xm, pm, mu, pi)
    f, q = layout_matrices(np.asarray(dt, dtype=np.float64), plan.motion)
    x_pred = np.einsum("nrij,nrj->nri", f, x0)
    return x_pred, f @ p0 @ np.swapaxes(f, -1, -2) + q, c


def combine(xm: Array, pm: Array, mu: Array) -> tuple[Array, Array]:
    """Moment-matched single estimate (N, 6), (N, 6, 6) of a mode mixture."""
    x = np.einsum("nr,nri->ni", mu, xm)
    d = xm - x[:, None, :]
    p = np.einsum("nr,nrab->nab", mu, pm + d[..., :, None] * d[..., None, :])
    return x, p


def combine_position_variance(xm: Array, pm: Array, mu: Array) -> tuple[Array, Array]:
    """``combine``'s state (N, 6) and the trace of its position covariance (N,), without the rest of the
    covariance (a tracks message shows no more): the same float operations for these parts, so the same bits."""
    x = np.einsum("nr,nri->ni", mu, xm)
    d = xm[:, :, :3] - x[:, None, :3]
    return x, np.einsum("nr,nra->na", mu, np.diagonal(pm, axis1=2, axis2=3)[:, :, :3] + d * d).sum(axis=1)


def mode_posterior(c: Array, loglik: Array) -> Array:
    """Updated mode probabilities (k, r) from predicted ones and each mode's measurement log-likelihood."""
    logw = np.log(np.maximum(c, 1e-300)) + loglik
    w = np.exp(logw - logw.max(axis=1, keepdims=True))
    return w / w.sum(axis=1, keepdims=True)
