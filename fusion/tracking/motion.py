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


#: Flat entries of a turn's horizontal block in F, by value: along (0, 3), (1, 4); -across (0, 4); across (1, 3);
#: cos (3, 3), (4, 4); -sin (3, 4); sin (4, 3).
_TURN_ENTRIES = ((3, 10), (4,), (9,), (21, 28), (22,), (27,))


@dataclass(frozen=True)
class ModeLayout:
    """What ``mode_matrices`` needs of some modes besides ``dt``, built once per mode set.

    Every entry of F and Q (flattened to (r·36)) is one of a few values per time step: 0, 1, ``dt``, a turning mode's
    ``sin``/``cos`` terms, one of the CV noise terms ``q a³/3, q a²/2, q a`` of a distinct density ``densities`` (k,)
    (a = |dt|), or an OU axis's term (``ou_axis``, called once on the columns ``ou_tau``, ``ou_density``: the held
    modes' vertical axis, then the hover modes' horizontal axis, which east and north share, then their vertical
    axis). ``mode_matrices`` computes these values side by side, (n, columns), and ``f_index``, ``q_index`` (r·36)
    gather each entry's column. Every entry where an OU axis differs from CV takes the OU term, so a hover's F and Q
    are ``hover_matrices``'s; the turning modes (``omega``, not hovers) take their turn terms in the horizontal
    block."""

    omega: Array
    densities: Array
    ou_tau: Array
    ou_density: Array
    f_index: NDArray[np.intp]
    q_index: NDArray[np.intp]


@lru_cache(maxsize=16)
def mode_layout(omega: tuple[float, ...], q_horizontal: tuple[float, ...], q_vertical: tuple[float, ...],
                tau: tuple[float, ...], vertical_tau: tuple[float, ...]) -> ModeLayout:
    """The ``ModeLayout`` of modes with these parameters (see ``mode_matrices``); cached, as every prediction
    of the tracker uses the same few mode sets."""
    r = len(omega)
    hover = np.isfinite(tau)
    turning = np.flatnonzero((np.array(omega) != 0.0) & ~hover)
    held, hovering = np.flatnonzero(np.isfinite(vertical_tau) & ~hover), np.flatnonzero(hover)
    h, k, t = len(hovering), len(held) + 2 * len(hovering), len(turning)
    taus, vertical_taus = np.array(tau), np.array(vertical_tau)
    q_h, q_v = np.array(q_horizontal), np.array(q_vertical)
    density = np.array([q_h, q_h, q_v]).T  # (r, 3): per mode and axis
    densities, which = np.unique(density, return_inverse=True)
    which = which.reshape(r, 3)
    u = len(densities)
    # F columns: 0, 1, dt, then per turn value of _TURN_ENTRIES its t modes, then f_pv (k), f_vv (k).
    f_index = np.zeros((r, STATE_DIM * STATE_DIM), dtype=np.intp)
    f_index[:, ::7] = 1
    f_index[:, 3:18:7] = 2
    for value, entries in enumerate(_TURN_ENTRIES):
        for entry in entries:
            f_index[turning, entry] = 3 + value * t + np.arange(t)
    # Q columns: 0, then q a³/3, q a²/2, q a of each distinct density (u each), then q_pp, q_pv, q_vv (k each).
    q_index = np.zeros((r, STATE_DIM * STATE_DIM), dtype=np.intp)
    q_index[:, 0:15:7] = 1 + which
    q_index[:, 3:18:7] = q_index[:, 18:33:7] = 1 + u + which
    q_index[:, 21::7] = 1 + 2 * u + which
    # Per written OU axis (held vertical, hover east, hover north, hover vertical): its mode, axis and OU column.
    mode = np.concatenate([held, np.tile(hovering, 3)])
    axis = np.repeat([2, 0, 1, 2], [len(held), h, h, h])
    column = np.concatenate([np.arange(len(held)), np.tile(len(held) + np.arange(h), 2), len(held) + h + np.arange(h)])
    f_ou, q_ou = 3 + 6 * t, 1 + 3 * u
    f_index[mode, axis * 7 + 3] = f_ou + column
    f_index[mode, axis * 7 + 21] = f_ou + k + column
    q_index[mode, axis * 7] = q_ou + column
    q_index[mode, axis * 7 + 3] = q_index[mode, axis * 7 + 18] = q_ou + k + column
    q_index[mode, axis * 7 + 21] = q_ou + 2 * k + column
    layout = ModeLayout(
        omega=np.array(omega)[turning], densities=densities,
        ou_tau=np.concatenate([vertical_taus[held], taus[hovering], taus[hovering]]),
        ou_density=np.concatenate([q_v[held], q_h[hovering], q_v[hovering]]),
        f_index=f_index.ravel(), q_index=q_index.ravel())
    for array in vars(layout).values():  # shared by every caller of the cache
        array.flags.writeable = False
    return layout


def mode_matrices(dt: ArrayLike, omega: Array, q_horizontal: Array, q_vertical: Array,
                  tau: Array | None = None, vertical_tau: Array | None = None) -> tuple[Array, Array]:
    """F(dt) and Q(dt) of shape (n, r, 6, 6) for r modes at once (turn rates ``omega`` (r,), 0 for CV;
    spectral densities (r,); velocity time constants ``tau`` (r,), finite for hover modes, whose F and Q are
    ``hover_matrices``'s; vertical velocity time constants ``vertical_tau`` (r,), finite where the
    other modes' vertical axis is an OU velocity, ``ou_axis``).

    The same values as ``ct_transition`` and ``cv_process_noise`` per mode (``layout_matrices``)."""
    r = len(omega)
    return layout_matrices(np.asarray(dt, dtype=np.float64), mode_layout(*(
        tuple(np.asarray(values, dtype=float).tolist()) for values in (
            omega, q_horizontal, q_vertical, np.full(r, np.inf) if tau is None else tau,
            np.full(r, np.inf) if vertical_tau is None else vertical_tau))))


def layout_matrices(step: Array, layout: ModeLayout) -> tuple[Array, Array]:
    """F(dt) and Q(dt) (n, r, 6, 6) of the modes of ``layout`` (``mode_layout``) over time steps ``step`` (n,).

    The tracker predicts every message, and building the matrices entry by entry (or mode by mode) with dozens
    of small numpy calls cost more than the prediction itself: the few distinct values per step are computed side
    by side, each once, and one gather per matrix places them (``ModeLayout``)."""
    n = len(step)
    zero = np.zeros((n, 1))
    a = np.abs(step)[:, None]
    f_values = [zero, np.ones((n, 1)), step[:, None]]
    if len(layout.omega):
        w = layout.omega
        wt = w * step[:, None]
        sin, cos = np.sin(wt), np.cos(wt)
        along, across = sin / w, (1.0 - cos) / w
        f_values += [along, -across, across, cos, -sin, sin]
    density = layout.densities
    q_values = [zero, density * a**3 / 3.0, density * a**2 / 2.0, density * a]
    if len(layout.ou_tau):
        f_pv, f_vv, q_pp, q_pv, q_vv = ou_axis(step, layout.ou_tau, layout.ou_density)
        f_values += [f_pv, f_vv]
        q_values += [q_pp, q_pv, q_vv]
    shape = (n, len(layout.f_index) // (STATE_DIM * STATE_DIM), STATE_DIM, STATE_DIM)
    # np.take, unlike fancy indexing on axis 1, returns C order, which the BLAS products of the prediction need.
    return (np.take(np.concatenate(f_values, axis=1), layout.f_index, axis=1).reshape(shape),
            np.take(np.concatenate(q_values, axis=1), layout.q_index, axis=1).reshape(shape))
