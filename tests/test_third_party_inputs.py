"""Inputs from sensors written by others, who follow only the protocol (protocol-v1.md).

Every message here is hand-written JSON (``json.dumps``, not our encoder) carrying only what
the protocol requires of its kind, plus fields we do not know: no ``sigma`` (the configured
default applies), no elevation, no ``origin`` on an RF stream of positions, no status before
detections, a ``seq`` that starts anywhere and has gaps, integral ``time`` numbers, a status
without ``origin`` or ``coverage``. Each must be accepted by the live decoder and *used* by
``FusionEngine``: it yields a track, a strobe, a stored status or an alert.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from fusion.geo import LocalFrame, enu_to_polar
from fusion.pipeline import FusionEngine, Outgoing
from fusion.protocol import DetectionsMessage, SensorStatus, Topics, decode, load_json

T0 = 1795766400
SITE = LocalFrame(54.30, 23.15, 200.0)
TOPICS = Topics()


def _geodetic(enu: np.ndarray) -> dict[str, float]:
    lat, lon, alt = SITE.to_geodetic(enu)
    return {"lat": round(float(lat), 7), "lon": round(float(lon), 7), "alt_m": round(float(alt), 1)}


def _detections(sensor_id: str, kind: str, time: float, seq: int, detections: list[dict[str, Any]],
                origin: dict[str, float] | None = None) -> tuple[str, bytes]:
    """A detections message as a third party writes it: spaces, its own key order, unknown fields."""
    body: dict[str, Any] = {"vendor": {"model": "X-1", "firmware": "4.2"}, "detections": detections,
                            "seq": seq, "time": time, "kind": kind, "sensor_id": sensor_id,
                            "schema": "sargas.detections/1"}
    if origin is not None:
        body["origin"] = origin
    return TOPICS.detections(sensor_id), json.dumps(body, indent=1).encode()


def _run(stream: list[tuple[str, bytes]], engine: FusionEngine | None = None) -> tuple[FusionEngine, list[Outgoing]]:
    engine = engine or FusionEngine()
    out: list[Outgoing] = []
    for i, (topic, payload) in enumerate(stream):
        decode(topic, payload, TOPICS)  # the live decoder accepts it (raises ProtocolError otherwise)
        out += engine.handle(topic, payload, T0 + i * 0.01)
    return engine, out + engine.flush()


def _on(out: list[Outgoing], leaf: str) -> list[dict[str, Any]]:
    return [load_json(o.payload) for o in out if o.topic == f"sargas/v1/{leaf}"]


def _rejections(engine: FusionEngine) -> dict[str, int]:
    return {k: v for k, v in engine.stats.items() if k.startswith("rejected")}


def _drone(t: float) -> np.ndarray:
    """A drone at 150 m above the site, flying east-south-east at about 9 m/s (site ENU, m)."""
    return np.array([300.0 + 8.0 * t, 600.0 - 5.0 * t, 150.0])


def _confirmed(out: list[Outgoing]) -> list[dict[str, Any]]:
    return [tr for tr in _on(out, "tracks")[-1]["tracks"] if tr["status"] == "confirmed"]


def test_an_rf_stream_of_positions_only_without_origin_sigma_or_ids_yields_a_track() -> None:
    stream = [_detections("rid-gw", "rf", T0 + k, 5000 + k, [{"position": _geodetic(_drone(k))}])
              for k in range(12)]
    engine, out = _run(stream)
    assert _rejections(engine) == {}
    assert engine.stats["detections"] == 12
    tracks = _confirmed(out)
    assert [(t["track_id"], t["sensors"]) for t in tracks] == [("T-1", ["rid-gw"])]
    where = SITE.from_geodetic(tracks[0]["lat"], tracks[0]["lon"], tracks[0]["alt_m"])
    assert np.linalg.norm(where - _drone(11)) < 30.0


def test_rf_positions_with_remote_ids_unknown_altitude_is_used_for_the_horizontal_position() -> None:
    stream = []
    for k in range(12):
        position = {**_geodetic(_drone(k)), "alt_m": -1000.0}  # Remote ID's "altitude unknown"
        stream.append(_detections("rid-gw", "rf", T0 + k, k, [{"position": position, "uas_id": "1581F5FKD2"}]))
    engine, out = _run(stream)
    assert _rejections(engine) == {}
    tracks = _confirmed(out)
    assert len(tracks) == 1
    where = SITE.from_geodetic(tracks[0]["lat"], tracks[0]["lon"], tracks[0]["alt_m"])
    assert np.linalg.norm(where[:2] - _drone(11)[:2]) < 30.0


def _bearing(sensor_origin: np.ndarray, target: np.ndarray) -> float:
    """The azimuth of ``target`` (site ENU) as seen from a sensor at ``sensor_origin``, in its own frame."""
    origin = _geodetic(sensor_origin)
    frame = LocalFrame(origin["lat"], origin["lon"], origin["alt_m"])
    _, az, _ = enu_to_polar(frame.from_geodetic(*SITE.to_geodetic(target)))
    return round(float(az) % 360.0, 3)


ARRAYS = {"mic-a": np.array([-800.0, 900.0, 2.0]), "mic-b": np.array([900.0, -700.0, 2.0])}


def test_acoustic_bearings_without_elevation_or_sigma_from_two_arrays_cross_into_a_track() -> None:
    stream = []
    for k in range(60):
        t = 0.5 * k
        sensor = "mic-a" if k % 2 == 0 else "mic-b"
        stream.append(_detections(sensor, "acoustic", T0 + t, 17 + 3 * k,  # gaps in seq: loss, not an error
                                  [{"azimuth_deg": _bearing(ARRAYS[sensor], _drone(t))}], _geodetic(ARRAYS[sensor])))
    engine, out = _run(stream)
    assert _rejections(engine) == {}
    tracks = _confirmed(out)
    assert len(tracks) == 1 and tracks[0]["sensors"] == ["mic-a", "mic-b"]
    where = SITE.from_geodetic(tracks[0]["lat"], tracks[0]["lon"], tracks[0]["alt_m"])
    assert np.linalg.norm(where[:2] - _drone(29.5)[:2]) < 50.0


def test_a_lone_acoustic_bearing_without_elevation_is_published_as_a_strobe() -> None:
    stream = [_detections("mic-a", "acoustic", T0 + k, k, [{"azimuth_deg": 123.5}], _geodetic(ARRAYS["mic-a"]))
              for k in range(3)]
    engine, out = _run(stream)
    assert _rejections(engine) == {}
    strobes = _on(out, "tracks")[-1]["strobes"]
    assert [(s["sensor_id"], s["azimuth_deg"], "elevation_deg" in s) for s in strobes] == [("mic-a", 123.5, False)]


def test_rf_direction_finding_without_elevation_or_sigma_is_used() -> None:
    stream = [_detections("rf-df", "rf", T0 + k, k, [{"azimuth_deg": 45.0, "emitter_id": "e1"}],
                          _geodetic(ARRAYS["mic-b"])) for k in range(3)]
    engine, out = _run(stream)
    assert _rejections(engine) == {}
    assert [s["sensor_id"] for s in _on(out, "tracks")[-1]["strobes"]] == ["rf-df"]


def test_a_radar_with_only_range_and_azimuth_no_sigma_and_no_status_yields_a_track() -> None:
    radar = np.array([0.0, 0.0, 5.0])
    stream = []
    for k in range(20):
        target = _drone(k)
        rng = float(np.linalg.norm(target - radar))
        stream.append(_detections("radar-3p", "radar", T0 + k, 2**40 + k,
                                  [{"range_m": round(rng, 1), "azimuth_deg": _bearing(radar, target)}],
                                  _geodetic(radar)))
    engine, out = _run(stream)
    assert _rejections(engine) == {}
    assert engine.sensor_statuses() == []
    tracks = _confirmed(out)
    assert [(t["track_id"], t["sensors"]) for t in tracks] == [("T-1", ["radar-3p"])]
    where = SITE.from_geodetic(tracks[0]["lat"], tracks[0]["lon"], tracks[0]["alt_m"])
    assert np.linalg.norm(where[:2] - _drone(19)[:2]) < 40.0


def test_an_empty_rf_scan_without_origin_is_accepted() -> None:
    engine, out = _run([_detections("rid-gw", "rf", T0, 0, [])])
    assert _rejections(engine) == {} and not _on(out, "rejected")


def test_partial_class_probs_are_accepted_and_used() -> None:
    radar = np.array([0.0, 0.0, 5.0])
    stream = [_detections("radar-3p", "radar", T0 + k, k,
                          [{"range_m": round(float(np.linalg.norm(_drone(k) - radar)), 1),
                            "azimuth_deg": _bearing(radar, _drone(k)), "class_probs": {"bird": 0.9}}],
                          _geodetic(radar)) for k in range(12)]
    engine, out = _run(stream)
    assert _rejections(engine) == {}
    assert [t["label"] for t in _on(out, "tracks")[-1]["tracks"]] == ["bird"]


def _status(sensor_id: str, kind: str, time: float, state: str, **extra: Any) -> tuple[str, bytes]:
    body = {"schema": "sargas.sensor_status/1", "sensor_id": sensor_id, "kind": kind, "time": time,
            "state": state, "battery_pct": 80, **extra}
    return TOPICS.status(sensor_id), json.dumps(body).encode()


def test_a_status_with_only_the_required_fields_is_kept() -> None:
    topic, payload = _status("mic-a", "acoustic", T0, "online")
    message = decode(topic, payload, TOPICS)
    assert isinstance(message, SensorStatus) and message.origin is None and message.coverage is None
    engine, out = _run([(topic, payload)])
    assert out == [] and _rejections(engine) == {}
    assert [s.sensor_id for s in engine.sensor_statuses()] == ["mic-a"]


def test_an_offline_last_will_without_origin_raises_a_sensor_alert_with_a_null_track_id() -> None:
    _, out = _run([_status("mic-a", "acoustic", T0, "online"), _status("mic-a", "acoustic", T0 + 1, "offline")])
    alerts = _on(out, "alerts")
    assert [(a["kind"], a["sensor_id"], a["track_id"]) for a in alerts] == [("sensor_offline", "mic-a", None)]
    assert "track_id" in alerts[0] and "lat" not in alerts[0]


def test_a_sensor_that_never_sends_a_status_is_not_reported_offline() -> None:
    stream = [_detections("rid-gw", "rf", T0 + k, k, [{"position": _geodetic(_drone(k))}]) for k in range(40)]
    _, out = _run(stream)
    assert [a["kind"] for a in _on(out, "alerts") if a["kind"] == "sensor_offline"] == []


def test_detections_with_integral_times_and_extra_fields_in_every_object_are_accepted() -> None:
    det = {"range_m": 1000, "azimuth_deg": 90, "elevation_deg": 3, "doppler_hz": 12.5,
           "sigma": {"range_m": 5, "azimuth_deg": 1, "beam": "narrow"}}
    topic, payload = _detections("radar-3p", "radar", T0, 0, [det], {**_geodetic(np.zeros(3)), "datum": "WGS84"})
    message = decode(topic, payload, TOPICS)
    assert isinstance(message, DetectionsMessage) and message.detections[0].range_m == 1000.0
    assert message.detections[0].sigma is not None and message.detections[0].sigma.range_m == 5.0


def test_a_last_will_composed_at_connect_time_still_raises_sensor_offline() -> None:
    # A sensor sets its will ("offline", time of connection) once, then sends heartbeats; when it
    # dies the broker publishes the will, whose time is older than the last heartbeat's.
    stream = [_status("mic-a", "acoustic", T0 + k, "online") for k in range(0, 30, 5)]
    _, out = _run([*stream, _status("mic-a", "acoustic", T0, "offline")])
    assert [(a["kind"], a["sensor_id"]) for a in _on(out, "alerts")] == [("sensor_offline", "mic-a")]


def test_two_messages_of_one_sensor_with_the_same_measurement_time_are_both_used() -> None:
    # The protocol asks seq to grow per message, not time: a burst split over two messages, or two
    # Remote ID broadcasts decoded with one timestamp, share their measurement time.
    stream = []
    for k in range(12):
        stream.append(_detections("rid-gw", "rf", T0 + k, 2 * k, [{"position": _geodetic(_drone(k))}]))
        other = _drone(k) + np.array([800.0, 800.0, 0.0])
        stream.append(_detections("rid-gw", "rf", T0 + k, 2 * k + 1, [{"position": _geodetic(other)}]))
    engine, out = _run(stream)
    assert _rejections(engine) == {}
    assert len(_confirmed(out)) == 2
