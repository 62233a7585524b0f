"""The sequential log-likelihood-ratio track score: exact gains, clutter that never reaches the threshold,
and a target that two sensors confirm before ``confirm_hits``."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fusion.tracking import Tracker, TrackerParams
from fusion.tracking.tracks import COASTING, CONFIRMED, TENTATIVE

from test_tracking import T0, radar_plot, scan


def _tracker_with_one_track(**params: float) -> Tracker:
    tracker = Tracker(TrackerParams(**params))  # type: ignore[arg-type]
    tracker.table.add(np.zeros((1, 6)), np.eye(6)[None], tracker.params.initial_mode_p, T0, np.zeros((1, 4)), "s-1")
    return tracker


def test_a_plot_adds_its_likelihood_ratio_less_a_miss_for_every_revisit_it_skipped() -> None:
    tracker = _tracker_with_one_track()
    radar = scan("radar", T0 + 3.0, [radar_plot(1000.0, 45.0), radar_plot(2000.0, 90.0)])
    offsets = np.array([0, 2], dtype=np.intp)
    cost = np.array([[9.0, 4.0]])
    tracker._score(radar, offsets, np.array([0]), np.array([1]), cost)
    # ln(Pd / λ) - cost / 2 + 2 ln(1 - Pd): 3 s after the last fix, 2 scans of 1 s were missed.
    assert tracker.table.score[0] == pytest.approx(math.log(0.9 / 1e-6) - 2.0 + 2.0 * math.log(0.1), rel=1e-12)


def test_a_bearing_adds_a_weak_ratio_and_pays_no_miss() -> None:
    tracker = _tracker_with_one_track(bearing_clutter_density=0.02)
    bearing = scan("acoustic", T0 + 5.0, [{"azimuth_deg": 45.0}], sensor_id="mic-1")
    tracker._score(bearing, np.array([0, 1], dtype=np.intp), np.array([0]), np.array([0]), np.array([[1.0]]))
    assert tracker.table.score[0] == pytest.approx(math.log(0.9 / 0.02) - 0.5, rel=1e-12)


def test_clutter_never_reaches_the_confirmation_score_and_dies() -> None:
    """10 false plots a scan over 5 km and 10° of elevation (the mass scenario's rate) for 100 scans."""
    rng = np.random.default_rng(3)
    tracker = Tracker(TrackerParams(confirm_hits=1000))
    best = 0.0
    for k in range(100):
        plots = [radar_plot(float(rng.uniform(300, 5000)), float(rng.uniform(0, 360)), float(rng.uniform(0, 10)))
                 for _ in range(10)]
        assert tracker.step(scan("radar", T0 + k, plots)).confirmed == ()
        best = max(best, float(tracker.table.score.max()))
    assert 10.0 < best < tracker.params.confirm_score / 2  # chance hits score, but far below the threshold
    assert not (tracker.table.status != TENTATIVE).any()
    assert (tracker.table.t_fix >= T0 + 99 - 3.0).all()  # every tentative track is deleted 3 s after its last fix


def test_a_target_missed_every_other_scan_keeps_a_score_that_grows() -> None:
    """Pd ≈ 0.5 at long range: each plot pays one miss (ln 0.1) and still adds about 10; the score alone
    confirms the track at its fifth plot, 8 s after the first."""
    tracker = Tracker(TrackerParams(confirm_hits=1000))
    scores, confirmed = [], []
    for k in range(0, 10, 2):
        confirmed.append(tracker.step(scan("radar", T0 + k, [radar_plot(4000.0 + 10 * k, 45.0)])).confirmed)
        scores.append(float(tracker.table.score[0]))
    assert scores == pytest.approx([0.0, 8.71, 18.51, 28.62, 38.99], abs=0.01)
    assert confirmed == [(), (), (), (), ("T-1",)]
    assert tracker.table.ids == ["T-1"] and tracker.table.status.tolist() == [CONFIRMED]


def test_a_target_that_a_radar_and_a_bearing_sensor_agree_on_confirms_before_confirm_hits() -> None:
    radar_only, both = Tracker(), Tracker()
    confirmed: dict[str, float] = {}
    for k in range(4):
        t = T0 + k
        plot = scan("radar", t, [radar_plot(1000.0 + 5 * k, 45.0)])
        for name, tracker in (("radar", radar_only), ("both", both)):
            if tracker.step(plot).confirmed:
                confirmed.setdefault(name, t - T0)
        if both.step(scan("acoustic", t + 0.5, [{"azimuth_deg": 45.0, "elevation_deg": 3.0}],
                          sensor_id="mic-1")).confirmed:
            confirmed.setdefault("both", t + 0.5 - T0)
    assert confirmed == {"radar": 3.0, "both": 2.0}
    assert both.table.status.tolist() == [CONFIRMED] and both.table.hits.tolist() == [4]


def test_a_bearing_that_completes_the_score_confirms_the_track_then_not_at_the_next_plot() -> None:
    """Plots every other scan (as above), each followed by an acoustic bearing on the target half a second later:
    the score is 27.4 after the third plot and 31.9 after its bearing, which confirms the track at once, 1.5 s
    before the fourth plot would have (and with it ``confirm_hits``)."""
    tracker = Tracker(TrackerParams(confirm_hits=4))
    confirmed: dict[str, float] = {}
    for k in range(0, 10, 2):
        for item in (scan("radar", T0 + k, [radar_plot(4000.0 + 10 * k, 45.0)]),
                     scan("acoustic", T0 + k + 0.5, [{"azimuth_deg": 45.0, "elevation_deg": 3.0}], sensor_id="mic-1")):
            if tracker.step(item).confirmed:
                confirmed.setdefault("T-1", item.time - T0)
    assert confirmed == {"T-1": 4.5}
    assert tracker.table.hits.tolist() == [5] and tracker.table.status.tolist() == [CONFIRMED]


def test_the_score_confirms_between_fixes_only_a_track_one_hit_short_of_the_hits_rule() -> None:
    """Seven tracks started at T0 and detected at T0 + 3: of the five tentative ones, which that detection did not
    fix, only the one whose score reached the threshold with ``confirm_hits`` - 1 hits is confirmed; not a lone
    plot with a higher score, nor a track fixed twice (a pair of plots), nor one just below the score, nor one that
    has the hits but no fix now. Of the two coasting ones, only the one fixed now is confirmed again."""
    tracker = Tracker(TrackerParams(confirm_hits=4))
    tab = tracker.table
    tab.add(np.zeros((7, 6)), np.repeat(np.eye(6)[None], 7, axis=0), tracker.params.initial_mode_p, T0,
            np.zeros((7, 4)), "s-1")
    threshold = tracker.params.confirm_score
    tab.t_fix[:] = [T0 + 2.0, T0, T0 + 2.0, T0 + 2.0, T0 + 2.0, T0 + 2.0, T0 + 3.0]
    tab.score[:] = [threshold, threshold + 5.0, threshold + 5.0, threshold - 0.1, 0.0, 0.0, 0.0]
    tab.hits[:] = [3, 1, 2, 3, 4, 5, 5]
    tab.status[5:] = COASTING
    assert tracker._confirm(np.arange(7), T0 + 3.0).tolist() == [1]
    assert tab.status.tolist() == [CONFIRMED] + [TENTATIVE] * 4 + [COASTING, CONFIRMED]


def test_bearings_do_not_confirm_a_pair_of_plots_on_their_line() -> None:
    """Two plots a scan apart (a pair of clutter plots, or a target the radar then loses), then only an acoustic
    line through them at 4 Hz while the radar looks elsewhere: the bearings raise the score past the threshold
    but never confirm the track."""
    tracker = Tracker(TrackerParams())
    for t in (T0, T0 + 1.0):
        tracker.step(scan("radar", t, [radar_plot(3000.0, 45.0)]))
    scores, confirmed = [], []
    for j in range(1, 8):
        t = T0 + 1.0 + 0.25 * j
        if j % 4 == 0:
            tracker.step(scan("radar", t, [radar_plot(500.0, 200.0)]))
        confirmed += tracker.step(scan("acoustic", t, [{"azimuth_deg": 45.0, "elevation_deg": 3.0}],
                                       sensor_id="mic-1")).confirmed
        scores.append(float(tracker.table.score[tracker.table.number == 1][0]))
    assert max(scores) > tracker.params.confirm_score
    assert confirmed == [] and tracker.table.status[tracker.table.number == 1].tolist() == [TENTATIVE]
