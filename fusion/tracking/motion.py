"""Motion models: constant velocity (CV) and coordinated turn (CT) of known rate, batched over time steps.

State order is ``[e, n, u, ve, vn, vu]`` in the site ENU frame (metres, m/s). The process
noise is the continuous white-noise-acceleration model (Bar-Shalom, *Estimation with
Applications to Tracking and Navigation*, 6.2.2): per axis, with spectral density q,
``Q = q [[dt³/3, dt²/2], [dt²/2, dt]]``. A negative ``dt`` (retrodiction) uses ``|dt|`` in Q
so that uncertainty always grows away from the estimate's time.

The coordinated turn turns the horizontal velocity at a fixed rate ω (rad/s, positive
counter-clockwise seen from above, i.e. a left turn); the vertical axis stays CV. With a fixed
ω the model is linear in the 6-state, so CV and left/right turns can share one state vector in
an IMM (``fusion.tracking.filters.imm_predict``); ω = 0 is exactly CV.

The hover mode (``hover_matrices``) is for multirotors that stop, hover and start again: each
velocity component is an Ornstein–Uhlenbeck process that decays to zero with time constant τ
(position hold brakes the drone and keeps it there) driven by white acceleration of density q
(wind gusts), so its velocity spread settles at ``√(q τ / 2)`` and it predicts a stop, not a
drift. It is linear in the same 6-state and tends to CV as τ → ∞.

Altitude hold (``Mode.vertical_tau_s``, finite in the default moving modes): small drones hold their
height far better than their heading, so the vertical velocity of the CV and turn modes is the same
kind of OU process (``ou_axis``), decaying to zero with a time constant of several seconds. A
measured height then lasts: with a random-walk vertical velocity, a velocity error picked up from
noisy elevations keeps moving the height, whose variance grows as q t³/3, and after a few tens of
seconds of azimuths alone nothing of it is left; with the OU velocity the height variance grows as
q τ² t only (a random walk of the position), and the velocity itself stays within its spread
``√(q τ / 2)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array = NDArray[np.float64]

STATE_DIM = 6


def cv_transition(dt: ArrayLike) -> Array:
    """F(dt) of shape (..., 6, 6): position += velocity * dt."""
    step: Array = np.asarray(dt, dtype=np.float64)
    f = np.broadcast_to(np.eye(STATE_DIM), (*step.shape, STATE_DIM, STATE_DIM)).copy()
    for axis in range(3):
        f[..., axis, axis + 3] = step
    return f


def ct_transition(dt: ArrayLike, omega: float) -> Array:
    """F(dt) of shape (..., 6, 6) of a coordinated turn at ``omega`` rad/s (ω = 0 gives CV)."""
    step: Array = np.asarray(dt, dtype=np.float64)
    f = cv_transition(step)
    if omega == 0.0:
        return f
    wt = omega * step
    sin, cos = np.sin(wt), np.cos(wt)
    f[..., 0, 3] = sin / omega
    f[..., 0, 4] = -(1.0 - cos) / omega
    f[..., 1, 3] = (1.0 - cos) / omega
    f[..., 1, 4] = sin / omega
    f[..., 3, 3] = f[..., 4, 4] = cos
    f[..., 3, 4] = -sin
    f[..., 4, 3] = sin
    return f


def cv_process_noise(dt: ArrayLike, q_horizontal: float, q_vertical: float) -> Array:
    """Q(dt) of shape (..., 6, 6) of the white-acceleration CV model."""
    step: Array = np.abs(np.asarray(dt, dtype=np.float64))
    q = np.zeros((*step.shape, STATE_DIM, STATE_DIM))
    for axis, density in ((0, q_horizontal), (1, q_horizontal), (2, q_vertical)):
        q[..., axis, axis] = density * step**3 / 3.0
        q[..., axis, axis + 3] = q[..., axis + 3, axis] = density * step**2 / 2.0
        q[..., axis + 3, axis + 3] = density * step
    return q


def _ou_position_variance(x: Array, decay: Array, decay2: Array) -> Array:
    """``x - 2(1 - e^-x) + (1 - e^-2x)/2`` (the OU position variance over τ³ q), from ``decay`` = e^-x - 1
    and ``decay2`` = e^-2x - 1 (``np.expm1``, which ``ou_axis`` needs as well), by its series
    ``x³/3 - x⁴/4 + 7x⁵/60`` where the exact form would cancel (x < 1e-3)."""
    exact = x + 2.0 * decay - 0.5 * decay2
    small = x < 1e-3
    if not small.any():
        return exact
    return np.where(small, x**3 * (1.0 / 3.0 - x / 4.0 + 7.0 * x * x / 60.0), exact)


def ou_axis(dt: Array, tau: Array, density: Array) -> tuple[Array, Array, Array, Array, Array]:
    """One axis of an Ornstein–Uhlenbeck velocity (time constants ``tau`` (k,), s; densities (k,), m²/s³) over
    ``dt`` (n,), as arrays (n, k): ``F_pv, F_vv, Q_pp, Q_pv, Q_vv``; with a = |dt|, x = a/τ and s = sign(dt),

    ``F = [[1, s τ (1 - e^-x)], [0, e^-x]]``,
    ``Q = q [[τ³ (x - 2(1 - e^-x) + (1 - e^-2x)/2), τ² (1 - e^-x)²/2], [·, τ (1 - e^-2x)/2]]``.

    A stationary OU process is time-reversible, so a retrodiction (dt < 0) also decays the
    velocity (the position moves back along it); Q uses |dt| as the CV model does.
    """
    x = np.abs(dt)[:, None] / tau[None, :]
    decay, decay2 = np.expm1(-x), np.expm1(-2.0 * x)
    gone = -decay
    return (np.sign(dt)[:, None] * tau * gone, np.exp(-x), density * tau**3 * _ou_position_variance(x, decay, decay2),
            density * tau**2 * gone**2 / 2.0, -density * tau * decay2 / 2.0)


def hover_matrices(dt: ArrayLike, tau: Array, q_horizontal: Array, q_vertical: Array) -> tuple[Array, Array]:
    """F(dt) and Q(dt) of shape (n, h, 6, 6) of h hover modes (velocity time constants ``tau`` (h,), s;
    acceleration spectral densities (h,), m²/s³): every axis is ``ou_axis``. ``mode_matrices`` writes the same
    entries in fewer calls; this plain form is kept as the reference its tests compare against."""
    step: Array = np.asarray(dt, dtype=np.float64)
    n, h = len(step), len(tau)
    f = np.broadcast_to(np.eye(STATE_DIM), (n, h, STATE_DIM, STATE_DIM)).copy()
    q = np.zeros((n, h, STATE_DIM, STATE_DIM))
    for axis, density in ((0, q_horizontal), (1, q_horizontal), (2, q_vertical)):
        _set_ou_axis(f, q, axis, ou_axis(step, tau, density))
    return f, q


def _set_ou_axis(f: Array, q: Array, axis: int, blocks: tuple[Array, Array, Array, Array, Array]) -> None:
    """Write one axis's OU blocks (``ou_axis``) into F and Q (n, k, 6, 6), in place."""
    f_pv, f_vv, q_pp, q_pv, q_vv = blocks
    f[..., axis, axis + 3], f[..., axis + 3, axis + 3] = f_pv, f_vv
    q[..., axis, axis], q[..., axis + 3, axis + 3] = q_pp, q_vv
    q[..., axis, axis + 3] = q[..., axis + 3, axis] = q_pv


#: Flat entries of a turn's horizontal block in F: (0, 3), (1, 4), (0, 4), (1, 3), (3, 3), (4, 4), (3, 4), (4, 3).
_TURN_ENTRIES = np.array([3, 10, 4, 9, 21, 28, 22, 27])


@dataclass(frozen=True)
class _ModeLayout:
    """What ``mode_matrices`` needs of some modes besides ``dt``, built once per mode set.

    ``turning``: the turning modes (not hovers) and their rates ``omega``; ``density`` (1, r, 3): each mode's
    noise density per axis. OU axes: ``ou_axis`` is called once on the columns ``ou_tau``, ``ou_density`` (k,)
    (the held modes' vertical axis, then the hover modes' horizontal axis, which east and north share, then their
    vertical axis); its ``f_pv, f_vv`` side by side (n, 2k), gathered by ``f_column``, go to flat entries
    ``f_entry`` of modes ``f_mode``, and ``q_pp, q_pv, q_vv`` (n, 3k) likewise. Every entry where an OU axis
    differs from CV is written, so a hover's F and Q are ``hover_matrices``'s."""

    turning: NDArray[np.intp]
    omega: Array
    density: Array
    ou_tau: Array
    ou_density: Array
    f_mode: NDArray[np.intp]
    f_entry: NDArray[np.intp]
    f_column: NDArray[np.intp]
    q_mode: NDArray[np.intp]
    q_entry: NDArray[np.intp]
    q_column: NDArray[np.intp]


@lru_cache(maxsize=16)
def _mode_layout(omega: tuple[float, ...], q_horizontal: tuple[float, ...], q_vertical: tuple[float, ...],
                 tau: tuple[float, ...], vertical_tau: tuple[float, ...]) -> _ModeLayout:
    """The ``_ModeLayout`` of modes with these parameters (see ``mode_matrices``); cached, as every prediction
    of the tracker uses the same few mode sets."""
    hover = np.isfinite(tau)
    turning = np.flatnonzero((np.array(omega) != 0.0) & ~hover)
    held, hovering = np.flatnonzero(np.isfinite(vertical_tau) & ~hover), np.flatnonzero(hover)
    h, k = len(hovering), len(held) + 2 * len(hovering)
    taus, vertical_taus = np.array(tau), np.array(vertical_tau)
    q_h, q_v = np.array(q_horizontal), np.array(q_vertical)
    # Per written axis (held vertical, hover east, hover north, hover vertical): its mode, axis and OU column.
    mode = np.concatenate([held, np.tile(hovering, 3)])
    axis = np.repeat([2, 0, 1, 2], [len(held), h, h, h])
    column = np.concatenate([np.arange(len(held)), np.tile(len(held) + np.arange(h), 2), len(held) + h + np.arange(h)])
    layout = _ModeLayout(
        turning=turning, omega=np.array(omega)[turning], density=np.array([q_h, q_h, q_v]).T[None],
        ou_tau=np.concatenate([vertical_taus[held], taus[hovering], taus[hovering]]),
        ou_density=np.concatenate([q_v[held], q_h[hovering], q_v[hovering]]),
        # F: (axis, axis + 3) = 7 axis + 3 ← f_pv, (axis + 3, axis + 3) = 7 axis + 21 ← f_vv.
        f_mode=np.tile(mode, 2), f_entry=np.concatenate([7 * axis + 3, 7 * axis + 21]),
        f_column=np.concatenate([column, k + column]),
        # Q: (axis, axis) ← q_pp; (axis, axis + 3) and (axis + 3, axis) ← q_pv; (axis + 3, axis + 3) ← q_vv.
        q_mode=np.tile(mode, 4), q_entry=np.concatenate([7 * axis, 7 * axis + 3, 7 * axis + 18, 7 * axis + 21]),
        q_column=np.concatenate([column, k + column, k + column, 2 * k + column]))
    for array in vars(layout).values():  # shared by every caller of the cache
        array.flags.writeable = False
    return layout


def mode_matrices(dt: ArrayLike, omega: Array, q_horizontal: Array, q_vertical: Array,
                  tau: Array | None = None, vertical_tau: Array | None = None) -> tuple[Array, Array]:
    """F(dt) and Q(dt) of shape (n, r, 6, 6) for r modes at once (turn rates ``omega`` (r,), 0 for CV;
    spectral densities (r,); velocity time constants ``tau`` (r,), finite for hover modes, whose F and Q are
    ``hover_matrices``'s; vertical velocity time constants ``vertical_tau`` (r,), finite where the
    other modes' vertical axis is an OU velocity, ``ou_axis``).

    The same values as ``ct_transition`` and ``cv_process_noise`` per mode, built in a few array
    assignments: the tracker predicts every message, and building the matrices mode by mode
    with a dozen small numpy calls each cost more than the prediction itself. For the same reason
    every OU axis (``ou_axis``: the held modes' vertical, the hover modes' three) comes from one call.
    """
    step: Array = np.asarray(dt, dtype=np.float64)
    n, r = len(step), len(omega)
    layout = _mode_layout(*(tuple(np.asarray(values, dtype=float).tolist()) for values in (
        omega, q_horizontal, q_vertical, np.full(r, np.inf) if tau is None else tau,
        np.full(r, np.inf) if vertical_tau is None else vertical_tau)))
    # Flat (…, 36) views: entry (i, j) is 6i + j, so a diagonal is a stride-7 slice (cheap basic indexing).
    f = np.zeros((n, r, STATE_DIM * STATE_DIM))
    f[..., ::7] = 1.0
    f[..., 3:18:7] = step[:, None, None]
    if len(layout.turning):
        # CV modes keep exactly CV's entries; only the turning modes' horizontal block changes.
        w = layout.omega
        wt = w * step[:, None]
        sin, cos = np.sin(wt), np.cos(wt)
        along, across = sin / w, (1.0 - cos) / w
        f[:, layout.turning[:, None], _TURN_ENTRIES] = np.stack([along, along, -across, across, cos, cos, -sin, sin],
                                                                axis=-1)
    a = np.abs(step)[:, None, None]
    density = layout.density
    q = np.zeros((n, r, STATE_DIM * STATE_DIM))
    q[..., 0:15:7] = density * a**3 / 3.0
    q[..., 3:18:7] = q[..., 18:33:7] = density * a**2 / 2.0
    q[..., 21::7] = density * a
    if len(layout.ou_tau):
        f_pv, f_vv, q_pp, q_pv, q_vv = ou_axis(step, layout.ou_tau, layout.ou_density)
        f[:, layout.f_mode, layout.f_entry] = np.concatenate([f_pv, f_vv], axis=1)[:, layout.f_column]
        q[:, layout.q_mode, layout.q_entry] = np.concatenate([q_pp, q_pv, q_vv], axis=1)[:, layout.q_column]
    shape = (n, r, STATE_DIM, STATE_DIM)
    return f.reshape(shape), q.reshape(shape)
