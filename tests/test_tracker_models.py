"""Exact small cases of the tracker's v2 models: bearing triangulation, coordinated turn and IMM."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fusion.tracking.classify import speed_evidence
from fusion.tracking.filters import (
    Mode,
    combine,
    imm_mix,
    imm_predict,
    mode_posterior,
    mode_transition,
)
from fusion.tracking.motion import ct_transition, cv_transition
from fusion.tracking.triangulation import Rays, rays, triangulate

SIGMA = 0.01  # rad


def _pair(origins: list[list[float]], az_deg: list[float], el_deg: list[float]) -> Rays:
    """Rays (1, n) of bearings measured in the site frame itself (m = I) from the given origins."""
    per = [rays(np.radians([a]), np.radians([e]), np.eye(3), np.array(o)) for o, a, e in zip(origins, az_deg, el_deg)]
    return Rays(*(np.concatenate([getattr(r, f) for r in per])[None] for f in ("origin", "direction", "n_az", "n_el")))


def _solve(r: Rays, has_el: bool, alt_prior: float = 100.0, alt_sigma: float = 50.0):  # type: ignore[no-untyped-def]
    n = r.origin.shape[1]
    var = np.full((1, n), SIGMA**2)
    return triangulate(r, var, var, np.full((1, n), has_el), np.zeros((1, n)), np.ones((1, n), dtype=bool),
                       np.array([alt_prior]), alt_sigma, math.radians(10.0))


def test_two_azimuths_at_right_angles_cross_at_the_known_point_with_the_hand_computed_covariance() -> None:
    # A at the origin looks north, B at (1000, 1000) looks west: they cross at (0, 1000); height from the prior.
    c = _solve(_pair([[0, 0, 0], [1000, 1000, 0]], [0.0, 270.0], [0.0, 0.0]), has_el=False)
    np.testing.assert_allclose(c.position[0], [0.0, 1000.0, 100.0], atol=1e-6)
    # Each azimuth constrains one axis with sigma = distance × σ = 10 m; the prior gives the height's 50 m.
    np.testing.assert_allclose(c.covariance[0], np.diag([100.0, 100.0, 2500.0]), atol=1e-6)
    assert c.ok[0] and c.dof[0] == 0 and c.chi2[0] == pytest.approx(0.0, abs=1e-12)


def test_three_dimensional_bearings_recover_the_target_and_check_consistency() -> None:
    target = np.array([500.0, 1000.0, 120.0])
    origins = np.array([[0.0, 0.0, 2.0], [1000.0, 0.0, 2.0], [-300.0, 900.0, 5.0]])
    d = target - origins
    az = np.degrees(np.arctan2(d[:, 0], d[:, 1]))
    el = np.degrees(np.arctan2(d[:, 2], np.hypot(d[:, 0], d[:, 1])))
    c = _solve(_pair(origins.tolist(), az.tolist(), el.tolist()), has_el=True)
    # The altitude prior (100 ± 50 m) is one more constraint: it pulls the height 20 m·(info ratio) down.
    np.testing.assert_allclose(c.position[0], target, atol=0.5)
    assert c.ok[0] and c.dof[0] == 4 and c.chi2[0] < (20.0 / 50.0)**2
    # A bearing 2 degrees off makes the crossing inconsistent: χ² of ~ (0.035 / 0.01)² scale.
    off = _solve(_pair(origins.tolist(), [az[0] + 2.0, *az[1:]], el.tolist()), has_el=True)
    assert off.chi2[0] > 5.0


def test_parallel_bearings_and_a_crossing_behind_a_sensor_are_rejected() -> None:
    parallel = _solve(_pair([[0, 0, 0], [100, 0, 0]], [0.0, 0.0], [0.0, 0.0]), has_el=False)
    assert not parallel.ok[0]
    narrow = _solve(_pair([[0, 0, 0], [100, 0, 0]], [5.5, 354.5], [0.0, 0.0]), has_el=False)  # 11° apart
    assert narrow.ok[0]
    np.testing.assert_allclose(narrow.position[0, :2], [50.0, 50.0 / math.tan(math.radians(5.5))], atol=1e-6)
    assert not _solve(_pair([[0, 0, 0], [100, 0, 0]], [4.5, 355.5], [0.0, 0.0]), has_el=False).ok[0]  # 9°
    # A looks north-east, B looks north-west from its west: the lines meet south, behind both.
    behind = _solve(_pair([[0, 0, 0], [-100, 0, 0]], [45.0, 315.0], [0.0, 0.0]), has_el=False)
    assert not behind.ok[0]


def test_coordinated_turn_quarter_circle_and_zero_rate_is_cv() -> None:
    omega = math.pi / 2.0  # a quarter turn in 1 s, left (counter-clockwise seen from above)
    x = np.array([0.0, 0.0, 50.0, 10.0, 0.0, 1.0])
    moved = ct_transition(np.array([1.0]), omega)[0] @ x
    radius = 10.0 / omega
    np.testing.assert_allclose(moved, [radius, radius, 51.0, 0.0, 10.0, 1.0], atol=1e-12)
    np.testing.assert_array_equal(ct_transition(np.array([2.0, 3.0]), 0.0), cv_transition(np.array([2.0, 3.0])))


def test_imm_mixing_probabilities_states_and_covariances_by_hand() -> None:
    mu = np.array([[0.9, 0.1]])
    pi = np.array([[[0.95, 0.05], [0.1, 0.9]]])
    xm = np.zeros((1, 2, 6))
    xm[0, 1, 0] = 3.0
    pm = np.repeat(np.eye(6)[None, None], 2, axis=1)
    pm[0, 1, 0, 0] = 4.0
    x0, p0, c = imm_mix(xm, pm, mu, pi)
    # c_j = Σ_i Π_ij μ_i
    np.testing.assert_allclose(c[0], [0.865, 0.135])
    # Mode 2 mixes 1/3 of mode 1 (0.045 / 0.135) and 2/3 of itself (0.09 / 0.135).
    assert x0[0, 1, 0] == pytest.approx(2.0)
    assert p0[0, 1, 0, 0] == pytest.approx((1.0 + 4.0) / 3.0 + 2.0 * (4.0 + 1.0) / 3.0)
    assert x0[0, 0, 0] == pytest.approx(3.0 * 0.01 / 0.865)
    assert p0[0, 1, 1, 1] == pytest.approx(1.0)


def test_mode_transition_posterior_and_moment_matching_by_hand() -> None:
    pi = mode_transition(np.array([10.0 * math.log(2.0)]), np.array([10.0, 10.0 / 3.0, 10.0]))[0]
    # stay e^(-dt/τ): 1/2, 1/8, 1/2; the rest split evenly between the two other modes.
    np.testing.assert_allclose(pi, [[0.5, 0.25, 0.25], [0.4375, 0.125, 0.4375], [0.25, 0.25, 0.5]])
    np.testing.assert_allclose(mode_posterior(np.array([[0.5, 0.5]]), np.array([[0.0, math.log(3.0)]])),
                               [[0.25, 0.75]])
    xm = np.zeros((1, 2, 6))
    xm[0, 1, 0] = 4.0
    x, p = combine(xm, np.repeat(np.eye(6)[None, None], 2, axis=1), np.array([[0.75, 0.25]]))
    assert x[0, 0] == pytest.approx(1.0)
    assert p[0, 0, 0] == pytest.approx(1.0 + 0.75 * 1.0 + 0.25 * 9.0)


def test_imm_predict_of_one_cv_mode_is_the_kalman_prediction() -> None:
    x = np.array([[[1.0, 2.0, 3.0, 1.0, -1.0, 0.5]]])
    p = np.eye(6)[None, None].copy()
    xp, pp, c = imm_predict(x, p, np.ones((1, 1)), np.array([2.0]), (Mode(0.0, 3.0, 1.0, 10.0),))
    f = cv_transition(np.array([2.0]))[0]
    np.testing.assert_allclose(xp[0, 0], f @ x[0, 0])
    assert pp[0, 0, 0, 0] == pytest.approx(1.0 + 4.0 + 3.0 * 8.0 / 3.0)  # P + dt² P_v + q dt³/3
    assert c.tolist() == [[1.0]]


def test_speed_evidence_by_hand() -> None:
    ev = speed_evidence(np.array([35.0, 30.0, 55.0]), weight=1.0, floor=0.05)
    assert ev[0, 0] == pytest.approx(math.log(0.5))  # a drone's half-likelihood edge
    assert ev[1, 2] == pytest.approx(math.log(0.5))  # an aircraft's
    assert ev[1, 1] == pytest.approx(math.log(1.0 / (1.0 + math.exp(5.0 / 3.0))))  # a bird at 30 m/s
    np.testing.assert_allclose(ev[2], np.log([0.05, 0.05, 1.0 / (1.0 + math.exp(-25.0 / 3.0)), 0.5]))
    np.testing.assert_allclose(speed_evidence(np.array([12.0]), weight=0.1, floor=0.05)[0, 3], 0.1 * math.log(0.5))
