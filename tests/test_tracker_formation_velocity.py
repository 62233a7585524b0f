"""Formation flight (``fusion.tracking.formation``, ``Tracker._hold_formation``): who is a formation mate, the
formation's velocity as a measurement, the Kalman update it gives an established track, and the formation's class
as evidence for its members' labels."""

from __future__ import annotations

import numpy as np
import pytest

from fusion.config import FusionConfig
from fusion.tracking import Tracker, TrackerParams
from fusion.tracking.formation import group_class, group_velocity, velocity_distances
from fusion.tracking.tracks import CONFIRMED

GATE_3 = 16.266  # χ²(3) at 0.999


def _distances(position: np.ndarray, velocity: np.ndarray, cov: np.ndarray, rows: np.ndarray, members: np.ndarray,
               radius_m: float, spread_mps: float) -> np.ndarray:
    """``velocity_distances`` from positions (N, 3) at one time."""
    apart = np.linalg.norm(position[rows, None, :2] - position[None, :, :2], axis=2)
    return velocity_distances(apart, velocity, cov, rows, members, radius_m, spread_mps)


def neighbours(*args: object) -> np.ndarray:
    """Mates: a finite velocity distance within the χ² gate."""
    return _distances(*args) <= GATE_3  # type: ignore[arg-type]


def test_mates_are_near_established_tracks_with_consistent_velocities() -> None:
    # Row 0 at the origin flying east at 10 m/s; 1: 50 m away, same velocity (a mate); 2: same velocity but 150 m
    # away; 3: 30 m away flying north (a crossing, not a mate); 4: 20 m away, same velocity, but not established.
    position = np.array([[0.0, 0.0, 100.0], [0.0, 50.0, 100.0], [150.0, 0.0, 100.0], [30.0, 0.0, 100.0],
                         [0.0, 20.0, 100.0]])
    velocity = np.array([[10.0, 0.0, 0.0]] * 3 + [[0.0, 10.0, 0.0], [10.0, 0.0, 0.0]])
    cov = np.repeat(np.eye(3)[None] * 0.25, 5, axis=0)
    members = np.array([True, True, True, True, False])
    mates = neighbours(position, velocity, cov, np.array([0]), members, 100.0, 0.5)
    np.testing.assert_array_equal(mates, [[False, True, False, False, False]])
    # 2 m/s apart: d² = 4 / (0.25 + 0.25 + 2·0.25) = 4 < 16.3, a mate; 5 m/s apart: d² = 25, not.
    velocity[1] = [12.0, 0.0, 0.0]
    assert neighbours(position, velocity, cov, np.array([0]), members, 100.0, 0.5)[0, 1]
    velocity[1] = [15.0, 0.0, 0.0]
    assert not neighbours(position, velocity, cov, np.array([0]), members, 100.0, 0.5)[0, 1]


def test_group_velocity_is_the_mates_mean_with_the_spread_and_every_error() -> None:
    velocity = np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [12.0, 2.0, 0.0]])
    cov = np.stack([np.eye(3) * 9.0, np.eye(3) * 1.0, np.eye(3) * 3.0])
    mean, measured = group_velocity(velocity, cov, np.array([0]), np.array([[False, True, True]]), 0.5)
    np.testing.assert_allclose(mean, [[11.0, 1.0, 0.0]])
    # (1 + 3) / 2 from the mates' errors, 9 the track's own, 0.25 · (1 + 1/2) from the spread of two mates.
    np.testing.assert_allclose(measured, [np.eye(3) * (2.0 + 9.0 + 0.375)])


def test_a_poorly_known_mate_weakens_the_formation_measurement() -> None:
    velocity = np.array([[10.0, 0.0, 0.0], [10.0, 0.0, 0.0], [40.0, 0.0, 0.0]])
    cov = np.stack([np.eye(3) * 0.25, np.eye(3) * 0.25, np.eye(3) * 900.0])
    _, alone = group_velocity(velocity, cov, np.array([0]), np.array([[False, True, False]]), 0.5)
    _, with_it = group_velocity(velocity, cov, np.array([0]), np.array([[False, True, True]]), 0.5)
    # Its 900 m²/s² enter the mean's error bound: the gain 0.25 / (0.25 + R) drops from 0.33 to 0.0005.
    assert alone[0, 0, 0] == pytest.approx(0.25 + 0.25 + 0.5)
    assert with_it[0, 0, 0] == pytest.approx(450.125 + 0.25 + 0.375)


def _two_tracks(params: TrackerParams) -> Tracker:
    """Two confirmed tracks 50 m apart at time 0: row 0 flying east at 10 m/s (±2 m/s), row 1 at 12 m/s (±1 m/s)."""
    tracker = Tracker(params)
    x = np.array([[0.0, 0.0, 100.0, 10.0, 0.0, 0.0], [0.0, 50.0, 100.0, 12.0, 0.0, 0.0]])
    p = np.stack([np.diag([100.0] * 3 + [4.0] * 3), np.diag([100.0] * 3 + [1.0] * 3)])
    tracker.table.add(x, p, params.initial_mode_p, 0.0, np.zeros((2, 4)), "radar")
    tracker.table.status[:] = CONFIRMED
    return tracker


def test_an_established_track_takes_its_formations_velocity_by_the_kalman_gain() -> None:
    tracker = _two_tracks(TrackerParams())
    tracker._hold_formation(np.array([0]), 0.0)
    # Measurement 12 ± (1 + 0.25·2 + 4) m²/s² per axis (the mate's error, the spread, and the track's own error,
    # which the mate's estimate may share) against 10 ± 4: gain 4 / 9.5.
    gain = 4.0 / 9.5
    np.testing.assert_allclose(tracker.table.x[0, 3:], [10.0 + 2.0 * gain, 0.0, 0.0])
    np.testing.assert_allclose(np.diag(tracker.table.p[0])[3:], [4.0 * (1.0 - gain)] * 3)
    np.testing.assert_allclose(tracker.table.x[0, :3], [0.0, 0.0, 100.0])  # no position-velocity correlation
    np.testing.assert_allclose(tracker.table.x[1, 3:], [12.0, 0.0, 0.0])  # only the fixed row is updated


def test_no_formation_update_when_off_or_tentative_or_not_fixed_now() -> None:
    for params, status, now in ((TrackerParams(formation_radius_m=0.0), CONFIRMED, 0.0),
                                (TrackerParams(), 0, 0.0),
                                (TrackerParams(), CONFIRMED, 1.0)):
        tracker = _two_tracks(params)
        tracker.table.status[0] = status
        tracker._hold_formation(np.array([0]), now)
        np.testing.assert_allclose(tracker.table.x[0, 3:], [10.0, 0.0, 0.0])


def test_formation_settings_reach_the_tracker_and_are_checked() -> None:
    params = FusionConfig(formation_radius_m=50.0, formation_velocity_spread_mps=1.0).tracker_params()
    assert (params.formation_radius_m, params.formation_velocity_spread_mps) == (50.0, 1.0)
    with pytest.raises(ValueError):
        FusionConfig(formation_radius_m=-1.0)
    with pytest.raises(ValueError):
        FusionConfig(formation_velocity_spread_mps=0.0)
    params = FusionConfig(formation_class_weight=0.3, flock_radius_m=500.0).tracker_params()
    assert (params.formation_class_weight, params.flock_radius_m) == (0.3, 500.0)
    for bad in ({"formation_class_weight": -0.1}, {"flock_radius_m": -1.0}):
        with pytest.raises(ValueError):
            FusionConfig(**bad)  # type: ignore[arg-type]


def test_the_formation_update_is_applied_once_per_time() -> None:
    tracker = _two_tracks(TrackerParams())
    tracker._hold_formation(np.array([0]), 0.0)
    once = tracker.table.x[0].copy(), tracker.table.p[0].copy()
    tracker._hold_formation(np.array([0]), 0.0)  # a bearing, or another radar, stamped with the same time
    np.testing.assert_array_equal(tracker.table.x[0], once[0])
    np.testing.assert_array_equal(tracker.table.p[0], once[1])
    assert tracker.table.t_formation.tolist() == [0.0, -np.inf]


def test_a_stale_mate_is_predicted_to_now_and_pulls_less() -> None:
    pulls = []
    for mate_time in (0.0, -8.0):
        tracker = _two_tracks(TrackerParams())
        tab = tracker.table
        tab.t[1] = tab.t_point[1] = mate_time  # the mate's last plot: now, or 8 s ago (its velocity error has grown)
        tab.x[1, :3] -= tab.x[1, 3:] * (0.0 - mate_time)  # ... where it then was, so that it is 50 m away now
        tab.xm[1] = tab.x[1]
        tracker._hold_formation(np.array([0]), 0.0)
        pulls.append(tab.x[0, 3] - 10.0)
    assert pulls[0] == pytest.approx(2.0 * 4.0 / 9.5)
    assert abs(pulls[1]) < 0.25 * pulls[0]  # (its IMM prediction also mixes in the hover mode: slower)


def test_group_class_is_the_mates_mean_class_probabilities_weighed_by_their_fit() -> None:
    class_p = np.array([[0.1, 0.2, 0.3, 0.4], [0.0, 1.0, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0]])
    inf = np.inf
    # Row 0's mates: track 1 with a perfect fit (affinity 1), track 2 with d² = 2 ln 2 (affinity ½); row 1's: track 0
    # at d² = 2 ln 10 (affinity 0.1); row 2 has none.
    d2 = np.array([[inf, 0.0, 2.0 * np.log(2.0)], [2.0 * np.log(10.0), inf, inf], [inf, inf, inf]])
    mean, best = group_class(class_p, d2)
    np.testing.assert_allclose(mean, [[0.25 / 1.5, 1.25 / 1.5, 0.0, 0.0], [0.1, 0.2, 0.3, 0.4], [0.0, 0.0, 0.0, 0.0]])
    np.testing.assert_allclose(best, [1.0, 0.1, 0.0])


def _shown(own: np.ndarray, flock: np.ndarray) -> np.ndarray:
    """The label operators see: own evidence and flock evidence, normalised."""
    logp = own + flock
    return logp - np.log(np.exp(logp).sum())


OWN, MATE = np.log([0.6, 0.2, 0.1, 0.1]), np.log([0.01, 0.97, 0.01, 0.01])
#: Two tracks 2 m/s apart (``_two_tracks``): d² = 4 / (4 + 1 + 2 · 0.25) under the velocity model.
AFFINITY = np.exp(-0.5 * 4.0 / 5.5)


def test_a_member_takes_its_flocks_class_as_weighted_evidence_kept_apart_from_its_own() -> None:
    # Row 0's own label: drone 0.6, bird 0.2, aircraft 0.1, unknown 0.1; its mate is a bird (0.97, the others 0.01).
    params = TrackerParams(formation_class_weight=0.5)
    tracker = _two_tracks(params)
    tab = tracker.table
    tab.label_logp[:] = [OWN, MATE]
    tracker._hold_formation(np.array([0]), 0.0)
    np.testing.assert_allclose(tab.flock_logp[0], 0.5 * AFFINITY * MATE)
    np.testing.assert_allclose(tab.label_logp, [OWN, MATE])  # the tracks' own evidence is untouched
    np.testing.assert_allclose(tab.shown_logp[0], _shown(OWN, 0.5 * AFFINITY * MATE))
    assert np.exp(tab.shown_logp[0, 1]) > 0.5  # shown more likely a bird than a drone
    np.testing.assert_allclose(tab.flock_logp[1], 0.0)  # only the fixed row takes it
    # Off, or with no mate (the other track 20 m/s faster): no flock evidence, and it replaces the old one.
    for params, speed in ((TrackerParams(formation_class_weight=0.0), 12.0), (TrackerParams(), 30.0)):
        tracker = _two_tracks(params)
        tracker.table.x[1, 3] = tracker.table.xm[1, :, 3] = speed
        tracker.table.label_logp[:] = [OWN, MATE]
        tracker.table.flock_logp[0] = 1.0
        tracker._hold_formation(np.array([0]), 0.0)
        np.testing.assert_allclose(tracker.table.flock_logp[0], 0.0)


def test_flock_evidence_is_replaced_at_each_fix_not_added_up() -> None:
    # Mates' beliefs are no new evidence: fixed again and again, a track keeps one fix's worth of its flock's class,
    # and mates with no evidence of their own do not drive each other's labels.
    tracker = _two_tracks(TrackerParams())
    tab = tracker.table
    tab.label_logp[:] = [OWN, MATE]
    for k in range(5):
        tab.t_point[:] = tab.t[:] = float(k)
        tracker._hold_formation(np.array([0, 1]), float(k))
    weight = TrackerParams().formation_class_weight
    # The formation velocity brings the two together (affinity → 1), but the evidence stays one fix's: at most the
    # weight times the mate's own log-probabilities (five fixes added up would be about five times that).
    fit = tab.flock_logp[0] / (weight * MATE)
    np.testing.assert_allclose(fit, fit[0])
    assert AFFINITY < fit[0] <= 1.0
    np.testing.assert_allclose(tab.flock_logp[1], fit[0] * weight * OWN)
    np.testing.assert_allclose(tab.label_logp, [OWN, MATE])
    # A mate's own evidence counts, not what it shows: row 1 shows row 0's class too, yet row 0 takes only MATE.
    tab.t_point[0] = tab.t[0] = 5.0
    tracker._hold_formation(np.array([0]), 5.0)
    fit = tab.flock_logp[0] / (weight * MATE)
    np.testing.assert_allclose(fit, fit[0])


def test_a_flock_mate_beyond_the_formation_radius_shares_its_class_but_not_its_velocity() -> None:
    flocks = []
    for flock_radius in (300.0, 150.0):
        tracker = _two_tracks(TrackerParams(flock_radius_m=flock_radius))
        tab = tracker.table
        tab.x[1, 1] = tab.xm[1, :, 1] = 250.0  # 250 m north: beyond formation_radius_m (100), within 300
        tab.label_logp[:] = [OWN, MATE]
        tracker._hold_formation(np.array([0]), 0.0)
        np.testing.assert_allclose(tab.x[0, 3:], [10.0, 0.0, 0.0])  # no formation velocity
        assert tab.t_formation[0] == -np.inf
        flocks.append(tab.flock_logp[0].copy())
    np.testing.assert_allclose(flocks[0], TrackerParams().formation_class_weight * AFFINITY * MATE)
    np.testing.assert_allclose(flocks[1], 0.0)
    # A flock radius below the formation's: a mate at 80 m moves the velocity but not the class.
    tracker = _two_tracks(TrackerParams(flock_radius_m=50.0))
    tab = tracker.table
    tab.x[1, 1] = tab.xm[1, :, 1] = 80.0
    tab.label_logp[:] = [OWN, MATE]
    tracker._hold_formation(np.array([0]), 0.0)
    np.testing.assert_allclose(tab.flock_logp[0], 0.0)
    assert tab.x[0, 3] > 10.0


def test_tracks_standing_still_share_no_class() -> None:
    # Both slow, in the velocity model's gate of each other: clutter beside a hovering drone agrees by chance.
    for speeds, shared in (((1.0, 1.2), False), ((1.0, 3.5), False), ((3.5, 3.6), True)):
        tracker = _two_tracks(TrackerParams())
        tab = tracker.table
        tab.x[:, 3] = speeds
        tab.xm[:, :, 3] = np.array(speeds)[:, None]
        tab.label_logp[:] = [OWN, MATE]
        tracker._hold_formation(np.array([0]), 0.0)
        assert bool(np.any(tab.flock_logp[0] != 0.0)) == shared


def test_a_diverged_track_is_no_mate() -> None:
    position = np.array([[0.0, 0.0, 100.0], [0.0, 50.0, 100.0]])
    velocity = np.array([[10.0, 0.0, 0.0], [np.nan, 0.0, 0.0]])
    cov = np.repeat(np.eye(3)[None] * 0.25, 2, axis=0)
    d2 = _distances(position, velocity, cov, np.array([0]), np.array([True, True]), 100.0, 0.5)
    assert d2.tolist() == [[np.inf, np.inf]]
