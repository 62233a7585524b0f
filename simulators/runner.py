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
from functools import partial
from pathlib import Path

import paho.mqtt.client as mqtt

from fusion.mqttlink import Outbox, connect, new_client
from fusion.protocol import DEFAULT_PREFIX, RecordingWriter
from fusion.protocol.models import SensorState
from simulators.clock import Clock, make_clock
from simulators.scenario import RECORDING_EPOCH, TRUTH_SOURCE, Scenario
from simulators.simulation import Event, Simulation

log = logging.getLogger(__name__)

#: A live sensor republishes its status at least this often (wall seconds); the protocol asks for 5.
HEARTBEAT_WALL_S = 4.0
#: Longest wall-clock wait between two checks of the heartbeats and the stop event.
POLL_WALL_S = 0.5
#: How long a stopping run waits for the broker to acknowledge what was sent.
DRAIN_TIMEOUT_S = 10.0


def connect_sensor_client(sensor_id: str, broker_url: str, status: Callable[[SensorState | None], Event]
                          ) -> mqtt.Client:
    """A connected MQTT client for sensor ``sensor_id`` whose last will is its retained ``offline`` status.

    ``status(state)`` builds the sensor's status event now (``None``: its current state).
    On every (re)connection the client publishes that status, retained. Raises
    ConnectionError if the broker cannot be reached.
    """
    client = new_client(f"sargas-sim-{sensor_id}-{os.urandom(3).hex()}")
    will = status("offline")
    client.will_set(will.topic, will.payload, qos=1, retain=True)

    def on_connect(c: mqtt.Client, *_: object) -> None:
        current = status(None)
        c.publish(current.topic, current.payload, qos=1, retain=True)

    client.on_connect = on_connect
    connect(client, broker_url)
    return client


class _LiveLinks:
    """One connected client and outbox per source, kept across passes; heartbeats by the wall clock.

    ``sim`` is the current pass: looping replaces it and keeps the clients connected.
    """

    def __init__(self, sim: Simulation, broker_url: str, clock: Clock) -> None:
        self.sim = sim
        self.clock = clock
        self.clients: dict[str, mqtt.Client] = {}
        self.outboxes: dict[str, Outbox] = {}
        self.last_status: dict[str, float] = {}
        try:
            for index, sensor in enumerate(sim.sensors):
                self._add(sensor.id, connect_sensor_client(sensor.id, broker_url, partial(self.status, index)))
            if sim.with_truth:
                client = new_client(f"sargas-sim-{TRUTH_SOURCE}-{os.urandom(3).hex()}")
                connect(client, broker_url)
                self._add(TRUTH_SOURCE, client)
        except BaseException:
            self.close()
            raise

    def status(self, index: int, state: SensorState | None = None) -> Event:
        """The status event of the ``index``-th sensor of the current pass, at the clock's sim time."""
        return self.sim.status_event(self.sim.sensors[index], self.clock.now(), state)

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
        for index, sensor in enumerate(self.sim.sensors):
            if self.last_status[sensor.id] <= due:
                self.publish(self.status(index))

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
             stop: threading.Event, loop: bool = False) -> None:
    """Publish the scenario to ``broker_url`` until its duration has passed or ``stop`` is set.

    ``speed`` is the sim-time factor (``math.inf``: as fast as possible). ``only`` limits the
    run to these sensor ids and/or ``truth`` (None or empty: everything; truth is published
    only when ``only`` names it, so that sensors split over processes never duplicate it).
    Message times are the scenario's start time, or the wall clock at the start, plus sim
    time. With ``loop`` the scenario starts again when it ends, until ``stop``: the clients
    stay connected, each sensor's ``seq`` goes on, and each pass starts where the previous
    one ended in message time, so sensors never go offline between passes and times never go
    back. At the end every sensor publishes ``offline`` and disconnects cleanly. Raises
    ConnectionError if the broker is unreachable, ValueError for an unknown id in ``only``.
    """
    start_time = scenario.start_time if scenario.start_time is not None else time.time()
    sim = Simulation(scenario, start_time, prefix, only)
    clock = make_clock(speed)
    clock.start()
    links = _LiveLinks(sim, broker_url, clock)
    log.info("simulating %s: %d sensors%s at speed %g%s", scenario.name, len(sim.sensors),
             " and truth" if sim.with_truth else "", speed, ", looping" if loop else "")
    try:
        while _play(sim, clock, stop, links, loop) and loop:
            sim = links.sim = sim.next_pass(sim.start_time + scenario.duration_s)
            clock.start()
    finally:
        for event in sim.final_events(min(clock.now(), scenario.duration_s)):
            links.publish(event)
        links.close()


def _play(sim: Simulation, clock: Clock, stop: threading.Event, links: _LiveLinks, loop: bool) -> bool:
    """Publish one pass of ``sim`` paced by ``clock``; False if stopped before its end.

    When looping, the events at exactly the end time are left to the next pass's start.
    """
    for event in sim.events(final=False, until_end=not loop):
        if not _wait(clock, event.t, stop, links):
            return False
        links.publish(event)
    return _wait(clock, sim.scenario.duration_s, stop, links)


def _wait(clock: Clock, t: float, stop: threading.Event, links: _LiveLinks) -> bool:
    """Wait for sim time ``t`` while keeping heartbeats going; False if stopped."""
    while not clock.wait_until(t, stop, POLL_WALL_S):
        if stop.is_set():
            return False
        links.heartbeat()
    links.heartbeat()
    return True


def write_recording(scenario: Scenario, path: str | Path, duration_s: float | None = None,
                    prefix: str = DEFAULT_PREFIX, only: Collection[str] | None = None) -> int:
    """Write what a live run would publish into a recording, as fast as possible; return the count.

    Line times are when each message is sent: the scenario's ``start_time``, else
    ``RECORDING_EPOCH``, plus sim time (plus any fault delay; without faults, the message's
    own ``time``). ``only`` limits the output as for ``run_live``. The same scenario and seed
    give the same bytes.
    """
    start_time = scenario.start_time if scenario.start_time is not None else RECORDING_EPOCH
    sim = Simulation(scenario, start_time, prefix, only)
    with RecordingWriter(path) as writer:
        for event in sim.events(duration_s):
            writer.write(sim.epoch(event.t), event.topic, event.payload)
    return writer.count
