"""Threat scoring with hysteresis and the alert lifecycle, pure and driven by fusion time.

Scoring, batched over tracks (established tracks only; tentative ones score 0)::

    score = P(drone) × speed factor × altitude factor × zone factor

The speed and altitude factors are 1 inside a small drone's envelope (≤ 50 m/s, ≤ 500 m
above the site) and fall off beyond it (to 0.2 and 0.3), so that aircraft do not alarm.
The zone factor is the zone kind's weight (protected 1.0, border 0.9, corridor 0.7) when
the track is in a zone; when its constant-velocity prediction enters a zone within
``horizon_s`` it is that weight scaled from 1 (now) to ½ (at the horizon); otherwise
``outside_factor``. Without any zones every track gets ``no_zone_factor``, so a site
without zones still alerts on confirmed drones. A track's level rises as soon as its score
reaches a threshold and falls only once the score is ``hysteresis`` below it: no flapping.

Alerts, one per event, in track-number order within a step:

- ``new_threat`` the first time a confirmed track with P(drone) ≥ ``min_p`` reaches
  ``high`` (it names the zone it is in, or the one it is heading for);
- ``zone_entry`` when such a track, at level ``medium`` or above, comes inside a zone (after
  leaving one, it must get ``zone_exit_margin_m`` beyond the edge before it can enter it again);
- ``threat_escalated`` when an alerted track reaches a level above any it was alerted at
  (unless it entered a zone at that moment: the ``zone_entry`` says so, at the new level);
- ``track_lost`` when a track that raised ``new_threat`` is deleted;
- ``sensor_offline`` once per outage: a status ``offline`` (a last will) or no status for
  ``heartbeat_timeout_s`` of fusion time.

Alert ids ``A-000001`` come from a counter starting at ``first_alert_number`` so that they
are never reused across restarts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from fusion.geo import LocalFrame
from fusion.threat.zones import CORRIDOR, ZoneSet, ZoneSpec
from fusion.tracking.classify import MIN_DRONE_P
from fusion.tracking.tracks import CONFIRMED, TENTATIVE

Array = NDArray[np.float64]
AlertKind = Literal["new_threat", "zone_entry", "threat_escalated", "track_lost", "sensor_offline"]
AlertLevel = Literal["info", "warning", "critical"]
Level = Literal["none", "low", "medium", "high", "critical"]

LEVELS: tuple[Level, ...] = ("none", "low", "medium", "high", "critical")
NONE, LOW, MEDIUM, HIGH, CRITICAL = range(5)


@dataclass(frozen=True)
class ThreatParams:
    """Tunables of threat scoring and alerting."""

    #: A track is a threat (may raise alerts) only with at least this drone probability: the one at which the
    #: tracker labels it drone.
    min_p: float = MIN_DRONE_P
    #: Scores at which the levels low, medium, high and critical begin.
    thresholds: tuple[float, float, float, float] = (0.15, 0.35, 0.55, 0.8)
    #: A level is left only when the score is this far below its threshold.
    hysteresis: float = 0.1
    #: Weight of being in a zone of each kind (border, protected, corridor).
    zone_weight: tuple[float, float, float] = (0.9, 1.0, 0.7)
    outside_factor: float = 0.3
    no_zone_factor: float = 0.8
    #: How far ahead, and how finely, the entry into a zone is predicted, s.
    horizon_s: float = 120.0
    horizon_step_s: float = 5.0
    #: Small drone envelope: full score up to these, then falling off over the ``*_falloff``.
    max_speed_mps: float = 50.0
    speed_falloff_mps: float = 60.0
    max_height_m: float = 500.0
    height_falloff_m: float = 1500.0
    zone_exit_margin_m: float = 150.0
    #: No status from a sensor for this long (fusion time) is a missed heartbeat, s.
    heartbeat_timeout_s: float = 15.0


@dataclass(frozen=True)
class TrackGeo:
    """Where some tracks are, for alert texts: geodetic position, heading (deg) and ground speed (m/s)."""

    lat: Array
    lon: Array
    heading_deg: Array
    speed_mps: Array


@dataclass(frozen=True)
class Assessment:
    """Per track: level index (into ``LEVELS``), score, and the zone that drives it (-1: none)."""

    level: NDArray[np.intp]
    score: Array
    zone: NDArray[np.intp]
    zone_names: tuple[str, ...] = ()

    def zone_name(self, row: int) -> str | None:
        """The name of the zone that drives row ``row``'s threat (None: no zone)."""
        z = int(self.zone[row])
        return self.zone_names[z] if z >= 0 else None


@dataclass(frozen=True)
class AlertEvent:
    """One alert decision, independent of the wire format."""

    alert_id: str
    time: float
    kind: AlertKind
    level: AlertLevel
    track_id: str | None
    lat: float | None
    lon: float | None
    message: str
    zone: str | None = None
    sensor_id: str | None = None


@dataclass
class _Memory:
    """What the monitor remembers per track number (sorted), for hysteresis and once-only alerts."""

    numbers: NDArray[np.int64]
    level: NDArray[np.intp]
    score: Array
    zone: NDArray[np.intp]
    alerted: NDArray[np.bool_]
    peak: NDArray[np.intp]
    inside: NDArray[np.bool_]

    @classmethod
    def empty(cls, zones: int) -> _Memory:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.intp), np.zeros(0), np.zeros(0, np.intp),
                   np.zeros(0, bool), np.zeros(0, np.intp), np.zeros((0, zones), bool))

    def rows(self, numbers: NDArray[np.int64]) -> tuple[NDArray[np.intp], NDArray[np.bool_]]:
        """Index into the memory of each number, and whether it is known."""
        idx = np.minimum(np.searchsorted(self.numbers, numbers), max(len(self.numbers) - 1, 0))
        found = (self.numbers[idx] == numbers) if len(self.numbers) else np.zeros(len(numbers), bool)
        return idx, found

    def take(self, rows: NDArray[np.intp]) -> _Memory:
        """The memory of these rows, in this order."""
        return _Memory(self.numbers[rows], self.level[rows], self.score[rows], self.zone[rows], self.alerted[rows],
                       self.peak[rows], self.inside[rows])

    def column(self, name: str, idx: NDArray[np.intp], found: NDArray[np.bool_], default: Any) -> Any:
        values = getattr(self, name)
        if not len(values):
            return np.full((len(idx), *values.shape[1:]), default, dtype=values.dtype)
        shape = (-1,) + (1,) * (values.ndim - 1)
        return np.where(found.reshape(shape), values[idx], default)

    def of(self, numbers: NDArray[np.int64]) -> _Memory:
        """The memory of these tracks in their order, with the defaults for unknown ones; itself, not a
        copy, when they are exactly the remembered tracks, as between most steps (so callers must not
        write into it: ``assess`` builds new arrays and ``current`` only reads)."""
        m = len(self.numbers)
        if m == len(numbers) and (self.numbers == numbers).all():  # np.array_equal, without its overhead
            return self
        if m < len(numbers) and (self.numbers == numbers[:m]).all():
            return self._grown(numbers)
        idx, found = self.rows(numbers)
        return _Memory(numbers, self.column("level", idx, found, NONE), self.column("score", idx, found, 0.0),
                       self.column("zone", idx, found, -1), self.column("alerted", idx, found, False),
                       self.column("peak", idx, found, NONE), self.column("inside", idx, found, False))

    def _grown(self, numbers: NDArray[np.int64]) -> _Memory:
        """The memory of ``numbers``, which are the remembered tracks followed by new ones (the usual change between
        steps: tracks started), with the defaults for the new ones: cheaper than locating every number."""
        k = len(numbers) - len(self.numbers)
        return _Memory(numbers, np.concatenate([self.level, np.full(k, NONE, np.intp)]),
                       np.concatenate([self.score, np.zeros(k)]), np.concatenate([self.zone, np.full(k, -1, np.intp)]),
                       np.concatenate([self.alerted, np.zeros(k, bool)]),
                       np.concatenate([self.peak, np.full(k, NONE, np.intp)]),
                       np.concatenate([self.inside, np.zeros((k, self.inside.shape[1]), bool)]))

    def without(self, numbers: NDArray[np.int64]) -> _Memory:
        """The memory without these tracks (located by ``rows``: ``np.isin`` cost more than a scan's scoring)."""
        return self.dropped(*self.rows(numbers))

    def dropped(self, idx: NDArray[np.intp], found: NDArray[np.bool_]) -> _Memory:
        """The memory without the rows ``idx[found]`` (as ``rows`` locates some numbers)."""
        keep = np.ones(len(self.numbers), bool)
        keep[idx[found]] = False
        return self.take(keep.nonzero()[0])

    def sorted(self) -> _Memory:
        """The same memory in track-number order."""
        return self.take(np.argsort(self.numbers, kind="stable"))


def _place(lat: float, lon: float) -> str:
    return f"{abs(lat):.3f}{'N' if lat >= 0 else 'S'} {abs(lon):.3f}{'E' if lon >= 0 else 'W'}"


def _falloff(value: Array, full: float, span: float, floor: float) -> Array | float:
    """1 up to ``full``, then linearly down to ``floor`` over ``span``; the scalar 1.0 when every value is within
    ``full`` (the usual case for drones: for a positive ``span`` and a ``floor`` up to 1 the formula gives exactly 1.0
    there, and a NaN takes the formula)."""
    if (value <= full).all():
        return 1.0
    return np.minimum(np.maximum(1.0 - (value - full) / span * (1.0 - floor), floor), 1.0)  # np.clip, less overhead


@lru_cache(maxsize=16)
def _thresholds(params: ThreatParams) -> tuple[Array, Array]:
    """The scores at which each level is reached, and those below which it is left (built once per parameters)."""
    up = np.asarray(params.thresholds)
    down = up - params.hysteresis
    up.flags.writeable = down.flags.writeable = False  # shared by every call
    return up, down


def step_levels(previous: NDArray[np.intp], score: Array, params: ThreatParams) -> NDArray[np.intp]:
    """New levels with hysteresis: up as soon as a threshold is reached, down only ``hysteresis`` below it."""
    up_at, down_at = _thresholds(params)
    up = up_at.searchsorted(score, side="right")  # intp already
    down = down_at.searchsorted(score, side="right")
    return np.where(up > previous, up, np.minimum(previous, down))


class ThreatMonitor:
    """Scores tracks against the zones and decides the alerts; its state is keyed by track number."""

    def __init__(self, params: ThreatParams, zones: list[ZoneSpec] | None = None, first_alert_number: int = 1) -> None:
        self.params = params
        self.zone_specs = zones or []
        self.next_number = first_alert_number
        self._zones: ZoneSet | None = None
        self._frame: LocalFrame | None = None
        self._memory = _Memory.empty(len(self.zone_specs))
        self._status_time: dict[str, float] = {}
        self._sensor_alerted: dict[str, float] = {}
        self._sensor_place: dict[str, tuple[float, float]] = {}

    @property
    def zone_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.zone_specs)

    def zones_in(self, frame: LocalFrame) -> ZoneSet:
        """The zones projected into ``frame`` (cached: the site frame never changes once set)."""
        if self._zones is None or (self._frame is not frame and self._frame != frame):
            self._zones, self._frame = ZoneSet(self.zone_specs, frame), frame
        return self._zones

    # ----------------------------------------------------------------- tracks

    def score(self, x: Array, drone_p: Array, zones: ZoneSet, inside_before: NDArray[np.bool_]
              ) -> tuple[Array, NDArray[np.intp], Array, NDArray[np.bool_]]:
        """Scores of established tracks (site-ENU states ``x``), the zone driving each (-1: none),
        the predicted seconds to enter it (0: in it, inf: not within the horizon) and zone membership now."""
        prm = self.params
        n = len(x)
        speed = np.sqrt(np.add.reduce(x[:, 3:] * x[:, 3:], axis=1))  # np.linalg.norm's sum, without its overhead
        kinematic = (_falloff(speed, prm.max_speed_mps, prm.speed_falloff_mps, 0.2)
                     * _falloff(x[:, 2], prm.max_height_m, prm.height_falloff_m, 0.3))
        if len(zones) == 0:
            return (drone_p * kinematic * prm.no_zone_factor, np.full(n, -1, np.intp), np.full(n, math.inf),
                    np.zeros((n, 0), bool))
        margin = np.where(inside_before, prm.zone_exit_margin_m, 0.0)
        inside = zones.contains(x[:, :2], margin)
        taus = np.arange(1, int(prm.horizon_s // prm.horizon_step_s) + 1) * prm.horizon_step_s
        ahead = x[:, None, :2] + x[:, None, 3:5] * taus[None, :, None]
        future = zones.contains(ahead.reshape(-1, 2)).reshape(n, len(taus), len(zones))
        reached = future.any(axis=1)
        tte = np.where(inside, 0.0, np.where(reached, taus[np.argmax(future, axis=1)], math.inf))
        weight = np.asarray(prm.zone_weight)[zones.kind][None, :]
        factor = np.where(np.isfinite(tte), weight * (1.0 - 0.5 * np.minimum(tte, prm.horizon_s) / prm.horizon_s), 0.0)
        best = np.argmax(factor, axis=1)
        best_factor = factor[np.arange(n), best]
        zone = np.where(best_factor > 0.0, best, -1).astype(np.intp)
        zone_factor = np.maximum(best_factor, prm.outside_factor)
        return drone_p * kinematic * zone_factor, zone, tte[np.arange(n), best], inside

    def assess(self, t: float, frame: LocalFrame, numbers: NDArray[np.int64], status: NDArray[np.int8],
               drone_p: Array, x: Array, geo: Callable[[NDArray[np.intp]], TrackGeo]) -> list[AlertEvent]:
        """Score every track at fusion time ``t``, update levels, and return the alerts this causes.

        ``x`` are the tracks' site-ENU states at ``t``; ``geo(rows)`` gives the geodetic view of some
        rows, asked only for the tracks that raise alerts (it is the costly part).
        """
        prm = self.params
        zones = self.zones_in(frame)
        before = self._memory.of(numbers)
        previous, alerted_before, peak_before, inside_before = before.level, before.alerted, before.peak, before.inside
        n = len(numbers)
        score, zone, tte = np.zeros(n), np.full(n, -1, np.intp), np.full(n, math.inf)
        inside = np.zeros((n, len(zones)), bool)
        live = (status != TENTATIVE).nonzero()[0]  # np.flatnonzero's work, without its Python wrapper
        if len(live):
            score[live], zone[live], tte[live], inside[live] = self.score(x[live], drone_p[live], zones,
                                                                          inside_before[live])
        level = step_levels(previous, score, prm)
        eligible = (status == CONFIRMED) & (drone_p >= prm.min_p)
        new = eligible & (level >= HIGH) & ~alerted_before
        rising = eligible & alerted_before & (level > peak_before)
        threat = eligible & (level >= MEDIUM)
        entered = inside  # (n, 0) without zones: nothing to enter, and no array work for it
        if len(zones):
            inside &= threat[:, None] | inside_before
            entered = inside & ~inside_before & threat[:, None] & ~new[:, None]
        entering = entered.any(axis=1)
        escalated = rising & ~entering
        alerted = alerted_before | new
        peak = np.where(new | rising, level, peak_before)
        memory = _Memory(numbers.copy(), level, score, zone, alerted, peak, inside)
        # The same tracks as remembered are already in number order, and so are the table's tracks (new ones come last).
        ordered = before is self._memory or bool((numbers[1:] > numbers[:-1]).all())
        self._memory = memory if ordered else memory.sorted()
        rows = (new | escalated | entering).nonzero()[0]
        if not len(rows):
            return []
        where = geo(rows)
        events: list[AlertEvent] = []
        for i, row in enumerate(rows.tolist()):
            events += self._track_events(t, i, int(numbers[row]), where, bool(new[row]), bool(escalated[row]),
                                         int(level[row]), int(zone[row]), float(tte[row]), entered[row], zones)
        return events

    def current(self, numbers: NDArray[np.int64]) -> Assessment:
        """The latest assessment of these tracks (level none, score 0 for unassessed ones)."""
        known = self._memory.of(numbers)
        return Assessment(known.level, known.score, known.zone, self.zone_names)

    def _track_events(self, t: float, row: int, number: int, geo: TrackGeo, new: bool, escalated: bool,
                      level: int, zone: int, tte: float, entered: NDArray[np.bool_], zones: ZoneSet
                      ) -> list[AlertEvent]:
        lat, lon = float(geo.lat[row]), float(geo.lon[row])
        motion = f"heading {geo.heading_deg[row]:.0f} at {geo.speed_mps[row]:.0f} m/s"
        zone_name = zones.names[zone] if zone >= 0 else None
        where = "" if zone_name is None else (f", in {zone_name}" if tte == 0 else
                                              f", {tte:.0f} s from {zone_name}")
        severity: AlertLevel = "critical" if level == CRITICAL else "warning"
        events = []
        if new:
            text = f"Drone T-{number} confirmed at {_place(lat, lon)}, {motion}{where}"
            events.append(self._alert(t, "new_threat", severity, f"T-{number}", lat, lon, text, zone_name))
        if escalated:
            text = f"Drone T-{number} escalated to {LEVELS[level]}{where}, {motion}"
            events.append(self._alert(t, "threat_escalated", severity, f"T-{number}", lat, lon, text, zone_name))
        for z in np.flatnonzero(entered).tolist():
            name = zones.names[z]
            entry_level: AlertLevel = "warning" if zones.kind[z] == CORRIDOR and level < CRITICAL else "critical"
            text = f"Drone T-{number} entered {name} {motion}"
            events.append(self._alert(t, "zone_entry", entry_level, f"T-{number}", lat, lon, text, name))
        return events

    def lost(self, time: float, numbers: NDArray[np.int64],
             geo: TrackGeo | Callable[[NDArray[np.intp]], TrackGeo]) -> list[AlertEvent]:
        """``track_lost`` for those of the deleted tracks that had raised ``new_threat``; forget them all.

        ``geo`` is the geodetic view of all ``numbers``, or (like ``assess``) a function giving it for
        some rows, asked only for the alerted ones: most deleted tracks are clutter that never alerted.
        """
        idx, found = self._memory.rows(numbers)
        alerted = np.flatnonzero(self._memory.column("alerted", idx, found, False))
        events: list[AlertEvent] = []
        if len(alerted):
            events = self._lost_events(time, numbers[alerted], geo(alerted) if callable(geo) else TrackGeo(
                geo.lat[alerted], geo.lon[alerted], geo.heading_deg[alerted], geo.speed_mps[alerted]))
        self._memory = self._memory.dropped(idx, found)
        return events

    def merged(self, numbers: NDArray[np.int64], into: NDArray[np.int64]) -> None:
        """Tracks ``numbers`` merged into tracks ``into`` (duplicates of one target): each survivor inherits
        their alerted state, peak level and zones (so the target raises no second ``new_threat`` or
        ``zone_entry``, and no ``track_lost``); the merged tracks are forgotten."""
        m = self._memory
        src, found = m.rows(numbers)
        src, into = src[found], into[found]
        if not len(src):
            return
        _, known = m.rows(into)
        fresh, first = np.unique(into[~known], return_index=True)  # survivors not assessed yet start as a copy
        rows = src[~known][first]
        grown = np.concatenate([np.arange(len(m.numbers)), rows])
        m = replace(m.take(grown), numbers=np.concatenate([m.numbers, fresh])).sorted()
        src, _ = m.rows(numbers[found])
        dst, _ = m.rows(into)
        for name, combine in (("level", np.maximum), ("peak", np.maximum), ("alerted", np.logical_or),
                              ("inside", np.logical_or)):
            combine.at(getattr(m, name), dst, getattr(m, name)[src])
        self._memory = m.without(numbers)

    def _lost_events(self, time: float, numbers: NDArray[np.int64], geo: TrackGeo) -> list[AlertEvent]:
        """The ``track_lost`` alerts of these tracks, in order."""
        events: list[AlertEvent] = []
        for i in range(len(numbers)):
            number = int(numbers[i])
            lat, lon = float(geo.lat[i]), float(geo.lon[i])
            events.append(self._alert(time, "track_lost", "info", f"T-{number}", lat, lon,
                                      f"Drone T-{number} lost near {_place(lat, lon)}"))
        return events

    # ---------------------------------------------------------------- sensors

    def remember_sensor_alerts(self, last_alert_time: dict[str, float]) -> None:
        """Outages already alerted (e.g. before a restart): sensor id → time of its last ``sensor_offline``."""
        self._sensor_alerted.update(last_alert_time)

    def _in_outage(self, sensor_id: str, since: float) -> bool:
        return self._sensor_alerted.get(sensor_id, -math.inf) >= self._status_time.get(sensor_id, since)

    def sensor_status(self, sensor_id: str, state: str, time: float, place: tuple[float, float] | None
                      ) -> list[AlertEvent]:
        """Take a sensor's (newest) status; ``sensor_offline`` if it says offline and no outage is alerted yet."""
        if place is not None:
            self._sensor_place[sensor_id] = place
        alerted = self._in_outage(sensor_id, time)
        self._status_time[sensor_id] = max(time, self._status_time.get(sensor_id, -math.inf))
        if state != "offline" or alerted:
            return []
        return [self._sensor_alert(time, sensor_id, f"Sensor {sensor_id} went offline")]

    def heartbeats(self, t: float) -> list[AlertEvent]:
        """``sensor_offline`` for every sensor silent for longer than the heartbeat timeout at fusion time ``t``."""
        events: list[AlertEvent] = []
        if not self._status_time or t - min(self._status_time.values()) <= self.params.heartbeat_timeout_s:
            return events  # no sensor silent for long: the usual case, without a loop over the sensors
        for sensor_id in sorted(self._status_time):
            silent = t - self._status_time[sensor_id]
            if silent > self.params.heartbeat_timeout_s and not self._in_outage(sensor_id, t):
                events.append(self._sensor_alert(t, sensor_id,
                                                 f"Sensor {sensor_id} missed its heartbeat: silent for {silent:.0f} s"))
        return events

    def _sensor_alert(self, time: float, sensor_id: str, text: str) -> AlertEvent:
        self._sensor_alerted[sensor_id] = time
        lat, lon = self._sensor_place.get(sensor_id, (None, None))
        return self._alert(time, "sensor_offline", "warning", None, lat, lon, text, sensor_id=sensor_id)

    def _alert(self, time: float, kind: AlertKind, level: AlertLevel, track_id: str | None, lat: float | None,
               lon: float | None, text: str, zone: str | None = None, sensor_id: str | None = None) -> AlertEvent:
        alert_id = f"A-{self.next_number:06d}"
        self.next_number += 1
        return AlertEvent(alert_id, time, kind, level, track_id, lat, lon, text, zone, sensor_id)

