"""WGS84 geodetic ⇄ ECEF ⇄ local East-North-Up, vectorised over the leading axes.

Exact conversions (Bowring's closed form for ECEF → geodetic is accurate to well under a
millimetre at the altitudes involved); a flat-earth approximation would be metres off at
the ranges a border line spans.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike, NDArray

A = 6378137.0
F = 1.0 / 298.257223563
B = A * (1.0 - F)
E2 = F * (2.0 - F)
EP2 = E2 / (1.0 - E2)

Array = NDArray[np.float64]


def geodetic_to_ecef(lat_deg: ArrayLike, lon_deg: ArrayLike, alt_m: ArrayLike) -> Array:
    """ECEF coordinates (…, 3) of geodetic points."""
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    alt = np.asarray(alt_m, dtype=float)
    sin_lat, cos_lat = np.sin(lat), np.cos(lat)
    n = A / np.sqrt(1.0 - E2 * sin_lat**2)
    return np.stack([(n + alt) * cos_lat * np.cos(lon), (n + alt) * cos_lat * np.sin(lon),
                     (n * (1.0 - E2) + alt) * sin_lat], axis=-1)


def ecef_to_geodetic(xyz: ArrayLike) -> tuple[Array, Array, Array]:
    """Latitude, longitude (degrees) and altitude (m) of ECEF points (…, 3)."""
    xyz = np.asarray(xyz, dtype=float)
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    p = np.hypot(x, y)
    theta = np.arctan2(z * A, p * B)
    lat = np.arctan2(z + EP2 * B * np.sin(theta) ** 3, p - E2 * A * np.cos(theta) ** 3)
    lon = np.arctan2(y, x)
    sin_lat = np.sin(lat)
    n = A / np.sqrt(1.0 - E2 * sin_lat**2)
    cos_lat = np.cos(lat)
    with np.errstate(divide="ignore", invalid="ignore"):
        alt = np.where(np.abs(cos_lat) > 1e-9, p / cos_lat - n, np.abs(z) - B)
    return np.degrees(lat), np.degrees(lon), alt


def enu_rotation(lat_deg: float, lon_deg: float) -> Array:
    """Rotation matrix taking ECEF vectors to the local ENU frame at (lat, lon)."""
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    sl, cl, so, co = np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)
    return np.array([[-so, co, 0.0], [-sl * co, -sl * so, cl], [cl * co, cl * so, sl]])


def _frozen(array: Array) -> Array:
    array.flags.writeable = False
    return array


@dataclass(frozen=True)
class LocalFrame:
    """A local ENU frame (metres) tangent to the ellipsoid at an origin.

    Its rotation and ECEF origin are computed once per frame (every conversion needs them) and
    are read-only arrays shared by all callers.
    """

    lat: float
    lon: float
    alt_m: float

    @cached_property
    def rotation(self) -> Array:
        return _frozen(enu_rotation(self.lat, self.lon))

    @cached_property
    def ecef_origin(self) -> Array:
        return _frozen(geodetic_to_ecef(self.lat, self.lon, self.alt_m))

    def from_geodetic(self, lat: ArrayLike, lon: ArrayLike, alt_m: ArrayLike) -> Array:
        """ENU coordinates (…, 3) of geodetic points."""
        return (geodetic_to_ecef(lat, lon, alt_m) - self.ecef_origin) @ self.rotation.T

    def to_geodetic(self, enu: ArrayLike) -> tuple[Array, Array, Array]:
        """Geodetic coordinates of ENU points (…, 3)."""
        return ecef_to_geodetic(np.asarray(enu, dtype=float) @ self.rotation + self.ecef_origin)

    def transform_to(self, other: LocalFrame) -> tuple[Array, Array]:
        """(M, b) with ``p_other = M @ p_self + b``: an exact affine map between two ENU frames."""
        m = other.rotation @ self.rotation.T
        b = other.rotation @ (self.ecef_origin - other.ecef_origin)
        return m, b

    def rotate_vectors_to(self, other: LocalFrame, v: ArrayLike) -> Array:
        """Express ENU vectors (…, 3) of this frame (e.g. velocities) in ``other``'s axes."""
        m, _ = self.transform_to(other)
        return np.asarray(v, dtype=float) @ m.T


def enu_to_polar(enu: ArrayLike) -> tuple[Array, Array, Array]:
    """Slant range (m), azimuth clockwise from north in [0, 360) and elevation (degrees)."""
    enu = np.asarray(enu, dtype=float)
    e, n, u = enu[..., 0], enu[..., 1], enu[..., 2]
    rng = np.sqrt(e * e + n * n + u * u)
    az = np.degrees(np.arctan2(e, n)) % 360.0
    az = np.where(az >= 360.0, 0.0, az)  # (-tiny) % 360 rounds to 360, outside [0, 360)
    el = np.degrees(np.arctan2(u, np.hypot(e, n)))
    return rng, az, el


def polar_to_enu(range_m: ArrayLike, azimuth_deg: ArrayLike, elevation_deg: ArrayLike) -> Array:
    """ENU vectors (…, 3) from range, azimuth and elevation."""
    r = np.asarray(range_m, dtype=float)
    az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
    ground = r * np.cos(el)
    return np.stack([ground * np.sin(az), ground * np.cos(az), r * np.sin(el)], axis=-1)
