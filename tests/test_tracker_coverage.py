"""A bearing sensor's stated coverage range bounds its bearings: no update, crossing or label beyond it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm
from test_tracker_bearings import ARRAYS, SITE, T0, _bearing_message, _origin

from fusion.config import FusionConfig, SiteOrigin
from fusion.ingest import ingest
from fusion.pipeline import FusionEngine
from fusion.protocol import SensorStatus, encode
from fusion.tracking import Tracker, jpda

#: A drone 1,140 m from mic-north and 1,430 m from mic-south (site ENU, m).
DRONE = np.array([300.0, 600.0, 150.0])


def _cross(max_range_m: float) -> Tracker:
    """Two arrays of the given range take turns on the (still) drone."""
    tracker, config = Tracker(FusionConfig().tracker_params()), FusionConfig()
    for k in range(4):
        sensor = "mic-north" if k % 2 == 0 else "mic-south"
        tracker.step(ingest(_bearing_message(sensor, T0 + 0.25 * k, [DRONE]), SITE, config, max_range_m))
    return tracker


def test_bearings_cross_within_the_sensors_ranges() -> None:
    tracker = _cross(2000.0)
    assert tracker.table.ids == ["T-1"]
    np.testing.assert_allclose(tracker.table.x[0, :2], DRONE[:2], atol=15.0)


def test_bearings_do_not_cross_beyond_a_sensors_range() -> None:
    # 1,430 m is beyond 1.25 × 1,000 m from mic-south: the lines meet where it could not have heard anything.
    tracker = _cross(1000.0)
    assert len(tracker.table) == 0
    assert sorted(tracker.strobes(T0 + 0.75).sensor.tolist()) == [0, 1]


def test_a_bearing_from_beyond_its_sensors_range_does_not_update_a_track() -> None:
    tracker, config = _cross(np.inf), FusionConfig()
    before = tracker.table.t.copy()
    # The drone is 1,140 m from mic-north: a 500 m sensor there (+25 %, +3 σ) cannot have heard it.
    tracker.step(ingest(_bearing_message("mic-north", T0 + 1.0, [DRONE]), SITE, config, 500.0))
    assert tracker.table.t.tolist() == before.tolist()
    tracker.step(ingest(_bearing_message("mic-north", T0 + 1.25, [DRONE]), SITE, config, 1500.0))
    assert tracker.table.t.tolist() == [T0 + 1.25]


def test_a_bearing_sensors_detection_probability_is_the_chance_that_the_track_is_within_its_range() -> None:
    tracker, config = _cross(np.inf), FusionConfig()
    scan = ingest(_bearing_message("mic-north", T0 + 1.0, [DRONE]), SITE, config, 1000.0)
    x, p = np.zeros((2, 6)), np.zeros((2, 6, 6))
    x[:, :3] = scan.origin + np.array([[0.0, 900.0, 0.0], [1100.0, 0.0, 0.0]])
    p[:, :3, :3] = np.diag([400.0**2, 50.0**2, 10.0**2])  # the line of sight is north for one, east for the other
    np.testing.assert_allclose(tracker._coverage(x, p, scan), [norm.cdf(100.0 / 50.0), norm.cdf(-100.0 / 400.0)],
                               rtol=1e-12)
    x[0, :3] = scan.origin + np.array([0.0, 2000.0, 0.0])  # surely beyond: as unlikely as leaving the gate
    assert tracker._coverage(x, p, scan)[0] == pytest.approx(1.0 - tracker.params.gate_probability)


def test_a_bearing_from_a_sensor_whose_range_the_track_is_likely_beyond_detects_it_not() -> None:
    # The drone is 1,140 m from mic-north: within 1.25 × 1,000 m (no hard cut), but beyond 1,000 m.
    north = 0
    for max_range_m, detected in ((1000.0, False), (1500.0, True)):
        tracker, config = _cross(np.inf), FusionConfig()
        tracker.step(ingest(_bearing_message("mic-north", T0 + 1.0, [DRONE]), SITE, config, max_range_m))
        assert (tracker.table.sensor_last[0, north] == T0 + 1.0) == detected


def _status(sensor: str, max_range_m: float | None) -> bytes:
    coverage = {"azimuth_min_deg": 0.0, "azimuth_max_deg": 360.0}
    if max_range_m is not None:
        coverage["max_range_m"] = max_range_m
    return encode(SensorStatus.model_validate({
        "schema": "sargas.sensor_status/1", "sensor_id": sensor, "kind": "acoustic", "time": T0, "state": "online",
        "origin": _origin(ARRAYS[sensor]), "coverage": coverage}))


def test_the_pipeline_takes_each_sensors_range_from_its_status() -> None:
    def tracks(max_range_m: float | None, status: bool = True) -> int:
        engine = FusionEngine(FusionConfig(site_origin=SiteOrigin(lat=SITE.lat, lon=SITE.lon, alt_m=SITE.alt_m)))
        if status:
            for sensor in ARRAYS:
                engine.handle(f"sargas/v1/sensors/{sensor}/status", _status(sensor, max_range_m), T0)
        for k in range(4):
            sensor = "mic-north" if k % 2 == 0 else "mic-south"
            msg = _bearing_message(sensor, T0 + 0.25 * k, [DRONE])
            engine.handle(f"sargas/v1/sensors/{sensor}/detections", encode(msg), T0 + 0.25 * k)
        engine.flush()
        return len(engine.tracker.table)

    assert tracks(None, status=False) == 1  # no status: the range is unknown, and unbounded
    assert tracks(None) == 1  # a coverage without a range: unbounded too
    assert tracks(2000.0) == 1
    assert tracks(1000.0) == 0


def test_one_detection_probability_per_track_for_a_message_of_bearings_and_positions(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """JPDA's miss hypothesis is the track's, so a message mixing an RF bearing and a Remote ID position gives each
    track one Pd for all its columns: Pd times the chance that the track lies within the sensor's range."""
    tracker, config = _cross(np.inf), FusionConfig()
    message = _bearing_message("mic-north", T0 + 1.0, [DRONE], kind="rf", emitter="e-1")
    lat, lon, alt = SITE.to_geodetic(DRONE)
    mixed = message.model_validate({**message.model_dump(mode="json", exclude_none=True), "detections": [
        *message.model_dump(mode="json", exclude_none=True)["detections"],
        {"position": {"lat": float(lat), "lon": float(lon), "alt_m": float(alt)}, "uas_id": "1581F4ABC"}]})
    scan = ingest(mixed, SITE, config, 1000.0)
    assert len(scan.blocks) == 2
    seen: list[np.ndarray] = []
    ratios = jpda.likelihood_ratios

    def recorded(cost: np.ndarray, allowed: np.ndarray, pd: np.ndarray, *args: float) -> np.ndarray:
        seen.append(np.asarray(pd))
        return ratios(cost, allowed, pd, *args)

    monkeypatch.setattr(jpda, "likelihood_ratios", recorded)
    x_pred, p_pred = tracker.predicted(scan.time)
    expected = tracker.params.detection_probability * tracker._coverage(x_pred, p_pred, scan)
    tracker.step(scan)
    assert seen[0].shape == (1, 1) and 0.0 < expected[0] < 0.5 * tracker.params.detection_probability
    np.testing.assert_allclose(seen[0][:, 0], expected, rtol=1e-12)
