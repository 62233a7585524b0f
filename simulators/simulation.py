"""The one generator of simulator output: (sim time, topic, payload) events in time order.

Live runs pace these events with a clock and publish them over MQTT; recordings write them
to a file as fast as the CPU allows. Both iterate the same ``Simulation.events``, so a
recording holds exactly what a live run would have published.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Literal

from fusion.geo import LocalFrame
from fusion.protocol import Topics, TruthMessage, TruthObject, Velocity, encode
from fusion.protocol.models import SensorState
from simulators.faults import FaultPlan
from simulators.scenario import TRUTH_SOURCE, Scenario
from simulators.sensors import Sensor, build_sensor
from simulators.sensors.base import DB_DP, LATLON_DP, rounded
from simulators.targets import TargetSet, TruthState, to_geodetic

EventKind = Literal["status", "detections", "truth"]

#: Order of simultaneous events: a sensor's status before its detections, truth last.
_RANK: dict[EventKind, int] = {"status": 0, "detections": 1, "truth": 2}


@dataclass(frozen=True, slots=True)
class Event:
    """One message to publish: when (sim and epoch time), by whom, where and what."""

    t: float          # sim seconds since the scenario started at which it is sent (after any fault delay)
    time: float       # epoch seconds stamped in the message: when it was measured, by the sensor's clock
    source: str       # the publishing client: a sensor id or ``truth``
    kind: EventKind
    topic: str
    payload: bytes
    qos: int
    retain: bool


@dataclass
class _Stream:
    """A periodic source of events, ``len(offsets)`` a period: the k-th is ``offsets[k % n]`` after
    ``phase + (k // n) * period`` (one event if the period is infinite). ``emit(t, k)`` makes it."""

    phase: float
    period: float
    rank: int
    emit: Callable[[float, int], Event | None]
    offsets: tuple[float, ...] = (0.0,)

    def at(self, k: int) -> float:
        n, j = divmod(k, len(self.offsets))
        return self.phase + self.offsets[j] + (n * self.period if n else 0.0)


def _at_time(emit: Callable[[float], Event | None]) -> Callable[[float, int], Event | None]:
    """A stream's emitter from one that needs only the event's time, not its number."""
    return lambda t, _k: emit(t)


class Simulation:
    """A scenario's targets and sensor models, turned into a time-ordered stream of events.

    ``sources`` restricts the output to some sensor ids and/or ``truth`` (None or empty: all);
    each sensor draws from its own random stream, so a restricted run gives the same messages
    for those sensors. The scenario's faults are applied to the output.
    """

    def __init__(self, scenario: Scenario, start_time: float, prefix: str,
                 sources: Collection[str] | None = None) -> None:
        sources = sources or None
        self.sources = sources
        known = [s.id for s in scenario.sensors] + [TRUTH_SOURCE]
        unknown = sorted(set(sources or ()) - set(known))
        if unknown:
            raise ValueError(f"no such sensor in scenario {scenario.name!r}: {', '.join(unknown)} "
                             f"(it has {', '.join(known)})")
        self.scenario = scenario
        self.start_time = start_time
        self.topics = Topics(prefix)
        self.site = scenario.site.frame
        self.targets = TargetSet.from_scenario(scenario)
        self.sensors: list[Sensor] = [build_sensor(c, scenario.seed, self.site, self.targets)  # type: ignore[type-arg]
                                      for c in scenario.sensors if sources is None or c.id in sources]
        self.with_truth = sources is None or TRUTH_SOURCE in sources
        self.faults = FaultPlan(scenario.faults, scenario.seed)

    def next_pass(self, start_time: float) -> Simulation:
        """The same scenario again from ``start_time``, each sensor's ``seq`` going on from this pass."""
        following = Simulation(self.scenario, start_time, self.prefix, self.sources)
        for old, new in zip(self.sensors, following.sensors, strict=True):
            new.seq = old.seq
        return following

    @property
    def prefix(self) -> str:
        return self.topics.prefix

    def epoch(self, t: float) -> float:
        """The epoch time of sim time ``t`` by the true clock."""
        return round(self.start_time + t, 6)

    def sensor_time(self, sensor: Sensor, t: float) -> float:  # type: ignore[type-arg]
        """The epoch time of sim time ``t`` by ``sensor``'s clock, which a fault may put off."""
        return round(self.start_time + t + self.faults.clock_offset(sensor.id, t), 6)

    def status_event(self, sensor: Sensor, t: float, state: SensorState | None = None) -> Event:  # type: ignore[type-arg]
        """A retained status message of ``sensor`` at sim time ``t``; its state by default from the faults."""
        if state is None:
            state = "offline" if self.faults.offline(sensor.id, t) else "online"
        time = self.sensor_time(sensor, t)
        return Event(t, time, sensor.id, "status", self.topics.status(sensor.id),
                     encode(sensor.status(time, state)), qos=1, retain=True)

    def final_events(self, t: float) -> list[Event]:
        """Every sensor going ``offline`` at sim time ``t``: the end of a run."""
        return [self.status_event(s, t, "offline") for s in self.sensors]

    def detections_event(self, sensor: Sensor, t: float, update: int) -> Event | None:  # type: ignore[type-arg]
        """Update number ``update`` of ``sensor``, at sim time ``t``; None while it is offline."""
        if self.faults.offline(sensor.id, t):
            return None
        time = self.sensor_time(sensor, t)
        message = sensor.detect(time, self.targets.state(t), update)
        return Event(t, time, sensor.id, "detections", self.topics.detections(sensor.id), encode(message),
                     qos=1, retain=False)

    def truth_event(self, t: float) -> Event:
        """Ground truth at sim time ``t``."""
        time = self.epoch(t)
        message = truth_message(self.targets.state(t), self.site, self.targets, time)
        return Event(t, time, TRUTH_SOURCE, "truth", self.topics.truth, encode(message), qos=0, retain=False)

    def _streams(self) -> list[_Stream]:
        streams: list[_Stream] = []
        for sensor in self.sensors:
            status = _at_time(partial(self.status_event, sensor))
            streams.append(_Stream(0.0, self.scenario.status_period_s, _RANK["status"], status))
            streams.append(_Stream(sensor.phase_s, sensor.period_s, _RANK["detections"],
                                   partial(self.detections_event, sensor), sensor.update_offsets_s))
            streams.extend(_Stream(t, math.inf, _RANK["status"], status) for t in self.faults.transitions(sensor.id))
        if self.with_truth:
            streams.append(_Stream(0.0, self.scenario.truth_period_s, _RANK["truth"], _at_time(self.truth_event)))
        return streams

    def events(self, duration_s: float | None = None, final: bool = True, until_end: bool = True) -> Iterator[Event]:
        """Every event from sim time 0 to ``duration_s`` (default: the scenario's), in time order.

        ``until_end=False`` leaves out the events at exactly the end time: a looping run has
        them as the first events of the next pass.

        Ties are broken by kind and then by the order of the scenario's sensors, so the
        order never depends on anything but the scenario. Faults then drop or delay some
        events; the stream is in order of sending. With ``final``, the sensors' last
        ``offline`` statuses close the stream at the end time (after anything delayed).
        """
        end = self.scenario.duration_s if duration_s is None else duration_s
        last = end
        for event in self.faults.deliver(self._measured(end, until_end)):
            last = max(last, event.t)
            yield event
        if final:
            yield from self.final_events(last)

    def _measured(self, end: float, until_end: bool) -> Iterator[Event]:
        """Every event up to sim time ``end`` (included or not) as measured, in time order, before faults."""
        streams = self._streams()
        heap = [(s.at(0), s.rank, order, 0) for order, s in enumerate(streams)]
        heapq.heapify(heap)
        while heap and (heap[0][0] <= end if until_end else heap[0][0] < end):
            t, rank, order, k = heapq.heappop(heap)
            event = streams[order].emit(t, k)
            if event is not None:
                yield event
            heapq.heappush(heap, (streams[order].at(k + 1), rank, order, k + 1))


def truth_message(state: TruthState, site: LocalFrame, targets: TargetSet, time: float) -> TruthMessage:
    """The ``sargas.truth/1`` message of a true state: WGS84 positions, velocities at each object."""
    lat, lon, alt, vel = to_geodetic(site, state.enu, state.vel)
    objects = [TruthObject(id=targets.ids[i], label=targets.labels[i], lat=la, lon=lo, alt_m=al,  # type: ignore[arg-type]
                           velocity=Velocity(east_mps=v[0], north_mps=v[1], up_mps=v[2]))
               for i, la, lo, al, v in zip(state.index.tolist(), rounded(lat, LATLON_DP), rounded(lon, LATLON_DP),
                                           rounded(alt, DB_DP), rounded(vel, DB_DP), strict=True)]
    return TruthMessage(schema="sargas.truth/1", time=time, objects=objects)
