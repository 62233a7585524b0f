"""The array-backed table of all tracks: one row per track, every field a numpy array.

Rows stay in creation order (removal compacts without reordering), so iterating the table
is deterministic and equals ascending track number. Track numbers start at 1, increase
monotonically and are never reused; the public id of number n is ``"T-n"``.
"""

from __future__ import annotations

from itertools import compress
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

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
        "number", "x", "p", "xm", "pm", "mu", "t", "t_fix", "first_seen", "hits", "score", "status", "label_logp", "sensor_last", "from_bearings",
        "excess", "plots", "radar_range", "t_point", "t_formation", "support", "revisit", "flock_logp",
    )

    def __init__(self, n_modes: int = 1) -> None:
        self.next_number = 1
        self.number: NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        #: ENU state [e, n, u, ve, vn, vu] at time ``t`` (the last update: states are not advanced without data).
        self.x: Array = np.zeros((0, 6))
        self.p: Array = np.zeros((0, 6, 6))
        #: IMM: per-mode states (N, r, 6), covariances (N, r, 6, 6) and mode probabilities (N, r); x, p combine them.
        self.xm: Array = np.zeros((0, n_modes, 6))
        self.pm: Array = np.zeros((0, n_modes, 6, 6))
        self.mu: Array = np.zeros((0, n_modes))
        self.t: Array = np.zeros(0)
        #: Time of the last update that fixed the position (a plot, a report, or bearings of two sensors):
        #: track management ages tracks by it, since one sensor's bearings alone leave the range free.
        self.t_fix: Array = np.zeros(0)
        self.first_seen: Array = np.zeros(0)
        self.hits: NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        #: Track score: the summed log-likelihood ratios (target against clutter; a plot's amplitude against clutter
        #: or a new target) of the detections since birth; a radar-born track's starts with its first plot's amplitude.
        self.score: Array = np.zeros(0)
        self.status: NDArray[np.int8] = np.zeros(0, dtype=np.int8)
        #: Normalised log-probabilities of (drone, bird, aircraft, unknown).
        self.label_logp: Array = np.zeros((0, N_CLASSES))
        #: Its flock's class as log-likelihoods (``Tracker._share_class``), kept apart from the track's own evidence
        #: in ``label_logp`` so that mates do not count each other's beliefs again at every fix; ``shown_logp`` adds it.
        self.flock_logp: Array = np.zeros((0, N_CLASSES))
        #: Time each known sensor last updated each track (NaN: never); columns follow ``sensor_ids``.
        self.sensor_last: Array = np.zeros((0, 0))
        #: Started by crossing bearings: bearing updates count towards confirmation (no other sensor may see it).
        self.from_bearings: NDArray[np.bool_] = np.zeros(0, dtype=bool)
        #: Radar amplitude: the summed excess power over the threshold, ``(P - T) / T · (r / 1 km)⁴``, of the
        #: ``plots`` radar plots that reported an SNR, and the range of the last of them (m; NaN: none).
        self.excess: Array = np.zeros(0)
        self.plots: NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self.radar_range: Array = np.zeros(0)
        #: Time of the last plot or position report (-inf: none yet, a track started by crossing bearings).
        self.t_point: Array = np.zeros(0)
        #: Time the track last took its formation's velocity (``Tracker._hold_formation``; -inf: never): once per time.
        self.t_formation: Array = np.zeros(0)
        #: The summed log-likelihood ratios of the bearings a track took since its last fix: the evidence that its
        #: target is still there while the radar misses it (``Tracker._tentative_life``).
        self.support: Array = np.zeros(0)
        #: Scan period of the sensor whose plot or report last fixed the track, s: how often a fix is due.
        self.revisit: Array = np.zeros(0)
        self.sensor_ids: list[str] = []
        self._sensor_column: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.number)

    @property
    def ids(self) -> list[str]:
        """Public ids of all rows, in row order."""
        return list(map(track_id, self.number.tolist()))

    def sensor_column(self, sensor_id: str) -> int:
        """Column of ``sensor_id`` in ``sensor_last``, adding one for a new sensor."""
        column = self._sensor_column.get(sensor_id)
        if column is None:
            column = len(self.sensor_ids)
            self._sensor_column[sensor_id] = column
            self.sensor_ids.append(sensor_id)
            self.sensor_last = np.concatenate([self.sensor_last, np.full((len(self), 1), np.nan)], axis=1)
        return column

    def add(self, x: Array, p: Array, mu: ArrayLike, t: float, label_logp: Array, sensor_id: str, hits: int = 1,
            from_bearings: bool = False, score: float | Array = 0.0, excess: Array | None = None,
            radar_range: Array | None = None, revisit: float = 1.0) -> NDArray[np.int64]:
        """Append k tentative tracks updated by ``sensor_id`` at ``t`` with ``hits`` and ``score`` (one, or k), every mode
        at (x, p) with probabilities ``mu`` (r,), the radar amplitude ``excess`` of plots at ``radar_range`` (k,)
        (NaN or None: no SNR) and a fix due every ``revisit`` s; return their numbers."""
        mu = np.asarray(mu, dtype=float)
        k, n = len(x), len(self)
        column = self.sensor_column(sensor_id)
        numbers = np.arange(self.next_number, self.next_number + k, dtype=np.int64)
        self.next_number += k
        sensor_last = np.full((k, len(self.sensor_ids)), np.nan)
        sensor_last[:, column] = t
        amplitude = np.full(k, np.nan) if excess is None else np.asarray(excess, dtype=float)
        known = ~np.isnan(amplitude)
        # Each field's new rows: rows (k, ...) or one value that broadcasts over them (the modes take x, p alike).
        new = {
            "number": numbers, "x": x, "p": p, "xm": x[:, None], "pm": p[:, None], "mu": mu, "t": t, "t_fix": t,
            "first_seen": t, "hits": hits, "score": score, "status": TENTATIVE, "label_logp": label_logp,
            "sensor_last": sensor_last, "from_bearings": from_bearings, "t_point": -np.inf if from_bearings else t,
            "t_formation": -np.inf, "support": 0.0, "revisit": revisit, "flock_logp": 0.0,
            "excess": np.where(known, amplitude, 0.0), "plots": known,
            "radar_range": np.where(known, np.nan if radar_range is None else radar_range, np.nan),
        }
        for name in self.ROW_FIELDS:
            # Filling an empty array costs less than building each field's new rows and concatenating.
            old = getattr(self, name)
            grown = np.empty((n + k, *old.shape[1:]), dtype=old.dtype)
            grown[:n] = old
            grown[n:] = new[name]
            setattr(self, name, grown)
        return numbers

    @property
    def shown_logp(self) -> Array:
        """The label's normalised log-probabilities as operators see them (tracks messages, threat): the track's own
        evidence (``label_logp``) with its flock's (``flock_logp``); a track without flock evidence shows its own
        bit for bit (renormalising it would move the last bit). Not floored at ``class_min_p``."""
        flocking = self.flock_logp.any(axis=1, keepdims=True)
        if not flocking.any():
            return self.label_logp
        logp = self.label_logp + self.flock_logp
        # np.logaddexp.reduce(logp, axis=1) folded column by column, in its order: the same numbers at half the cost
        # (a reduction over a 4-long axis runs its loop once per row).
        total = logp[:, 0]
        for column in range(1, logp.shape[1]):
            total = np.logaddexp(total, logp[:, column])
        return np.where(flocking, logp - total[:, None], self.label_logp)

    def drifted(self, now: float) -> Array:
        """Every track's position (N, 3) carried from its state's time to ``now`` at its velocity: the cheap
        constant-velocity stand-in that bounds and candidate searches use before any prediction."""
        return self.x[:, :3] + self.x[:, 3:] * (now - self.t)[:, None]

    def keep(self, mask: NDArray[np.bool_]) -> None:
        """Compact the table to the rows where ``mask`` is true, preserving their order."""
        rows = np.flatnonzero(mask)  # one ``take`` per field costs half of a boolean index per field
        for name in self.ROW_FIELDS:
            setattr(self, name, getattr(self, name).take(rows, axis=0))

    def recent_sensor_lists(self, now: float, recent_s: float) -> list[list[str]]:
        """For every row, the sorted ids of the sensors that updated it within ``recent_s`` of ``now``.

        Rows with the same sensors share one list, built once per pattern of sensors (the tracks of a scene are
        seen by a few combinations of its sensors): a list per row cost five times as much."""
        order = sorted(range(len(self.sensor_ids)), key=self.sensor_ids.__getitem__)
        names = [self.sensor_ids[c] for c in order]
        if not names or not len(self):
            return [[] for _ in range(len(self))]
        recent = self.sensor_last[:, order] >= now - recent_s
        packed = np.ascontiguousarray(np.packbits(recent, axis=1))
        patterns = packed.view(np.dtype((np.void, packed.shape[1]))).reshape(-1).tolist()  # one bytes per row
        lists: dict[bytes, list[str]] = {}
        out = []
        for row, pattern in enumerate(patterns):
            sensors = lists.get(pattern)
            if sensors is None:
                sensors = lists[pattern] = list(compress(names, recent[row].tolist()))
            out.append(sensors)
        return out
