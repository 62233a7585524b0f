"""What the metrics compare, as arrays in one local ENU frame: truth, estimates, sensor coverage.

Everything is in the same ``LocalFrame``; since every local ENU frame is a rigid motion of
ECEF, distances do not depend on which one is chosen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from fusion.geo import LocalFrame

Array = NDArray[np.float64]

#: Truth is interpolated between two samples at most this far apart, s; beyond, the object is absent.
MAX_TRUTH_GAP_S = 5.0


@dataclass(frozen=True)
class Truth:
    """Ground truth sampled on the truth messages' times: ``pos[k, i]`` is object i at ``times[k]`` (NaN if absent)."""

    frame: LocalFrame
    ids: tuple[str, ...]
    labels: tuple[str, ...]
    times: Array
    pos: Array

    def at(self, t: float) -> tuple[NDArray[np.intp], Array]:
        """Indices and positions (k, 3) of the objects present at ``t``, linearly interpolated."""
        k = int(np.searchsorted(self.times, t, side="left"))
        if k < len(self.times) and self.times[k] == t:
            p = self.pos[k]
        elif 0 < k < len(self.times) and self.times[k] - self.times[k - 1] <= MAX_TRUTH_GAP_S:
            w = (t - self.times[k - 1]) / (self.times[k] - self.times[k - 1])
            p = (1.0 - w) * self.pos[k - 1] + w * self.pos[k]
        else:
            return np.zeros(0, dtype=np.intp), np.zeros((0, 3))
        present = np.flatnonzero(~np.isnan(p[:, 0]))
        return present, p[present]


@dataclass(frozen=True)
class EstimateFrame:
    """The established tracks at one time: ids, positions (k, 3) and labels (None: the tracker gives none)."""

    time: float
    ids: tuple[str, ...]
    pos: Array
    labels: tuple[str | None, ...]


@dataclass(frozen=True)
class Estimates:
    """A tracker's output: its established (confirmed or coasting) tracks at successive times."""

    frames: list[EstimateFrame]

    @property
    def times(self) -> Array:
        return np.array([f.time for f in self.frames])

    def first_shown(self, ident: str, after: float, until: float) -> float:
        """When track ``ident``, not listed at ``after``, was first listed up to ``until``: the time of that frame in
        (``after``, ``until``], else ``until``. A tracker that publishes a track as it confirms it, between two
        evaluation times, is credited with that moment; a track listed already is credited with ``until``."""
        times = self.times
        first = int(np.searchsorted(times, after, side="right"))
        if first > 0 and ident in self.frames[first - 1].ids:
            return until
        for k in range(first, int(np.searchsorted(times, until, side="right"))):
            if ident in self.frames[k].ids:
                return float(times[k])
        return until

    def at(self, t: float) -> EstimateFrame:
        """The latest frame at or before ``t`` (an empty one before the first): a tracker that
        publishes nothing while it has no tracks is held at its last, empty, frame."""
        k = int(np.searchsorted(self.times, t, side="right")) - 1
        if k < 0:
            return EstimateFrame(t, (), np.zeros((0, 3)), ())
        return self.frames[k]


@dataclass(frozen=True)
class Coverage:
    """Where the sensors can see: origins (s, 3), maximum ranges and azimuth sectors (degrees, clockwise)."""

    origins: Array
    max_range_m: Array
    az_min_deg: Array
    az_max_deg: Array

    def contains(self, pos: Array) -> NDArray[np.bool_]:
        """Whether each position (k, 3) is inside at least one sensor's range and sector."""
        if len(self.origins) == 0:
            return np.ones(len(pos), dtype=bool)
        rel = pos[:, None, :] - self.origins[None, :, :]
        in_range = np.linalg.norm(rel, axis=2) <= self.max_range_m
        az = np.degrees(np.arctan2(rel[..., 0], rel[..., 1])) % 360.0
        width = (self.az_max_deg - self.az_min_deg) % 360.0
        in_sector = (az - self.az_min_deg) % 360.0 <= np.where(width == 0.0, 360.0, width)
        return np.any(in_range & in_sector, axis=1)


@dataclass
class Detected:
    """When each object was first detected: by any sensor, and by a second, different sensor.

    ``source`` is ``truth_id`` when the detections carry it (exact), ``coverage`` when the
    first time inside any sensor's coverage stands in for it (and no two-sensor time is known).
    """

    source: str
    first: dict[str, float] = field(default_factory=dict)
    second_sensor: dict[str, float] = field(default_factory=dict)
