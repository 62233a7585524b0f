"""The scenario library, zones, behaviours and formations, the radar's sector and horizon, truth ids and faults."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from conftest import sargas_command

from fusion.protocol import DetectionsMessage, Topics, decode, read_recording
from simulators.scenario import RECORDING_EPOCH, Scenario, ScenarioError, list_scenarios, load_scenario, parse_scenario
from simulators.simulation import Simulation
from simulators.targets import TargetSet

PREFIX = "sargas/v1"
TOPICS = Topics(PREFIX)
SITE = {"lat": 54.30, "lon": 23.15, "alt_m": 200.0}
LIBRARY = ("crossing", "swarm", "birds", "low-drone", "mass")


def scenario(sensors: list[dict[str, Any]], targets: list[dict[str, Any]], **extra: Any) -> Scenario:
    """A small validated scenario around the default site."""
    return Scenario.model_validate({"name": "test", "seed": 11, "duration_s": 60.0, "site": SITE,
                                    "sensors": sensors, "targets": targets, **extra})


def detections_by_sensor(sim: Simulation, duration_s: float | None = None) -> dict[str, list[DetectionsMessage]]:
    """Every detections message of a run, decoded, by sensor id."""
    found: dict[str, list[DetectionsMessage]] = {}
    for event in sim.events(duration_s):
        if event.kind == "detections":
            message = decode(event.topic, event.payload, TOPICS)
            found.setdefault(message.sensor_id, []).append(message)  # type: ignore[union-attr]
    return found


def truth_counts(messages: list[DetectionsMessage]) -> Counter[str | None]:
    return Counter(d.truth_id for m in messages for d in m.detections)


# --- the library ------------------------------------------------------------------------------


def test_the_library_lists_every_named_scenario_with_a_one_line_description() -> None:
    listed = dict(list_scenarios())
    assert set(LIBRARY) | {"default"} <= set(listed)
    for name in LIBRARY:
        spec = load_scenario(name)
        assert spec.name == name and listed[name] and "\n" not in listed[name]
        kinds = {s.kind for s in spec.sensors}
        assert {"radar", "acoustic", "rf_df"} <= kinds, name
        assert 54.0 < spec.site.lat < 54.5 and 22.8 < spec.site.lon < 23.6  # the Suwałki gap


@pytest.mark.parametrize("name", [*LIBRARY, "default"])
def test_every_shipped_scenario_has_a_border_strip_and_a_protected_site(name: str) -> None:
    zones = load_scenario(name).zones_geojson()
    assert zones["type"] == "FeatureCollection"
    kinds = {f["properties"]["kind"]: f for f in zones["features"]}
    border = kinds["border"]
    assert border["geometry"]["type"] == "LineString" and border["properties"]["buffer_m"] > 0
    assert all(22.7 < lon < 23.6 and 53.9 < lat < 54.4 for lon, lat in border["geometry"]["coordinates"])
    ring = kinds["protected"]["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) >= 4
    orjson.dumps(zones)  # plain JSON, ready to hand to the fusion service


def test_swarm_flies_eight_drones_40_to_60_m_apart() -> None:
    targets = TargetSet.from_scenario(load_scenario("swarm"))
    members = [i for i, ident in enumerate(targets.ids) if ident.startswith("swarm-")]
    assert len(members) == 8 and all(targets.labels[i] == "drone" for i in members)
    pos, _, present = targets.paths.state(np.arange(20.0, 300.0, 10.0))
    assert present[:, members].all()
    swarm = pos[:, members]
    gaps = np.linalg.norm(swarm[:, :, None] - swarm[:, None], axis=-1) + np.eye(8) * 1e9
    nearest = gaps.min(axis=-1)
    assert (nearest >= 40.0).all() and (nearest <= 60.0).all()


def test_low_drone_is_hidden_from_radar_but_heard_and_found_by_rf() -> None:
    spec = load_scenario("low-drone")
    target = next(t for t in spec.targets if t.id == "uav-low")
    assert target.emits_rf and not target.remote_id
    found = detections_by_sensor(Simulation(spec, RECORDING_EPOCH, PREFIX))
    by_kind: dict[str, Counter[str | None]] = {}
    for sensor in spec.sensors:
        by_kind.setdefault(sensor.kind, Counter()).update(truth_counts(found[sensor.id]))
    assert by_kind["radar"]["uav-low"] == 0 and by_kind["radar"]["stork"] > 100  # the radar works, but not down there
    assert by_kind["acoustic"]["uav-low"] > 200 and by_kind["rf_df"]["uav-low"] > 200
    assert by_kind["remote_id"]["uav-low"] == 0


def test_mass_has_forty_drones_at_once_in_heavy_clutter() -> None:
    spec = load_scenario("mass")
    targets = TargetSet.from_scenario(spec)
    _, _, present = targets.paths.state(np.array([90.0]))
    assert sum(1 for i in np.flatnonzero(present[0]) if targets.labels[i] == "drone") == 40
    radar = next(s for s in spec.sensors if s.kind == "radar")
    assert radar.false_alarms_per_scan >= 20  # type: ignore[union-attr]


def test_birds_and_crossing_have_their_cast() -> None:
    birds = Counter(TargetSet.from_scenario(load_scenario("birds")).labels)
    assert birds["drone"] >= 2 and birds["bird"] >= 6 and birds["aircraft"] >= 1
    crossing = TargetSet.from_scenario(load_scenario("crossing"))
    pos, _, present = crossing.paths.state(np.arange(0.0, 300.0, 1.0))
    drones = [i for i, label in enumerate(crossing.labels) if label == "drone"]
    close = 0
    for a in drones:
        for b in drones[drones.index(a) + 1:]:
            both = present[:, a] & present[:, b]
            gap = np.linalg.norm(pos[both, a, :2] - pos[both, b, :2], axis=1)
            close += bool(len(gap) and gap.min() < 150.0)
    assert close >= 2  # paths that really cross (horizontally close at the same time)


# --- truth ids --------------------------------------------------------------------------------


def test_every_detection_names_its_true_object_or_none_for_a_false_alarm() -> None:
    spec = load_scenario("default")
    ids = set(TargetSet.from_scenario(spec).ids)
    found = detections_by_sensor(Simulation(spec, RECORDING_EPOCH, PREFIX), 120.0)
    for sensor_id, messages in found.items():
        counts = truth_counts(messages)
        assert set(counts) - {None} <= ids, sensor_id
    assert truth_counts(found["radar-budzisko"])[None] > 100  # clutter has no truth id
    assert all(d.truth_id is not None for m in found["rid-budzisko"] for d in m.detections)
    clutter = [d for m in found["radar-budzisko"] for d in m.detections if d.truth_id is None]
    assert all(d.class_probs is not None and max(d.class_probs, key=d.class_probs.get) for d in clutter)


# --- scenario errors --------------------------------------------------------------------------

MINIMAL = """\
name: t
seed: 1
duration_s: 10
site: {lat: 54.3, lon: 23.15, alt_m: 200}
sensors:
  - {id: r1, kind: radar, east: 0, north: 0}
targets:
  - {id: u1, label: drone, speed_mps: 10, waypoints: [{east: 0, north: 900, up: 50}]}
"""


@pytest.mark.parametrize(("extra", "expected"), [
    ("zones: {type: FeatureCollection, features: [{type: Feature, geometry: {type: LineString, "
     + "coordinates: [[23.1, 54.3], [23.2, 54.2]]}, properties: {name: b, kind: border}}]}",
     "zones.features[0]: a LineString zone needs properties.buffer_m"),
    ("zones: {type: FeatureCollection, features: [{type: Feature, geometry: {type: Polygon, "
     + "coordinates: [[[23.1, 54.3], [23.2, 54.3], [23.2, 54.2], [23.1, 54.25]]]}, properties: {name: p, kind: protected}}]}",
     "zones.features[0].geometry: a polygon ring must end where it starts"),
    ("zones: {type: FeatureCollection, features: [{type: Feature, geometry: {type: Point, coordinates: [23.1, 54.3]}, "
     + "properties: {name: p, kind: protected}}]}", "zones.features[0].geometry: Input tag 'Point'"),
    ("faults: [{kind: offline, sensor: r9, start_s: 5}]", "names sensor 'r9', which is not in the scenario"),
    ("faults: [{kind: loss, sensor: r1, probability: 1.5}]", "faults[0].probability: Input should be less than"),
    ("faults: [{kind: latency, sensor: r1, start_s: 5, end_s: 2}]", "faults[0]: end_s (2) must be after start_s (5)"),
    ("faults: [{kind: jam, sensor: r1}]", "faults[0]: Input tag 'jam'"),
])
def test_bad_zones_and_faults_are_named(extra: str, expected: str) -> None:
    with pytest.raises(ScenarioError) as err:
        parse_scenario(MINIMAL + extra + "\n", "bad.yaml")
    assert str(err.value).startswith("bad.yaml: ") and expected in str(err.value)


TARGET = "  - {id: u1, label: drone, speed_mps: 10, waypoints: [{east: 0, north: 900, up: 50}]}"
LOITER = "behaviour: {kind: loiter, centre: {east: 0, north: 0, up: 50}, radius_m: 100}"


@pytest.mark.parametrize(("target", "expected"), [
    ("  - {id: u1, label: drone, speed_mps: 10}", "targets[0] (u1): give either waypoints or a behaviour"),
    (TARGET[:-1] + ", " + LOITER + "}", "targets[0] (u1): give either waypoints or a behaviour"),
    ("  - {id: u1, label: drone, speed_mps: 10, " + LOITER.replace("100", "-1") + "}",
     "targets[0] (u1).behaviour.radius_m: Input should be greater than 0 (got -1)"),
    (TARGET[:-1] + ", formation: {count: 1}}", "targets[0] (u1).formation.count: Input should be greater than or equal to 2"),
    (TARGET[:-1] + ", formation: {count: 3}}\n  - {id: u1-2, label: bird, speed_mps: 5, waypoints: [{east: 0, north: 0}]}",
     "target id 'u1-2' is used twice"),
])
def test_bad_targets_are_named(target: str, expected: str) -> None:
    assert TARGET in MINIMAL
    with pytest.raises(ScenarioError) as err:
        parse_scenario(MINIMAL.replace(TARGET, target), "bad.yaml")
    assert str(err.value).startswith("bad.yaml: ") and expected in str(err.value)


# --- the command ------------------------------------------------------------------------------


def sargas(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*sargas_command(), *args], capture_output=True, text=True, timeout=120, check=False)


def test_sim_list_prints_one_scenario_a_line_name_first() -> None:
    result = sargas("sim", "--list")
    assert result.returncode == 0
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert [r[0] for r in rows] == sorted(r[0] for r in rows) and set(LIBRARY) <= {r[0] for r in rows}
    assert all(len(r) == 2 and r[1] for r in rows)


def test_sim_record_writes_one_sensor_alone_without_a_broker(tmp_path: Path) -> None:
    path = tmp_path / "rid.jsonl.gz"
    result = sargas("sim", "crossing", "--only", "rid-budzisko", "--duration", "30", "--record", str(path))
    assert result.returncode == 0 and "messages/s" in result.stdout
    topics = {line.topic for line in read_recording(path)}  # type: ignore[union-attr]
    assert topics == {TOPICS.detections("rid-budzisko"), TOPICS.status("rid-budzisko")}


def test_a_bad_scenario_file_is_a_usage_error_naming_file_field_and_problem(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(MINIMAL.replace("speed_mps: 10", "speed_mps: -3"))
    result = sargas("sim", str(path), "--record", str(tmp_path / "x.jsonl"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"sargas: {path}: targets[0] (u1).speed_mps: Input should be greater than 0 (got -3)"
