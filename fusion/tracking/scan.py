"""What the tracker consumes: one sensor message as arrays in the site ENU frame.

Built by ``fusion.ingest`` from a protocol message; defined here so that the tracking maths
depends on numpy only and can be driven by synthetic arrays in tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from fusion.tracking.measurements import BEARING, POSITION, RADAR, MeasurementModel

Array = NDArray[np.float64]


@dataclass(frozen=True)
class MeasurementBlock:
    """The detections of one scan that share a measurement model.

    ``z`` (n, m) are the measured components (angles in radians), ``mask`` (n, m) says which are
    present, ``r`` (n, m, m) their noise covariances and ``index`` (n,) the detections' positions
    in the message (to find their class evidence and identities).
    """

    model: MeasurementModel
    z: Array
    mask: NDArray[np.bool_]
    r: Array
    index: NDArray[np.intp]

    def __len__(self) -> int:
        return len(self.z)


@dataclass(frozen=True)
class Scan:
    """One sensor message: its time, the sensor pose in the site frame and its measurements.

    ``m``, ``b`` map site ENU to the sensor's ENU (``p_sensor = m @ p_site + b``), in which the
    sensor measures its angles. ``class_probs`` (n, 4) is ordered drone, bird, aircraft, unknown
    (rows without ``has_class`` are zero). ``keys`` holds each detection's identities
    (``"uas:<id>"``, ``"emitter:<id>"``), which bind RF reports to the same track.
    ``max_range_m`` is the sensor's stated coverage range (from its status; infinite if unknown), ``revisit_s`` its
    stated scan period (None if unknown: the tracker's ``revisit_s``).
    ``snr_db`` (n,) is each radar plot's reported signal-to-noise ratio (NaN where absent; empty: none has
    one): the tracker estimates a track's detection probability from it (``Tracker._detection_probability``).
    """

    time: float
    sensor_id: str
    kind: str
    origin: Array
    m: Array
    b: Array
    blocks: tuple[MeasurementBlock, ...]
    class_probs: Array
    has_class: NDArray[np.bool_]
    emitter: NDArray[np.bool_]
    keys: tuple[tuple[str, ...], ...] = field(default=())
    max_range_m: float = math.inf
    revisit_s: float | None = None
    snr_db: Array = field(default_factory=lambda: np.zeros(0))

    @property
    def n_detections(self) -> int:
        return len(self.class_probs)

    def block(self, model: MeasurementModel) -> MeasurementBlock | None:
        """The block of ``model`` if the scan has one (a plain loop: the tracker asks often, a generator cost more)."""
        for b in self.blocks:
            if b.model is model:
                return b
        return None

    @property
    def radar(self) -> MeasurementBlock | None:
        return self.block(RADAR)

    @property
    def bearings(self) -> MeasurementBlock | None:
        return self.block(BEARING)

    @property
    def positions(self) -> MeasurementBlock | None:
        return self.block(POSITION)
