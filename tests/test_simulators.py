"""Simulators: scenario files, paths, sensor physics, determinism, live MQTT with status and last will."""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from conftest import Broker, mqtt_client

from fusion.geo import LocalFrame, enu_to_polar, polar_to_enu
from fusion.protocol import DetectionsMessage, Topics, decode, read_recording
from simulators.clock import FastClock, ScaledClock, make_clock, parse_speed
from simulators.runner import connect_sensor_client, run_live, write_recording
from simulators.scenario import RECORDING_EPOCH, Scenario, ScenarioError, list_scenarios, load_scenario, parse_scenario
from simulators.sensors import AcousticArray, Radar, RemoteIdReceiver, RfDirectionFinder
from simulators.simulation import Simulation
from simulators.targets import Paths, TargetSet

SITE = {"lat": 54.30, "lon": 23.15, "alt_m": 200.0}
PREFIX = "sargas/v1"


def scenario(sensors: list[dict[str, Any]], targets: list[dict[str, Any]], **extra: Any) -> Scenario:
    """A small validated scenario around the default site."""
    return Scenario.model_validate({"name": "test", "seed": 7, "duration_s": 10.0, "site": SITE,
                                    "sensors": sensors, "targets": targets, **extra})


def hover(target_id: str, label: str, at: dict[str, float], **extra: Any) -> dict[str, Any]:
    """A target that stays at one point."""
    return {"id": target_id, "label": label, "speed_mps": 10.0, "waypoints": [at], **extra}


def sensor_of(spec: Scenario, sensor_id: str) -> tuple[Simulation, Any]:
    sim = Simulation(spec, RECORDING_EPOCH, PREFIX, sources=[sensor_id])
    return sim, sim.sensors[0]


def scans(sim: Simulation, sensor: Any, n: int, t: float = 0.0) -> list[DetectionsMessage]:
    """The messages of ``n`` periods of ``sensor`` (every sector of a radar's scan) against the true state at ``t``."""
    state = sim.targets.state(t)
    per = len(sensor.update_offsets_s)
    return [sensor.detect(RECORDING_EPOCH + k / per, state, k) for k in range(n * per)]


def wrap180(deg: np.ndarray) -> np.ndarray:
    return (np.asarray(deg) + 180.0) % 360.0 - 180.0


# --- scenario files ---------------------------------------------------------------------------


def test_the_default_scenario_has_the_required_cast() -> None:
    spec = load_scenario("default")
    kinds = [s.kind for s in spec.sensors]
    labels = [t.label for t in spec.targets]
    assert kinds.count("radar") >= 1 and kinds.count("acoustic") >= 2
    assert kinds.count("rf_df") + kinds.count("remote_id") >= 2
    assert labels.count("drone") >= 3 and labels.count("bird") >= 1
    assert 54.2 <= spec.site.lat <= 54.4 and 22.9 <= spec.site.lon <= 23.4
    assert any(t.remote_id for t in spec.targets) and any(t.emits_rf for t in spec.targets)
    names = dict(list_scenarios())
    assert names["default"] and "\n" not in names["default"]


def test_drones_present_from_the_start_are_covered_early() -> None:
    """Every drone flying in the first two minutes comes within 3 km of the radar then."""
    spec = load_scenario("default")
    targets = TargetSet.from_scenario(spec)
    pos, _, present = targets.paths.state(np.arange(0.0, 120.0, 1.0))
    for i, label in enumerate(targets.labels):
        if label == "drone" and present[:, i].any():
            assert np.linalg.norm(pos[present[:, i], i, :2], axis=1).min() < 3000.0, targets.ids[i]


def test_a_bad_field_is_named_with_file_and_problem(tmp_path: Path) -> None:
    text = load_scenario_text().replace("range_m: 7.5", "range_m: -7.5", 1)
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    message = str(err.value)
    assert message.startswith(f"{path}: sensors[0] (radar-budzisko).noise.range_m: ")
    assert "greater than 0" in message and "-7.5" in message


@pytest.mark.parametrize(("edit", "expected"), [
    (("scan_period_s: 1.0", "scan_perod_s: 1.0"), "sensors[0] (radar-budzisko).scan_perod_s: unknown field"),
    (("kind: radar", "kind: sonar"), "sensors[0] (radar-budzisko): Input tag 'sonar'"),
    (("    east: -800\n", ""), "sensors[1] (acoustic-north): incomplete position: east missing"),
    (("speed_mps: 14", "speed_mps: fast"), "targets[0] (uav-1).speed_mps: Input should be a valid number"),
    (("  - id: acoustic-south", "  - id: acoustic-north"), "sensor id 'acoustic-north' is used twice"),
    (("seed: 20261127", "seed: 1\nseed: 2"), "line {seed_line}, column 1: invalid YAML: duplicate key 'seed'"),
    (("name: default", "name: [default"), "invalid YAML"),
])
def test_scenario_errors_say_where_and_what(edit: tuple[str, str], expected: str) -> None:
    text = load_scenario_text()
    assert edit[0] in text
    with pytest.raises(ScenarioError) as err:
        parse_scenario(text.replace(edit[0], edit[1], 1), "s.yaml")
    seed_line = text.splitlines().index("seed: 20261127") + 2  # where the duplicate lands
    assert str(err.value).startswith("s.yaml: ") and expected.format(seed_line=seed_line) in str(err.value)


def test_an_unknown_scenario_name_lists_the_shipped_ones() -> None:
    with pytest.raises(ScenarioError, match=r"no-such-scenario: .*shipped: .*default"):
        load_scenario("no-such-scenario")


def load_scenario_text() -> str:
    return (Path(__file__).parents[1] / "simulators" / "scenarios" / "default.yaml").read_text()


# --- paths ------------------------------------------------------------------------------------


def test_paths_fly_at_constant_speed_and_end_as_configured() -> None:
    square = [[0, 0, 100], [1000, 0, 100], [1000, 1000, 100]]
    paths = Paths.build([square, square, square, [[5, 5, 5]]], [10.0, 10.0, 10.0, 3.0], [0.0, 0.0, 50.0, 0.0],
                        ["stop", "loop", "vanish", "stop"])
    t = np.array([0.0, 50.0, 150.0, 250.0, 399.0])
    pos, vel, present = paths.state(t)
    assert pos.shape == (5, 4, 3) and vel.shape == (5, 4, 3) and present.shape == (5, 4)
    np.testing.assert_allclose(pos[1, 0], [500, 0, 100])
    np.testing.assert_allclose(pos[2, 0], [1000, 500, 100])
    np.testing.assert_allclose(vel[2, 0], [0, 10, 0])
    np.testing.assert_allclose(pos[3, 0], [1000, 1000, 100])  # stopped at the end
    np.testing.assert_allclose(vel[3, 0], [0, 0, 0])
    loop_len = 2000 + 1000 * math.sqrt(2)  # closed back to the first waypoint
    _, v_back, _ = paths.state(np.array([250.0]))
    np.testing.assert_allclose(np.linalg.norm(v_back[0, 1]), 10.0)
    np.testing.assert_allclose(paths.state(loop_len / 10 + 50.0)[0][1], [500, 0, 100], atol=1e-6)
    assert list(present[:, 2]) == [False, True, True, False, False]  # starts at 50 s, gone at 250 s
    np.testing.assert_allclose(pos[:, 3], [[5, 5, 5]] * 5)
    assert present[:, 3].all() and not vel[:, 3].any()


# --- sensor physics ---------------------------------------------------------------------------

RADAR = {"id": "r1", "kind": "radar", "false_alarms_per_scan": 0.0}
#: A radar 20 km east of the site: its ENU frame is rotated against the site's.
FAR = LocalFrame(54.30, 23.457, 210.0)


def radar_scenario(target_enu: list[float], **radar: Any) -> Scenario:
    lat, lon, alt = FAR.to_geodetic(target_enu)
    return scenario([{**RADAR, "lat": FAR.lat, "lon": FAR.lon, "alt_m": FAR.alt_m, **radar}],
                    [hover("uav", "drone", {"lat": float(lat), "lon": float(lon), "alt_m": float(alt)})])


def radar_residuals(spec: Scenario, n: int) -> tuple[Radar, np.ndarray, int]:
    """(radar, rows of [range, az, el, radial] measured minus true, number of scans)."""
    sim, radar = sensor_of(spec, "r1")
    truth = sim.targets.state(0.0)
    lat, lon, alt = sim.site.to_geodetic(truth.enu[0])
    true_r, true_az, true_el = enu_to_polar(radar.frame.from_geodetic(lat, lon, alt))
    rows = []
    for message in scans(sim, radar, n):
        for d in message.detections:
            measured = polar_to_enu(d.range_m, d.azimuth_deg, d.elevation_deg)
            back = np.array(radar.frame.to_geodetic(measured))
            assert np.allclose(back[:2], [lat, lon], atol=0.01)  # converts back near the target
            rows.append([d.range_m - true_r, wrap180(d.azimuth_deg - true_az), d.elevation_deg - true_el,
                         d.radial_velocity_mps])
    return radar, np.array(rows), n


def test_radar_measures_in_its_own_frame_within_its_sigma() -> None:
    radar, res, _ = radar_residuals(radar_scenario([1500.0, 1200.0, 300.0]), 1500)
    sigma = np.array([7.5, 0.6, 1.0, 0.5])
    assert len(res) > 1300
    assert (np.abs(res) < 5 * sigma).all()
    np.testing.assert_allclose(res.std(axis=0), sigma, rtol=0.1)
    assert (np.abs(res.mean(axis=0)) < 4 * sigma / math.sqrt(len(res))).all()  # no bias (e.g. a wrong frame)


def test_radar_detection_rate_follows_the_radar_equation() -> None:
    radar, res, n = radar_residuals(radar_scenario([2800.0, 2000.0, 200.0]), 2000)
    true_r = float(np.linalg.norm([2800.0, 2000.0, 200.0]))
    expected = float(radar.detection_probability(true_r, -20.0))
    assert 0.3 < expected < 0.8
    assert abs(len(res) / n - expected) < 4 * math.sqrt(expected * (1 - expected) / n)
    assert radar.detection_probability(true_r, 10.0) > 0.99  # an aircraft
    assert radar.detection_probability(true_r, -25.0) < expected  # a bird
    assert radar.detection_probability(6000.0, 10.0) == 0.0  # beyond max range


def test_radar_clutter_is_poisson_with_the_configured_rate() -> None:
    spec = scenario([{**RADAR, "east": 0, "north": 0, "false_alarms_per_scan": 3.0}], [])
    sim, radar = sensor_of(spec, "r1")
    counts = np.array([len(m.detections) for m in scans(sim, radar, 1000)]).reshape(1000, -1).sum(axis=1)
    assert abs(counts.mean() - 3.0) < 0.25 and abs(counts.var() - 3.0) < 0.6  # per full scan
    assert [m.seq for m in scans(sim, radar, 3)] == list(range(8000, 8024))  # one a sector message


def test_radar_and_acoustic_class_hints() -> None:
    spec = scenario([{**RADAR, "east": 0, "north": 0},
                     {"id": "a1", "kind": "acoustic", "east": 0, "north": 0, "false_alarms_per_update": 0.0}],
                    [hover("uav", "drone", {"east": 400, "north": 0, "up": 50}),
                     hover("gull", "bird", {"east": -120, "north": 0, "up": 30})])
    for sensor_id, minimum in (("r1", 0.35), ("a1", 0.6)):
        sim, sensor = sensor_of(spec, sensor_id)
        probs: dict[str, list[dict[str, float]]] = {"drone": [], "bird": []}
        for message in scans(sim, sensor, 400):
            for d in message.detections:
                assert d.class_probs is not None and sum(d.class_probs.values()) <= 1.0
                probs["drone" if d.azimuth_deg < 180 else "bird"].append(d.class_probs)
        for label, other in (("drone", "bird"), ("bird", "drone")):
            mean = {k: float(np.mean([p[k] for p in probs[label]])) for k in (label, other)}
            assert mean[label] > minimum and mean[label] > mean[other] + 0.2, (sensor_id, label, mean)


def test_acoustic_hears_drones_within_its_range_only() -> None:
    spec = scenario([{"id": "a1", "kind": "acoustic", "east": 0, "north": 0, "false_alarms_per_update": 0.0}],
                    [hover("near", "drone", {"east": 0, "north": 600, "up": 60}),
                     hover("far", "drone", {"east": 0, "north": -2500, "up": 60})])
    sim, array = sensor_of(spec, "a1")
    assert isinstance(array, AcousticArray)
    azimuths = np.array([d.azimuth_deg for m in scans(sim, array, 300) for d in m.detections])
    assert len(azimuths) > 0.8 * 300 and (np.abs(wrap180(azimuths)) < 5 * 2.0).all()
    assert np.std(wrap180(azimuths)) == pytest.approx(2.0, rel=0.15)


def test_rf_direction_finder_bearings_and_stable_emitter_ids() -> None:
    df = {"kind": "rf_df", "false_alarms_per_update": 0.0}
    spec = scenario([{**df, "id": "df1", "east": 0, "north": 0}, {**df, "id": "df2", "east": 3000, "north": 0}],
                    [hover("uav", "drone", {"east": 0, "north": 3000, "up": 100}, emits_rf=True),
                     hover("quiet", "drone", {"east": 0, "north": -500, "up": 100})])
    seen: dict[str, set[str]] = {}
    for sensor_id, true_az in (("df1", 0.0), ("df2", 315.0)):
        sim, finder = sensor_of(spec, sensor_id)
        assert isinstance(finder, RfDirectionFinder)
        detections = [d for m in scans(sim, finder, 200) for d in m.detections]
        assert len(detections) > 100  # the quiet drone is never heard
        errors = wrap180(np.array([d.azimuth_deg for d in detections]) - true_az)
        assert (np.abs(errors) < 5 * 3.0).all() and abs(errors.mean()) < 1.0
        assert {d.freq_mhz for d in detections} == {2437.0}
        seen[sensor_id] = {d.emitter_id for d in detections}  # type: ignore[misc]
    assert seen["df1"] == seen["df2"] and len(seen["df1"]) == 1


def test_remote_id_positions_are_near_truth() -> None:
    spec = scenario([{"id": "rid", "kind": "remote_id", "east": 0, "north": 0}],
                    [{"id": "uav", "label": "drone", "speed_mps": 8.0, "at_end": "loop", "remote_id": True,
                      "uas_id": "1581F5FJD23AL00A7JH", "operator": {"east": 100, "north": 0, "up": 0},
                      "waypoints": [{"east": 500, "north": 0, "up": 80}, {"east": 500, "north": 800, "up": 80}]}])
    sim, receiver = sensor_of(spec, "rid")
    assert isinstance(receiver, RemoteIdReceiver)
    errors, speed_errors = [], []
    for k in range(600):
        state = sim.targets.state(k * 0.5)
        lat, lon, alt = sim.site.to_geodetic(state.enu[0])
        for d in receiver.detect(RECORDING_EPOCH + k * 0.5, state, k).detections:
            assert d.uas_id == "1581F5FJD23AL00A7JH" and d.position is not None and d.velocity is not None
            assert d.operator_position is not None
            operator = sim.site.from_geodetic(d.operator_position.lat, d.operator_position.lon,
                                              d.operator_position.alt_m)
            np.testing.assert_allclose(operator, [100, 0, 0], atol=0.1)
            errors.append(LocalFrame(float(lat), float(lon), float(alt)).from_geodetic(
                d.position.lat, d.position.lon, d.position.alt_m))
            speed_errors.append(np.linalg.norm([d.velocity.east_mps, d.velocity.north_mps]) - 8.0)
    errors_m = np.array(errors)
    assert 0.8 * 600 < len(errors_m) < 0.97 * 600  # detection probability 0.9
    np.testing.assert_allclose(errors_m.std(axis=0), [5.0, 5.0, 8.0], rtol=0.15)
    assert (np.abs(errors_m[:, :2]) < 5 * 5.0).all() and abs(np.mean(speed_errors)) < 0.1


# --- determinism and recordings ---------------------------------------------------------------


def test_same_seed_same_bytes_different_seed_different(tmp_path: Path) -> None:
    spec = load_scenario("default")
    paths = [tmp_path / name for name in ("a.jsonl", "b.jsonl", "c.jsonl")]
    counts = [write_recording(spec, paths[0], duration_s=60.0), write_recording(spec, paths[1], duration_s=60.0),
              write_recording(spec.replace(seed=spec.seed + 1), paths[2], duration_s=60.0)]
    assert counts[0] == counts[1] > 500
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


def test_a_recording_is_ordered_valid_protocol(tmp_path: Path) -> None:
    spec = load_scenario("default")
    path = tmp_path / "rec.jsonl"
    count = write_recording(spec, path, duration_s=30.0)
    lines = list(read_recording(path))
    assert len(lines) == count
    topics = Topics(PREFIX)
    times = [line.t for line in lines]  # type: ignore[union-attr]
    assert times == sorted(times) and times[0] == RECORDING_EPOCH and times[-1] == RECORDING_EPOCH + 30.0
    seqs: dict[str, list[int]] = {}
    for line in lines:
        message = decode(line.topic, line.payload, topics)  # type: ignore[union-attr]
        assert message.time == line.t  # type: ignore[union-attr]
        if isinstance(message, DetectionsMessage):
            seqs.setdefault(message.sensor_id, []).append(message.seq)
    assert sorted(seqs) == sorted(s.id for s in spec.sensors)
    assert all(s == list(range(len(s))) for s in seqs.values())
    truth = [line for line in lines if line.topic == topics.truth]  # type: ignore[union-attr]
    assert len(truth) == 61
    last = [orjson.loads(line.payload)["state"] for line in lines[-len(spec.sensors):]]  # type: ignore[union-attr]
    assert last == ["offline"] * len(spec.sensors)


def test_one_sensor_alone_gives_the_same_messages() -> None:
    spec = load_scenario("default")
    full = Simulation(spec, RECORDING_EPOCH, PREFIX)
    alone = Simulation(spec, RECORDING_EPOCH, PREFIX, sources=["acoustic-south"])
    pick = [e.payload for e in full.events(20.0) if e.source == "acoustic-south"]
    assert pick == [e.payload for e in alone.events(20.0)] and len(pick) > 40
    with pytest.raises(ValueError, match="no-such"):
        Simulation(spec, RECORDING_EPOCH, PREFIX, sources=["no-such"])


# --- clocks -----------------------------------------------------------------------------------


def test_clocks() -> None:
    stop = threading.Event()
    clock = make_clock(50.0)
    assert isinstance(clock, ScaledClock)
    clock.start()
    assert clock.wait_until(2.0, stop) and clock.now() >= 2.0
    assert not clock.wait_until(1000.0, stop, timeout=0.01)
    fast = make_clock(math.inf)
    assert isinstance(fast, FastClock) and fast.wait_until(1e6, stop) and fast.now() == 1e6
    stop.set()
    assert not fast.wait_until(2e6, stop) and not clock.wait_until(1e9, stop)
    assert parse_speed("max") == math.inf and parse_speed("2.5") == 2.5
    with pytest.raises(ValueError):
        parse_speed("0")


# --- live over MQTT ---------------------------------------------------------------------------


def states(messages: list[tuple[str, bytes, bool]], retained: bool | None = None) -> dict[str, list[str]]:
    """Status states by sensor id, in arrival order."""
    found: dict[str, list[str]] = {}
    for topic, payload, retain in messages:
        if topic.endswith("/status") and (retained is None or retain == retained):
            body = orjson.loads(payload)
            found.setdefault(body["sensor_id"], []).append(body["state"])
    return found


def test_live_run_publishes_detections_truth_and_statuses(mosquitto: Broker, collect) -> None:  # type: ignore[no-untyped-def]
    spec = load_scenario("default").replace(duration_s=3.0)
    feed = collect(f"{PREFIX}/#")
    started = time.time()
    run_live(spec, mosquitto.url, PREFIX, 20.0, None, threading.Event())
    ids = [s.id for s in spec.sensors]
    assert feed.wait_for(lambda m: all(states(m).get(i, [""])[-1] == "offline" for i in ids), timeout=10)
    topics = Topics(PREFIX)
    for sensor_id in ids:
        seqs = [orjson.loads(p)["seq"] for p in feed.on_topic(topics.detections(sensor_id))]
        assert seqs == list(range(len(seqs))) and len(seqs) >= 2, sensor_id
        assert states(feed.messages)[sensor_id][0] == "online"
    truth = [orjson.loads(p) for p in feed.on_topic(topics.truth)]
    assert len(truth) == 7 and abs(truth[0]["time"] - started) < 5.0
    assert truth[-1]["time"] - truth[0]["time"] == pytest.approx(3.0, abs=1e-5)
    late = collect(topics.all_status)
    assert late.wait_for(lambda m: len(states(m, retained=True)) == len(ids), timeout=10)
    assert all(s == ["offline"] for s in states(late.messages, retained=True).values())


def test_live_status_is_retained_online_and_offline_after_a_stop(mosquitto: Broker, collect) -> None:  # type: ignore[no-untyped-def]
    spec = load_scenario("default")
    stop = threading.Event()
    runner = threading.Thread(target=run_live, args=(spec, mosquitto.url, PREFIX, 20.0, ["radar-budzisko", "truth"],
                                                     stop))
    feed = collect(f"{PREFIX}/#")
    runner.start()
    try:
        assert feed.wait_for(lambda m: any(t.endswith("/detections") for t, _, _ in m), timeout=10)
        retained = collect(Topics(PREFIX).all_status)
        assert retained.wait_for(lambda m: states(m, retained=True) == {"radar-budzisko": ["online"]}, timeout=10)
    finally:
        stop.set()
        runner.join(timeout=20)
    assert not runner.is_alive()
    assert feed.wait_for(lambda m: states(m)["radar-budzisko"][-1] == "offline", timeout=10)
    after = collect(Topics(PREFIX).all_status)
    assert after.wait_for(lambda m: states(m, retained=True) == {"radar-budzisko": ["offline"]}, timeout=10)


def test_the_last_will_says_offline_when_a_sensor_dies(mosquitto: Broker, collect) -> None:  # type: ignore[no-untyped-def]
    spec = load_scenario("default")
    sim = Simulation(spec, time.time(), PREFIX, sources=["rf-df-east"])
    feed = collect(Topics(PREFIX).all_status)
    client = connect_sensor_client("rf-df-east", mosquitto.url,
                                   lambda state: sim.status_event(sim.sensors[0], 0.0, state))
    assert feed.wait_for(lambda m: states(m).get("rf-df-east") == ["online"], timeout=10)
    client.loop_stop()
    client.socket().close()  # type: ignore[union-attr]  # dies without a DISCONNECT
    assert feed.wait_for(lambda m: states(m).get("rf-df-east") == ["online", "offline"], timeout=10)
    late = mqtt_client(mosquitto.port)
    try:
        got: list[bytes] = []
        late.on_message = lambda _c, _u, msg: got.append(msg.payload)
        late.subscribe(Topics(PREFIX).status("rf-df-east"), qos=1)
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:
            time.sleep(0.05)
        assert got and orjson.loads(got[0])["state"] == "offline"
    finally:
        late.loop_stop()
        late.disconnect()


def test_a_sensor_client_has_sent_its_status_when_connecting_returns(mosquitto: Broker, collect) -> None:  # type: ignore[no-untyped-def]
    """The first status is built and queued before ``connect_sensor_client`` returns, so a run's first
    message of a sensor is its status at the time it connected, whatever the network thread's timing."""
    spec = load_scenario("default")
    sim = Simulation(spec, time.time(), PREFIX, sources=["rf-df-east"])
    feed = collect(Topics(PREFIX).all_status)
    built: list[float] = []

    def status(state: Any) -> Any:
        if state is None:
            time.sleep(0.3)  # a slow network thread: connecting must still wait for this
            built.append(time.monotonic())
        return sim.status_event(sim.sensors[0], 0.0, state)

    client = connect_sensor_client("rf-df-east", mosquitto.url, status)
    returned = time.monotonic()
    try:
        assert len(built) == 1 and built[0] <= returned
        assert feed.wait_for(lambda m: states(m).get("rf-df-east") == ["online"], timeout=10)
    finally:
        client.disconnect()
        client.loop_stop()
