"""An acoustic array: bearings (azimuth and elevation) and a class from the sound's signature.

Sound pressure level falls with spherical spreading (20 log10 R) and air absorption; the
probability of detection is logistic in the SNR over the array's noise floor. Acoustic
signatures separate rotors from wing beats well, so ``class_probs`` are a strong hint.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fusion.geo import enu_to_polar
from fusion.protocol import Detection, Sigma
from simulators.scenario import AcousticConfig
from simulators.sensors.base import DB_DP, DEGREES_DP, UNKNOWN, Sensor, class_probs, rounded, wire_azimuth
from simulators.targets import TruthState

Array = NDArray[np.float64]


class AcousticArray(Sensor[AcousticConfig]):
    """A microphone array within about 1.5 km."""

    kind = "acoustic"

    @cached_property
    def sigma(self) -> Sigma:
        """The configured bearing noise, sent with every detection."""
        return Sigma(azimuth_deg=self.config.noise.azimuth_deg, elevation_deg=self.config.noise.elevation_deg)

    def received_level(self, range_m: ArrayLike, source_level_db: ArrayLike) -> Array:
        """Sound pressure level (dB) at the array of a source of ``source_level_db`` at 1 m."""
        r = np.maximum(np.asarray(range_m, dtype=float), 1.0)
        return (np.asarray(source_level_db, dtype=float) - 20.0 * np.log10(r)
                - self.config.detection.absorption_db_per_m * r)

    def detection_probability(self, range_m: ArrayLike, source_level_db: ArrayLike) -> Array:
        """Probability that one update detects a source (zero beyond ``max_range_m``)."""
        det = self.config.detection
        snr = self.received_level(range_m, source_level_db) - det.noise_floor_db
        pd = 1.0 / (1.0 + np.exp(-(snr - det.snr50_db) / det.slope_db))
        return np.where(np.asarray(range_m) <= self.config.max_range_m, pd, 0.0)

    def measure(self, truth: TruthState, update: int) -> list[Detection]:
        cfg, noise, rng = self.config, self.config.noise, self.rng
        pos, _ = self.local(truth)
        r, az, el = enu_to_polar(pos)
        source = self.targets.source_level_db[truth.index]
        pd = self.detection_probability(r, source)
        draw = rng.random(len(r))
        err = rng.standard_normal((len(r), 3)) * [noise.azimuth_deg, noise.elevation_deg, noise.spl_db]
        hit = np.flatnonzero(draw < pd)

        n_false = int(rng.poisson(cfg.false_alarms_per_update))
        fa_spl = (cfg.detection.noise_floor_db + cfg.detection.snr50_db
                  + rng.normal(0.0, cfg.detection.slope_db, n_false))
        azimuths = np.concatenate([az[hit] + err[hit, 0], rng.uniform(0.0, 360.0, n_false)])
        elevations = np.clip(np.concatenate([el[hit] + err[hit, 1], rng.uniform(0.0, 30.0, n_false)]), -90.0, 90.0)
        levels = np.concatenate([self.received_level(r[hit], source[hit]) + err[hit, 2], fa_spl])
        labels = np.concatenate([self.targets.label_index[truth.index[hit]], np.full(n_false, UNKNOWN)])
        probs = class_probs(rng, labels, cfg.class_strength)
        columns = zip(wire_azimuth(azimuths), rounded(elevations, DEGREES_DP), rounded(levels, DB_DP), probs,
                      self.truth_ids(truth, hit, n_false), strict=True)
        return [Detection(azimuth_deg=a, elevation_deg=e, spl_db=s, sigma=self.sigma, class_probs=p, truth_id=i)
                for a, e, s, p, i in columns]
