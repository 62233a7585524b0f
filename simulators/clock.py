"""Simulation clocks: real time, N× real time, or as fast as possible.

The simulation itself never reads a clock: it produces events stamped with sim time. Only
the live runner paces them, through a ``Clock``, so that live runs and recordings are the
same computation.
"""

from __future__ import annotations

import math
import threading
import time
from abc import ABC, abstractmethod


class Clock(ABC):
    """Sim time (seconds since the scenario started) and waiting for a sim time."""

    speed: float

    @abstractmethod
    def start(self) -> None:
        """Sim time 0 is now."""

    @abstractmethod
    def now(self) -> float:
        """Sim seconds since ``start``."""

    @abstractmethod
    def wait_until(self, t: float, stop: threading.Event, timeout: float | None = None) -> bool:
        """Block until sim time ``t``; False if ``stop`` was set or ``timeout`` wall seconds passed first."""


class ScaledClock(Clock):
    """Sim time runs ``speed`` times faster than the wall clock (1 = real time)."""

    def __init__(self, speed: float = 1.0) -> None:
        if not (speed > 0.0 and math.isfinite(speed)):
            raise ValueError(f"speed must be a positive finite number, not {speed!r}")
        self.speed = speed
        self._t0 = time.monotonic()

    def start(self) -> None:
        self._t0 = time.monotonic()

    def now(self) -> float:
        return (time.monotonic() - self._t0) * self.speed

    def wait_until(self, t: float, stop: threading.Event, timeout: float | None = None) -> bool:
        delay = (t - self.now()) / self.speed
        if delay > 0.0:
            if stop.wait(delay if timeout is None else min(delay, timeout)):
                return False
            return self.now() >= t
        return not stop.is_set()


class FastClock(Clock):
    """As fast as possible: sim time jumps to whatever is waited for."""

    speed = math.inf

    def __init__(self) -> None:
        self._now = 0.0

    def start(self) -> None:
        self._now = 0.0

    def now(self) -> float:
        return self._now

    def wait_until(self, t: float, stop: threading.Event, timeout: float | None = None) -> bool:
        if stop.is_set():
            return False
        self._now = max(self._now, t)
        return True


def make_clock(speed: float) -> Clock:
    """A clock for ``speed``: ``math.inf`` means as fast as possible."""
    return FastClock() if speed == math.inf else ScaledClock(speed)


def parse_speed(text: str | float) -> float:
    """``1``, ``10``, ``0.5``, or ``max``/``inf`` (as fast as possible) as a speed factor."""
    if isinstance(text, str) and text.strip().lower() in ("max", "inf", "infinity"):
        return math.inf
    try:
        speed = float(text)
    except ValueError:
        raise ValueError(f"speed {text!r} is not a number or 'max'") from None
    if not speed > 0.0:
        raise ValueError(f"speed {text!r} must be positive")
    return speed
