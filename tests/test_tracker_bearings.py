"""Bearing-only tracking end to end on synthetic bearings: crossing, confirmation, strobes, and their wire form."""

from __future__ import annotations

import numpy as np
import orjson

from fusion.config import FusionConfig, SiteOrigin
from fusion.geo import LocalFrame, enu_to_polar
from fusion.ingest import ingest
from fusion.pipeline import FusionEngine
from fusion.protocol import (
    DetectionsMessage,
    Position,
    Strobe,
    TracksMessage,
    encode,
    encode_tracks,
    to_dict,
)
from fusion.tracking import Tracker
from fusion.tracking.tracks import CONFIRMED
from fusion.tracking.triangulation import crossing_sines

SITE = LocalFrame(54.30, 23.15, 200.0)
T0 = 1795766400.0
#: Two acoustic arrays 1.7 km apart (site east/north/up, m).
ARRAYS = {"mic-north": np.array([-800.0, 900.0, 2.0]), "mic-south": np.array([900.0, -700.0, 2.0])}


def _origin(enu: np.ndarray) -> dict[str, float]:
    lat, lon, alt = SITE.to_geodetic(enu)
    return {"lat": float(lat), "lon": float(lon), "alt_m": float(alt)}


def _bearing_message(sensor: str, t: float, targets: list[np.ndarray], kind: str = "acoustic",
                     emitter: str | None = None) -> DetectionsMessage:
    """Noise-free bearings, measured in the sensor's own ENU frame, of the targets (site ENU)."""
    origin = _origin(ARRAYS[sensor])
    frame = LocalFrame(origin["lat"], origin["lon"], origin["alt_m"])
    dets = []
    for target in targets:
        _, az, el = enu_to_polar(frame.from_geodetic(*SITE.to_geodetic(target)))
        det: dict[str, object] = {"azimuth_deg": float(az) % 360.0, "elevation_deg": float(el),
                                  "sigma": {"azimuth_deg": 2.0, "elevation_deg": 4.0}}
        if emitter:
            det["emitter_id"] = emitter
        dets.append(det)
    return DetectionsMessage.model_validate({"schema": "sargas.detections/1", "sensor_id": sensor, "kind": kind,
                                             "time": t, "seq": 0, "origin": origin, "detections": dets})


def _drone(t: float) -> np.ndarray:
    return np.array([300.0 + 8.0 * t, 600.0 - 5.0 * t, 150.0])


def test_a_drone_seen_only_by_two_acoustic_arrays_is_triangulated_confirmed_and_tracked() -> None:
    tracker = Tracker(FusionConfig().tracker_params())
    confirmed_at = None
    for k in range(120):
        t = 0.25 * k
        sensor = "mic-north" if k % 2 == 0 else "mic-south"
        result = tracker.step(ingest(_bearing_message(sensor, T0 + t, [_drone(t)]), SITE, FusionConfig()))
        if k == 1:
            assert result.started == ("T-1",)  # the second array's bearing crosses the first's strobe
            np.testing.assert_allclose(tracker.table.x[0, :2], _drone(t)[:2], atol=15.0)
        if confirmed_at is None and result.confirmed:
            confirmed_at = t
    assert tracker.table.ids == ["T-1"] and tracker.table.status.tolist() == [CONFIRMED]
    assert confirmed_at is not None and confirmed_at <= 1.0
    assert np.linalg.norm(tracker.table.x[0, :3] - _drone(0.25 * 119)) < 10.0
    np.testing.assert_allclose(tracker.table.x[0, 3:5], [8.0, -5.0], atol=1.0)
    assert len(tracker.strobes(T0 + 30.0).time) == 0


def test_bearings_of_one_sensor_never_cross_and_stay_strobes() -> None:
    tracker = Tracker(FusionConfig().tracker_params())
    for k in range(4):
        tracker.step(ingest(_bearing_message("mic-north", T0 + 0.5 * k, [_drone(0.5 * k)]), SITE, FusionConfig()))
    assert len(tracker.table) == 0
    strobes = tracker.strobes(T0 + 1.5)
    assert strobes.time.tolist() == [T0 + 1.5] and strobes.sensor.tolist() == [0]
    assert len(tracker.strobes(T0 + 10.0).time) == 0  # forgotten after strobe_max_age_s


def test_rf_bearings_of_different_emitters_do_not_cross() -> None:
    tracker = Tracker(FusionConfig().tracker_params())
    tracker.step(ingest(_bearing_message("mic-north", T0, [_drone(0.0)], "rf", "em-1"), SITE, FusionConfig()))
    tracker.step(ingest(_bearing_message("mic-south", T0 + 0.5, [_drone(0.5)], "rf", "em-2"), SITE, FusionConfig()))
    assert len(tracker.table) == 0
    tracker.step(ingest(_bearing_message("mic-north", T0 + 1.0, [_drone(1.0)], "rf", "em-2"), SITE, FusionConfig()))
    assert tracker.table.ids == ["T-1"]


def test_the_pipeline_publishes_a_lone_bearing_as_a_strobe() -> None:
    engine = FusionEngine(FusionConfig(site_origin=SiteOrigin(lat=SITE.lat, lon=SITE.lon, alt_m=SITE.alt_m)))
    for k in range(3):
        msg = _bearing_message("mic-north", T0 + 0.5 * k, [_drone(0.5 * k)])
        engine.handle("sargas/v1/sensors/mic-north/detections", encode(msg), T0 + 0.5 * k)
    engine.flush()
    latest = engine.latest_tracks
    assert latest is not None and latest.tracks == [] and len(latest.strobes) == 1
    strobe = latest.strobes[0]
    assert strobe.sensor_id == "mic-north" and strobe.time == T0 + 1.0
    assert abs(strobe.origin.lat - _origin(ARRAYS["mic-north"])["lat"]) < 1e-7
    expected = _bearing_message("mic-north", T0 + 1.0, [_drone(1.0)]).detections[0].azimuth_deg
    assert expected is not None and abs(strobe.azimuth_deg - expected) < 1e-3 and strobe.sigma_deg == 2.0


def test_the_fast_tracks_encoder_writes_the_same_bytes_as_encode() -> None:
    track = {"track_id": "T-3", "status": "confirmed", "lat": 54.3, "lon": 23.1, "alt_m": 250.5,
             "velocity": {"east_mps": 1.25, "north_mps": -2.0, "up_mps": 0.0}, "position_sigma_m": 9.5,
             "label": "drone", "label_p": 0.9, "sensors": ["a", "b"],
             "threat": {"level": "high", "score": 0.8, "zone": None}, "first_seen": T0, "last_update": T0 + 1.0}
    zoned = {**track, "track_id": "T-4", "threat": {"level": "critical", "score": 1.0, "zone": "strip"}}
    strobe = Strobe(sensor_id="mic", time=T0, origin=Position(lat=54.0, lon=23.0, alt_m=1.0), azimuth_deg=10.0,
                    sigma_deg=2.0)
    for strobes in ([], [strobe]):
        model = TracksMessage.model_validate({"time": T0 + 1.0, "tracks": [track, zoned], "ended": ["T-1"],
                                              "strobes": [to_dict(s) for s in strobes]})
        assert encode_tracks(T0 + 1.0, [track, zoned], ["T-1"], strobes) == encode(model)
    assert "strobes" not in orjson.loads(encode_tracks(T0, [], [], []))


def test_a_track_that_only_one_bearing_sensor_still_sees_coasts_and_is_deleted() -> None:
    tracker = Tracker(FusionConfig().tracker_params())
    for k in range(8):
        t = 0.25 * k
        sensor = "mic-north" if k % 2 == 0 else "mic-south"
        tracker.step(ingest(_bearing_message(sensor, T0 + t, [_drone(t)]), SITE, FusionConfig()))
    assert tracker.table.status.tolist() == [CONFIRMED]
    for k in range(8, 60, 2):  # mic-south goes quiet: mic-north's bearings still update the track
        t = 0.25 * k
        result = tracker.step(ingest(_bearing_message("mic-north", T0 + t, [_drone(t)]), SITE, FusionConfig()))
        if t == 6.0:  # last fix at 2.5 s (mic-north within the crossing window of mic-south's 1.75 s)
            assert result.updated == ("T-1",) and tracker.table.status.tolist() == [2]  # coasting
    assert len(tracker.table) == 0 and tracker.strobes(T0 + 14.5).time.tolist() == [T0 + 14.5]


def test_bearings_alone_do_not_keep_a_plot_started_tentative_track_alive() -> None:
    """A plot (say clutter) on the drone's bearing lines starts a tentative track that bearings then
    update; bearings do not confirm such a track, so they must not keep it alive either: it times
    out and the bearings start and confirm a crossing track of their own."""
    config = FusionConfig()
    tracker = Tracker(config.tracker_params())
    radar = _origin(np.array([0.0, 0.0, 10.0]))
    frame = LocalFrame(radar["lat"], radar["lon"], radar["alt_m"])
    rng, az, el = enu_to_polar(frame.from_geodetic(*SITE.to_geodetic(_drone(0.0))))
    plot = DetectionsMessage.model_validate({
        "schema": "sargas.detections/1", "sensor_id": "radar", "kind": "radar", "time": T0, "seq": 0,
        "origin": radar, "detections": [{"range_m": float(rng), "azimuth_deg": float(az), "elevation_deg": float(el)}]})
    assert tracker.step(ingest(plot, SITE, config)).started == ("T-1",)
    for k in range(1, 80):
        t = 0.25 * k
        sensor = "mic-north" if k % 2 == 0 else "mic-south"
        tracker.step(ingest(_bearing_message(sensor, T0 + t, [_drone(t)]), SITE, config))
    assert "T-1" not in tracker.table.ids
    assert tracker.table.status.tolist() == [CONFIRMED]
    assert np.linalg.norm(tracker.table.x[0, :2] - _drone(0.25 * 79)[:2]) < 15.0


def test_crossing_sines_are_the_horizontal_angles_between_lines_of_sight() -> None:
    points = np.array([[0.0, 0.0, 50.0], [1.0, 1.0, 0.0]])
    sines = crossing_sines(points, np.array([-1.0, 0.0, 0.0]), np.array([[0.0, -1.0, 7.0], [2.0, 0.0, 0.0]]))
    # At (1, 1): lines of sight (2, 1), (1, 2) and (-1, 1); |a × b| / (|a| |b|).
    np.testing.assert_allclose(sines, [[1.0, 0.0], [3.0 / 5.0, 3.0 / np.sqrt(10.0)]])


def _hover(at: np.ndarray, seconds: float) -> tuple[Tracker, list[int]]:
    """A radar-started confirmed track on a target hovering at ``at`` that then only the two arrays'
    bearings see (alternately, every 0.25 s); the track's status after each bearing."""
    config = FusionConfig()
    tracker = Tracker(config.tracker_params())
    p = np.diag([20.0**2] * 3 + [1.0] * 3)[None]
    tracker.table.add(np.concatenate([at, np.zeros(3)])[None], p, tracker.params.initial_mode_p, T0, np.zeros((1, 4)),
                      "radar", 4)
    tracker.table.status[0] = CONFIRMED
    status = []
    for k in range(1, int(seconds / 0.25) + 1):
        sensor = "mic-north" if k % 2 == 0 else "mic-south"
        tracker.step(ingest(_bearing_message(sensor, T0 + 0.25 * k, [at]), SITE, config))
        status.append(int(tracker.table.status[0]))
    return tracker, status


def test_bearings_of_two_sensors_fix_a_track_only_where_their_lines_of_sight_cross() -> None:
    across = np.array([900.0, 900.0, 80.0])  # 90° between the arrays' lines of sight
    tracker, status = _hover(across, 5.0)
    assert set(status) == {CONFIRMED} and tracker.table.t_fix.tolist() == [T0 + 5.0]
    baseline = ARRAYS["mic-south"] - ARRAYS["mic-north"]
    beyond = ARRAYS["mic-south"] + 600.0 * baseline / np.linalg.norm(baseline)  # on the arrays' line
    tracker, status = _hover(np.array([beyond[0], beyond[1], 80.0]), 5.0)
    # Collinear bearings leave the distance free: the last fix is the last bearing within the crossing
    # window (1.5 s) of the plot, and the track coasts 2.5 s later.
    assert tracker.table.t_fix.tolist() == [T0 + 1.5] and status.index(2) == 16  # at 4.25 s
