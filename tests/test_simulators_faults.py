"""Faults over time (offline, latency and jitter, loss, out-of-order, clock offset), live looping."""

from __future__ import annotations

import itertools
import math
import threading
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from conftest import Broker

from fusion.protocol import Topics, read_recording
from simulators.runner import run_live, write_recording
from simulators.scenario import RECORDING_EPOCH, Scenario
from simulators.simulation import Event, Simulation

PREFIX = "sargas/v1"
TOPICS = Topics(PREFIX)
SITE = {"lat": 54.30, "lon": 23.15, "alt_m": 200.0}
SENSORS = [{"id": "a1", "kind": "acoustic", "east": 0, "north": 0, "update_period_s": 0.5},
           {"id": "a2", "kind": "acoustic", "east": 500, "north": 0, "update_period_s": 0.5}]


def with_faults(faults: list[dict[str, Any]], duration_s: float = 300.0, seed: int = 3) -> Scenario:
    return Scenario.model_validate({"name": "faulty", "seed": seed, "duration_s": duration_s, "site": SITE,
                                    "sensors": SENSORS, "faults": faults,
                                    "targets": [{"id": "u", "label": "drone", "speed_mps": 5.0,
                                                 "waypoints": [{"east": 0, "north": 300, "up": 50}]}]})


def events_of(spec: Scenario, sensor_id: str, kind: str = "detections", only: list[str] | None = None) -> list[Event]:
    return [e for e in Simulation(spec, RECORDING_EPOCH, PREFIX, only).events()
            if e.source == sensor_id and e.kind == kind]


def test_loss_drops_the_configured_fraction_and_leaves_seq_gaps() -> None:
    spec = with_faults([{"kind": "loss", "sensor": "a1", "probability": 0.3}])
    seqs = [orjson.loads(e.payload)["seq"] for e in events_of(spec, "a1")]
    sent = seqs[-1] + 1
    lost = sent - len(seqs)
    assert abs(lost / sent - 0.3) < 4 * math.sqrt(0.3 * 0.7 / sent)
    assert seqs == sorted(set(seqs))  # gaps, never repeats
    assert len(events_of(spec, "a2")) == len(events_of(with_faults([]), "a2"))  # the other sensor is untouched


def test_latency_and_jitter_delay_sending_not_measurement_time() -> None:
    spec = with_faults([{"kind": "latency", "sensor": "a1", "latency_s": 0.4, "jitter_s": 0.1, "start_s": 100}])
    delays = np.array([RECORDING_EPOCH + e.t - e.time for e in events_of(spec, "a1")])
    late = delays[delays > 1e-6]
    assert np.abs(delays[:190]).max() < 1e-6  # nothing before the fault starts
    assert abs(late.mean() - 0.4) < 0.02 and abs(late.std() - 0.1) < 0.015
    clean = events_of(with_faults([]), "a1")
    assert [e.payload for e in events_of(spec, "a1") if e.t < 100] == [e.payload for e in clean if e.t < 100]


def test_out_of_order_delivery_is_held_back_and_overtaken(tmp_path: Path) -> None:
    spec = with_faults([{"kind": "out_of_order", "sensor": "a1", "probability": 0.2, "delay_s": 1.2}])
    seqs = [orjson.loads(e.payload)["seq"] for e in events_of(spec, "a1")]
    overtaken = sum(1 for i in range(1, len(seqs)) if seqs[i] < max(seqs[:i]))
    assert sorted(seqs) == list(range(len(seqs)))  # nothing lost
    assert abs(overtaken / len(seqs) - 0.2) < 4 * math.sqrt(0.2 * 0.8 / len(seqs))
    path = tmp_path / "ooo.jsonl"
    write_recording(spec, path)
    times = [line.t for line in read_recording(path)]  # type: ignore[union-attr]
    assert times == sorted(times)  # a recording stays ordered by sending time


def test_clock_offset_shifts_message_times_in_its_window() -> None:
    spec = with_faults([{"kind": "clock_offset", "sensor": "a2", "offset_s": -2.5, "start_s": 50, "end_s": 60}])
    offsets = {round(e.time - (RECORDING_EPOCH + e.t), 6) for e in events_of(spec, "a2") if 50 <= e.t < 60}
    assert offsets == {-2.5}
    assert all(abs(e.time - (RECORDING_EPOCH + e.t)) < 1e-6 for e in events_of(spec, "a2") if not 50 <= e.t < 60)
    statuses = [orjson.loads(e.payload) for e in events_of(spec, "a2", "status")]
    assert any(s["time"] == RECORDING_EPOCH + 55 - 2.5 for s in statuses)


def test_offline_sensor_says_so_and_stays_silent_then_comes_back() -> None:
    spec = with_faults([{"kind": "offline", "sensor": "a1", "start_s": 20, "end_s": 42}], duration_s=60)
    detections = [e.t for e in events_of(spec, "a1")]
    assert detections and not any(20 <= t < 42 for t in detections) and max(detections) > 42
    states = [(e.t, orjson.loads(e.payload)["state"]) for e in events_of(spec, "a1", "status")]
    assert (20.0, "offline") in states and (42.0, "online") in states
    assert all(state == "offline" for t, state in states if 20 <= t < 42)
    assert states[-1] == (60.0, "offline")  # the end of the run


def test_faults_are_deterministic_and_the_same_for_a_sensor_alone(tmp_path: Path) -> None:
    faults = [{"kind": "loss", "sensor": "a1", "probability": 0.2},
              {"kind": "latency", "sensor": "a1", "latency_s": 0.2, "jitter_s": 0.3},
              {"kind": "out_of_order", "sensor": "a2", "probability": 0.1}]
    spec = with_faults(faults, duration_s=60)
    paths = [tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz"]
    for path in paths:
        write_recording(spec, path)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    together = [(e.t, e.payload) for e in events_of(spec, "a1")]
    assert together == [(e.t, e.payload) for e in events_of(spec, "a1", only=["a1"])]
    other_seed = [(e.t, e.payload) for e in events_of(with_faults(faults, duration_s=60, seed=4), "a1")]
    assert together != other_seed


# --- live looping -----------------------------------------------------------------------------


def test_live_loop_keeps_sensors_online_and_seq_and_time_going(mosquitto: Broker, collect) -> None:  # type: ignore[no-untyped-def]
    spec = Scenario.model_validate({"name": "short", "seed": 1, "duration_s": 2.0, "site": SITE,
                                    "sensors": SENSORS[:1], "targets": []})
    feed = collect(f"{PREFIX}/#")
    stop = threading.Event()
    runner = threading.Thread(target=run_live, args=(spec, mosquitto.url, PREFIX, 20.0, ["a1", "truth"], stop),
                              kwargs={"loop": True})
    runner.start()
    try:
        assert feed.wait_for(lambda m: len([t for t, _, _ in m if t == TOPICS.truth]) >= 20, timeout=30)
    finally:
        stop.set()
        runner.join(timeout=20)
    assert not runner.is_alive()
    # The sensor's last status is 'offline' (its messages and the truth publisher's may interleave in any order).
    assert feed.wait_for(lambda m: [orjson.loads(p).get("state") for t, p, _ in m
                                    if t == TOPICS.status("a1")][-1:] == ["offline"], timeout=10)
    detections = [orjson.loads(p) for p in feed.on_topic(TOPICS.detections("a1"))]
    assert [d["seq"] for d in detections] == list(range(len(detections))) and len(detections) >= 8
    times = [d["time"] for d in detections]
    assert times == sorted(times) and times[-1] - times[0] > spec.duration_s  # more than one pass
    truth_times = [orjson.loads(p)["time"] for p in feed.on_topic(TOPICS.truth)]
    assert all(b > a for a, b in itertools.pairwise(truth_times))
    states = [orjson.loads(p)["state"] for p in feed.on_topic(TOPICS.status("a1"))]
    assert states[-1] == "offline" and set(states[:-1]) == {"online"}  # never offline between passes


@pytest.mark.parametrize("speed", [math.inf])
def test_live_run_applies_faults(mosquitto: Broker, collect, speed: float) -> None:  # type: ignore[no-untyped-def]
    spec = with_faults([{"kind": "offline", "sensor": "a1", "start_s": 2, "end_s": 4}], duration_s=6)
    feed = collect(f"{PREFIX}/#")
    run_live(spec, mosquitto.url, PREFIX, speed, ["a1"], threading.Event())

    def ended(messages: list[tuple[str, bytes, bool]]) -> bool:
        """Back online after the fault and offline at the end: at full speed the fault's own "offline" may be
        the last status received for a moment (one client per sensor: its messages arrive in order)."""
        states = [orjson.loads(p)["state"] for t, p, _ in messages if t == TOPICS.status("a1")]
        return states[-1:] == ["offline"] and "offline" in states and "online" in states[states.index("offline"):]

    assert feed.wait_for(ended, timeout=10)
    start = orjson.loads(feed.on_topic(TOPICS.status("a1"))[0])["time"]
    detection_t = [orjson.loads(p)["time"] - start for p in feed.on_topic(TOPICS.detections("a1"))]
    assert detection_t and not any(2 <= t < 4 for t in detection_t) and max(detection_t) > 4
    states = [orjson.loads(p)["state"] for p in feed.on_topic(TOPICS.status("a1"))]
    assert states[:1] == ["online"] and "offline" in states[1:-1] and states[-1] == "offline"
