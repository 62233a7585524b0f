"""Detections of a scenario recording in the site ENU frame, for the benchmark's reference trackers.

Each sensor measures in the ENU frame at its own origin; the site frame differs from it by a
translation and a small rotation (``LocalFrame.transform_to``). Every detection is turned into
a point (radar, Remote ID) or a direction (bearings) in site axes, and radar detections also
into range, bearing and elevation about the sensor *in site axes*, so that a tracker working
in the site frame (Stone Soup, the floor filter) sees exactly what the sensor measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from fusion.config import FusionConfig
from fusion.eval import EstimateFrame, Estimates
from fusion.geo import LocalFrame, polar_to_enu
from fusion.protocol import Detection, DetectionsMessage

Array = NDArray[np.float64]
ScanKind = Literal["radar", "position", "bearing"]

#: Remote ID's "altitude unknown".
UNKNOWN_ALTITUDE_M = -1000.0
#: Stand-in sigma of a missing elevation or altitude (the component carries no information).
NO_INFORMATION_SIGMA = 1e4


@dataclass(frozen=True)
class SiteScan:
    """Detections of one kind from one message, in site axes.

    radar: ``z`` is (range m, bearing rad counter-clockwise from east, elevation rad) about the
    sensor, ``point`` the measured position; position: ``z`` and ``point`` the position;
    bearing: ``z`` is (azimuth rad clockwise from north, elevation rad), ``point`` a unit vector.
    ``sigma`` has one column per component of ``z`` (radians for angles).
    """

    time: float
    sensor_id: str
    kind: ScanKind
    origin: Array
    z: Array
    sigma: Array
    point: Array
    truth_ids: tuple[str | None, ...]


def _sigma(dets: list[Detection], name: str, default: float) -> Array:
    return np.array([default if d.sigma is None or getattr(d.sigma, name) is None else getattr(d.sigma, name)
                     for d in dets], dtype=float)


def _angles(direction: Array) -> tuple[Array, Array]:
    """Azimuth clockwise from north and elevation (radians) of site-axes vectors (n, 3)."""
    return np.arctan2(direction[:, 0], direction[:, 1]), np.arctan2(direction[:, 2], np.hypot(direction[:, 0],
                                                                                               direction[:, 1]))


def site_scans(msg: DetectionsMessage, site: LocalFrame, config: FusionConfig | None = None) -> list[SiteScan]:
    """The scans of one detections message (an RF message may give a position and a bearing scan)."""
    sig = getattr((config or FusionConfig()).sigma, msg.kind)
    if msg.origin is not None:
        sensor = LocalFrame(msg.origin.lat, msg.origin.lon, msg.origin.alt_m)
        rotation, _ = site.transform_to(sensor)
        origin = site.from_geodetic(sensor.lat, sensor.lon, sensor.alt_m)
    else:
        rotation, origin = np.eye(3), np.zeros(3)
    positions = [d for d in msg.detections if d.position is not None]
    angles = [d for d in msg.detections if d.position is None]
    scans = []
    if positions:
        has_alt = np.array([d.position.alt_m != UNKNOWN_ALTITUDE_M for d in positions])  # type: ignore[union-attr]
        point = site.from_geodetic([d.position.lat for d in positions], [d.position.lon for d in positions],  # type: ignore[union-attr]
                                   [d.position.alt_m if a else site.alt_m for d, a in zip(positions, has_alt)])  # type: ignore[union-attr]
        std = np.repeat(_sigma(positions, "position_m", sig.position_m)[:, None], 3, axis=1)
        std[~has_alt, 2] = NO_INFORMATION_SIGMA
        scans.append(SiteScan(msg.time, msg.sensor_id, "position", origin, point, std, point,
                              tuple(d.truth_id for d in positions)))
    if angles:
        az = np.array([d.azimuth_deg for d in angles], dtype=float)
        has_el = np.array([d.elevation_deg is not None for d in angles])
        el = np.array([d.elevation_deg or 0.0 for d in angles], dtype=float)
        el_std = np.where(has_el, _sigma(angles, "elevation_deg", sig.elevation_deg), NO_INFORMATION_SIGMA)
        az_std = _sigma(angles, "azimuth_deg", sig.azimuth_deg)
        ids = tuple(d.truth_id for d in angles)
        if msg.kind == "radar":
            rng = np.array([d.range_m for d in angles], dtype=float)
            rel = polar_to_enu(rng, az, el) @ rotation  # sensor axes → site axes (rotation is orthonormal)
            az_site, el_site = _angles(rel)
            z = np.stack([rng, np.pi / 2.0 - az_site, el_site], axis=1)
            std = np.stack([_sigma(angles, "range_m", sig.range_m), np.radians(az_std), np.radians(el_std)], axis=1)
            scans.append(SiteScan(msg.time, msg.sensor_id, "radar", origin, z, std, origin + rel, ids))
        else:
            unit = polar_to_enu(np.ones(len(az)), az, el) @ rotation
            az_site, el_site = _angles(unit)
            std = np.radians(np.stack([az_std, el_std], axis=1))
            scans.append(SiteScan(msg.time, msg.sensor_id, "bearing", origin,
                                  np.stack([az_site, el_site], axis=1), std, unit, ids))
    return scans


@dataclass(frozen=True)
class Snapshot:
    """A tracker's established tracks right after one step: ids and states (k, 6) = position, velocity."""

    time: float
    ids: tuple[str, ...]
    x: Array


def estimates_on_grid(grid: Array, snapshots: list[Snapshot]) -> Estimates:
    """Estimate frames at the grid times (the latest snapshot predicted at constant velocity), and at each snapshot
    that shows an established track the one before did not, so that a confirmation is dated by the step that made
    it, as Sargas's tracks message at a confirming scan dates its own (``Estimates.first_shown``)."""
    times = np.array([s.time for s in snapshots])
    frames: list[tuple[float, int, EstimateFrame]] = []  # (time, 0 for a snapshot's frame, 1 for the grid's, frame)
    for t in grid.tolist():
        k = int(np.searchsorted(times, t, side="right")) - 1
        if k < 0:
            frames.append((t, 1, EstimateFrame(t, (), np.zeros((0, 3)), ())))
            continue
        snap = snapshots[k]
        pos = snap.x[:, :3] + snap.x[:, 3:] * (t - snap.time)
        frames.append((t, 1, EstimateFrame(t, snap.ids, pos.reshape(-1, 3), (None,) * len(snap.ids))))
    shown: set[str] = set()
    for snap in snapshots:
        if not shown.issuperset(snap.ids):
            frames.append((snap.time, 0, EstimateFrame(snap.time, snap.ids, snap.x[:, :3].reshape(-1, 3),
                                                       (None,) * len(snap.ids))))
        shown = set(snap.ids)
    # At equal times the grid's frame comes last, so that ``Estimates.at`` on the grid reads it.
    return Estimates([frame for _, _, frame in sorted(frames, key=lambda f: (f[0], f[1]))])
