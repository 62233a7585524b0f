"""Unit tests of fusion.protocol: decoding, rejection reasons, encoding, topics and recordings."""

from __future__ import annotations

import copy
import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import ValidationError

from fusion.protocol import (
    DEFAULT_MAX_BYTES,
    Alert,
    DetectionsMessage,
    ProtocolError,
    RecordingError,
    RecordingWriter,
    RecordLine,
    Rejected,
    SensorStatus,
    Topics,
    TracksMessage,
    TruthMessage,
    decode,
    dumps,
    encode,
    load_json,
    read_recording,
    to_dict,
    validate,
)
from fusion.protocol.models import MODELS

TOPICS = Topics()

# The examples of the binding protocol text (protocol-v1.md), verbatim.
DETECTIONS_EXAMPLE = """\
{
  "schema": "sargas.detections/1",
  "sensor_id": "radar-north",
  "kind": "radar",
  "time": 1795766400.25,
  "seq": 1042,
  "origin": {"lat": 54.3161, "lon": 23.3415, "alt_m": 180.0},
  "detections": [
    {"range_m": 2410.5, "azimuth_deg": 211.4, "elevation_deg": 2.1,
     "radial_velocity_mps": -11.8, "rcs_dbsm": -18.0, "snr_db": 14.2,
     "sigma": {"range_m": 7.5, "azimuth_deg": 0.6, "elevation_deg": 1.0},
     "class_probs": {"drone": 0.6, "bird": 0.3, "unknown": 0.1}}
  ]
}
"""
STATUS_EXAMPLE = """\
{"schema": "sargas.sensor_status/1", "sensor_id": "radar-north", "kind": "radar",
 "time": 1795766400.0, "state": "online",
 "origin": {"lat": 54.3161, "lon": 23.3415, "alt_m": 180.0},
 "coverage": {"max_range_m": 5000, "azimuth_min_deg": 0, "azimuth_max_deg": 360},
 "scan_period_s": 1.0}
"""
TRUTH_EXAMPLE = """\
{"schema": "sargas.truth/1", "time": 1795766400.0,
 "objects": [{"id": "uav-1", "label": "drone", "lat": 54.30, "lon": 23.31, "alt_m": 260.0,
              "velocity": {"east_mps": 12.0, "north_mps": -3.0, "up_mps": 0.0}}]}
"""
TRACKS_EXAMPLE = """\
{"schema": "sargas.tracks/1", "time": 1795766401.0,
 "tracks": [{"track_id": "T-17", "status": "confirmed",
             "lat": 54.301, "lon": 23.312, "alt_m": 255.0,
             "velocity": {"east_mps": 11.7, "north_mps": -2.8, "up_mps": 0.1},
             "position_sigma_m": 9.5, "label": "drone", "label_p": 0.93,
             "sensors": ["radar-north", "rf-east"],
             "threat": {"level": "high", "score": 0.82, "zone": "border-strip"},
             "first_seen": 1795766380.0, "last_update": 1795766401.0}],
 "ended": ["T-9"]}
"""
ALERT_EXAMPLE = """\
{"schema": "sargas.alerts/1", "alert_id": "A-000123", "time": 1795766401.0,
 "kind": "zone_entry", "level": "critical", "track_id": "T-17", "zone": "border-strip",
 "lat": 54.301, "lon": 23.312, "message": "Drone T-17 entered border-strip heading 250 at 12 m/s"}
"""
RECORDING_EXAMPLE = """\
{"t": 1795766400.31, "topic": "sargas/v1/sensors/radar-north/detections", "payload": {"schema": "sargas.detections/1", "...": "..."}}
"""

#: name → (topic, wire text, model) of every message example of the protocol text.
EXAMPLES: dict[str, tuple[str, str, type]] = {
    "detections": (TOPICS.detections("radar-north"), DETECTIONS_EXAMPLE, DetectionsMessage),
    "sensor_status": (TOPICS.status("radar-north"), STATUS_EXAMPLE, SensorStatus),
    "truth": (TOPICS.truth, TRUTH_EXAMPLE, TruthMessage),
    "tracks": (TOPICS.tracks, TRACKS_EXAMPLE, TracksMessage),
    "alerts": (TOPICS.alerts, ALERT_EXAMPLE, Alert),
}

#: A Sargas ``rejected`` message (our extension; not in the protocol text).
REJECTED_SAMPLE = """\
{"schema": "sargas.rejected/1", "time": 1795766402.5, "topic": "sargas/v1/sensors/radar-north/detections",
 "reason": "invalid", "detail": "detections.0.azimuth_deg: Input should be less than 360", "size_bytes": 412,
 "sensor_id": "radar-north"}
"""
#: A sensor alert: no track, the sensor named instead (our compatible extension).
SENSOR_ALERT_SAMPLE = """\
{"schema": "sargas.alerts/1", "alert_id": "A-000124", "time": 1795766410.0, "kind": "sensor_offline",
 "level": "warning", "track_id": null, "sensor_id": "radar-north", "message": "radar-north is offline"}
"""
#: An rf detection with both a bearing and a Remote ID position, and one with a position only.
RF_SAMPLE = """\
{"schema": "sargas.detections/1", "sensor_id": "rf-east", "kind": "rf", "time": 1795766400.5, "seq": 7,
 "origin": {"lat": 54.31, "lon": 23.40, "alt_m": 150.0},
 "detections": [
   {"azimuth_deg": 250.0, "emitter_id": "e-1", "freq_mhz": 2437.0, "rssi_dbm": -71.0, "protocol": "wifi"},
   {"position": {"lat": 54.30, "lon": 23.31, "alt_m": 260.0}, "uas_id": "1581F4ABC", "emitter_id": "e-2",
    "operator_position": {"lat": 54.29, "lon": 23.30, "alt_m": 140.0},
    "velocity": {"east_mps": 12.0, "north_mps": -3.0, "up_mps": 0.0}, "sigma": {"position_m": 5.0}}
 ]}
"""
ACOUSTIC_SAMPLE = """\
{"schema": "sargas.detections/1", "sensor_id": "mic-1", "kind": "acoustic", "time": 1795766400.75, "seq": 0,
 "origin": {"lat": 54.32, "lon": 23.35, "alt_m": 175.0},
 "detections": [{"azimuth_deg": 0.0, "elevation_deg": 12.5, "spl_db": 61.0, "class_probs": {"drone": 0.7}}]}
"""

#: Further valid messages: name → (topic, wire text).
SAMPLES: dict[str, tuple[str, str]] = {
    "rejected": (TOPICS.rejected, REJECTED_SAMPLE),
    "sensor_alert": (TOPICS.alerts, SENSOR_ALERT_SAMPLE),
    "rf": (TOPICS.detections("rf-east"), RF_SAMPLE),
    "acoustic": (TOPICS.detections("mic-1"), ACOUSTIC_SAMPLE),
    "empty_scan": (TOPICS.detections("radar-north"),
                   DETECTIONS_EXAMPLE.replace('"detections": [', '"detections": [], "unused": [')),
}

#: Every valid message above: name → (topic, wire text).
ALL_VALID: dict[str, tuple[str, str]] = {**{k: (t, s) for k, (t, s, _) in EXAMPLES.items()}, **SAMPLES}


def obj(text: str) -> dict[str, Any]:
    """A fresh mutable copy of a sample's JSON."""
    return json.loads(text)  # type: ignore[no-any-return]


def wire(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()


def edited(text: str, edit: Callable[[dict[str, Any]], object]) -> bytes:
    """The sample ``text`` with ``edit`` applied to its parsed JSON, re-serialised."""
    data = obj(text)
    edit(data)
    return wire(data)


def first_detection(data: dict[str, Any]) -> dict[str, Any]:
    return data["detections"][0]  # type: ignore[no-any-return]


def reason_of(topic: str, payload: bytes, **kw: Any) -> str:
    with pytest.raises(ProtocolError) as err:
        decode(topic, payload, TOPICS, **kw)
    return err.value.reason


# -- valid input --------------------------------------------------------------------------


@pytest.mark.parametrize("name", EXAMPLES)
def test_protocol_examples_decode_to_their_model(name: str) -> None:
    topic, text, model = EXAMPLES[name]
    message = decode(topic, text.encode(), TOPICS)
    assert type(message) is model
    assert to_dict(message)["schema"] == obj(text)["schema"]


def test_detections_example_fields() -> None:
    topic, text, _ = EXAMPLES["detections"]
    m = decode(topic, text.encode(), TOPICS)
    assert isinstance(m, DetectionsMessage)
    assert (m.sensor_id, m.kind, m.time, m.seq) == ("radar-north", "radar", 1795766400.25, 1042)
    assert m.origin is not None and (m.origin.lat, m.origin.lon, m.origin.alt_m) == (54.3161, 23.3415, 180.0)
    d = m.detections[0]
    assert (d.range_m, d.azimuth_deg, d.elevation_deg, d.radial_velocity_mps) == (2410.5, 211.4, 2.1, -11.8)
    assert d.sigma is not None and d.sigma.range_m == 7.5
    assert d.class_probs == {"drone": 0.6, "bird": 0.3, "unknown": 0.1}


def test_tracks_and_alert_examples_fields() -> None:
    tracks = decode(TOPICS.tracks, TRACKS_EXAMPLE.encode(), TOPICS)
    assert isinstance(tracks, TracksMessage)
    track = tracks.tracks[0]
    assert (track.track_id, track.status, track.threat.level, track.threat.zone) == (
        "T-17", "confirmed", "high", "border-strip")
    assert track.sensors == ["radar-north", "rf-east"] and tracks.ended == ["T-9"]
    alert = decode(TOPICS.alerts, ALERT_EXAMPLE.encode(), TOPICS)
    assert isinstance(alert, Alert)
    assert (alert.alert_id, alert.track_id, alert.sensor_id) == ("A-000123", "T-17", None)


@pytest.mark.parametrize("name", SAMPLES)
def test_extension_and_kind_samples_decode(name: str) -> None:
    topic, text = SAMPLES[name]
    message = decode(topic, text.encode(), TOPICS)
    assert to_dict(message)["schema"] == obj(text)["schema"]


def test_empty_scan_is_valid() -> None:
    topic, text = SAMPLES["empty_scan"]
    m = decode(topic, text.encode(), TOPICS)
    assert isinstance(m, DetectionsMessage) and m.detections == []


def test_rf_needs_no_origin_without_bearing() -> None:
    payload = edited(RF_SAMPLE, lambda d: (d.pop("origin"), d["detections"].pop(0)))
    m = decode(TOPICS.detections("rf-east"), payload, TOPICS)
    assert isinstance(m, DetectionsMessage) and m.origin is None


def test_unknown_extra_fields_are_ignored() -> None:
    def add_extras(d: dict[str, Any]) -> None:
        d["vendor"] = {"firmware": "1.2"}
        d["origin"]["datum"] = "WGS84"
        first_detection(d)["doppler_bin"] = 17
        first_detection(d)["sigma"]["rcs_dbsm"] = 2.0

    m = decode(TOPICS.detections("radar-north"), edited(DETECTIONS_EXAMPLE, add_extras), TOPICS)
    assert m == decode(TOPICS.detections("radar-north"), DETECTIONS_EXAMPLE.encode(), TOPICS)
    assert "vendor" not in to_dict(m)


def test_boundary_values_are_accepted() -> None:
    def edges(d: dict[str, Any]) -> None:
        first_detection(d).update(azimuth_deg=0.0, elevation_deg=-90.0)
        d["detections"].append({"range_m": 1e-3, "azimuth_deg": 359.999, "elevation_deg": 90.0,
                                "class_probs": {"drone": 0.5, "bird": 0.5}})

    decode(TOPICS.detections("radar-north"), edited(DETECTIONS_EXAMPLE, edges), TOPICS)


def test_integers_are_numbers() -> None:
    payload = edited(DETECTIONS_EXAMPLE, lambda d: first_detection(d).update(range_m=2410, azimuth_deg=211))
    m = decode(TOPICS.detections("radar-north"), payload, TOPICS)
    assert isinstance(m, DetectionsMessage) and m.detections[0].range_m == 2410.0


# -- rejections ----------------------------------------------------------------------------

DET_TOPIC = TOPICS.detections("radar-north")


def _pop(*path: str | int) -> Callable[[dict[str, Any]], None]:
    def edit(d: dict[str, Any]) -> None:
        for key in path[:-1]:
            d = d[key]
        d.pop(path[-1])
    return edit


def _set(value: Any, *path: str | int) -> Callable[[dict[str, Any]], None]:
    def edit(d: dict[str, Any]) -> None:
        for key in path[:-1]:
            d = d[key]
        d[path[-1]] = value
    return edit


#: case → (topic, payload, expected reason). Each is one way a message must be refused.
BAD: dict[str, tuple[str, bytes, str]] = {
    "truncated": (DET_TOPIC, DETECTIONS_EXAMPLE.encode()[:-5], "malformed_json"),
    "not_utf8": (DET_TOPIC, b'{"schema": "\xff\xfe"}', "malformed_json"),
    "empty": (DET_TOPIC, b"", "malformed_json"),
    "trailing_comma": (DET_TOPIC, b'{"schema": "sargas.detections/1",}', "malformed_json"),
    "nan": (DET_TOPIC, DETECTIONS_EXAMPLE.replace("2410.5", "NaN").encode(), "non_finite"),
    "infinity": (DET_TOPIC, DETECTIONS_EXAMPLE.replace("-11.8", "-Infinity").encode(), "non_finite"),
    "overflow": (DET_TOPIC, DETECTIONS_EXAMPLE.replace("2410.5", "1e999").encode(), "non_finite"),
    "array": (DET_TOPIC, b"[" + DETECTIONS_EXAMPLE.encode() + b"]", "not_an_object"),
    "string": (DET_TOPIC, b'"sargas.detections/1"', "not_an_object"),
    "null": (DET_TOPIC, b"null", "not_an_object"),
    "no_schema": (DET_TOPIC, edited(DETECTIONS_EXAMPLE, _pop("schema")), "unknown_schema"),
    "schema_not_string": (DET_TOPIC, edited(DETECTIONS_EXAMPLE, _set(1, "schema")), "unknown_schema"),
    "unknown_type": (DET_TOPIC, edited(DETECTIONS_EXAMPLE, _set("sargas.weather/1", "schema")), "unknown_schema"),
    "future_major": (DET_TOPIC, edited(DETECTIONS_EXAMPLE, _set("sargas.detections/2", "schema")), "unknown_schema"),
    "missing_time": (DET_TOPIC, edited(DETECTIONS_EXAMPLE, _pop("time")), "invalid"),
    "missing_detections": (DET_TOPIC, edited(DETECTIONS_EXAMPLE, _pop("detections")), "invalid"),
    "missing_seq": (DET_TOPIC, edited(DETECTIONS_EXAMPLE, _pop("seq")), "invalid"),
    "time_as_string": (DET_TOPIC, edited(DETECTIONS_EXAMPLE, _set("1795766400.25", "time")), "invalid"),
    "range_as_string": (DET_TOPIC, edited(DETECTIONS_EXAMPLE, _set("2410.5", "detections", 0, "range_m")),
                        "invalid"),
    "azimuth_as_bool": (DET_TOPIC, edited(DETECTIONS_EXAMPLE, _set(True, "detections", 0, "azimuth_deg")),
                        "invalid"),
    "seq_as_string": (DET_TOPIC, edited(DETECTIONS_EXAMPLE, _set("1042", "seq")), "invalid"),
    "detections_not_list": (DET_TOPIC, edited(DETECTIONS_EXAMPLE, _set({}, "detections")), "invalid"),
    "unknown_kind": (DET_TOPIC, edited(DETECTIONS_EXAMPLE, _set("lidar", "kind")), "invalid"),
    "azimuth_360": (DET_TOPIC, edited(DETECTIONS_EXAMPLE, _set(360.0, "detections", 0, "azimuth_deg")), "invalid"),
    "azimuth_negative": (DET_TOPIC, edited(DETECTIONS_EXAMPLE, _set(-0.5, "detections", 0, "azimuth_deg")),
                         "invalid"),
    "elevation_91": (DET_TOPIC, edited(DETECTIONS_EXAMPLE, _set(91, "detections", 0, "elevation_deg")), "invalid"),
    "range_0": (DET_TOPIC, edited(DETECTIONS_EXAMPLE, _set(0, "detections", 0, "range_m")), "invalid"),
    "latitude_91": (DET_TOPIC, edited(DETECTIONS_EXAMPLE, _set(91.0, "origin", "lat")), "invalid"),
    "time_0": (DET_TOPIC, edited(DETECTIONS_EXAMPLE, _set(0, "time")), "invalid"),
    "seq_negative": (DET_TOPIC, edited(DETECTIONS_EXAMPLE, _set(-1, "seq")), "invalid"),
    "probs_over_1": (DET_TOPIC, edited(DETECTIONS_EXAMPLE, _set({"drone": 0.7, "bird": 0.4}, "detections", 0,
                                                                 "class_probs")), "invalid"),
    "probs_unknown_label": (DET_TOPIC, edited(DETECTIONS_EXAMPLE, _set({"kite": 0.5}, "detections", 0,
                                                                        "class_probs")), "invalid"),
    "radar_without_origin": (DET_TOPIC, edited(DETECTIONS_EXAMPLE, _pop("origin")), "invalid"),
    "radar_origin_null": (DET_TOPIC, edited(DETECTIONS_EXAMPLE, _set(None, "origin")), "invalid"),
    "radar_without_range": (DET_TOPIC, edited(DETECTIONS_EXAMPLE, _pop("detections", 0, "range_m")), "invalid"),
    "radar_without_azimuth": (DET_TOPIC, edited(DETECTIONS_EXAMPLE, _pop("detections", 0, "azimuth_deg")),
                              "invalid"),
    "acoustic_without_origin": (TOPICS.detections("mic-1"), edited(ACOUSTIC_SAMPLE, _pop("origin")), "invalid"),
    "acoustic_without_azimuth": (TOPICS.detections("mic-1"),
                                 edited(ACOUSTIC_SAMPLE, _pop("detections", 0, "azimuth_deg")), "invalid"),
    "rf_neither_bearing_nor_position": (TOPICS.detections("rf-east"),
                                        edited(RF_SAMPLE, _set({"freq_mhz": 2437.0}, "detections", 1)), "invalid"),
    "rf_bearing_without_origin": (TOPICS.detections("rf-east"), edited(RF_SAMPLE, _pop("origin")), "invalid"),
    "sigma_zero": (DET_TOPIC, edited(DETECTIONS_EXAMPLE, _set(0.0, "detections", 0, "sigma", "range_m")), "invalid"),
    "sensor_id_with_slash": (DET_TOPIC, edited(DETECTIONS_EXAMPLE, _set("radar/north", "sensor_id")), "invalid"),
    "status_bad_state": (TOPICS.status("radar-north"), edited(STATUS_EXAMPLE, _set("sleeping", "state")), "invalid"),
    "tracks_bad_status": (TOPICS.tracks, edited(TRACKS_EXAMPLE, _set("lost", "tracks", 0, "status")), "invalid"),
    "tracks_bad_threat": (TOPICS.tracks, edited(TRACKS_EXAMPLE, _set("severe", "tracks", 0, "threat", "level")),
                          "invalid"),
    "truth_bad_label": (TOPICS.truth, edited(TRUTH_EXAMPLE, _set("ufo", "objects", 0, "label")), "invalid"),
    "alert_without_track_id": (TOPICS.alerts, edited(ALERT_EXAMPLE, _pop("track_id")), "invalid"),
    "alert_bad_level": (TOPICS.alerts, edited(ALERT_EXAMPLE, _set("high", "level")), "invalid"),
    "too_large": (DET_TOPIC, DETECTIONS_EXAMPLE.encode() + b" " * DEFAULT_MAX_BYTES, "too_large"),
    "sensor_id_not_topic": (TOPICS.detections("radar-south"), DETECTIONS_EXAMPLE.encode(), "wrong_topic"),
    "status_sensor_id_not_topic": (TOPICS.status("radar-south"), STATUS_EXAMPLE.encode(), "wrong_topic"),
    "status_on_detections_topic": (DET_TOPIC, STATUS_EXAMPLE.encode(), "wrong_topic"),
    "tracks_on_alerts_topic": (TOPICS.alerts, TRACKS_EXAMPLE.encode(), "wrong_topic"),
    "foreign_topic": ("elsewhere/radar-north/detections", DETECTIONS_EXAMPLE.encode(), "wrong_topic"),
    "other_prefix": ("sargas/v2/sensors/radar-north/detections", DETECTIONS_EXAMPLE.encode(), "wrong_topic"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_gets_its_reason(case: str) -> None:
    topic, payload, reason = BAD[case]
    assert reason_of(topic, payload) == reason


def test_every_reason_code_is_exercised_or_reserved() -> None:
    codes = set(get_args(Rejected.model_fields["reason"].annotation))
    assert {r for _, _, r in BAD.values()} | {"out_of_order"} == codes


def test_size_limit_is_inclusive_and_configurable() -> None:
    payload = DETECTIONS_EXAMPLE.encode()
    decode(DET_TOPIC, payload, TOPICS, max_bytes=len(payload))
    assert reason_of(DET_TOPIC, payload, max_bytes=len(payload) - 1) == "too_large"


def test_rejection_names_the_sensor_when_it_can() -> None:
    with pytest.raises(ProtocolError) as err:
        decode(DET_TOPIC, edited(DETECTIONS_EXAMPLE, _pop("origin")), TOPICS)
    assert err.value.sensor_id == "radar-north"
    assert "origin" in err.value.detail
    with pytest.raises(ProtocolError) as err:
        decode(DET_TOPIC, b"{", TOPICS)
    assert err.value.sensor_id is None


def test_invalid_detail_names_the_field() -> None:
    with pytest.raises(ProtocolError) as err:
        decode(DET_TOPIC, BAD["azimuth_360"][1], TOPICS)
    assert "detections.0.azimuth_deg" in err.value.detail


def test_load_json_and_validate_are_usable_alone() -> None:
    data = load_json(TRUTH_EXAMPLE.encode())
    assert isinstance(validate(data), TruthMessage)
    assert isinstance(validate(data, "sargas.truth/1"), TruthMessage)
    with pytest.raises(ProtocolError) as err:
        validate(data, "sargas.tracks/1")
    assert err.value.reason == "wrong_topic"


# -- encoding -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_VALID)
def test_encode_decode_round_trip(name: str) -> None:
    topic, text = ALL_VALID[name]
    message = decode(topic, text.encode(), TOPICS)
    payload = encode(message)
    again = decode(topic, payload, TOPICS)
    assert again == message
    assert encode(again) == payload
    assert b"\n" not in payload


@pytest.mark.parametrize("name", ALL_VALID)
def test_encode_keeps_every_value(name: str) -> None:
    """The wire form holds exactly the input's known fields (absent stays absent)."""
    topic, text = ALL_VALID[name]
    original = obj(text)
    original.pop("unused", None)
    assert json.loads(encode(decode(topic, text.encode(), TOPICS))) == original


def test_alerts_keep_track_id_null() -> None:
    alert = Alert(alert_id="A-000124", time=1795766410.0, kind="sensor_offline", level="warning", track_id=None,
                  sensor_id="radar-north", message="radar-north is offline")
    data = json.loads(encode(alert))
    assert "track_id" in data and data["track_id"] is None
    assert data["sensor_id"] == "radar-north"
    assert "zone" not in data and "lat" not in data


def test_track_alert_has_no_sensor_id_and_tracks_keep_zone_null() -> None:
    assert "sensor_id" not in json.loads(encode(decode(TOPICS.alerts, ALERT_EXAMPLE.encode(), TOPICS)))
    tracks = edited(TRACKS_EXAMPLE, _pop("tracks", 0, "threat"))
    data = json.loads(encode(decode(TOPICS.tracks, tracks, TOPICS)))
    assert data["tracks"][0]["threat"] == {"level": "none", "score": 0.0, "zone": None}


def test_models_built_in_code_encode_with_schema() -> None:
    message = TracksMessage(time=1795766401.0, tracks=[])
    assert json.loads(encode(message)) == {"schema": "sargas.tracks/1", "time": 1795766401.0, "tracks": [],
                                           "ended": []}
    rejected = Rejected(time=1795766402.0, topic="x", reason="malformed_json", detail="eof", size_bytes=1)
    assert json.loads(encode(rejected))["schema"] == "sargas.rejected/1"


def test_models_are_registered_by_schema() -> None:
    assert set(MODELS) == {"sargas.detections/1", "sargas.sensor_status/1", "sargas.truth/1", "sargas.tracks/1",
                           "sargas.alerts/1", "sargas.rejected/1"}


def test_dumps_is_deterministic() -> None:
    assert dumps({"b": 1, "a": [1.5, None]}) == b'{"a":[1.5,null],"b":1}'


def test_models_are_immutable() -> None:
    message = decode(TOPICS.truth, TRUTH_EXAMPLE.encode(), TOPICS)
    with pytest.raises(ValidationError):
        message.time = 1.0  # type: ignore[misc]


# -- topics ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("topic", "expected"), [
    ("sargas/v1/sensors/radar-north/detections", ("detections", "radar-north")),
    ("sargas/v1/sensors/radar-north/status", ("status", "radar-north")),
    ("sargas/v1/truth", ("truth", None)),
    ("sargas/v1/tracks", ("tracks", None)),
    ("sargas/v1/alerts", ("alerts", None)),
    ("sargas/v1/rejected", ("rejected", None)),
    ("sargas/v1/sensors//detections", None),
    ("sargas/v1/sensors/radar-north/config", None),
    ("sargas/v1/sensors/radar-north", None),
    ("sargas/v1/sensors/a/b/detections", None),
    ("sargas/v1/tracks/extra", None),
    ("sargas/v1/other", None),
    ("sargas/v1", None),
    ("sargas/v10/tracks", None),
    ("other/v1/tracks", None),
    ("", None),
])
def test_classify(topic: str, expected: tuple[str, str | None] | None) -> None:
    assert TOPICS.classify(topic) == expected


def test_topics_under_a_custom_prefix() -> None:
    site = Topics("site-a/sargas")
    assert site.detections("r1") == "site-a/sargas/sensors/r1/detections"
    assert site.status("r1") == "site-a/sargas/sensors/r1/status"
    assert (site.truth, site.tracks, site.alerts, site.rejected) == (
        "site-a/sargas/truth", "site-a/sargas/tracks", "site-a/sargas/alerts", "site-a/sargas/rejected")
    assert (site.all_detections, site.all_status, site.everything) == (
        "site-a/sargas/sensors/+/detections", "site-a/sargas/sensors/+/status", "site-a/sargas/#")
    assert site.classify(site.detections("r1")) == ("detections", "r1")
    assert site.classify(TOPICS.tracks) is None
    assert isinstance(decode(site.tracks, TRACKS_EXAMPLE.encode(), site), TracksMessage)
    with pytest.raises(ProtocolError) as err:
        decode(TOPICS.tracks, TRACKS_EXAMPLE.encode(), site)
    assert err.value.reason == "wrong_topic"


@pytest.mark.parametrize("prefix", ["", "sargas/", "sargas/+", "#", "a/#/b"])
def test_invalid_prefix_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError):
        Topics(prefix)


# -- recordings -----------------------------------------------------------------------------

RECORDED: list[tuple[float, str, str]] = [
    (1795766400.0, TOPICS.status("radar-north"), STATUS_EXAMPLE),
    (1795766400.31, TOPICS.detections("radar-north"), DETECTIONS_EXAMPLE),
    (1795766401.0, TOPICS.tracks, TRACKS_EXAMPLE),
    (1795766401.0000004, TOPICS.alerts, ALERT_EXAMPLE),
]


@pytest.mark.parametrize("name", ["run.jsonl", "run.jsonl.gz", "sub/dir/run.jsonl.gz"])
def test_recording_round_trip(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    forms: list[Callable[[str, str], bytes | dict[str, Any]]] = [
        lambda _topic, text: text.encode(),                                 # bytes with newlines (pretty JSON)
        lambda topic, text: encode(decode(topic, text.encode(), TOPICS)),  # compact wire bytes
        lambda _topic, text: obj(text),                                     # a dict
    ]
    with RecordingWriter(path) as writer:
        for i, (t, topic, text) in enumerate(RECORDED):
            writer.write(t, topic, forms[i % len(forms)](topic, text))
        writer.flush()
        assert writer.count == len(RECORDED)
    lines = list(read_recording(path))
    assert all(isinstance(line, RecordLine) for line in lines)
    assert [(line.t, line.topic) for line in lines] == [(round(t, 6), topic) for t, topic, _ in RECORDED]  # type: ignore[union-attr]
    for line, (_, topic, text) in zip(lines, RECORDED, strict=True):
        assert json.loads(line.payload) == json.loads(encode(decode(topic, text.encode(), TOPICS)))  # type: ignore[union-attr]
        assert decode(topic, line.payload, TOPICS) == decode(topic, text.encode(), TOPICS)  # type: ignore[union-attr]
    raw = gzip.decompress(path.read_bytes()) if name.endswith(".gz") else path.read_bytes()
    assert raw.count(b"\n") == len(RECORDED)
    assert all(json.loads(row).keys() == {"t", "topic", "payload"} for row in raw.splitlines())


def test_recording_example_line_is_a_valid_line(tmp_path: Path) -> None:
    path = tmp_path / "example.jsonl"
    path.write_text(RECORDING_EXAMPLE)
    (line,) = read_recording(path)
    assert isinstance(line, RecordLine)
    assert (line.t, line.topic) == (1795766400.31, "sargas/v1/sensors/radar-north/detections")
    # The example's payload is abbreviated ("...": "..."): as a message it is incomplete.
    assert reason_of(line.topic, line.payload) == "invalid"


@pytest.mark.parametrize("gz", [False, True])
def test_bad_recording_lines_are_reported_with_line_numbers(tmp_path: Path, gz: bool) -> None:
    good = RECORDING_EXAMPLE.strip()
    rows = [
        good,                                               # 1
        "",                                                 # 2 blank: skipped
        "{not json",                                        # 3
        '{"t": "soon", "topic": "x", "payload": {}}',       # 4 t not a number
        '{"t": true, "topic": "x", "payload": {}}',         # 5 t is a bool
        '{"t": 1.0, "payload": {}}',                        # 6 no topic
        '{"t": 1.0, "topic": "x", "payload": [1]}',         # 7 payload not an object
        '{"t": 1.0, "topic": "x", "payload": {"a": NaN}}',  # 8 non-finite
        "[1, 2]",                                           # 9 not an object
        good,                                               # 10
    ]
    text = "\n".join(rows) + "\n"
    path = tmp_path / ("bad.jsonl.gz" if gz else "bad.jsonl")
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    out = list(read_recording(path))
    errors = [e for e in out if isinstance(e, RecordingError)]
    assert [e.line_no for e in errors] == [3, 4, 5, 6, 7, 8, 9]
    assert all(f"{path}:{e.line_no}:" in str(e) for e in errors)
    assert [type(e) for e in out] == [RecordLine] + [RecordingError] * 7 + [RecordLine]


def test_recording_size_limits(tmp_path: Path) -> None:
    """A line far over the limit is an error; a payload just over it is left to decode (too_large)."""
    path = tmp_path / "big.jsonl"
    with RecordingWriter(path) as writer:
        writer.write(1.0, TOPICS.truth, {"schema": "sargas.truth/1", "pad": "x" * 10_000})
        writer.write(2.0, TOPICS.truth, {"schema": "sargas.truth/1", "pad": "x" * 200})
    out = list(read_recording(path, max_bytes=100))
    assert isinstance(out[0], RecordingError) and out[0].line_no == 1
    assert isinstance(out[1], RecordLine)
    assert reason_of(out[1].topic, out[1].payload, max_bytes=100) == "too_large"


def test_recording_keeps_payload_bytes_decodable_as_mqtt(tmp_path: Path) -> None:
    """A recorded payload is compact JSON, so it can be re-published as is."""
    path = tmp_path / "r.jsonl"
    with RecordingWriter(path) as writer:
        writer.write(1.5, TOPICS.detections("radar-north"), DETECTIONS_EXAMPLE.encode())
    (line,) = read_recording(path)
    assert isinstance(line, RecordLine) and b"\n" not in line.payload
    assert copy.deepcopy(json.loads(line.payload)) == obj(DETECTIONS_EXAMPLE)
