"""A sensor's stated scan period: the track score's misses, a slow radar's tentative and coasting timeouts, the
merger's "same scan", and the pipeline passing each sensor's period from its status."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from fusion.pipeline import FusionEngine
from fusion.protocol import SensorStatus, encode
from fusion.tracking import Tracker, TrackerParams
from fusion.tracking.merging import Coalescence
from fusion.tracking.scan import Scan
from fusion.tracking.tracks import COASTING, CONFIRMED, TENTATIVE

from test_pipeline import RADAR, TOPIC, radar_stream
from test_tracker_merging import GATE, PARAMS, _two_tracks
from test_tracking import T0, radar_plot, scan


def _slow(kind: str, t: float, dets: list[dict], period: float = 3.0, sensor_id: str = "s-1") -> Scan:
    return dataclasses.replace(scan(kind, t, dets, sensor_id=sensor_id), revisit_s=period)


def test_a_plot_of_a_slow_radar_pays_one_miss_per_scan_period() -> None:
    tracker = Tracker(TrackerParams())
    tracker.table.add(np.zeros((1, 6)), np.eye(6)[None], tracker.params.initial_mode_p, T0, np.zeros((1, 4)), "s-1")
    radar = _slow("radar", T0 + 7.0, [radar_plot(1000.0, 45.0)])
    tracker._score(radar, np.array([0, 1], dtype=np.intp), np.array([0]), np.array([0]), np.array([[4.0]]))
    # 7 s after the last fix a 3 s radar missed the target once (at 3 and 6 s: the scan at 6 s is the one
    # before this, a second miss only after 7.5 s); a 1 s radar would have missed it 6 times.
    assert tracker.table.score[0] == pytest.approx(math.log(0.9 / 1e-6) - 2.0 + 1.0 * math.log(0.1), rel=1e-12)


def test_a_slow_radars_tentative_track_waits_for_its_next_scans() -> None:
    tracker = Tracker(TrackerParams())
    tracker.step(_slow("radar", T0, [radar_plot(3000.0, 45.0)]))
    np.testing.assert_array_equal(tracker.table.revisit, [3.0])
    np.testing.assert_array_equal(tracker._tentative_life(), [9.0])  # 3 s timeout × 3 s / 1 s, no SNR
    assert tracker.maintain(T0 + 8.9).ids == ()
    assert tracker.maintain(T0 + 9.1).ids == ("T-1",)
    tracker.step(scan("radar", T0 + 20.0, [radar_plot(3000.0, 45.0)]))  # a radar without a stated period
    np.testing.assert_array_equal(tracker.table.revisit, [1.0])
    assert tracker.maintain(T0 + 23.1).ids == ("T-2",)


def test_a_tracks_revisit_is_the_slowest_of_the_sensors_that_fixed_it_lately() -> None:
    tracker = Tracker(TrackerParams())
    tracker.step(_slow("radar", T0, [radar_plot(3000.0, 45.0)], period=1.0, sensor_id="fast"))
    tracker.step(_slow("radar", T0 + 1.0, [radar_plot(3000.0, 45.0)], period=3.0, sensor_id="slow"))
    tracker.step(_slow("radar", T0 + 2.0, [radar_plot(3000.0, 45.0)], period=1.0, sensor_id="fast"))
    np.testing.assert_array_equal(tracker.table.revisit, [3.0])  # the slow radar saw it 1 s ago
    tracker.step(_slow("radar", T0 + 12.0, [radar_plot(3000.0, 45.0)], period=1.0, sensor_id="fast"))
    np.testing.assert_array_equal(tracker.table.revisit, [1.0])  # 11 s ago: no longer lately (sensor_recent_s)


def test_a_slow_radars_confirmed_track_coasts_only_after_missed_scans_and_is_deleted_as_any() -> None:
    tracker = Tracker(TrackerParams(confirm_score=1e9))
    for k in range(4):
        tracker.step(_slow("radar", T0 + 3.0 * k, [radar_plot(2000.0 + 30.0 * k, 45.0)]))
    assert tracker.table.status.tolist() == [CONFIRMED]
    last = T0 + 9.0
    tracker.maintain(last + 7.4)  # 2.5 s × 3: not coasting between two scans
    assert tracker.table.status.tolist() == [CONFIRMED]
    tracker.maintain(last + 7.6)
    assert tracker.table.status.tolist() == [COASTING]
    assert tracker.maintain(last + 9.9).ids == ()
    assert tracker.maintain(last + 10.1).ids == ("T-1",)  # delete_after_s is not stretched


def test_a_very_slow_radars_track_still_coasts_before_it_is_deleted() -> None:
    tracker = Tracker(TrackerParams(confirm_score=1e9))
    for k in range(4):
        tracker.step(_slow("radar", T0 + 5.0 * k, [radar_plot(2000.0 + 50.0 * k, 45.0)], period=5.0))
    last = T0 + 15.0
    tracker.maintain(last + 7.4)  # 2.5 s × 5 would be 12.5 s, past delete_after_s: 10 - 2.5 s
    assert tracker.table.status.tolist() == [CONFIRMED]
    tracker.maintain(last + 7.6)
    assert tracker.table.status.tolist() == [COASTING]
    assert tracker.maintain(last + 10.1).ids == ("T-1",)


def test_a_track_started_beside_one_a_slow_radar_saw_earlier_in_its_scan_is_a_second_object() -> None:
    """Half a 3 s scan ago is the same scan; with the default 1 s period it would be the last one."""
    for period, two in ((3.0, True), (None, False)):
        tab, identities = _two_tracks(10.0, 20.0)
        tab.status[0] = TENTATIVE
        merging = Coalescence(PARAMS, GATE)
        merging.merge(tab, identities, T0 + 1.2, np.zeros(0, dtype=np.intp), np.zeros(2), born=np.array([1]),
                      last=np.array([T0, T0 + 1.2]), revisit_s=period)
        assert (merging.doubt == {(1, 2): 0.0}) == two


def test_a_radar_scan_in_parts_of_a_slow_radar_that_detects_each_track_sees_two_objects() -> None:
    """``_doubt``: the two tracks' last plots 1.2 s apart are one scan of a 3 s radar, two of a 1 s radar."""
    for period, doubt in ((3.0, 0.0), (None, -np.log(0.19))):
        tab, identities = _two_tracks(10.0, 20.0)
        merging = Coalescence(PARAMS, GATE)
        merging.merge(tab, identities, T0 + 1.0, np.array([0, 1]), np.array([1.0, 1.0]))
        merging.merge(tab, identities, T0 + 2.2, np.array([1]), np.array([0.0, 1.0]), pd=np.full(2, 0.9),
                      last=np.array([T0 + 1.0, T0 + 2.2]), revisit_s=period)
        assert merging.doubt[(1, 2)] == pytest.approx(doubt)


def test_a_merged_track_is_due_a_fix_as_the_slower_of_its_two_sensors() -> None:
    tab, identities = _two_tracks(10.0, 20.0)
    tab.revisit[:] = [1.0, 3.0]
    merging = Coalescence(PARAMS, GATE)
    for now in (T0 + 0.5, T0 + 1.5, T0 + 2.5):
        merged = merging.merge(tab, identities, now, np.array([0, 1]), np.array([0.5, 0.5]))
    assert len(merged.numbers) == 1 and len(tab) == 1
    np.testing.assert_array_equal(tab.revisit, [3.0])


def _status(period: float | None, t: float = T0) -> bytes:
    status = {"schema": "sargas.sensor_status/1", "sensor_id": "radar-north", "kind": "radar", "time": t,
              "state": "online", "origin": RADAR}
    if period is not None:
        status["scan_period_s"] = period
    return encode(SensorStatus.model_validate(status))


def test_the_pipeline_takes_each_sensors_scan_period_from_its_status_and_keeps_it() -> None:
    for statuses, expected in (([3.0], 3.0), ([None], 1.0), ([3.0, None], 3.0)):
        engine = FusionEngine()
        for k, period in enumerate(statuses):  # a later status without a period (a last will) keeps the last one
            engine.handle("sargas/v1/sensors/radar-north/status", _status(period, T0 - 1.0 + k), T0)
        for topic, payload, t in radar_stream(np.array([[900.0, 700.0, 80.0, -8.0, -4.0, 0.5]]), 2):
            assert topic == TOPIC
            engine.handle(topic, payload, t)
        engine.flush()
        np.testing.assert_array_equal(engine.tracker.table.revisit, [expected])
