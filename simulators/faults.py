"""Sensor faults over time: offline spells, latency and jitter, loss, out-of-order delivery, clock offsets.

Faults act between the sensor models and the output, the same way live and into a recording.
Every random draw comes from a stream of its own per fault (``derive_rng``), taken in event
order, so the same seed gives the same faults, and running one sensor alone (``--only``)
gives it the same faults as running them all.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

from simulators.scenario import (
    ClockOffsetFault,
    FaultConfig,
    LatencyFault,
    LossFault,
    OfflineFault,
    OutOfOrderFault,
)
from simulators.seeds import derive_rng

if TYPE_CHECKING:
    from simulators.simulation import Event


class _Active:
    """One fault with its random stream; ``covers`` says whether it acts at sim time ``t``."""

    def __init__(self, index: int, config: FaultConfig, seed: int) -> None:
        self.config = config
        self.end_s = math.inf if config.end_s is None else config.end_s
        self.rng: np.random.Generator = derive_rng(seed, "fault", str(index), config.sensor)

    def covers(self, sensor_id: str, t: float) -> bool:
        return self.config.sensor == sensor_id and self.config.start_s <= t < self.end_s


class FaultPlan:
    """The faults of a scenario, asked by the simulation (offline, clock) and applied to its output (delivery)."""

    def __init__(self, faults: Sequence[FaultConfig], seed: int) -> None:
        self._faults = [_Active(i, f, seed) for i, f in enumerate(faults)]

    def _of(self, kind: type, sensor_id: str, t: float) -> list[_Active]:
        return [f for f in self._faults if isinstance(f.config, kind) and f.covers(sensor_id, t)]

    def offline(self, sensor_id: str, t: float) -> bool:
        """Whether the sensor is down at sim time ``t``."""
        return bool(self._of(OfflineFault, sensor_id, t))

    def clock_offset(self, sensor_id: str, t: float) -> float:
        """How far the sensor's clock is off at sim time ``t``, seconds (offsets add up)."""
        offsets: list[float] = [f.config.offset_s for f in self._of(ClockOffsetFault, sensor_id, t)]  # type: ignore[union-attr]
        return sum(offsets)

    def transitions(self, sensor_id: str) -> list[float]:
        """Sim times at which the sensor goes offline or comes back: when it publishes a status."""
        times = [t for f in self._faults if isinstance(f.config, OfflineFault) and f.config.sensor == sensor_id
                 for t in (f.config.start_s, f.end_s) if math.isfinite(t)]
        return sorted(set(times))

    def _delay(self, event: Event) -> float | None:
        """Extra delivery delay of one event, or None if it is lost."""
        delay = 0.0
        for fault in self._of(LatencyFault, event.source, event.t):
            cfg: LatencyFault = fault.config  # type: ignore[assignment]
            delay += max(0.0, cfg.latency_s + cfg.jitter_s * float(fault.rng.standard_normal()))
        if event.kind != "detections":
            return delay
        for fault in self._of(LossFault, event.source, event.t):
            if fault.rng.random() < fault.config.probability:  # type: ignore[union-attr]
                return None
        for fault in self._of(OutOfOrderFault, event.source, event.t):
            cfg_o: OutOfOrderFault = fault.config  # type: ignore[assignment]
            if fault.rng.random() < cfg_o.probability:
                delay += cfg_o.delay_s
        return delay

    def deliver(self, events: Iterable[Event]) -> Iterator[Event]:
        """The events as they arrive: lost ones dropped, the others at ``t`` plus their delay, in arrival order.

        Input is in sim-time order and delays are never negative, so an event can be let
        out as soon as the input has moved past its arrival time.
        """
        if not self._faults:
            yield from events
            return
        pending: list[tuple[float, int, Event]] = []
        for order, event in enumerate(events):
            while pending and pending[0][0] <= event.t:
                yield heapq.heappop(pending)[2]
            delay = self._delay(event)
            if delay is not None:
                heapq.heappush(pending, (event.t + delay, order, dataclasses.replace(event, t=event.t + delay)))
        while pending:
            yield heapq.heappop(pending)[2]
