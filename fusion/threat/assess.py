"""Threat assessment v1 and the alert lifecycle, pure and driven by fusion time.

Assessment, batched over tracks: an established (confirmed or coasting) track labelled
drone with probability ≥ ``min_p`` is a threat (level 'high', score = label probability);
an established track of unknown class is 'low' (score = its drone probability), since an
unidentified flyer is worth a look in an early-warning system; everything else is 'none'.
Zones, trajectories and escalation come in a later version.

Alerts: exactly one ``new_threat`` (warning) per track, the first time it is a threat
while confirmed, and one ``track_lost`` (info) when a track that raised it is deleted.
Alert ids ``A-000001`` come from a counter that starts at ``first_alert_number`` so they
are never reused across restarts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from fusion.tracking.classify import DRONE, UNKNOWN
from fusion.tracking.tracks import COASTING, CONFIRMED

Array = NDArray[np.float64]
AlertKind = Literal["new_threat", "track_lost"]
AlertLevel = Literal["info", "warning", "critical"]
Level = Literal["none", "low", "medium", "high", "critical"]

LEVELS: tuple[Level, ...] = ("none", "low", "medium", "high", "critical")
NONE, LOW, MEDIUM, HIGH, CRITICAL = range(5)


@dataclass(frozen=True)
class ThreatParams:
    """Tunables of the v1 assessment."""

    min_p: float = 0.5


@dataclass(frozen=True)
class Assessment:
    """Threat level indices (into ``LEVELS``) and scores, one per track."""

    level: NDArray[np.intp]
    score: Array

    @property
    def is_threat(self) -> NDArray[np.bool_]:
        return self.level >= HIGH


@dataclass(frozen=True)
class TrackGeo:
    """Where some tracks are, for alert texts: geodetic position, heading (deg) and ground speed (m/s)."""

    lat: Array
    lon: Array
    heading_deg: Array
    speed_mps: Array


@dataclass(frozen=True)
class AlertEvent:
    """One alert decision, independent of the wire format."""

    alert_id: str
    time: float
    kind: AlertKind
    level: AlertLevel
    track_id: str
    lat: float
    lon: float
    message: str


def assess(status: NDArray[np.int8], label: NDArray[np.intp], label_p: Array, drone_p: Array,
           params: ThreatParams) -> Assessment:
    """Threat level and score of every track from its status and label."""
    established = (status == CONFIRMED) | (status == COASTING)
    threat = established & (label == DRONE) & (label_p >= params.min_p)
    unknown = established & ~threat & (label == UNKNOWN)
    level = np.where(threat, HIGH, np.where(unknown, LOW, NONE)).astype(np.intp)
    score = np.where(threat, label_p, np.where(unknown, drone_p, 0.0))
    return Assessment(level, score)


def _place(lat: float, lon: float) -> str:
    return f"{abs(lat):.3f}{'N' if lat >= 0 else 'S'} {abs(lon):.3f}{'E' if lon >= 0 else 'W'}"


class AlertLog:
    """Decides which alerts to raise; remembers which tracks already raised ``new_threat``."""

    def __init__(self, first_alert_number: int = 1) -> None:
        self.next_number = first_alert_number
        self._alerted: set[int] = set()

    def pending_new_threats(self, numbers: NDArray[np.int64], status: NDArray[np.int8],
                            assessment: Assessment) -> NDArray[np.intp]:
        """Rows of confirmed threatening tracks that have not raised ``new_threat`` yet (row order)."""
        candidates = np.flatnonzero(assessment.is_threat & (status == CONFIRMED))
        return np.array([row for row in candidates.tolist() if int(numbers[row]) not in self._alerted],
                        dtype=np.intp)

    def new_threats(self, time: float, numbers: NDArray[np.int64], geo: TrackGeo) -> list[AlertEvent]:
        """Raise ``new_threat`` for the given tracks (from ``pending_new_threats``), in order."""
        alerts = []
        for i, number in enumerate(numbers.tolist()):
            self._alerted.add(number)
            lat, lon = float(geo.lat[i]), float(geo.lon[i])
            text = (f"Drone T-{number} confirmed at {_place(lat, lon)}, heading {geo.heading_deg[i]:.0f} "
                    f"at {geo.speed_mps[i]:.0f} m/s")
            alerts.append(self._alert(time, "new_threat", "warning", number, lat, lon, text))
        return alerts

    def lost(self, time: float, numbers: NDArray[np.int64], geo: TrackGeo) -> list[AlertEvent]:
        """Raise ``track_lost`` for those of the deleted tracks that had raised ``new_threat``."""
        alerts = []
        for i, number in enumerate(numbers.tolist()):
            if number not in self._alerted:
                continue
            self._alerted.discard(number)
            lat, lon = float(geo.lat[i]), float(geo.lon[i])
            text = f"Drone T-{number} lost near {_place(lat, lon)}"
            alerts.append(self._alert(time, "track_lost", "info", number, lat, lon, text))
        return alerts

    def _alert(self, time: float, kind: AlertKind, level: AlertLevel, number: int, lat: float, lon: float,
               text: str) -> AlertEvent:
        alert_id = f"A-{self.next_number:06d}"
        self.next_number += 1
        return AlertEvent(alert_id, time, kind, level, f"T-{number}", lat, lon, text)
