"""Protocol detections → measurement arrays in the site ENU frame (a ``Scan`` for the tracker).

Angles stay in the sensor's own local frame, where they were measured; the scan carries the
exact affine map from site ENU to that frame (``LocalFrame.transform_to``), so the tracker's
measurement model is exact at any baseline. Remote ID positions are converted to site ENU
and their velocities rotated from the local frame at the object to the site frame.

Bearing-only detections (acoustic, RF direction finding without a position) become a bearing
block; the tracker updates tracks with them, crosses those of different sensors to start tracks,
and keeps the rest as strobes (see ``fusion.tracking.tracker``). Sensor poses are cached per
origin, since the exact geodesy costs more than a small scan.
Every RF detection is flagged as an emitter (drone evidence): the RF sensors watch drone
control, video and Remote ID links. An RF detection with both a bearing and a position is
used as a position.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from operator import attrgetter
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fusion.config import FusionConfig, SensorSigma
from fusion.geo import LocalFrame
from fusion.protocol import Detection, DetectionsMessage
from fusion.tracking.classify import LABELS
from fusion.tracking.initiation import identity_keys
from fusion.tracking.measurements import BEARING, POSITION, RADAR, MeasurementModel
from fusion.tracking.scan import MeasurementBlock, Scan

Array = NDArray[np.float64]

#: Remote ID's "altitude unknown".
UNKNOWN_ALTITUDE_M = -1000.0

__all__ = ["Scan", "enu_rotations", "ingest"]


def enu_rotations(lat_deg: Array, lon_deg: Array) -> Array:
    """Rotations (n, 3, 3) from ECEF vectors to the local ENU frames at n points (``geo.enu_rotation`` batched)."""
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    sl, cl, so, co = np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)
    rot = np.empty((len(lat), 3, 3))  # filled element by element: a stack per row of the matrix cost twice as much
    rot[:, 0, 0], rot[:, 0, 1], rot[:, 0, 2] = -so, co, 0.0
    rot[:, 1, 0], rot[:, 1, 1], rot[:, 1, 2] = -sl * co, -sl * so, cl
    rot[:, 2, 0], rot[:, 2, 1], rot[:, 2, 2] = cl * co, cl * so, sl
    return rot


def _getter(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """A function reading these attributes of an object as a tuple (``attrgetter`` gives a bare value for one)."""
    if len(names) > 1:
        return attrgetter(*names)
    return lambda obj: tuple(getattr(obj, name) for name in names)


def _columns(dets: list[Detection], names: tuple[str, ...], sigma_names: tuple[str, ...]
             ) -> tuple[Array, NDArray[np.bool_], Array]:
    """Optional numeric fields of the detections as an (n, k) array (0 where absent), its presence mask, and the
    detections' own sigmas of some components (n, j) (NaN where absent), read in one pass over the detections
    into one array: a pass or an array per field cost more than the tracker step of a small scan."""
    fields, sigmas = _getter(names), _getter(sigma_names)
    absent = (None,) * len(sigma_names)
    raw = np.array([(*fields(d), *(absent if d.sigma is None else sigmas(d.sigma))) for d in dets],
                   dtype=float).reshape(len(dets), len(names) + len(sigma_names))
    values, own_sigma = raw[:, :len(names)], raw[:, len(names):]
    present = ~np.isnan(values)  # validated wire numbers are finite: NaN only marks an absent field
    return np.where(present, values, 0.0), present, own_sigma


def _std(own: Array, defaults: tuple[float, ...]) -> Array:
    """Per-detection sigmas (n, k): the detection's own, else the configured default."""
    return np.where(np.isnan(own), np.asarray(defaults, dtype=float), own)


def _block(model: MeasurementModel, z: Array, mask: NDArray[np.bool_], variances: Array,
           index: NDArray[np.intp]) -> MeasurementBlock:
    """A block with diagonal measurement covariances."""
    n, k = variances.shape
    r = np.zeros((n, k, k))
    r.reshape(n, k * k)[:, ::k + 1] = variances  # the diagonals
    return MeasurementBlock(model, z, mask, r, index)


_RADAR_FIELDS = ("range_m", "azimuth_deg", "elevation_deg", "radial_velocity_mps")
#: Factors taking the radar fields' angles to radians, the others unchanged: ``np.radians`` is exactly this product.
_RADAR_RADIANS = np.array([1.0, math.pi / 180.0, math.pi / 180.0, 1.0])
_RADAR_RADIANS.flags.writeable = False
#: Highest ``snr_db`` read, dB: the protocol allows any finite value, but no radar measures 10³⁰ over its noise,
#: and the power ``10^(snr_db / 10)`` of a larger one overflows a float (``fusion.tracking.amplitude``).
MAX_SNR_DB = 300.0
_BEARING_FIELDS = ("azimuth_deg", "elevation_deg")
_ZEROS = (0.0,) * len(LABELS)  # the probability of a label a detection does not name
_NO_CLASS = (math.nan,) * len(LABELS)  # a detection without class evidence


def _radar(dets: list[Detection], index: NDArray[np.intp], sig: SensorSigma) -> tuple[MeasurementBlock, Array]:
    """The radar block and each plot's ``snr_db`` (NaN where absent; at most ``MAX_SNR_DB``), read in one pass."""
    values, present, own = _columns(dets, (*_RADAR_FIELDS, "snr_db"), _RADAR_FIELDS)
    z = values[:, :4] * _RADAR_RADIANS
    mask = present[:, :4].copy()  # range and azimuth are required: present in every validated plot
    std = _std(own, (sig.range_m, sig.azimuth_deg, sig.elevation_deg, sig.radial_velocity_mps)) * _RADAR_RADIANS
    return _block(RADAR, z, mask, std**2, index), np.where(present[:, 4], np.minimum(values[:, 4], MAX_SNR_DB), np.nan)


def _bearings(dets: list[Detection], index: NDArray[np.intp], sig: SensorSigma) -> MeasurementBlock:
    values, present, own = _columns(dets, _BEARING_FIELDS, _BEARING_FIELDS)
    z = np.radians(values)
    mask = present.copy()
    mask[:, 0] = True  # the azimuth is required
    std = np.radians(_std(own, (sig.azimuth_deg, sig.elevation_deg)))
    return _block(BEARING, z, mask, std**2, index)


def _positions(dets: list[Detection], index: NDArray[np.intp], site: LocalFrame,
               sig: SensorSigma) -> MeasurementBlock:
    """The position block of detections that all have a ``position``."""
    places = [d.position for d in dets if d.position is not None]
    lat, lon, alt = np.array([(p.lat, p.lon, p.alt_m) for p in places], dtype=float).reshape(len(dets), 3).T
    has_alt = alt != UNKNOWN_ALTITUDE_M
    enu = site.from_geodetic(lat, lon, np.where(has_alt, alt, site.alt_m))
    has_vel = np.array([d.velocity is not None for d in dets], dtype=bool)
    v_local = np.array([[0.0, 0.0, 0.0] if d.velocity is None else
                        [d.velocity.east_mps, d.velocity.north_mps, d.velocity.up_mps] for d in dets])
    # local ENU at the object → ECEF → site ENU
    v_site = np.einsum("ij,njk,nk->ni", site.rotation, np.swapaxes(enu_rotations(lat, lon), 1, 2), v_local)
    z = np.concatenate([enu, v_site], axis=1)
    mask = np.concatenate([np.ones((len(dets), 2), dtype=bool), has_alt[:, None],
                           np.repeat(has_vel[:, None], 3, axis=1)], axis=1)
    _, _, own = _columns(dets, (), ("position_m",))
    pos_std = _std(own, (sig.position_m,))[:, 0]
    std = np.concatenate([np.repeat(pos_std[:, None], 3, axis=1), np.full((len(dets), 3), sig.velocity_mps)], axis=1)
    return _block(POSITION, z, mask, std**2, index)


@lru_cache(maxsize=256)
def _sensor_pose(site: LocalFrame, sensor: LocalFrame) -> tuple[Array, Array, Array]:
    """(M, b) from site ENU to the sensor's ENU and the sensor's site-ENU origin; cached, since
    sensors rarely move and the exact geodesy costs more than ingesting a small scan."""
    pose = (*site.transform_to(sensor), np.asarray(site.from_geodetic(sensor.lat, sensor.lon, sensor.alt_m), dtype=float))
    for array in pose:
        array.flags.writeable = False  # shared by every scan of the sensor
    return pose


def ingest(msg: DetectionsMessage, site: LocalFrame, config: FusionConfig, max_range_m: float = math.inf,
           revisit_s: float | None = None) -> Scan:
    """The scan of one validated detections message, in the frame of ``site``; ``max_range_m`` and ``revisit_s``
    are the sensor's coverage range and scan period from its latest status, if it sent them."""
    dets = list(msg.detections)
    sig: SensorSigma = getattr(config.sigma, msg.kind)
    if msg.origin is not None:
        m, b, origin = _sensor_pose(site, LocalFrame(msg.origin.lat, msg.origin.lon, msg.origin.alt_m))
    else:
        m, b, origin = np.eye(3), np.zeros(3), np.zeros(3)

    if msg.kind == "radar":
        groups = [(RADAR, np.arange(len(dets), dtype=np.intp))]
    else:
        has_position = np.array([d.position is not None for d in dets], dtype=bool)
        groups = [(POSITION, has_position.nonzero()[0]), (BEARING, (~has_position).nonzero()[0])]
    blocks = []
    snr_db = np.zeros(0)
    for model, index in groups:
        if len(index) == 0:
            continue
        chosen = dets if len(index) == len(dets) else [dets[i] for i in index.tolist()]
        if model is RADAR:
            block, snr_db = _radar(chosen, index, sig)
            blocks.append(block)
        elif model is BEARING:
            blocks.append(_bearings(chosen, index, sig))
        else:
            blocks.append(_positions(chosen, index, site, sig))

    # One pass for the class evidence (NaN rows: none given) and one for the identities, which most detections lack.
    raw = np.array([_NO_CLASS if d.class_probs is None else tuple(map(d.class_probs.get, LABELS, _ZEROS))
                    for d in dets], dtype=float).reshape(len(dets), len(LABELS))
    has_class = ~np.isnan(raw[:, 0])  # validated probabilities are finite: NaN only marks an absent field
    probs = np.where(has_class[:, None], raw, 0.0)
    identified = any(d.uas_id or d.emitter_id for d in dets)
    keys = tuple(identity_keys(d.uas_id, d.emitter_id) for d in dets) if identified else ()
    return Scan(
        time=msg.time, sensor_id=msg.sensor_id, kind=msg.kind, origin=np.asarray(origin, dtype=float),
        m=m, b=b, blocks=tuple(blocks), class_probs=probs, has_class=has_class,
        emitter=np.full(len(dets), msg.kind == "rf"),
        keys=keys, max_range_m=max_range_m, revisit_s=revisit_s, snr_db=snr_db,
    )
