"""What every simulated sensor shares: placement, its own ENU frame, random stream, seq and status.

A sensor measures in the East-North-Up frame at its own origin (as a real one does); the
targets move in the site frame, so each sensor keeps the exact affine map between the two.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fusion.geo import LocalFrame
from fusion.protocol import Coverage, Detection, DetectionsMessage, Position, Sector, SensorStatus
from fusion.protocol.models import ClassProbs, SensorKind, SensorState
from simulators.scenario import AcousticConfig, RadarConfig, RemoteIdConfig, RfDfConfig
from simulators.seeds import derive_rng
from simulators.targets import LABEL_INDEX, LABELS, TargetSet, TruthState

Array = NDArray[np.float64]
Config = TypeVar("Config", RadarConfig, AcousticConfig, RfDfConfig, RemoteIdConfig)

#: Decimal places on the wire: 1 mm, 0.001°, about 1 cm in lat/lon.
METRES_DP = 3
DEGREES_DP = 3
LATLON_DP = 7
DB_DP = 2

UNKNOWN = LABEL_INDEX["unknown"]


def rounded(values: ArrayLike, decimals: int) -> list[Any]:
    """Plain Python floats rounded for the wire (numpy scalars never reach the encoder); no ``-0.0``."""
    return (np.round(np.asarray(values, dtype=float), decimals) + 0.0).tolist()  # type: ignore[no-any-return]


def wire_azimuth(azimuth_deg: ArrayLike) -> list[float]:
    """Azimuths wrapped into [0, 360) *after* rounding, so that 359.9999 never becomes 360.0."""
    az = np.mod(np.round(np.asarray(azimuth_deg, dtype=float), DEGREES_DP), 360.0)
    return np.where(az >= 360.0, 0.0, az).tolist()  # type: ignore[no-any-return]


def class_probs(rng: np.random.Generator, true_label: NDArray[np.intp], strength: float) -> list[ClassProbs]:
    """Noisy class probabilities: Dirichlet with ``strength`` extra weight on the true label.

    With strength 1.5 the true label gets about 45 % on average (a weak hint, as a radar's
    micro-Doppler gives); with 8 about 75 % (an acoustic signature). Each vector is rounded
    down to 0.001, so it sums to at most 1 as the protocol requires.
    """
    alpha = np.ones((len(true_label), len(LABELS)))
    alpha[np.arange(len(true_label)), true_label] += strength
    draws = rng.standard_gamma(alpha)
    probs = np.floor(draws / draws.sum(axis=1, keepdims=True) * 1000.0) / 1000.0
    return [dict(zip(LABELS, row, strict=True)) for row in probs.tolist()]  # type: ignore[misc]


class Sensor(ABC, Generic[Config]):
    """A simulated sensor: ``detect`` turns the true state into one detections message.

    Its updates are numbered from 0; the k-th is sent ``update_offsets_s[k % n]`` after the
    start of period ``k // n`` (``n`` offsets), so that a rotating radar can send several
    sector messages a scan while other sensors send one update a period.
    """

    kind: ClassVar[SensorKind]

    def __init__(self, config: Config, seed: int, site: LocalFrame, targets: TargetSet) -> None:
        self.config: Config = config
        self.id = config.id
        if config.lat is not None:
            lat, lon, alt = float(config.lat), float(config.lon), float(config.alt_m)  # type: ignore[arg-type]
        else:
            glat, glon, galt = site.to_geodetic(config.enu(site))
            lat, lon, alt = float(glat), float(glon), float(galt)
        self.frame = LocalFrame(lat, lon, alt)
        self.site = site
        self.origin = Position(lat=round(lat, LATLON_DP), lon=round(lon, LATLON_DP), alt_m=round(alt, DB_DP))
        self.targets = targets
        self.rng = derive_rng(seed, "sensor", config.id)
        self.phase_s = float(derive_rng(seed, "phase", config.id).uniform(0.0, config.period_s))
        self.seq = 0
        self._to_local, self._offset = site.transform_to(self.frame)

    @property
    def period_s(self) -> float:
        """Time between two detections messages."""
        return self.config.period_s

    @property
    def update_offsets_s(self) -> tuple[float, ...]:
        """When each update of a period is sent, seconds after the period starts: once, at its start."""
        return (0.0,)

    @property
    def coverage(self) -> Coverage:
        return Coverage(max_range_m=self.config.max_range_m, azimuth_min_deg=0.0, azimuth_max_deg=360.0)

    def sector(self, update: int) -> Sector | None:
        """The azimuth span that update ``update`` looked at; None: the whole coverage."""
        return None

    def local(self, truth: TruthState) -> tuple[Array, Array]:
        """Positions and velocities of the present targets in this sensor's ENU frame."""
        return truth.enu @ self._to_local.T + self._offset, truth.vel @ self._to_local.T

    def detect(self, time: float, truth: TruthState, update: int) -> DetectionsMessage:
        """The detections message of update number ``update``, measured at epoch ``time`` from the true state then."""
        message = DetectionsMessage(schema="sargas.detections/1", sensor_id=self.id, kind=self.kind, time=time,
                                    seq=self.seq, origin=self.origin, detections=self.measure(truth, update),
                                    sector=self.sector(update))
        self.seq += 1
        return message

    def status(self, time: float, state: SensorState = "online") -> SensorStatus:
        """The retained heartbeat (or last will, with ``offline``)."""
        return SensorStatus(schema="sargas.sensor_status/1", sensor_id=self.id, kind=self.kind, time=time,
                            state=state, origin=self.origin, coverage=self.coverage, scan_period_s=self.period_s)

    def truth_ids(self, truth: TruthState, hit: NDArray[np.intp], n_false: int) -> list[str | None]:
        """The ``truth_id`` of each detection: the targets hit, then ``None`` for each false alarm."""
        return [self.targets.ids[i] for i in truth.index[hit].tolist()] + [None] * n_false

    @abstractmethod
    def measure(self, truth: TruthState, update: int) -> list[Detection]:
        """Detections (with noise, misses and false alarms) of update number ``update``; draws from ``self.rng``."""
