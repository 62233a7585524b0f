"""End to end over real parts: simulators → Mosquitto → fusion → API → WebSocket client."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import Broker, WsCollector, free_port, mqtt_client, wait_http

from fusion.geo import LocalFrame
from simulators import load_scenario

pytestmark = pytest.mark.slow

#: Scenario time simulated by the end-to-end runs, and how much faster than real time.
SIM_SECONDS = 120
SPEED = 20


class Truth:
    """Ground truth from ``sargas.truth/1`` messages, interpolated in time per object."""

    def __init__(self, messages: list[dict]) -> None:  # type: ignore[type-arg]
        self.tracks: dict[str, list[tuple[float, float, float, float]]] = {}
        self.labels: dict[str, str] = {}
        for m in sorted(messages, key=lambda m: m["time"]):
            for o in m["objects"]:
                self.tracks.setdefault(o["id"], []).append((m["time"], o["lat"], o["lon"], o["alt_m"]))
                self.labels[o["id"]] = o["label"]

    def ids(self, label: str) -> list[str]:
        return sorted(i for i, lab in self.labels.items() if lab == label)

    def at(self, object_id: str, t: float) -> tuple[float, float, float] | None:
        samples = np.array(self.tracks[object_id])
        if t < samples[0, 0] - 0.5 or t > samples[-1, 0] + 0.5:
            return None
        return tuple(float(np.interp(t, samples[:, 0], samples[:, k])) for k in (1, 2, 3))  # type: ignore[return-value]


def distance_m(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    """3D distance between two geodetic points."""
    frame = LocalFrame(*a)
    return float(np.linalg.norm(frame.from_geodetic(*b)))


def matched_drone_tracks(truth: Truth, tracks_messages: list[dict], max_m: float = 100.0) -> dict[str, set[str]]:  # type: ignore[type-arg]
    """For each true drone, the ids of confirmed tracks that came within ``max_m`` of it."""
    found: dict[str, set[str]] = {d: set() for d in truth.ids("drone")}
    for message in tracks_messages:
        for track in message["tracks"]:
            if track["status"] != "confirmed":
                continue
            for drone in found:
                where = truth.at(drone, message["time"])
                if where is not None and distance_m(where, (track["lat"], track["lon"], track["alt_m"])) < max_m:
                    found[drone].add(track["track_id"])
    return found


def test_every_drone_is_tracked_and_alerted(mosquitto: Broker, collect, sargas, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    truth_feed = collect("sargas/v1/truth", qos=0)
    port = free_port()
    sargas("serve", "--broker", mosquitto.url, "--port", str(port), "--data-dir", str(tmp_path))
    wait_http(f"http://127.0.0.1:{port}/api/health")
    ws = WsCollector(f"ws://127.0.0.1:{port}/ws")
    sim = sargas("sim", "default", "--broker", mosquitto.url, "--speed", str(SPEED), "--duration", str(SIM_SECONDS))
    assert sim.wait(timeout=SIM_SECONDS / SPEED + 60) == 0
    time.sleep(2.0)
    ws.close()

    truth = Truth([json.loads(p) for p in truth_feed.on_topic("sargas/v1/truth")])
    drones = truth.ids("drone")
    assert len(drones) >= 3, "the default scenario has three or more drones"
    matches = matched_drone_tracks(truth, ws.of_schema("sargas.tracks/1"))
    assert {d: bool(ids) for d, ids in matches.items()} == {d: True for d in drones}

    alerted = {a["track_id"] for a in ws.of_schema("sargas.alerts/1") if a["kind"] == "new_threat"}
    for drone, track_ids in matches.items():
        assert track_ids & alerted, f"no new_threat alert for a track of {drone}"
    alert_ids = [a["alert_id"] for a in ws.of_schema("sargas.alerts/1")]
    assert len(alert_ids) == len(set(alert_ids))


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid``, from /proc."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_sargas_up_runs_everything_and_stops_cleanly(sargas, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "SARGAS_BROKER"}
    up = sargas("up", "--broker-port", "0", "--port", str(port), "--data-dir", str(tmp_path),
                "--speed", "10", "--no-open", stdout=subprocess.PIPE, env=env)
    wait_http(f"http://127.0.0.1:{port}/api/health", timeout=60)
    ws = WsCollector(f"ws://127.0.0.1:{port}/ws")
    assert ws.wait_for(lambda w: any(m["tracks"] for m in w.of_schema("sargas.tracks/1")), timeout=60)
    ws.close()

    children = _descendants(up.pid)
    assert len(children) >= 3, "broker, serve and sim run as child processes"
    up.send_signal(signal.SIGINT)
    assert up.wait(timeout=30) == 0
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_alive(p) for p in children):
        time.sleep(0.1)
    assert [p for p in children if _alive(p)] == []
    assert b"http://127.0.0.1:%d/" % port in up.stdout.read()  # type: ignore[union-attr]


def test_fuse_is_byte_identical(sargas, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    recording = tmp_path / "feed.jsonl.gz"
    assert sargas("sim", "default", "--record", str(recording), "--duration", "90").wait(timeout=120) == 0
    outputs = []
    for name in ("a.jsonl", "b.jsonl"):
        out = tmp_path / name
        assert sargas("fuse", str(recording), "-o", str(out)).wait(timeout=120) == 0
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    lines = [json.loads(line) for line in outputs[0].splitlines()]
    schemas = {line["payload"]["schema"] for line in lines}
    assert schemas == {"sargas.tracks/1", "sargas.alerts/1"}
    assert any(t["status"] == "confirmed" for line in lines if "tracks" in line["payload"]
               for t in line["payload"]["tracks"])
    assert [line["t"] for line in lines] == sorted(line["t"] for line in lines)


BAD_INPUTS: dict[str, bytes] = {
    "malformed_json": b'{"schema": "sargas.detections/1", "sensor_id": ',
    "unknown_schema": b'{"schema": "sargas.detections/9", "sensor_id": "bad-1", "kind": "radar", "time": 1.0, "seq": 1, "detections": []}',
    "invalid": b'{"schema": "sargas.detections/1", "sensor_id": "bad-1", "kind": "radar", "seq": 1, "detections": []}',
    "non_finite": b'{"schema": "sargas.detections/1", "sensor_id": "bad-1", "kind": "radar", "time": NaN, "seq": 1, "detections": []}',
    "too_large": b'{"schema": "sargas.detections/1", "pad": "' + b"x" * (300 * 1024) + b'"}',
}
OUT_OF_RANGE = (b'{"schema": "sargas.detections/1", "sensor_id": "bad-1", "kind": "radar", "time": %.3f, "seq": 2,'
                b' "origin": {"lat": 54.3, "lon": 23.3, "alt_m": 150}, "detections": [{"range_m": 500, "azimuth_deg": 400}]}')


def test_bad_input_is_rejected_alone(mosquitto: Broker, collect, sargas, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rejected = collect("sargas/v1/rejected", qos=0)
    tracks = collect("sargas/v1/tracks", qos=0)
    sargas("fusion", "--broker", mosquitto.url, "--data-dir", str(tmp_path))
    radar = next(s.id for s in load_scenario("default").sensors if s.kind == "radar")
    sim = sargas("sim", "default", "--broker", mosquitto.url, "--speed", "10", "--duration", "80", "--only", radar)
    assert tracks.wait_for(lambda msgs: any(
        t["status"] == "confirmed" for _, p, _ in msgs for t in json.loads(p)["tracks"]), timeout=60)

    bad = mqtt_client(mosquitto.port)
    topic = "sargas/v1/sensors/bad-1/detections"
    for payload in [*BAD_INPUTS.values(), OUT_OF_RANGE % time.time()]:
        bad.publish(topic, payload, qos=1).wait_for_publish(5)
    assert rejected.wait_for(lambda msgs: len(msgs) >= len(BAD_INPUTS) + 1, timeout=20)
    reasons = sorted(json.loads(p)["reason"] for p in rejected.on_topic("sargas/v1/rejected"))
    assert reasons == sorted([*BAD_INPUTS, "invalid"])
    detail = [json.loads(p) for p in rejected.on_topic("sargas/v1/rejected")]
    assert all(d["topic"] == topic and d["schema"] == "sargas.rejected/1" for d in detail)

    count_before = len(tracks.messages)
    assert tracks.wait_for(lambda msgs: len(msgs) > count_before + 5, timeout=20)
    latest = json.loads(tracks.messages[-1][1])
    assert any(t["status"] == "confirmed" for t in latest["tracks"]), "the valid radar's drones are still tracked"
    assert sim.wait(timeout=60) == 0
