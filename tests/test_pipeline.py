"""FusionEngine end to end on synthetic protocol streams: tracks, alerts, reordering, rejections, determinism."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fusion.config import FusionConfig
from fusion.geo import LocalFrame, enu_to_polar
from fusion.pipeline import FusionEngine, Outgoing
from fusion.protocol import DetectionsMessage, SensorStatus, encode, load_json
from fusion.tracking.classify import DRONE

RADAR = {"lat": 54.3161, "lon": 23.3415, "alt_m": 180.0}
RADAR_FRAME = LocalFrame(RADAR["lat"], RADAR["lon"], RADAR["alt_m"])
T0 = 1795766400.0
TOPIC = "sargas/v1/sensors/radar-north/detections"
DRONE_PROBS = {"drone": 0.7, "bird": 0.2, "unknown": 0.1}

Stream = list[tuple[str, bytes, float]]


def radar_stream(targets: np.ndarray, n_scans: int, clutter: int = 0, seed: int = 1,
                 probs: dict | None = None, start: float = T0) -> Stream:
    """A 1 Hz radar at RADAR from ``start`` watching targets (k, 6) given in its own ENU frame at T0, plus uniform
    clutter."""
    rng = np.random.default_rng(seed)
    stream = []
    for k in range(n_scans):
        pos = targets[:, :3] + targets[:, 3:] * k
        r, az, el = enu_to_polar(pos)
        rv = np.einsum("ij,ij->i", pos / r[:, None], targets[:, 3:])
        dets = [{"range_m": float(r[i] + rng.normal(0, 10)), "azimuth_deg": float((az[i] + rng.normal(0, 1)) % 360),
                 "elevation_deg": float(el[i] + rng.normal(0, 1.5)), "radial_velocity_mps": float(rv[i] + rng.normal()),
                 **({"class_probs": probs} if probs else {})} for i in range(len(targets))]
        dets += [{"range_m": float(rng.uniform(200, 5000)), "azimuth_deg": float(rng.uniform(0, 360)),
                  "elevation_deg": float(rng.uniform(0, 10))} for _ in range(clutter)]
        msg = DetectionsMessage.model_validate({"schema": "sargas.detections/1", "sensor_id": "radar-north",
                                                "kind": "radar", "time": start + k, "seq": k, "origin": RADAR,
                                                "detections": dets})
        stream.append((TOPIC, encode(msg), start + k + 0.05))
    return stream


def run(stream: Stream, engine: FusionEngine | None = None) -> tuple[FusionEngine, list[Outgoing]]:
    engine = engine or FusionEngine()
    out = [o for topic, payload, t in stream for o in engine.handle(topic, payload, t)]
    return engine, out + engine.flush()


def on(out: list[Outgoing], leaf: str) -> list[dict]:
    return [load_json(o.payload) for o in out if o.topic == f"sargas/v1/{leaf}"]


ONE_DRONE = np.array([[900.0, 700.0, 80.0, -8.0, -4.0, 0.5]])


def test_a_straight_line_drone_gives_one_confirmed_track_near_truth_and_one_alert() -> None:
    engine, out = run(radar_stream(ONE_DRONE, 40, clutter=3, probs=DRONE_PROBS))
    tracks = on(out, "tracks")
    confirmed_ids = {tr["track_id"] for m in tracks for tr in m["tracks"] if tr["status"] == "confirmed"}
    assert confirmed_ids == {"T-1"}
    errors, sigmas = [], []
    for m in tracks:
        for tr in m["tracks"]:
            if tr["status"] == "confirmed" and m["time"] >= T0 + 10:
                truth = ONE_DRONE[0, :3] + ONE_DRONE[0, 3:] * (m["time"] - T0)
                errors.append(np.linalg.norm(RADAR_FRAME.from_geodetic(tr["lat"], tr["lon"], tr["alt_m"]) - truth))
                sigmas.append(tr["position_sigma_m"])
    # 1° azimuth and 1.5° elevation at 1.1 km are 20 m and 30 m per plot; the filter must do better
    # on average, end within 30 m, and its published sigma must be honest.
    assert len(errors) > 50 and errors[-1] < 30.0 and np.mean(errors) < 20.0
    assert np.all(np.array(errors) < 2.5 * np.array(sigmas))
    last = next(tr for tr in tracks[-1]["tracks"] if tr["track_id"] == "T-1")
    assert last["label"] == "drone" and last["threat"]["level"] == "high" and last["sensors"] == ["radar-north"]
    assert np.hypot(last["velocity"]["east_mps"] + 8.0, last["velocity"]["north_mps"] + 4.0) < 3.0
    alerts = on(out, "alerts")
    assert [(a["alert_id"], a["kind"], a["level"], a["track_id"]) for a in alerts] == \
        [("A-000001", "new_threat", "warning", "T-1")]
    assert alerts[0]["message"].startswith("Drone T-1 confirmed at 54.3")
    assert engine.stats["confirmed"] == 1 and engine.stats["alerts"] == 1
    # Published on the 0.5 s grid of fusion time, never more than 1 s apart.
    times = [m["time"] for m in tracks]
    assert times[0] == T0 and np.all(np.diff(times) <= 1.0) and times == sorted(times)


def test_a_track_is_published_the_moment_a_message_confirms_it() -> None:
    """Between two grid times: operators see the new confirmed track with its alert, not up to a period later."""
    _, out = run(radar_stream(ONE_DRONE, 12, probs=DRONE_PROBS, start=T0 + 0.3))
    alert = on(out, "alerts")[0]
    assert alert["kind"] == "new_threat" and (alert["time"] - T0) % 1.0 == pytest.approx(0.3)  # a scan's time
    tracks = on(out, "tracks")
    # The one message off the grid before ``flush`` publishes the last scan's time.
    assert [m["time"] for m in tracks[:-1] if (m["time"] - T0) % 0.5] == [alert["time"]]
    at_alert = next(m for m in tracks if m["time"] == alert["time"])
    assert [(tr["track_id"], tr["status"]) for tr in at_alert["tracks"]] == [("T-1", "confirmed")]
    assert {tr["status"] for m in tracks if m["time"] < alert["time"] for tr in m["tracks"]} == {"tentative"}


def test_a_scan_on_a_grid_time_that_confirms_a_track_is_followed_by_the_grid_message_alone() -> None:
    _, out = run(radar_stream(ONE_DRONE, 12, probs=DRONE_PROBS))  # scans at whole seconds: on the grid
    alert = on(out, "alerts")[0]
    times = [m["time"] for m in on(out, "tracks")]
    assert alert["kind"] == "new_threat" and times.count(alert["time"]) == 1
    assert len(set(times)) == len(times) and all((t - T0) % 0.5 == 0.0 for t in times)


def test_a_lost_drone_raises_track_lost_and_is_listed_as_ended() -> None:
    stream = radar_stream(ONE_DRONE, 8, probs=DRONE_PROBS)
    stream += [(TOPIC, encode(DetectionsMessage.model_validate({
        "schema": "sargas.detections/1", "sensor_id": "radar-north", "kind": "radar", "time": T0 + k, "seq": k,
        "origin": RADAR, "detections": []})), T0 + k) for k in range(8, 25)]
    _, out = run(stream)
    alerts = on(out, "alerts")
    assert [(a["kind"], a["level"], a["track_id"]) for a in alerts] == \
        [("new_threat", "warning", "T-1"), ("track_lost", "info", "T-1")]
    ended = [m for m in on(out, "tracks") if m["ended"]]
    assert len(ended) == 1 and ended[0]["ended"] == ["T-1"]
    assert ended[0]["time"] == pytest.approx(alerts[1]["time"], abs=0.5)


def test_clutter_alone_confirms_nothing() -> None:
    engine, out = run(radar_stream(np.zeros((0, 6)), 30, clutter=6, seed=5))
    assert engine.stats["confirmed"] == 0
    assert all(tr["status"] == "tentative" for m in on(out, "tracks") for tr in m["tracks"])
    assert on(out, "alerts") == []


def test_reordering_within_the_window_and_dropping_late_messages() -> None:
    stream = radar_stream(ONE_DRONE, 20, probs=DRONE_PROBS)
    _, reference = run(stream)

    swapped = list(stream)
    swapped[5], swapped[6] = (swapped[6][0], swapped[6][1], 0.0), (swapped[5][0], swapped[5][1], 0.0)
    # 6 arrives before 5, but the window holds 6 only 0.3 s: 5 is then older than the fusion time.
    engine, out = run(swapped)
    assert engine.stats["late"] == 1 and engine.stats["rejected.out_of_order"] == 1
    rejected = on(out, "rejected")
    assert [(r["reason"], r["sensor_id"]) for r in rejected] == [("out_of_order", "radar-north")]
    _, without = run(stream[:5] + stream[6:])
    assert [o for o in out if not o.topic.endswith("rejected")] == without

    wide = FusionEngine(FusionConfig(reorder_window_s=1.5))
    _, out_wide = run(swapped, wide)
    _, reference_wide = run(stream, FusionEngine(FusionConfig(reorder_window_s=1.5)))
    assert wide.stats["late"] == 0 and out_wide == reference_wide
    assert on(reference, "tracks")[-1] == on(reference_wide, "tracks")[-1]


def test_a_duplicate_scan_is_counted_and_changes_nothing() -> None:
    """A QoS 1 redelivery (same time, same seq) is dropped; an older scan is rejected as out of order."""
    stream = radar_stream(ONE_DRONE, 12, probs=DRONE_PROBS)
    engine, out = run([*stream[:6], stream[5], *stream[6:]])
    _, reference = run(stream)
    assert engine.stats["duplicate"] == 1
    assert "rejected.out_of_order" not in engine.stats
    assert out == reference
    engine, out = run([*stream[:6], stream[4], *stream[6:]])
    assert engine.stats["rejected.out_of_order"] == 1
    assert [o for o in out if not o.topic.endswith("rejected")] == reference


def test_the_same_input_gives_identical_bytes() -> None:
    targets = np.array([[900.0, 700.0, 80.0, -8.0, -4.0, 0.0], [-1500.0, 300.0, 120.0, 5.0, 9.0, 0.0],
                        [200.0, -2500.0, 60.0, 12.0, 2.0, 0.0]])
    stream = radar_stream(targets, 30, clutter=4, seed=11, probs=DRONE_PROBS)
    _, first = run(stream)
    _, second = run(stream)
    assert first == second and len(on(first, "alerts")) == 3


def status_payload() -> bytes:
    return encode(SensorStatus.model_validate({"schema": "sargas.sensor_status/1", "sensor_id": "radar-north",
                                               "kind": "radar", "time": T0, "state": "online", "origin": RADAR}))


BAD_INPUTS: list[tuple[str, bytes, str]] = [
    (TOPIC, b'{"schema": "sargas.detections/1", ', "malformed_json"),
    (TOPIC, b'{"schema": "sargas.weather/1", "sensor_id": "radar-north"}', "unknown_schema"),
    (TOPIC, json.dumps({"schema": "sargas.detections/1", "sensor_id": "radar-north", "kind": "radar",
                        "time": T0 + 3.5, "origin": RADAR, "detections": []}).encode(), "invalid"),  # no seq
    (TOPIC, b'{"schema": "sargas.detections/1", "sensor_id": "radar-north", "kind": "radar", "time": NaN,'
            b' "seq": 1, "origin": {"lat": 54.3, "lon": 23.3, "alt_m": 0}, "detections": []}', "non_finite"),
    (TOPIC, json.dumps({"schema": "sargas.detections/1", "sensor_id": "radar-north", "kind": "radar",
                        "time": T0 + 3.5, "seq": 1, "origin": RADAR,
                        "detections": [{"range_m": 1000.0, "azimuth_deg": 400.0}]}).encode(), "invalid"),
    (TOPIC, b'{"pad": "' + b"x" * (300 * 1024) + b'"}', "too_large"),
    (TOPIC, b"[1, 2]", "not_an_object"),
    ("sargas/v1/sensors/other/detections", json.dumps({
        "schema": "sargas.detections/1", "sensor_id": "radar-north", "kind": "radar", "time": T0 + 3.5, "seq": 1,
        "origin": RADAR, "detections": []}).encode(), "wrong_topic"),
]


def test_each_bad_input_is_rejected_with_its_reason_and_the_stream_is_unaffected() -> None:
    stream = radar_stream(ONE_DRONE, 12, probs=DRONE_PROBS)
    _, reference = run(stream)
    mixed = stream[:4] + [(topic, payload, 1234.5) for topic, payload, _ in BAD_INPUTS] + stream[4:]
    engine, out = run(mixed)
    rejected = on(out, "rejected")
    assert [r["reason"] for r in rejected] == [reason for _, _, reason in BAD_INPUTS]
    assert all(r["time"] == 1234.5 and r["schema"] == "sargas.rejected/1" for r in rejected)
    assert [r["size_bytes"] for r in rejected] == [len(p) for _, p, _ in BAD_INPUTS]
    assert all(o.qos == 0 for o in out if o.topic.endswith("rejected"))
    for reason in {r for _, _, r in BAD_INPUTS}:
        assert engine.stats[f"rejected.{reason}"] == sum(r == reason for _, _, r in BAD_INPUTS)
    assert [o for o in out if not o.topic.endswith("rejected")] == reference


def test_status_messages_are_kept_and_first_alert_number_is_honoured() -> None:
    engine = FusionEngine(first_alert_number=42)
    assert engine.handle("sargas/v1/sensors/radar-north/status", status_payload(), T0) == []
    assert [s.sensor_id for s in engine.sensor_statuses()] == ["radar-north"]
    _, out = run(radar_stream(ONE_DRONE, 6, probs=DRONE_PROBS), engine)
    assert [a["alert_id"] for a in on(out, "alerts")] == ["A-000042"]
    assert all(o.qos == 1 for o in out if o.topic.endswith("alerts"))
    assert engine.latest_tracks is not None and engine.latest_tracks.tracks[0].track_id == "T-1"


def test_remote_id_reports_make_a_confirmed_drone_track() -> None:
    stream = []
    for k in range(5):
        msg = DetectionsMessage.model_validate({
            "schema": "sargas.detections/1", "sensor_id": "rf-east", "kind": "rf", "time": T0 + k, "seq": k,
            "detections": [{"position": {"lat": 54.30 + 0.0001 * k, "lon": 23.31, "alt_m": 260.0},
                            "uas_id": "1581F5FKD229400", "velocity": {"east_mps": 0.0, "north_mps": 11.1,
                                                                     "up_mps": 0.0}}]})
        stream.append(("sargas/v1/sensors/rf-east/detections", encode(msg), T0 + k))
    _, out = run(stream)
    last = on(out, "tracks")[-1]["tracks"]
    assert [(t["track_id"], t["status"], t["label"], t["sensors"]) for t in last] == \
        [("T-1", "confirmed", "drone", ["rf-east"])]
    assert last[0]["lat"] == pytest.approx(54.3004, abs=2e-5) and last[0]["alt_m"] == pytest.approx(260.0, abs=5)
    assert [a["kind"] for a in on(out, "alerts")] == ["new_threat"]


def test_tracks_messages_and_threat_show_the_flock_evidence() -> None:
    # A track's own label (drone 0.6) is below the drone label's 2/3; its flock's evidence, added to what operators
    # see (``TrackTable.shown_logp``), lifts it above, while the track's own evidence stays as it was.
    engine = FusionEngine()
    stream = list(radar_stream(np.array([[900.0, 700.0, 80.0, -8.0, -4.0, 0.5]]), 10))
    for topic, payload, t in stream:
        engine.handle(topic, payload, t)
    tab = engine.tracker.table
    assert len(tab) == 1
    t = stream[-1][2]
    own = np.log([0.6, 0.2, 0.1, 0.1])
    tab.label_logp[:] = own
    tab.flock_logp[:] = 0.0
    assert engine._tracks_at(t)[0]["label"] == "unknown"
    tab.flock_logp[0, DRONE] = 1.0
    shown = engine._tracks_at(t)[0]
    assert shown["label"] == "drone"
    assert shown["label_p"] == round(float(np.exp(tab.shown_logp[0, DRONE])), 3)
    np.testing.assert_allclose(tab.label_logp[0], own)
