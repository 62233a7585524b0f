"""Strobes: recent bearings that no track explains, kept to be crossed by other sensors' bearings.

A bearing of a sensor is only a line. Until a bearing of another sensor crosses it, it stays
here as a strobe (and the API shows it as one); when a crossing is found both bearings leave
the store and a track starts at the crossing. Strobes older than the crossing window are
forgotten. Rows stay in arrival order, so everything derived from the store is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fusion.tracking.triangulation import Rays

Array = NDArray[np.float64]


@dataclass(frozen=True)
class StrobeView:
    """The strobes to publish: one row per bearing, angles in the sensor's frame (radians)."""

    sensor: NDArray[np.intp]
    time: Array
    origin: Array
    az: Array
    el: Array
    has_el: NDArray[np.bool_]
    sigma_az: Array
    label_logp: Array


class StrobeStore:
    """Bearings not yet explained, as arrays; ``sensor`` is the tracker's sensor column."""

    FIELDS: tuple[str, ...] = ("sensor", "time", "origin", "direction", "n_az", "n_el", "az", "el", "has_el",
                               "var_az", "var_el", "loglik", "max_range")

    def __init__(self, n_classes: int) -> None:
        self.sensor: NDArray[np.intp] = np.zeros(0, dtype=np.intp)
        self.time: Array = np.zeros(0)
        self.origin: Array = np.zeros((0, 3))
        self.direction: Array = np.zeros((0, 3))
        self.n_az: Array = np.zeros((0, 3))
        self.n_el: Array = np.zeros((0, 3))
        self.az: Array = np.zeros(0)
        self.el: Array = np.zeros(0)
        self.has_el: NDArray[np.bool_] = np.zeros(0, dtype=bool)
        self.var_az: Array = np.zeros(0)
        self.var_el: Array = np.zeros(0)
        self.loglik: Array = np.zeros((0, n_classes))
        self.max_range: Array = np.zeros(0)
        self.keys: list[tuple[str, ...]] = []

    def __len__(self) -> int:
        return len(self.time)

    @property
    def rays(self) -> Rays:
        return Rays(self.origin, self.direction, self.n_az, self.n_el)

    def add(self, sensor: int, time: float, r: Rays, z: Array, mask: NDArray[np.bool_], var: Array,
            loglik: Array, keys: list[tuple[str, ...]], max_range: float) -> None:
        """Append bearings of one scan: rays, z (k, 2) az/el, mask (k, 2), variances (k, 2), class evidence,
        and the sensor's coverage range (a crossing farther away is no target of its)."""
        k = len(z)
        new = {"sensor": np.full(k, sensor, dtype=np.intp), "time": np.full(k, time), "origin": r.origin,
               "direction": r.direction, "n_az": r.n_az, "n_el": r.n_el, "az": z[:, 0], "el": z[:, 1],
               "has_el": mask[:, 1], "var_az": var[:, 0], "var_el": var[:, 1], "loglik": loglik,
               "max_range": np.full(k, max_range)}
        for name in self.FIELDS:
            setattr(self, name, np.concatenate([getattr(self, name), new[name]]))
        self.keys.extend(keys)

    def keep(self, mask: NDArray[np.bool_]) -> None:
        """Keep only the rows where ``mask`` is true, in order."""
        if mask.all():  # the usual case: nothing to drop, no copies
            return
        for name in self.FIELDS:
            setattr(self, name, getattr(self, name)[mask])
        self.keys = [key for key, kept in zip(self.keys, mask.tolist()) if kept]

    def latest(self, now: float, max_age: float) -> StrobeView:
        """Strobes of each sensor's most recent scan in the store, if at most ``max_age`` old."""
        latest = np.full(int(self.sensor.max(initial=-1)) + 1, -np.inf)
        np.maximum.at(latest, self.sensor, self.time)
        rows = (self.time == latest[self.sensor]) & (self.time >= now - max_age) & (self.time <= now)
        return StrobeView(self.sensor[rows], self.time[rows], self.origin[rows], self.az[rows], self.el[rows],
                          self.has_el[rows], np.sqrt(self.var_az[rows]), self.loglik[rows])
