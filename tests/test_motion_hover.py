"""The hover mode: an Ornstein–Uhlenbeck velocity that decays to zero, its F and Q, and the IMM finding it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fusion.config import FusionConfig
from fusion.tracking import TrackerParams
from fusion.tracking.filters import Mode, imm_predict, mode_posterior, mode_transition, update
from fusion.tracking.motion import cv_process_noise, cv_transition, hover_matrices, mode_matrices


def _axis(m: np.ndarray, axis: int) -> np.ndarray:
    """The 2×2 (position, velocity) block of one axis."""
    return m[np.ix_([axis, axis + 3], [axis, axis + 3])]


def test_hover_f_and_q_by_hand() -> None:
    # τ = 2 s, dt = 1 s: x = 0.5, e^-0.5 = 0.60653066, 1 - e^-0.5 = 0.39346934, 1 - e^-1 = 0.63212056.
    f, q = hover_matrices(np.array([1.0]), np.array([2.0]), np.array([0.5]), np.array([0.1]))
    # F_pv = τ (1 - e^-x) = 0.78693868; F_vv = e^-x.
    np.testing.assert_allclose(_axis(f[0, 0], 0), [[1.0, 0.78693868], [0.0, 0.60653066]], rtol=1e-8)
    # Q = q [[τ³ (x - 2(1 - e^-x) + (1 - e^-2x)/2), τ² (1 - e^-x)²/2], [·, τ (1 - e^-2x)/2]], q = 0.5:
    # 4 × (0.5 - 0.78693868 + 0.31606028) = 0.11648640; 1 × 0.15481812; 0.5 × 0.63212056 = 0.31606028.
    np.testing.assert_allclose(_axis(q[0, 0], 1), [[0.11648640, 0.15481812], [0.15481812, 0.31606028]], rtol=1e-7)
    np.testing.assert_allclose(_axis(q[0, 0], 2), _axis(q[0, 0], 1) * 0.2)  # the vertical density is 0.1
    assert q[0, 0, 0, 1] == q[0, 0, 0, 4] == f[0, 0, 0, 1] == 0.0  # axes independent


def test_hover_retrodiction_decays_the_velocity_and_moves_back_along_it() -> None:
    f, q = hover_matrices(np.array([-1.0, 1.0]), np.array([2.0]), np.array([0.5]), np.array([0.5]))
    np.testing.assert_allclose(_axis(f[0, 0], 0), [[1.0, -0.78693868], [0.0, 0.60653066]], rtol=1e-8)
    np.testing.assert_array_equal(q[0], q[1])


def test_hover_tends_to_cv_for_a_long_time_constant_and_is_continuous_at_the_series_switch() -> None:
    dt = np.array([0.5, 3.0])
    f, q = hover_matrices(dt, np.array([1e7]), np.array([0.3]), np.array([0.1]))
    np.testing.assert_allclose(f[:, 0], cv_transition(dt), rtol=1e-6)
    np.testing.assert_allclose(q[:, 0], cv_process_noise(dt, 0.3, 0.1), rtol=1e-6)
    below, above = hover_matrices(np.array([0.999999e-3, 1.000001e-3]), np.array([1.0]), np.ones(1), np.ones(1))[1]
    assert below[0, 0, 0] == pytest.approx(above[0, 0, 0] * (0.999999 / 1.000001) ** 3, rel=1e-5)
    assert below[0, 0, 0] == pytest.approx(1e-9 / 3.0, rel=1e-3)


def test_mode_matrices_build_hover_modes_with_hover_matrices_and_the_others_as_before() -> None:
    dt = np.array([0.3, 1.0, -2.0])
    omega, q_h, q_v = np.array([0.0, 0.2, 0.0]), np.array([0.02, 1.0, 0.25]), np.array([0.02, 0.05, 0.25])
    f, q = mode_matrices(dt, omega, q_h, q_v, np.array([math.inf, math.inf, 2.0]))
    f0, q0 = mode_matrices(dt, omega, q_h, q_v)
    np.testing.assert_array_equal(f[:, :2], f0[:, :2])
    np.testing.assert_array_equal(q[:, :2], q0[:, :2])
    fh, qh = hover_matrices(dt, np.array([2.0]), np.array([0.25]), np.array([0.25]))
    np.testing.assert_array_equal(f[:, 2:], fh)
    np.testing.assert_array_equal(q[:, 2:], qh)


def _run_imm(velocity: float, seconds: int) -> np.ndarray:
    """Mode probabilities of the default IMM after ``seconds`` 1 Hz position fixes (σ 10 m) of a target flying
    east at ``velocity``, from a track started with unknown velocity."""
    modes, rng = TrackerParams().modes, np.random.default_rng(7)
    r = len(modes)
    xm = np.zeros((1, r, 6))
    pm = np.repeat(np.diag([100.0, 100.0, 100.0, 900.0, 900.0, 25.0])[None, None], r, axis=1)
    mu = np.array([TrackerParams().initial_mode_p])
    h = np.repeat(np.eye(3, 6)[None], r, axis=0)
    rr = np.repeat(np.eye(3)[None] * 100.0, r, axis=0)
    for k in range(1, seconds + 1):
        xp, pp, c = imm_predict(xm, pm, mu, np.array([1.0]), modes)
        z = np.array([velocity * k, 0.0, 0.0]) + rng.normal(0.0, 10.0, 3)
        y = z - xp[0, :, :3]
        s = h @ pp[0] @ np.swapaxes(h, 1, 2) + rr
        x_new, p_new = update(xp[0], pp[0], y, h, s, rr)
        loglik = -0.5 * (np.einsum("ri,ri->r", y, np.linalg.solve(s, y[..., None])[..., 0]) + np.linalg.slogdet(2 * np.pi * s)[1])
        xm, pm, mu = x_new[None], p_new[None], mode_posterior(c, loglik[None])
    return mu[0]


def test_a_hovering_target_moves_the_imm_to_the_hover_mode_and_a_cruising_one_away_from_it() -> None:
    hovering, cruising = _run_imm(0.0, 40), _run_imm(10.0, 40)
    assert TrackerParams().modes[3].velocity_tau_s == 1.0
    assert hovering[3] > 0.6 > hovering[0]
    assert cruising[3] < 0.05 and cruising[0] > 0.7


def test_config_builds_the_hover_mode_and_checks_the_initial_probabilities() -> None:
    cfg = FusionConfig(hover_velocity_tau_s=4.0, hover_velocity_sigma_mps=1.0, hover_sojourn_s=20.0,
                       hover_entry_s=600.0, initial_cv_p=0.6, initial_hover_p=0.2)
    prm = cfg.tracker_params()
    assert prm.modes[3] == Mode(0.0, 0.5, 0.5, 20.0, 4.0, 600.0)  # q = 2σ²/τ
    assert prm.initial_mode_p == pytest.approx((0.6, 0.1, 0.1, 0.2))
    assert FusionConfig().tracker_params().modes == TrackerParams().modes
    with pytest.raises(ValueError, match="initial_cv_p \\+ initial_hover_p"):
        FusionConfig(initial_cv_p=0.8, initial_hover_p=0.2)


def test_a_hover_mode_is_entered_at_its_own_rate_and_leaves_the_others_switching_as_before() -> None:
    dt = np.array([10.0 * math.log(2.0)])
    sojourn = np.array([10.0, 10.0 / 3.0, 10.0, 10.0])
    pi = mode_transition(dt, sojourn, np.array([math.inf, math.inf, math.inf, 10.0]))[0]
    without = mode_transition(dt, sojourn[:3])[0]
    # Every moving mode enters the hover with 1 - e^(-dt/10) = 1/2 and keeps half its former row;
    # the hover stays with 1/2 and leaves evenly to the three others.
    np.testing.assert_allclose(pi[:3, :3], without / 2.0)
    np.testing.assert_allclose(pi[:3, 3], [0.5, 0.5, 0.5])
    np.testing.assert_allclose(pi[3], [1.0 / 6.0, 1.0 / 6.0, 1.0 / 6.0, 0.5])
    lone = mode_transition(dt, np.array([10.0, 10.0]), np.array([math.inf, 10.0]))[0]
    np.testing.assert_allclose(lone, [[0.5, 0.5], [0.5, 0.5]])
