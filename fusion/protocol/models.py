"""Typed models of every Sargas v1 message (see docs/protocol.md).

The models are the single source of truth for the wire format: they validate
incoming messages and generate the JSON Schemas shipped in ``schemas/``.
Unknown extra fields are ignored; non-finite numbers and out-of-range values
are rejected.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

SensorKind = Literal["radar", "acoustic", "rf"]
Label = Literal["drone", "bird", "aircraft", "unknown"]
TrackStatus = Literal["tentative", "confirmed", "coasting"]
ThreatLevel = Literal["none", "low", "medium", "high", "critical"]
AlertKind = Literal["new_threat", "zone_entry", "threat_escalated", "track_lost", "sensor_offline"]
AlertLevel = Literal["info", "warning", "critical"]
SensorState = Literal["online", "degraded", "offline"]

#: An identifier that is safe inside an MQTT topic level (which may hold spaces, not '/', '+' or '#').
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=1024, pattern=r"^[^/+#\x00]+$")]
Text = Annotated[str, StringConstraints(max_length=1024)]
Time = Annotated[float, Field(gt=0.0, lt=1e11, description="UNIX epoch seconds, UTC")]
Latitude = Annotated[float, Field(ge=-90.0, le=90.0)]
Longitude = Annotated[float, Field(ge=-180.0, le=180.0)]
#: -1000 m is Remote ID's "unknown altitude"; 100 km is far above any airspace we watch.
Altitude = Annotated[float, Field(ge=-1000.0, le=100_000.0)]
Azimuth = Annotated[float, Field(ge=0.0, lt=360.0)]
Elevation = Annotated[float, Field(ge=-90.0, le=90.0)]
Speed = Annotated[float, Field(ge=-1000.0, le=1000.0)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Positive = Annotated[float, Field(gt=0.0, lt=1e9)]
Finite = Annotated[float, Field(ge=-1e9, le=1e9)]


class Model(BaseModel):
    """Base of all wire models: forward compatible, finite numbers only."""

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False, frozen=True)

    #: Fields written even when ``None`` (the protocol says they are null, not absent).
    nullable_fields: ClassVar[frozenset[str]] = frozenset()
    #: Extension fields left out when empty, so that plain v1 output stays exactly v1.
    omit_empty_fields: ClassVar[frozenset[str]] = frozenset()


class Position(Model):
    """A WGS84 position: degrees and metres above the ellipsoid."""

    lat: Latitude
    lon: Longitude
    alt_m: Altitude


class Velocity(Model):
    """Velocity in the local East-North-Up frame at the object, m/s."""

    east_mps: Speed
    north_mps: Speed
    up_mps: Speed


class Sigma(Model):
    """One-standard-deviation measurement noise of a detection."""

    range_m: Positive | None = None
    azimuth_deg: Annotated[float, Field(gt=0.0, le=180.0)] | None = None
    elevation_deg: Annotated[float, Field(gt=0.0, le=90.0)] | None = None
    radial_velocity_mps: Positive | None = None
    position_m: Positive | None = None


ClassProbs = dict[Label, Probability]


def _check_class_probs(probs: ClassProbs | None) -> None:
    if probs is not None and sum(probs.values()) > 1.0 + 1e-6:
        raise ValueError("class_probs must sum to at most 1")


class Detection(Model):
    """One detection; which fields are required depends on the sensor kind."""

    range_m: Positive | None = None
    azimuth_deg: Azimuth | None = None
    elevation_deg: Elevation | None = None
    radial_velocity_mps: Speed | None = None
    rcs_dbsm: Finite | None = None
    snr_db: Finite | None = None
    spl_db: Finite | None = None
    position: Position | None = None
    emitter_id: Text | None = None
    uas_id: Text | None = None
    operator_position: Position | None = None
    velocity: Velocity | None = None
    freq_mhz: Positive | None = None
    rssi_dbm: Finite | None = None
    protocol: Text | None = None
    sigma: Sigma | None = None
    class_probs: ClassProbs | None = None
    #: Simulators only (evaluation): the true object this came from; absent or null for a false alarm.
    truth_id: Identifier | None = None

    @model_validator(mode="after")
    def _probs_sum(self) -> Detection:
        _check_class_probs(self.class_probs)
        return self


class Sector(Model):
    """A Sargas extension: the azimuth span a rotating sensor looked at for this message,
    clockwise from ``azimuth_min_deg`` to ``azimuth_max_deg`` (equal: the full circle). A
    message without it covers everything the sensor covers."""

    azimuth_min_deg: Azimuth
    azimuth_max_deg: Azimuth


class DetectionsMessage(Model):
    """``sargas.detections/1``: one scan (or burst) of one sensor."""

    schema_: Literal["sargas.detections/1"] = Field(alias="schema")
    sensor_id: Identifier
    kind: SensorKind
    time: Time
    seq: Annotated[int, Field(ge=0, lt=2**63)]
    origin: Position | None = None
    detections: Annotated[list[Detection], Field(max_length=10_000)]
    sector: Sector | None = None

    model_config = ConfigDict(populate_by_name=True)

    @model_validator(mode="after")
    def _kind_rules(self) -> DetectionsMessage:
        needs_origin = self.kind in ("radar", "acoustic")
        for i, d in enumerate(self.detections):
            if self.kind == "radar" and (d.range_m is None or d.azimuth_deg is None):
                raise ValueError(f"detections[{i}]: radar needs range_m and azimuth_deg")
            if self.kind == "acoustic" and d.azimuth_deg is None:
                raise ValueError(f"detections[{i}]: acoustic needs azimuth_deg")
            if self.kind == "rf":
                if d.azimuth_deg is None and d.position is None:
                    raise ValueError(f"detections[{i}]: rf needs azimuth_deg or position")
                needs_origin = needs_origin or d.azimuth_deg is not None
        if needs_origin and self.origin is None:
            raise ValueError(f"origin is required for {self.kind} detections with a bearing")
        return self


class Coverage(Model):
    """What a sensor can see, from its origin."""

    max_range_m: Positive | None = None
    azimuth_min_deg: Annotated[float, Field(ge=0.0, le=360.0)] | None = None
    azimuth_max_deg: Annotated[float, Field(ge=0.0, le=360.0)] | None = None


class SensorStatus(Model):
    """``sargas.sensor_status/1``: a retained heartbeat; the last will says offline."""

    schema_: Literal["sargas.sensor_status/1"] = Field(alias="schema")
    sensor_id: Identifier
    kind: SensorKind
    time: Time
    state: SensorState
    origin: Position | None = None
    coverage: Coverage | None = None
    scan_period_s: Positive | None = None

    model_config = ConfigDict(populate_by_name=True)


class TruthObject(Model):
    """One simulated object as it really is."""

    id: Identifier
    label: Label
    lat: Latitude
    lon: Longitude
    alt_m: Altitude
    velocity: Velocity


class TruthMessage(Model):
    """``sargas.truth/1``: ground truth from a simulator."""

    schema_: Literal["sargas.truth/1"] = Field(alias="schema")
    time: Time
    objects: Annotated[list[TruthObject], Field(max_length=100_000)]

    model_config = ConfigDict(populate_by_name=True)


class Threat(Model):
    """Threat assessment of one track."""

    nullable_fields: ClassVar[frozenset[str]] = frozenset({"zone"})

    level: ThreatLevel
    score: Probability
    zone: Text | None = None


class Track(Model):
    """One fused track as the fusion core publishes it."""

    track_id: Identifier
    status: TrackStatus
    lat: Latitude
    lon: Longitude
    alt_m: Altitude
    velocity: Velocity
    position_sigma_m: Annotated[float, Field(ge=0.0, lt=1e9)]
    label: Label = "unknown"
    label_p: Probability = 0.0
    sensors: list[Identifier] = Field(default_factory=list)
    threat: Threat = Threat(level="none", score=0.0)
    first_seen: Time
    last_update: Time


class Strobe(Model):
    """A Sargas extension: a lone bearing that no other sensor crosses, drawn as a line
    from the sensor's ``origin``; it says "something is this way", not where."""

    sensor_id: Identifier
    time: Time
    origin: Position
    azimuth_deg: Azimuth
    elevation_deg: Elevation | None = None
    sigma_deg: Annotated[float, Field(gt=0.0, le=180.0)]
    label: Label = "unknown"
    label_p: Probability = 0.0


class TracksMessage(Model):
    """``sargas.tracks/1``: every live track at one fusion time (plus, as a compatible
    extension, the current bearing strobes)."""

    omit_empty_fields: ClassVar[frozenset[str]] = frozenset({"strobes"})

    schema_: Literal["sargas.tracks/1"] = Field(alias="schema", default="sargas.tracks/1")
    time: Time
    tracks: list[Track]
    ended: list[Identifier] = Field(default_factory=list)
    strobes: list[Strobe] = Field(default_factory=list)

    model_config = ConfigDict(populate_by_name=True)


class Alert(Model):
    """``sargas.alerts/1``: one alert, unique and never reused."""

    nullable_fields: ClassVar[frozenset[str]] = frozenset({"track_id"})

    schema_: Literal["sargas.alerts/1"] = Field(alias="schema", default="sargas.alerts/1")
    alert_id: Identifier
    time: Time
    kind: AlertKind
    level: AlertLevel
    track_id: Identifier | None
    sensor_id: Identifier | None = None
    zone: Text | None = None
    lat: Latitude | None = None
    lon: Longitude | None = None
    message: Text

    model_config = ConfigDict(populate_by_name=True)


class Rejected(Model):
    """``sargas.rejected/1`` (a Sargas extension): why an input was rejected."""

    schema_: Literal["sargas.rejected/1"] = Field(alias="schema", default="sargas.rejected/1")
    time: Time
    topic: Text
    reason: Literal[
        "too_large", "malformed_json", "non_finite", "not_an_object", "unknown_schema",
        "invalid", "wrong_topic", "out_of_order",
    ]
    detail: Text
    size_bytes: Annotated[int, Field(ge=0)]
    sensor_id: Identifier | None = None

    model_config = ConfigDict(populate_by_name=True)


Message = DetectionsMessage | SensorStatus | TruthMessage | TracksMessage | Alert | Rejected

#: Message type by the ``schema`` field of the wire.
MODELS: dict[str, type[Model]] = {
    "sargas.detections/1": DetectionsMessage,
    "sargas.sensor_status/1": SensorStatus,
    "sargas.truth/1": TruthMessage,
    "sargas.tracks/1": TracksMessage,
    "sargas.alerts/1": Alert,
    "sargas.rejected/1": Rejected,
}
