"""RF sensors: a direction finder for drone control links, and a Remote ID receiver.

The direction finder hears emitters whose received power (EIRP minus free-space path loss,
with log-normal shadowing) beats its sensitivity, and reports a noisy bearing with a stable
emitter id. The Remote ID receiver decodes what cooperative drones broadcast: their GNSS
position and velocity (with GNSS-like errors), serial number and operator position.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fusion.geo import enu_to_polar
from fusion.protocol import Detection, Position, Sigma, Velocity
from fusion.protocol.models import ClassProbs
from simulators.scenario import RemoteIdConfig, RfDfConfig
from simulators.sensors.base import DB_DP, LATLON_DP, UNKNOWN, Sensor, class_probs, rounded, wire_azimuth
from simulators.targets import TruthState, to_geodetic

Array = NDArray[np.float64]

#: Wi-Fi and common drone-link channels that spurious emitters are drawn from, MHz.
SPURIOUS_FREQS_MHZ = (2412.0, 2437.0, 2462.0, 5745.0, 5785.0, 5825.0)
#: ASTM F3411 Remote ID's "unknown" altitude (and operator altitude); an unknown position is lat 0, lon 0.
UNKNOWN_ALTITUDE_M = -1000.0
#: Class probabilities of a decoded Remote ID broadcast: only drones send them.
REMOTE_ID_CLASS: ClassProbs = {"drone": 0.99, "unknown": 0.01}


def free_space_loss_db(range_m: ArrayLike, freq_mhz: ArrayLike) -> Array:
    """Free-space path loss in dB (range in metres, frequency in MHz)."""
    r = np.maximum(np.asarray(range_m, dtype=float), 1.0)
    return 20.0 * np.log10(r) + 20.0 * np.log10(np.asarray(freq_mhz, dtype=float)) - 27.55


class RfDirectionFinder(Sensor[RfDfConfig]):
    """Bearings to the RF links of drones that emit (``emits_rf``)."""

    kind = "rf"

    @cached_property
    def sigma(self) -> Sigma:
        """The configured bearing noise, sent with every detection."""
        return Sigma(azimuth_deg=self.config.noise.azimuth_deg)

    def measure(self, truth: TruthState, update: int) -> list[Detection]:
        cfg, noise, rng = self.config, self.config.noise, self.rng
        pos, _ = self.local(truth)
        r, az, _ = enu_to_polar(pos)
        idx = truth.index
        rssi = (self.targets.rf_eirp_dbm[idx] - free_space_loss_db(r, self.targets.rf_freq_mhz[idx])
                + rng.normal(0.0, noise.shadowing_db, len(r)))
        az_err = rng.normal(0.0, noise.azimuth_deg, len(r))
        hit = np.flatnonzero(self.targets.emits_rf[idx] & (r <= cfg.max_range_m)
                             & (rssi >= cfg.detection.sensitivity_dbm))

        n_false = int(rng.poisson(cfg.false_alarms_per_update))
        fa_az = rng.uniform(0.0, 360.0, n_false)
        fa_rssi = cfg.detection.sensitivity_dbm + rng.exponential(3.0, n_false)
        fa_freq = rng.choice(np.array(SPURIOUS_FREQS_MHZ), n_false)
        fa_ids = [f"em-{v:08x}" for v in rng.integers(0, 2**32, n_false).tolist()]

        azimuths = wire_azimuth(np.concatenate([az[hit] + az_err[hit], fa_az]))
        levels = rounded(np.concatenate([rssi[hit], fa_rssi]), DB_DP)
        freqs = np.concatenate([self.targets.rf_freq_mhz[idx[hit]], fa_freq]).tolist()
        emitters = [self.targets.emitter_ids[i] for i in idx[hit].tolist()] + fa_ids
        protocols: list[str | None] = [self.targets.rf_protocol[i] for i in idx[hit].tolist()] + [None] * n_false
        labels = np.concatenate([self.targets.label_index[idx[hit]], np.full(n_false, UNKNOWN)])
        probs = class_probs(rng, labels, cfg.class_strength)
        columns = zip(azimuths, levels, freqs, emitters, protocols, probs, self.truth_ids(truth, hit, n_false),
                      strict=True)
        return [Detection(azimuth_deg=a, rssi_dbm=s, freq_mhz=f, emitter_id=e, protocol=p, sigma=self.sigma,
                          class_probs=c, truth_id=i)
                for a, s, f, e, p, c, i in columns]


class RemoteIdReceiver(Sensor[RemoteIdConfig]):
    """Decoded Remote ID broadcasts of cooperative drones (``remote_id``) within range."""

    kind = "rf"

    @cached_property
    def sigma(self) -> Sigma:
        """The configured horizontal position error, sent with every detection."""
        return Sigma(position_m=self.config.noise.position_m)

    def measure(self, truth: TruthState, update: int) -> list[Detection]:
        cfg, noise, rng = self.config, self.config.noise, self.rng
        pos, _ = self.local(truth)
        r = np.linalg.norm(pos, axis=1)
        idx = truth.index
        received = rng.random(len(r)) < cfg.detection_probability
        pos_err = rng.standard_normal((len(r), 3)) * [noise.position_m, noise.position_m, noise.altitude_m]
        vel_err = rng.normal(0.0, noise.velocity_mps, (len(r), 3))
        hit = np.flatnonzero(self.targets.remote_id[idx] & (r <= cfg.max_range_m) & received)
        if len(hit) == 0:
            return []
        lat, lon, alt, vel = to_geodetic(self.site, truth.enu[hit] + pos_err[hit], truth.vel[hit] + vel_err[hit])
        op_lat, op_lon, op_alt = self.site.to_geodetic(self.targets.operator_enu[idx[hit]])
        alt = np.where(self.targets.unknown_altitude[idx[hit]], UNKNOWN_ALTITUDE_M, alt)
        no_operator = self.targets.unknown_operator[idx[hit]]
        op_lat, op_lon = np.where(no_operator, 0.0, op_lat), np.where(no_operator, 0.0, op_lon)
        op_alt = np.where(no_operator, UNKNOWN_ALTITUDE_M, op_alt)
        columns = zip(rounded(lat, LATLON_DP), rounded(lon, LATLON_DP), rounded(alt, DB_DP),
                      rounded(vel, DB_DP), rounded(op_lat, LATLON_DP), rounded(op_lon, LATLON_DP),
                      rounded(op_alt, DB_DP), idx[hit].tolist(), strict=True)
        return [Detection(position=Position(lat=la, lon=lo, alt_m=al),
                          velocity=Velocity(east_mps=v[0], north_mps=v[1], up_mps=v[2]),
                          uas_id=self.targets.uas_ids[i],
                          operator_position=Position(lat=ola, lon=olo, alt_m=oal),
                          protocol="astm-f3411", sigma=self.sigma, class_probs=REMOTE_ID_CLASS,
                          truth_id=self.targets.ids[i])
                for la, lo, al, v, ola, olo, oal, i in columns]

