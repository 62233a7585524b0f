"""The array-backed table of all tracks: one row per track, every field a numpy array.

Rows stay in creation order (removal compacts without reordering), so iterating the table
is deterministic and equals ascending track number. Track numbers start at 1, increase
monotonically and are never reused; the public id of number n is ``"T-n"``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

TENTATIVE, CONFIRMED, COASTING = 0, 1, 2
Status = Literal["tentative", "confirmed", "coasting"]
STATUS_NAMES: tuple[Status, Status, Status] = ("tentative", "confirmed", "coasting")
N_CLASSES = 4


def track_id(number: int) -> str:
    """Public id of a track number."""
    return f"T-{int(number)}"


class TrackTable:
    """All track states as arrays; rows are tracks in creation order."""

    #: The per-row arrays, all compacted together.
    ROW_FIELDS: tuple[str, ...] = (
        "number", "x", "p", "t", "first_seen", "hits", "status", "label_logp", "sensor_last",
    )

    def __init__(self) -> None:
        self.next_number = 1
        self.number: NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        #: ENU state [e, n, u, ve, vn, vu] at time ``t`` (the last update: states are not advanced without data).
        self.x: Array = np.zeros((0, 6))
        self.p: Array = np.zeros((0, 6, 6))
        self.t: Array = np.zeros(0)
        self.first_seen: Array = np.zeros(0)
        self.hits: NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self.status: NDArray[np.int8] = np.zeros(0, dtype=np.int8)
        #: Normalised log-probabilities of (drone, bird, aircraft, unknown).
        self.label_logp: Array = np.zeros((0, N_CLASSES))
        #: Time each known sensor last updated each track (NaN: never); columns follow ``sensor_ids``.
        self.sensor_last: Array = np.zeros((0, 0))
        self.sensor_ids: list[str] = []
        self._sensor_column: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.number)

    @property
    def ids(self) -> list[str]:
        """Public ids of all rows, in row order."""
        return [track_id(n) for n in self.number]

    def sensor_column(self, sensor_id: str) -> int:
        """Column of ``sensor_id`` in ``sensor_last``, adding one for a new sensor."""
        column = self._sensor_column.get(sensor_id)
        if column is None:
            column = len(self.sensor_ids)
            self._sensor_column[sensor_id] = column
            self.sensor_ids.append(sensor_id)
            self.sensor_last = np.concatenate([self.sensor_last, np.full((len(self), 1), np.nan)], axis=1)
        return column

    def add(self, x: Array, p: Array, t: float, label_logp: Array, sensor_id: str) -> NDArray[np.int64]:
        """Append k tentative tracks updated once by ``sensor_id`` at ``t``; return their numbers."""
        k = len(x)
        column = self.sensor_column(sensor_id)
        numbers = np.arange(self.next_number, self.next_number + k, dtype=np.int64)
        self.next_number += k
        sensor_last = np.full((k, len(self.sensor_ids)), np.nan)
        sensor_last[:, column] = t
        new = {
            "number": numbers, "x": x, "p": p, "t": np.full(k, t), "first_seen": np.full(k, t),
            "hits": np.ones(k, dtype=np.int64), "status": np.full(k, TENTATIVE, dtype=np.int8),
            "label_logp": label_logp, "sensor_last": sensor_last,
        }
        for name in self.ROW_FIELDS:
            setattr(self, name, np.concatenate([getattr(self, name), new[name]]))
        return numbers

    def keep(self, mask: NDArray[np.bool_]) -> None:
        """Compact the table to the rows where ``mask`` is true, preserving their order."""
        for name in self.ROW_FIELDS:
            setattr(self, name, getattr(self, name)[mask])

    def recent_sensors(self, row: int, now: float, recent_s: float) -> list[str]:
        """Sorted ids of the sensors that updated track ``row`` within ``recent_s`` of ``now``."""
        seen = self.sensor_last[row]
        columns = np.flatnonzero(seen >= now - recent_s)
        return sorted(self.sensor_ids[c] for c in columns)
