"""A sensor's scan period learnt from its own plots, for a sensor whose status states none.

A radar that sees a target in consecutive scans plots it one scan period apart; one that misses it in
between, a whole number of periods apart. So the times between successive plots of one established track
by one sensor are k·T (k ≥ 1), and most are T for any target seen in most scans: a low quantile of the
recent intervals is the period. A tentative track's plots may be clutter, whose intervals say nothing.
Intervals shorter than ``MIN_INTERVAL_S`` (one target plotted twice in one scan, in adjacent sector messages)
are no scan period and are ignored.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from numpy.typing import ArrayLike

#: Intervals kept per sensor: enough for a stable quantile, and memory stays bounded.
MAX_INTERVALS = 128
#: Intervals needed before the estimate is used.
MIN_INTERVALS = 16
#: Shorter intervals are one scan's repeated plot, not a period, s.
MIN_INTERVAL_S = 0.1
#: The quantile of the intervals taken as the period: below the multiples of T that misses add.
QUANTILE = 25.0


class RevisitEstimate:
    """Per sensor, the recent intervals between successive plots of one track, and the period they show."""

    def __init__(self) -> None:
        self._intervals: dict[str, deque[float]] = {}

    def observe(self, sensor_id: str, intervals: ArrayLike) -> None:
        """Add one message's intervals (s, one per track it plotted again; NaN: the first plot)."""
        values = np.asarray(intervals, dtype=float)
        values = values[np.isfinite(values) & (values >= MIN_INTERVAL_S)]
        if len(values):
            self._intervals.setdefault(sensor_id, deque(maxlen=MAX_INTERVALS)).extend(values.tolist())

    def period(self, sensor_id: str) -> float | None:
        """The sensor's scan period, s, once it has shown ``MIN_INTERVALS`` intervals; else None."""
        seen = self._intervals.get(sensor_id)
        if seen is None or len(seen) < MIN_INTERVALS:
            return None
        return float(np.percentile(np.fromiter(seen, dtype=float), QUANTILE))
