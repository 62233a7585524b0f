"""Run a scenario: live over MQTT (one client per sensor, as real sensors are), or into a recording.

Both iterate ``Simulation.events``; live paces the events with a clock, the recording writes
them as fast as the CPU allows.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Collection
from pathlib import Path

import paho.mqtt.client as mqtt

from fusion.mqttlink import Outbox, connect, new_client
from fusion.protocol import DEFAULT_PREFIX, RecordingWriter
from simulators.clock import Clock, make_clock
from simulators.scenario import RECORDING_EPOCH, TRUTH_SOURCE, Scenario
from simulators.sensors import Sensor
from simulators.simulation import Event, Simulation

log = logging.getLogger(__name__)

#: A live sensor republishes its status at least this often (wall seconds); the protocol asks for 5.
HEARTBEAT_WALL_S = 4.0
#: Longest wall-clock wait between two checks of the heartbeats and the stop event.
POLL_WALL_S = 0.5
#: How long a stopping run waits for the broker to acknowledge what was sent.
DRAIN_TIMEOUT_S = 10.0


def connect_sensor_client(sim: Simulation, sensor: Sensor, broker_url: str,  # type: ignore[type-arg]
                          now: Callable[[], float]) -> mqtt.Client:
    """A connected MQTT client for ``sensor`` whose last will is its retained ``offline`` status.

    On every (re)connection it publishes its retained ``online`` status at sim time ``now()``.
    Raises ConnectionError if the broker cannot be reached.
    """
    client = new_client(f"sargas-sim-{sensor.id}-{os.urandom(3).hex()}")
    will = sim.status_event(sensor, now(), "offline")
    client.will_set(will.topic, will.payload, qos=1, retain=True)

    def on_connect(c: mqtt.Client, *_: object) -> None:
        online = sim.status_event(sensor, now())
        c.publish(online.topic, online.payload, qos=1, retain=True)

    client.on_connect = on_connect
    connect(client, broker_url)
    return client


class _LiveLinks:
    """One connected client and outbox per source; heartbeats by the wall clock."""

    def __init__(self, sim: Simulation, broker_url: str, clock: Clock) -> None:
        self.sim = sim
        self.clock = clock
        self.clients: dict[str, mqtt.Client] = {}
        self.outboxes: dict[str, Outbox] = {}
        self.last_status: dict[str, float] = {}
        try:
            for sensor in sim.sensors:
                self._add(sensor.id, connect_sensor_client(sim, sensor, broker_url, clock.now))
            if sim.with_truth:
                client = new_client(f"sargas-sim-{TRUTH_SOURCE}-{os.urandom(3).hex()}")
                connect(client, broker_url)
                self._add(TRUTH_SOURCE, client)
        except BaseException:
            self.close()
            raise

    def _add(self, source: str, client: mqtt.Client) -> None:
        self.clients[source] = client
        self.outboxes[source] = Outbox(client)
        self.last_status[source] = time.monotonic()

    def publish(self, event: Event) -> None:
        self.outboxes[event.source].publish(event.topic, event.payload, qos=event.qos, retain=event.retain)
        if event.kind == "status":
            self.last_status[event.source] = time.monotonic()

    def heartbeat(self) -> None:
        """Republish the status of every sensor that has not sent one for ``HEARTBEAT_WALL_S``."""
        due = time.monotonic() - HEARTBEAT_WALL_S
        for sensor in self.sim.sensors:
            if self.last_status[sensor.id] <= due:
                self.publish(self.sim.status_event(sensor, self.clock.now()))

    def close(self) -> None:
        """Wait for the broker to acknowledge everything sent, then disconnect cleanly (no will)."""
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        for source, outbox in self.outboxes.items():
            if not outbox.wait(max(deadline - time.monotonic(), 0.1)):
                log.warning("%s: the broker did not acknowledge every message before the end", source)
        for client in self.clients.values():
            client.disconnect()
            client.loop_stop()


def run_live(scenario: Scenario, broker_url: str, prefix: str, speed: float, only: Collection[str] | None,
             stop: threading.Event) -> None:
    """Publish the scenario to ``broker_url`` until its duration has passed or ``stop`` is set.

    ``speed`` is the sim-time factor (``math.inf``: as fast as possible). ``only`` limits the
    run to these sensor ids and/or ``truth`` (None or empty: everything; truth is published
    only when ``only`` names it, so that sensors split over processes never duplicate it).
    Message times are the scenario's start time, or the wall clock at the start, plus sim
    time. At the end every sensor publishes ``offline`` and disconnects cleanly. Raises
    ConnectionError if the broker is unreachable, ValueError for an unknown id in ``only``.
    """
    start_time = scenario.start_time if scenario.start_time is not None else time.time()
    sim = Simulation(scenario, start_time, prefix, only)
    clock = make_clock(speed)
    clock.start()
    links = _LiveLinks(sim, broker_url, clock)
    log.info("simulating %s: %d sensors%s at speed %g", scenario.name, len(sim.sensors),
             " and truth" if sim.with_truth else "", speed)
    try:
        for event in sim.events(final=False):
            if not _wait(clock, event.t, stop, links):
                break
            links.publish(event)
        else:
            _wait(clock, scenario.duration_s, stop, links)
    finally:
        for event in sim.final_events(min(clock.now(), scenario.duration_s)):
            links.publish(event)
        links.close()


def _wait(clock: Clock, t: float, stop: threading.Event, links: _LiveLinks) -> bool:
    """Wait for sim time ``t`` while keeping heartbeats going; False if stopped."""
    while not clock.wait_until(t, stop, POLL_WALL_S):
        if stop.is_set():
            return False
        links.heartbeat()
    links.heartbeat()
    return True


def write_recording(scenario: Scenario, path: str | Path, duration_s: float | None = None,
                    prefix: str = DEFAULT_PREFIX) -> int:
    """Write what a live run would publish into a recording, as fast as possible; return the count.

    Line times are the message times: the scenario's ``start_time``, else ``RECORDING_EPOCH``,
    plus sim time. The same scenario and seed give the same bytes.
    """
    start_time = scenario.start_time if scenario.start_time is not None else RECORDING_EPOCH
    sim = Simulation(scenario, start_time, prefix)
    with RecordingWriter(path) as writer:
        for event in sim.events(duration_s):
            writer.write(event.time, event.topic, event.payload)
    return writer.count
