"""A rotating surveillance radar: range, azimuth, elevation and radial velocity, sector by sector.

Detection follows the radar equation with Swerling-1 (exponentially fluctuating) targets and a
square-law detector: the received power over noise is exponential with mean ``1 + SNR`` and a
detection is declared above the threshold ``T = -ln(Pfa)``, so ``Pd = exp(-T / (1 + SNR))``.
Clutter is a Poisson field: a Poisson number of false alarms per scan, spread uniformly over
the area the radar covers. A target is seen only inside the coverage (range, sector, maximum
elevation) and above the horizon mask, which stands for terrain and trees hiding low flyers.

The beam turns 360° a scan period. The covered span is split into ``sectors_per_scan``
equal sectors, each sent as one message once swept, stamped with its mid time and carrying
its span (``sector``) and only the detections whose measured azimuth is in it. Swerling 1
holds a target's fluctuation for a scan, so each target draws its fluctuation and noise once
a scan and is measured, at most once a scan, in the sector its measured azimuth falls in:
the detection probability per scan is the same whatever the number of sectors. Clutter is
drawn per sector, at the scan's rate over the number of sectors (see docs/simulators.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fusion.geo import LocalFrame, enu_to_polar
from fusion.protocol import Coverage, Detection, Sector, Sigma
from simulators.scenario import RadarConfig
from simulators.sensors.base import DB_DP, DEGREES_DP, METRES_DP, UNKNOWN, Sensor, class_probs, rounded, wire_azimuth
from simulators.targets import TargetSet, TruthState

Array = NDArray[np.float64]


@dataclass(frozen=True)
class _ScanDraws:
    """One scan's draws for every target of the scenario, and which ones a sector has measured yet."""

    number: int
    fluctuation: Array  # (n,) unit exponential: the Swerling-1 power factor, fixed for the scan
    error: Array  # (n, 4) noise on range, azimuth, elevation, radial velocity
    measured: NDArray[np.bool_]  # (n,)


class Radar(Sensor[RadarConfig]):
    """A 360° rotating radar, reported sector by sector as the beam sweeps them."""

    kind = "radar"

    def __init__(self, config: RadarConfig, seed: int, site: LocalFrame, targets: TargetSet) -> None:
        super().__init__(config, seed, site, targets)
        self._scan: _ScanDraws | None = None

    @cached_property
    def sigma(self) -> Sigma:
        """The configured noise, sent with every detection."""
        noise = self.config.noise
        return Sigma(range_m=noise.range_m, azimuth_deg=noise.azimuth_deg,
                     elevation_deg=noise.elevation_deg, radial_velocity_mps=noise.radial_velocity_mps)

    @cached_property
    def threshold(self) -> float:
        """Detection threshold on power over noise for the configured false-alarm probability."""
        return float(-np.log(self.config.detection.false_alarm_probability))

    def mean_snr(self, range_m: ArrayLike, rcs_dbsm: ArrayLike) -> Array:
        """Mean signal-to-noise ratio (linear) of a target of ``rcs_dbsm`` at ``range_m``."""
        det = self.config.detection
        r = np.maximum(np.asarray(range_m, dtype=float), 1.0)
        snr_db = det.reference_snr_db + np.asarray(rcs_dbsm, dtype=float) - 40.0 * np.log10(r / det.reference_range_m)
        return np.power(10.0, snr_db / 10.0)

    @cached_property
    def sector_width_deg(self) -> float:
        """Width of the covered sector, clockwise from ``azimuth_min_deg``; 360 for a full circle."""
        width = (self.config.azimuth_max_deg - self.config.azimuth_min_deg) % 360.0
        return 360.0 if width == 0.0 else width

    @cached_property
    def span_deg(self) -> float:
        """Azimuth width of one sector message: the covered width over ``sectors_per_scan``."""
        return self.sector_width_deg / self.config.sectors_per_scan

    @property
    def update_offsets_s(self) -> tuple[float, ...]:
        """Mid times of the sectors after the beam passes ``azimuth_min_deg`` (the scan's start)."""
        sweep_s = self.config.scan_period_s * self.span_deg / 360.0
        return tuple((j + 0.5) * sweep_s for j in range(self.config.sectors_per_scan))

    def span_start_deg(self, update: int) -> float:
        """Azimuth where the sector of update number ``update`` starts (not wrapped)."""
        return self.config.azimuth_min_deg + (update % self.config.sectors_per_scan) * self.span_deg

    def in_span(self, azimuth_deg: ArrayLike, update: int) -> NDArray[np.bool_]:
        """Whether these azimuths are in the sector of update ``update``; half-open, so each is in one sector."""
        return (np.asarray(azimuth_deg) - self.span_start_deg(update)) % 360.0 < self.span_deg

    @cached_property
    def sectors(self) -> tuple[Sector | None, ...]:
        """Each sector's span as sent; None with one sector a scan (the message covers the whole coverage)."""
        if self.config.sectors_per_scan == 1:
            return (None,)
        starts = [self.span_start_deg(j) for j in range(self.config.sectors_per_scan)]
        ends = np.add(starts, self.span_deg)
        return tuple(Sector(azimuth_min_deg=low, azimuth_max_deg=high)
                     for low, high in zip(wire_azimuth(starts), wire_azimuth(ends), strict=True))

    def sector(self, update: int) -> Sector | None:
        return self.sectors[update % self.config.sectors_per_scan]

    @property
    def coverage(self) -> Coverage:
        cfg = self.config
        return Coverage(max_range_m=cfg.max_range_m, azimuth_min_deg=cfg.azimuth_min_deg,
                        azimuth_max_deg=cfg.azimuth_max_deg)

    def in_sector(self, azimuth_deg: ArrayLike) -> NDArray[np.bool_]:
        """Whether these azimuths are inside the covered sector."""
        return (np.asarray(azimuth_deg) - self.config.azimuth_min_deg) % 360.0 <= self.sector_width_deg

    def horizon(self, azimuth_deg: ArrayLike) -> Array:
        """Elevation of the horizon mask at these azimuths: below it, terrain and trees hide a target."""
        az = np.asarray(azimuth_deg, dtype=float)
        mask = np.full(az.shape, self.config.horizon_deg)
        for sector in self.config.horizon_sectors:
            width = (sector.azimuth_max_deg - sector.azimuth_min_deg) % 360.0 or 360.0
            mask = np.where((az - sector.azimuth_min_deg) % 360.0 <= width, sector.elevation_deg, mask)
        return mask

    def in_coverage(self, range_m: ArrayLike, elevation_deg: ArrayLike, azimuth_deg: ArrayLike = 0.0
                    ) -> NDArray[np.bool_]:
        """Whether points at these ranges, elevations and azimuths are inside the radar's volume and visible."""
        r, el = np.asarray(range_m), np.asarray(elevation_deg)
        cfg = self.config
        return ((r >= cfg.min_range_m) & (r <= cfg.max_range_m) & (el <= cfg.max_elevation_deg)
                & (el >= self.horizon(azimuth_deg)) & self.in_sector(azimuth_deg))

    def detection_probability(self, range_m: ArrayLike, rcs_dbsm: ArrayLike, elevation_deg: ArrayLike = 0.0,
                              azimuth_deg: ArrayLike = 0.0) -> Array:
        """Probability that one scan detects a Swerling-1 target (zero outside coverage or below the horizon)."""
        pd = np.exp(-self.threshold / (1.0 + self.mean_snr(range_m, rcs_dbsm)))
        return np.where(self.in_coverage(range_m, elevation_deg, azimuth_deg), pd, 0.0)

    def clutter(self, n: int, update: int) -> tuple[Array, Array]:
        """Ranges and azimuths of ``n`` clutter points uniform over the area of update ``update``'s sector."""
        cfg, rng = self.config, self.rng
        r2 = rng.uniform(cfg.min_range_m ** 2, cfg.max_range_m ** 2, n)
        return np.sqrt(r2), np.mod(self.span_start_deg(update) + rng.uniform(0.0, self.span_deg, n), 360.0)

    def scan_draws(self, update: int) -> _ScanDraws:
        """The draws of the scan that update ``update`` belongs to, made at its first update."""
        number = update // self.config.sectors_per_scan
        if self._scan is None or self._scan.number != number:
            noise, n = self.config.noise, len(self.targets.ids)
            sigma = [noise.range_m, noise.azimuth_deg, noise.elevation_deg, noise.radial_velocity_mps]
            self._scan = _ScanDraws(number, self.rng.exponential(1.0, n), self.rng.standard_normal((n, 4)) * sigma,
                                    np.zeros(n, dtype=bool))
        return self._scan

    def measure(self, truth: TruthState, update: int) -> list[Detection]:
        cfg, rng = self.config, self.rng
        draws = self.scan_draws(update)
        pos, vel = self.local(truth)
        r, az, el = enu_to_polar(pos)
        err = draws.error[truth.index]
        here = self.in_span(az + err[:, 1], update) & ~draws.measured[truth.index]
        draws.measured[truth.index[here]] = True
        n_false = int(rng.poisson(cfg.false_alarms_per_scan / cfg.sectors_per_scan))
        if not n_false and not here.any():
            return []  # most sectors hold nothing: a shortcut, as sector messages are many
        rcs = self.targets.rcs_dbsm[truth.index]
        mean_snr = self.mean_snr(r, rcs)
        power = draws.fluctuation[truth.index] * (1.0 + mean_snr)
        hit = np.flatnonzero(here & self.in_coverage(r, el, az) & (power > self.threshold))
        radial = np.einsum("ij,ij->i", pos, vel) / np.maximum(r, 1e-9)
        snr_db = 10.0 * np.log10(np.maximum(power[hit] - 1.0, 1e-3))

        fa_r, fa_az = self.clutter(n_false, update)
        fa_snr_db = 10.0 * np.log10(self.threshold - 1.0 + rng.exponential(2.0, n_false))
        fa_rcs = fa_snr_db - cfg.detection.reference_snr_db + 40.0 * np.log10(fa_r / cfg.detection.reference_range_m)

        ranges = np.concatenate([np.maximum(r[hit] + err[hit, 0], 1.0), fa_r])
        azimuths = np.concatenate([az[hit] + err[hit, 1], fa_az])
        elevations = np.clip(np.concatenate([el[hit] + err[hit, 2], rng.uniform(-1.0, 8.0, n_false)]), -90.0, 90.0)
        radials = np.concatenate([radial[hit] + err[hit, 3], rng.normal(0.0, 1.0, n_false)])
        snrs = np.concatenate([snr_db, fa_snr_db])
        rcss = np.concatenate([rcs[hit] + snr_db - 10.0 * np.log10(mean_snr[hit]), fa_rcs])
        labels = np.concatenate([self.targets.label_index[truth.index[hit]], np.full(n_false, UNKNOWN)])
        probs = class_probs(rng, labels, cfg.class_strength)
        truth_ids = self.truth_ids(truth, hit, n_false)

        order = np.argsort(np.mod(azimuths - self.span_start_deg(update), 360.0), kind="stable")  # in sweep order
        columns = zip(rounded(ranges[order], METRES_DP), wire_azimuth(azimuths[order]),
                      rounded(elevations[order], DEGREES_DP), rounded(radials[order], METRES_DP),
                      rounded(rcss[order], DB_DP), rounded(snrs[order], DB_DP), strict=True)
        return [Detection(range_m=rg, azimuth_deg=a, elevation_deg=e, radial_velocity_mps=v, rcs_dbsm=c,
                          snr_db=s, sigma=self.sigma, class_probs=probs[i], truth_id=truth_ids[i])
                for i, (rg, a, e, v, c, s) in zip(order.tolist(), columns, strict=True)]
