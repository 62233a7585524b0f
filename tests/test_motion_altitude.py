"""Altitude hold: an Ornstein–Uhlenbeck vertical velocity in the moving IMM modes, so a measured height lasts."""

from __future__ import annotations

import math

import numpy as np

from fusion.config import FusionConfig
from fusion.tracking import TrackerParams
from fusion.tracking.filters import Mode, imm_predict
from fusion.tracking.motion import hover_matrices, mode_matrices, ou_axis


def _axis(m: np.ndarray, axis: int) -> np.ndarray:
    """The 2×2 (position, velocity) block of one axis."""
    return m[np.ix_([axis, axis + 3], [axis, axis + 3])]


def test_ou_axis_by_hand() -> None:
    # τ = 2 s, dt = 1 s, q = 0.5: x = 0.5, e^-0.5 = 0.60653066, τ (1 - e^-0.5) = 0.78693868;
    # Q = 0.5 × [[8 × 0.02912160, 4 × 0.07740906], [·, 2 × 0.31606028]].
    f_pv, f_vv, q_pp, q_pv, q_vv = ou_axis(np.array([1.0, -1.0]), np.array([2.0]), np.array([0.5]))
    np.testing.assert_allclose(f_pv[:, 0], [0.78693868, -0.78693868], rtol=1e-8)
    np.testing.assert_allclose(f_vv[:, 0], [0.60653066, 0.60653066], rtol=1e-8)
    np.testing.assert_allclose(q_pp[:, 0], [0.11648640, 0.11648640], rtol=1e-7)
    np.testing.assert_allclose(q_pv[:, 0], [0.15481812, 0.15481812], rtol=1e-7)
    np.testing.assert_allclose(q_vv[:, 0], [0.31606028, 0.31606028], rtol=1e-7)


def test_vertical_tau_changes_only_the_vertical_axis_of_the_moving_modes() -> None:
    dt = np.array([0.3, 1.0, -2.0])
    omega, q_h, q_v = np.array([0.0, 0.2, 0.0]), np.array([0.02, 1.0, 0.25]), np.array([0.02, 0.05, 0.25])
    tau = np.array([math.inf, math.inf, 1.0])
    f, q = mode_matrices(dt, omega, q_h, q_v, tau, np.array([10.0, 10.0, 10.0]))
    f0, q0 = mode_matrices(dt, omega, q_h, q_v, tau)
    horizontal = [0, 1, 3, 4]
    np.testing.assert_array_equal(f[..., horizontal, :][..., horizontal], f0[..., horizontal, :][..., horizontal])
    np.testing.assert_array_equal(q[..., horizontal, :][..., horizontal], q0[..., horizontal, :][..., horizontal])
    f_pv, f_vv, q_pp, q_pv, q_vv = ou_axis(dt, np.array([10.0, 10.0]), q_v[:2])
    for k in range(3):
        for m in range(2):
            np.testing.assert_allclose(_axis(f[k, m], 2), [[1.0, f_pv[k, m]], [0.0, f_vv[k, m]]], rtol=1e-12)
            np.testing.assert_allclose(_axis(q[k, m], 2), [[q_pp[k, m], q_pv[k, m]], [q_pv[k, m], q_vv[k, m]]],
                                       rtol=1e-12)
    # The hover keeps its own (shorter) time constant on every axis.
    fh, qh = hover_matrices(dt, np.array([1.0]), np.array([0.25]), np.array([0.25]))
    np.testing.assert_array_equal(f[:, 2:], fh)
    np.testing.assert_array_equal(q[:, 2:], qh)


def test_a_measured_height_lasts_and_a_vertical_velocity_error_decays() -> None:
    # A track 60 s after its last elevation: height known to 5 m, vertical velocity estimated 1 m/s too high.
    p = np.diag([100.0, 100.0, 25.0, 1.0, 1.0, 1.0])[None, None]
    x = np.array([[[0.0, 0.0, 50.0, 10.0, 0.0, 1.0]]])
    held = (Mode(0.0, 0.02, 0.02, 60.0, vertical_tau_s=10.0),)
    free = (Mode(0.0, 0.02, 0.02, 60.0),)
    xh, ph, _ = imm_predict(x, p, np.ones((1, 1)), np.array([60.0]), held)
    xf, pf, _ = imm_predict(x, p, np.ones((1, 1)), np.array([60.0]), free)
    # Random walk: the height moves 60 m and its variance is 25 + 60² × 1 + 0.02 × 60³/3 = 5065 m².
    assert xf[0, 0, 2] == 110.0
    np.testing.assert_allclose(pf[0, 0, 2, 2], 5065.0)
    # OU, τ = 10 s: it moves τ (1 - e^-6) = 9.975 m and its velocity decays to e^-6 of 1 m/s; the variance
    # is 25 + 9.975² + 0.02 × 1000 × (6 - 2 (1 - e^-6) + (1 - e^-12)/2) = 25 + 99.50 + 90.10.
    np.testing.assert_allclose(xh[0, 0, 2], 50.0 + 10.0 * (1.0 - math.exp(-6.0)), rtol=1e-12)
    np.testing.assert_allclose(xh[0, 0, 5], math.exp(-6.0), rtol=1e-12)
    np.testing.assert_allclose(ph[0, 0, 2, 2], 214.60, rtol=1e-4)
    # The horizontal is untouched.
    np.testing.assert_array_equal(xh[0, 0, [0, 1, 3, 4]], xf[0, 0, [0, 1, 3, 4]])


def test_config_puts_altitude_hold_in_the_moving_modes_only() -> None:
    modes = FusionConfig(vertical_velocity_tau_s=7.0).tracker_params().modes
    assert [m.vertical_tau_s for m in modes] == [7.0, 7.0, 7.0, math.inf]
    assert FusionConfig().tracker_params().modes == TrackerParams().modes
