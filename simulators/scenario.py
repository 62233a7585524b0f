"""Scenario files: YAML, validated into typed models, with errors that name file, field and problem.

A scenario places sensors and targets around a site. Positions are given either as WGS84
``lat``/``lon``/``alt_m`` or as ``east``/``north``/``up`` metres from the site origin, so
that a scenario can be drawn on a map or sketched in local metres.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from fusion.geo import LocalFrame

#: Start of recordings whose scenario gives no ``start_time``: 2026-11-27 00:00:00 UTC.
RECORDING_EPOCH = 1795766400.0

#: The name that ``--only`` and the runner use for the ground-truth publisher.
TRUTH_SOURCE = "truth"

#: Identifiers end up in MQTT topics: no '/', '+', '#' or spaces.
Ident = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]
PositiveFloat = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]
NonNegativeFloat = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Probability = Annotated[float, Field(gt=0.0, le=1.0)]
Latitude = Annotated[float, Field(ge=-90.0, le=90.0)]
Longitude = Annotated[float, Field(ge=-180.0, le=180.0)]
Altitude = Annotated[float, Field(ge=-1000.0, le=100_000.0)]
Metres = Annotated[float, Field(ge=-1e6, le=1e6)]
Decibels = Annotated[float, Field(ge=-300.0, le=300.0)]
Azimuth = Annotated[float, Field(ge=0.0, le=360.0)]
MaskElevation = Annotated[float, Field(ge=-10.0, le=45.0)]


class ScenarioError(ValueError):
    """A scenario that cannot be loaded; the message names the file, the field and the problem."""


class Spec(BaseModel):
    """Base of scenario models: unknown keys are errors (they are usually typos), values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Site(Spec):
    """The origin of the scenario's local East-North-Up frame."""

    name: str = ""
    lat: Latitude
    lon: Longitude
    alt_m: Altitude

    @property
    def frame(self) -> LocalFrame:
        return LocalFrame(self.lat, self.lon, self.alt_m)


class Placed(Spec):
    """Something with a position: ``lat``/``lon``/``alt_m`` or ``east``/``north``[/``up``] from the site."""

    lat: Latitude | None = None
    lon: Longitude | None = None
    alt_m: Altitude | None = None
    east: Metres | None = None
    north: Metres | None = None
    up: Metres | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Placed:
        geo = {"lat": self.lat, "lon": self.lon, "alt_m": self.alt_m}
        local = {"east": self.east, "north": self.north}
        has_geo = any(v is not None for v in geo.values())
        has_local = any(v is not None for v in local.values()) or self.up is not None
        if has_geo and has_local:
            raise ValueError("give a position as lat/lon/alt_m or as east/north/up, not both")
        if not has_geo and not has_local:
            raise ValueError("a position is required: lat/lon/alt_m or east/north/up (metres from the site)")
        form = geo if has_geo else local
        missing = [k for k, v in form.items() if v is None]
        if missing:
            raise ValueError(f"incomplete position: {', '.join(missing)} missing")
        return self

    def enu(self, site: LocalFrame) -> np.ndarray:
        """The position in the site's ENU frame, metres."""
        if self.lat is not None:
            return site.from_geodetic(self.lat, self.lon, self.alt_m)  # type: ignore[arg-type]
        return np.array([self.east, self.north, self.up or 0.0], dtype=float)


class Point(Placed):
    """A waypoint or a ground position."""


class RadarNoise(Spec):
    """One-sigma measurement noise of a radar."""

    range_m: PositiveFloat = 7.5
    azimuth_deg: Annotated[float, Field(gt=0.0, le=30.0)] = 0.6
    elevation_deg: Annotated[float, Field(gt=0.0, le=30.0)] = 1.0
    radial_velocity_mps: PositiveFloat = 0.5


class RadarDetection(Spec):
    """Radar equation with Swerling-1 fluctuation: SNR = reference_snr_db + RCS - 40 log10(R / reference_range_m)."""

    reference_snr_db: Decibels = 55.0
    reference_range_m: PositiveFloat = 1000.0
    false_alarm_probability: Annotated[float, Field(gt=0.0, lt=0.5)] = 1e-6


class HorizonSector(Spec):
    """Terrain or trees that hide everything below ``elevation_deg`` between two azimuths (clockwise)."""

    azimuth_min_deg: Azimuth
    azimuth_max_deg: Azimuth
    elevation_deg: MaskElevation


class RadarConfig(Placed):
    """A rotating surveillance radar: ``sectors_per_scan`` detections messages per scan.

    ``azimuth_min_deg``..``azimuth_max_deg`` (clockwise, wrapping through north) is the
    sector it covers, split into ``sectors_per_scan`` equal sectors, each reported when the
    beam has swept it (1: the whole scan in one message); ``horizon_deg`` and
    ``horizon_sectors`` are its horizon mask: a target seen below the mask's elevation is
    hidden by terrain and trees (by default, nothing is).
    """

    id: Ident
    kind: Literal["radar"]
    scan_period_s: PositiveFloat = 1.0
    sectors_per_scan: Annotated[int, Field(ge=1, le=360)] = 8
    min_range_m: NonNegativeFloat = 50.0
    max_range_m: PositiveFloat = 5000.0
    max_elevation_deg: Annotated[float, Field(gt=0.0, le=90.0)] = 60.0
    azimuth_min_deg: Azimuth = 0.0
    azimuth_max_deg: Azimuth = 360.0
    horizon_deg: MaskElevation = -10.0  # the lowest allowed: no mask unless the scenario sets one
    horizon_sectors: list[HorizonSector] = Field(default_factory=list)
    noise: RadarNoise = RadarNoise()
    detection: RadarDetection = RadarDetection()
    false_alarms_per_scan: NonNegativeFloat = 2.0
    class_strength: NonNegativeFloat = 1.5

    @property
    def period_s(self) -> float:
        return self.scan_period_s

    @model_validator(mode="after")
    def _ranges(self) -> RadarConfig:
        if self.min_range_m >= self.max_range_m:
            raise ValueError(f"min_range_m ({self.min_range_m:g}) must be below max_range_m ({self.max_range_m:g})")
        return self


class AcousticNoise(Spec):
    """One-sigma noise of an acoustic array's bearings and sound level."""

    azimuth_deg: Annotated[float, Field(gt=0.0, le=90.0)] = 2.0
    elevation_deg: Annotated[float, Field(gt=0.0, le=45.0)] = 4.0
    spl_db: PositiveFloat = 1.0


class AcousticDetection(Spec):
    """Spherical spreading plus absorption against a noise floor; P(detect) is logistic in SNR."""

    noise_floor_db: Decibels = 10.0
    snr50_db: Decibels = 6.0
    slope_db: PositiveFloat = 2.0
    absorption_db_per_m: NonNegativeFloat = 0.005


class PeriodicSensor(Placed):
    """A sensor that reports every ``update_period_s`` (radars have a scan period instead)."""

    update_period_s: PositiveFloat = 1.0

    @property
    def period_s(self) -> float:
        return self.update_period_s


class AcousticConfig(PeriodicSensor):
    """A microphone array that measures bearings (azimuth and elevation) and classifies by sound."""

    id: Ident
    kind: Literal["acoustic"]
    update_period_s: PositiveFloat = 0.5
    max_range_m: PositiveFloat = 1500.0
    noise: AcousticNoise = AcousticNoise()
    detection: AcousticDetection = AcousticDetection()
    false_alarms_per_update: NonNegativeFloat = 0.05
    class_strength: NonNegativeFloat = 8.0


class RfDfNoise(Spec):
    """One-sigma bearing noise and log-normal shadowing of received power."""

    azimuth_deg: Annotated[float, Field(gt=0.0, le=90.0)] = 3.0
    shadowing_db: PositiveFloat = 4.0


class RfDfDetection(Spec):
    """An emitter is detected when its received power (free-space loss plus shadowing) beats sensitivity."""

    sensitivity_dbm: Decibels = -95.0


class RfDfConfig(PeriodicSensor):
    """An RF direction finder: bearing, power, frequency and a stable emitter id of drone links."""

    id: Ident
    kind: Literal["rf_df"]
    update_period_s: PositiveFloat = 1.0
    max_range_m: PositiveFloat = 6000.0
    noise: RfDfNoise = RfDfNoise()
    detection: RfDfDetection = RfDfDetection()
    false_alarms_per_update: NonNegativeFloat = 0.02
    class_strength: NonNegativeFloat = 6.0


class RemoteIdNoise(Spec):
    """One-sigma error of the positions and velocities that drones broadcast."""

    position_m: PositiveFloat = 5.0
    altitude_m: PositiveFloat = 8.0
    velocity_mps: PositiveFloat = 0.5


class RemoteIdConfig(PeriodicSensor):
    """A Remote ID receiver: decodes the broadcasts of cooperative drones within range."""

    id: Ident
    kind: Literal["remote_id"]
    update_period_s: PositiveFloat = 1.0
    max_range_m: PositiveFloat = 3000.0
    detection_probability: Probability = 0.9
    noise: RemoteIdNoise = RemoteIdNoise()


SensorConfig = Annotated[RadarConfig | AcousticConfig | RfDfConfig | RemoteIdConfig, Field(discriminator="kind")]


class RfEmission(Spec):
    """The control/video link of a drone, as an RF direction finder sees it."""

    freq_mhz: PositiveFloat = 2437.0
    eirp_dbm: Decibels = 20.0
    protocol: str = "ocusync"
    emitter_id: Ident | None = None


class Transit(Spec):
    """Fly straight from one point to another."""

    kind: Literal["transit"]
    start: Point
    end: Point


class Loiter(Spec):
    """Circle ``centre`` at ``radius_m`` (clockwise seen from above), forever."""

    kind: Literal["loiter"]
    centre: Point
    radius_m: PositiveFloat
    points: Annotated[int, Field(ge=4, le=360)] = 24


class Wander(Spec):
    """A bird-like wander: random legs inside ``radius_m`` of ``centre``, drawn from the seed, looped."""

    kind: Literal["wander"]
    centre: Point
    radius_m: PositiveFloat
    vertical_m: NonNegativeFloat = 20.0
    legs: Annotated[int, Field(ge=2, le=500)] = 40


Behaviour = Annotated[Transit | Loiter | Wander, Field(discriminator="kind")]


class Formation(Spec):
    """Fly ``count`` copies of a target in formation, ``spacing_m`` apart (ids ``{id}-1`` .. ``{id}-{count}``).

    ``line`` is abreast, ``vee`` a V pointing along the first leg, ``grid`` rows of
    ⌈√count⌉, ``scatter`` random positions in a square of ``spacing_m``·√count.
    ``jitter_m`` moves each member by a random amount up to that (drawn from the seed);
    ``start_spread_s`` staggers their start times over that many seconds.
    """

    count: Annotated[int, Field(ge=2, le=1000)]
    spacing_m: PositiveFloat = 50.0
    shape: Literal["line", "vee", "grid", "scatter"] = "grid"
    jitter_m: NonNegativeFloat = 0.0
    vertical_m: NonNegativeFloat = 0.0
    start_spread_s: NonNegativeFloat = 0.0


class TargetConfig(Spec):
    """Something that flies at constant speed: along ``waypoints`` or a ``behaviour``, alone or in a formation."""

    id: Ident
    label: Literal["drone", "bird", "aircraft"]
    type: str = ""
    speed_mps: PositiveFloat
    waypoints: Annotated[list[Point], Field(min_length=1)] | None = None
    behaviour: Behaviour | None = None
    formation: Formation | None = None
    start_s: NonNegativeFloat = 0.0
    at_end: Literal["stop", "loop", "vanish"] = "stop"
    emits_rf: bool = False
    rf: RfEmission = RfEmission()
    remote_id: bool = False
    uas_id: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = None
    operator: Point | None = None
    remote_id_unknown: list[Literal["altitude", "operator"]] = Field(default_factory=list)
    rcs_dbsm: Decibels | None = None
    source_level_db: Decibels | None = None

    @model_validator(mode="after")
    def _remote_id(self) -> TargetConfig:
        if not self.remote_id and (self.uas_id is not None or self.operator is not None or self.remote_id_unknown):
            raise ValueError("uas_id, operator and remote_id_unknown need remote_id: true")
        if (self.waypoints is None) == (self.behaviour is None):
            raise ValueError("give either waypoints or a behaviour (transit, loiter or wander), not both or neither")
        return self

    @property
    def member_ids(self) -> list[str]:
        """The ids of the objects this entry puts in the sky: its own, or one per formation member."""
        if self.formation is None:
            return [self.id]
        return [f"{self.id}-{k}" for k in range(1, self.formation.count + 1)]


class ZoneProperties(Spec):
    """What a zone is: ``border`` strips and ``corridor`` lines are buffered by ``buffer_m``."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    kind: Literal["border", "protected", "corridor"]
    buffer_m: PositiveFloat | None = None


LonLat = tuple[Longitude, Latitude]


class PolygonGeometry(Spec):
    """A GeoJSON Polygon: closed rings of [lon, lat], the first the outline."""

    type: Literal["Polygon"]
    coordinates: Annotated[list[Annotated[list[LonLat], Field(min_length=4)]], Field(min_length=1)]

    @model_validator(mode="after")
    def _closed(self) -> PolygonGeometry:
        if any(ring[0] != ring[-1] for ring in self.coordinates):
            raise ValueError("a polygon ring must end where it starts (GeoJSON closes rings explicitly)")
        return self


class LineStringGeometry(Spec):
    """A GeoJSON LineString of [lon, lat] positions."""

    type: Literal["LineString"]
    coordinates: Annotated[list[LonLat], Field(min_length=2)]


class ZoneFeature(Spec):
    """One zone, a GeoJSON Feature."""

    type: Literal["Feature"]
    id: str | int | None = None
    geometry: Annotated[PolygonGeometry | LineStringGeometry, Field(discriminator="type")]
    properties: ZoneProperties

    @model_validator(mode="after")
    def _buffered_lines(self) -> ZoneFeature:
        if self.geometry.type == "LineString" and self.properties.buffer_m is None:
            raise ValueError("a LineString zone needs properties.buffer_m (metres either side of the line)")
        return self


class Zones(Spec):
    """The zones of a site: a GeoJSON FeatureCollection, [lon, lat] order."""

    type: Literal["FeatureCollection"]
    features: list[ZoneFeature] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> Zones:
        names = [f.properties.name for f in self.features]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"zone name {twice[0]!r} is used twice")
        return self


class FaultBase(Spec):
    """A fault of one sensor from ``start_s`` to ``end_s`` (default: the end of the run), sim seconds."""

    sensor: Ident
    start_s: NonNegativeFloat = 0.0
    end_s: PositiveFloat | None = None

    @model_validator(mode="after")
    def _interval(self) -> FaultBase:
        if self.end_s is not None and self.end_s <= self.start_s:
            raise ValueError(f"end_s ({self.end_s:g}) must be after start_s ({self.start_s:g})")
        return self


class OfflineFault(FaultBase):
    """The sensor is down: status ``offline``, no detections."""

    kind: Literal["offline"]


class LatencyFault(FaultBase):
    """Each message leaves ``latency_s`` plus Gaussian ``jitter_s`` (never negative) after its time."""

    kind: Literal["latency"]
    latency_s: NonNegativeFloat = 0.0
    jitter_s: NonNegativeFloat = 0.0


class LossFault(FaultBase):
    """Each detections message is lost with ``probability`` (its seq is still used: the gap shows it)."""

    kind: Literal["loss"]
    probability: Probability


class OutOfOrderFault(FaultBase):
    """Each detections message is held back by ``delay_s`` with ``probability``, so later ones overtake it."""

    kind: Literal["out_of_order"]
    probability: Probability
    delay_s: PositiveFloat = 1.5


class ClockOffsetFault(FaultBase):
    """The sensor's clock is ``offset_s`` off: its messages' ``time`` is shifted by that much."""

    kind: Literal["clock_offset"]
    offset_s: Annotated[float, Field(ge=-86400.0, le=86400.0)]


FaultConfig = Annotated[OfflineFault | LatencyFault | LossFault | OutOfOrderFault | ClockOffsetFault,
                        Field(discriminator="kind")]


class Scenario(Spec):
    """A complete scenario: site, zones, sensors, targets, faults, duration and seed."""

    name: Ident
    description: str = ""
    seed: Annotated[int, Field(ge=0, lt=2**63)]
    duration_s: PositiveFloat
    start_time: Annotated[float, Field(gt=0.0, lt=1e11)] | None = None
    site: Site
    truth_period_s: PositiveFloat = 0.5
    status_period_s: Annotated[float, Field(gt=0.0, le=5.0)] = 5.0
    zones: Zones | None = None
    sensors: Annotated[list[SensorConfig], Field(min_length=1)]
    targets: list[TargetConfig] = Field(default_factory=list)
    faults: list[FaultConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_ids(self) -> Scenario:
        target_ids = [ident for t in self.targets for ident in t.member_ids]
        for what, ids in (("sensor", [s.id for s in self.sensors]), ("target", target_ids)):
            seen: set[str] = set()
            for ident in ids:
                if ident in seen:
                    raise ValueError(f"{what} id {ident!r} is used twice")
                seen.add(ident)
        sensor_ids = [s.id for s in self.sensors]
        if TRUTH_SOURCE in sensor_ids:
            raise ValueError(f"{TRUTH_SOURCE!r} is reserved for the ground-truth publisher; rename the sensor")
        for fault in self.faults:
            if fault.sensor not in sensor_ids:
                raise ValueError(f"a {fault.kind} fault names sensor {fault.sensor!r}, which is not in the scenario")
        return self

    def zones_geojson(self) -> dict[str, Any]:
        """The scenario's zones as a GeoJSON FeatureCollection (empty when it has none)."""
        if self.zones is None:
            return {"type": "FeatureCollection", "features": []}
        return self.zones.model_dump(mode="json", exclude_none=True)

    def write_zones(self, path: Path) -> int:
        """Write the zones to a GeoJSON file (for ``--zones`` of the fusion); return how many."""
        zones = self.zones_geojson()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(zones, indent=1), encoding="utf-8")
        return len(zones["features"])

    def replace(self, **changes: Any) -> Scenario:
        """A copy with some fields changed, validated again."""
        return Scenario.model_validate({**self.model_dump(), **changes})


class ScenarioInfo(NamedTuple):
    """A shipped scenario: the name to load it by and the first line of its description."""

    name: str
    description: str


class _StrictLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses duplicate keys instead of silently keeping the last."""


def _no_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def _where(loc: Sequence[int | str], data: Any) -> str:
    """A readable field path such as ``sensors[1] (radar-north).noise.range_m``."""
    text = ""
    node = data
    for key in loc:
        if isinstance(key, int):
            node = node[key] if isinstance(node, list) and 0 <= key < len(node) else None
            ident = node.get("id") if isinstance(node, dict) else None
            text += f"[{key}]" + (f" ({ident})" if isinstance(ident, str) else "")
            continue
        if isinstance(node, dict) and key not in node and key in (node.get("kind"), node.get("type")):
            continue  # the discriminator tag pydantic inserts for a tagged union
        text += f".{key}" if text else key
        node = node.get(key) if isinstance(node, dict) else None
    return text or "(top level)"


def _problem(err: Any) -> str:
    """The message of one pydantic error, reworded where pydantic's wording is unclear."""
    kind = err["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field (a typo?)"
    message = str(err["msg"]).removeprefix("Value error, ")
    value = err.get("input")
    if isinstance(value, (int, float, str, bool)) and not kind.startswith("value_error"):
        message += f" (got {value!r})"
    return message


def _describe(source: str, exc: ValidationError, data: Any) -> str:
    lines = [f"{source}: {_where(e['loc'], data)}: {_problem(e)}" for e in exc.errors(include_url=False)[:10]]
    return "\n".join(lines)


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Parse and validate scenario YAML; ``source`` names it in errors."""
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise ScenarioError(f"{source}: {where}invalid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{source}: invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: a scenario is a YAML mapping (name:, seed:, sensors:, ...), "
                            f"not a {type(data).__name__}")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_describe(source, exc, data)) from None


#: Where the shipped scenarios are (package data, ``simulators/scenarios/*.yaml``).
SHIPPED_DIR = Path(__file__).parent / "scenarios"


def _shipped() -> dict[str, Path]:
    """The shipped scenario files by name, sorted."""
    return {path.stem: path for path in sorted(SHIPPED_DIR.glob("*.yaml"))}


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a shipped scenario by name (``default``) or a YAML file by path."""
    text_name = str(name_or_path)
    shipped = _shipped()
    if text_name in shipped and not Path(text_name).exists():
        return parse_scenario(shipped[text_name].read_text(encoding="utf-8"), f"scenario {text_name!r}")
    path = Path(name_or_path)
    if not path.is_file():
        raise ScenarioError(f"{text_name}: no such scenario file, and not a shipped scenario "
                            f"(shipped: {', '.join(shipped) or 'none'})")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read: {exc}") from None
    return parse_scenario(text, str(path))


def list_scenarios() -> list[ScenarioInfo]:
    """Every shipped scenario: its name and the first line of its description."""
    infos = []
    for name, entry in _shipped().items():
        scenario = parse_scenario(entry.read_text(encoding="utf-8"), f"scenario {name!r}")
        infos.append(ScenarioInfo(name, (scenario.description.strip().splitlines() or [""])[0]))
    return infos
