"""Slower mode switching for tracks that only bearings see: the modes it builds and the tracker's prediction."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fusion.config import FusionConfig
from fusion.tracking import TrackerParams
from fusion.tracking.filters import Mode, combine, imm_predict, mode_transition, slower_switching
from fusion.tracking.tracker import Tracker


def test_slower_switching_lengthens_the_cv_sojourn_and_the_hover_entry_only() -> None:
    cv, left, right, hover = slower_switching(TrackerParams().modes, 10.0)
    assert cv == Mode(0.0, 0.02, 0.02, 600.0, vertical_tau_s=10.0)
    assert left == Mode(math.radians(15.0), 1.0, 0.05, 5.0, vertical_tau_s=10.0)
    assert right == Mode(-math.radians(15.0), 1.0, 0.05, 5.0, vertical_tau_s=10.0)
    assert hover == Mode(0.0, 0.5, 0.5, 30.0, 1.0, 3000.0)
    assert slower_switching(TrackerParams().modes, 1.0) == TrackerParams().modes


def _long_run_shares(modes: tuple[Mode, ...]) -> np.ndarray:
    """The stationary distribution of the modes' Markov chain (left eigenvector of Π for eigenvalue 1)."""
    arrays = [np.array([getattr(m, name) for m in modes]) for name in ("sojourn_s", "entry_s")]
    values, vectors = np.linalg.eig(mode_transition(np.array([1.0]), *arrays)[0].T)
    share = np.real(vectors[:, np.argmin(np.abs(values - 1.0))])
    return share / share.sum()


def test_the_long_run_cv_share_of_a_bearing_only_track_is_near_one() -> None:
    # The hover, entered once per 300 s (3000 s) and left after 30 s, takes about 1/11 (30/3030) of the time (the
    # chain is sampled at 1 s, not continuous); the rest splits between the CV and the turns by their sojourns,
    # plus the hover's even exits.
    np.testing.assert_allclose(_long_run_shares(TrackerParams().modes), [0.754, 0.077, 0.077, 30.0 / 330.0],
                               atol=2e-3)
    np.testing.assert_allclose(_long_run_shares(slower_switching(TrackerParams().modes, 10.0)),
                               [0.970, 0.010, 0.010, 30.0 / 3030.0], atol=1e-3)


def test_the_tracker_predicts_bearing_only_tracks_with_the_slower_chain_and_the_others_as_before() -> None:
    prm = FusionConfig().tracker_params()
    tracker = Tracker(prm)
    x = np.array([[0.0, 0.0, 20.0, 10.0, 0.0, 0.0]] * 2)
    p = np.repeat(np.diag([100.0, 100.0, 100.0, 4.0, 4.0, 1.0])[None], 2, axis=0)
    mu = (0.85, 0.05, 0.05, 0.05)
    tab = tracker.table
    tab.add(x[:1], p[:1], mu, 0.0, np.zeros((1, 4)), "radar")
    tab.add(x[1:], p[1:], mu, 0.0, np.zeros((1, 4)), "rf", from_bearings=True)
    tracker._bearing_origins[tab.sensor_column("rf")] = np.zeros(3)
    modes = tracker._predict(np.arange(2), 2.0)
    mu_all = np.array([mu, mu])
    for row, chain in ((0, prm.modes), (1, slower_switching(prm.modes, prm.bearing_only_switch_scale))):
        expected = imm_predict(tab.xm[row:row + 1], tab.pm[row:row + 1], mu_all[row:row + 1], np.array([2.0]), chain)
        np.testing.assert_allclose(modes.x[row], expected[0][0])
        np.testing.assert_allclose(modes.c[row], expected[2][0])
    # The slower chain keeps more CV, so less of the hover's decayed and the turns' rotated velocities.
    speed = np.hypot(*combine(modes.x, modes.p, modes.c)[0][:, 3:5].T)
    assert modes.c[1, 0] > modes.c[0, 0]
    assert 10.0 > speed[1] > speed[0]
    np.testing.assert_allclose(tracker.predicted(2.0)[0], combine(modes.x, modes.p, modes.c)[0])


def test_a_track_is_bearings_only_once_no_plot_or_report_updated_it_within_sensor_recent_s() -> None:
    tracker = Tracker(FusionConfig(sensor_recent_s=10.0).tracker_params())
    tab = tracker.table
    x, p = np.zeros((3, 6)), np.repeat(np.eye(6)[None], 3, axis=0)
    tab.add(x, p, (0.85, 0.05, 0.05, 0.05), 0.0, np.zeros((3, 4)), "radar")
    rf = tab.sensor_column("rf")
    tracker._bearing_origins[rf] = np.zeros(3)
    tab.sensor_last[:, rf] = tab.t[:] = [9.0, 10.0, 10.5]
    # The radar's plot at t = 0 is 9, 10 and 10.5 s older than the tracks' last (RF) updates.
    np.testing.assert_array_equal(tracker._bearings_only(np.arange(3)), [False, False, True])
    np.testing.assert_array_equal(tracker._bearings_only(np.array([2, 0])), [True, False])


def test_config_passes_the_scale_and_refuses_a_faster_chain() -> None:
    assert FusionConfig(bearing_only_switch_scale=3.0).tracker_params().bearing_only_switch_scale == 3.0
    with pytest.raises(ValueError):
        FusionConfig(bearing_only_switch_scale=0.5)
