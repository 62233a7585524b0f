"""Zones of a site from GeoJSON, projected to the site's ENU plane, with batched geometry.

A zone is a GeoJSON Feature whose geometry is a Polygon (rings of [lon, lat]) or a
LineString, with properties ``name``, ``kind`` (``border``, ``protected`` or ``corridor``)
and ``buffer_m`` (required for lines: the half-width of the strip; optional for polygons:
a margin around them). Every query takes many points at once and answers for all zones
with array operations over all boundary segments, so scoring stays batched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fusion.geo import LocalFrame

Array = NDArray[np.float64]

ZONE_KINDS: tuple[str, ...] = ("border", "protected", "corridor")
BORDER, PROTECTED, CORRIDOR = range(3)


@dataclass(frozen=True)
class ZoneSpec:
    """One zone as configured: geodetic rings ([lon, lat] per vertex)."""

    name: str
    kind: int
    buffer_m: float
    polygon: bool
    rings: tuple[tuple[tuple[float, float], ...], ...]


def _fail(index: int, what: str) -> ValueError:
    return ValueError(f"zone feature {index}: {what}")


def _position(index: int, value: Any) -> tuple[float, float]:
    if (not isinstance(value, (list, tuple)) or len(value) < 2
            or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in value[:2])):
        raise _fail(index, f"a position must be [lon, lat], not {value!r}")
    lon, lat = float(value[0]), float(value[1])
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise _fail(index, f"[lon, lat] out of range: {value!r}")
    return lon, lat


def _feature(index: int, feature: Any) -> ZoneSpec:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise _fail(index, "not a GeoJSON Feature")
    props = feature.get("properties") or {}
    geometry = feature.get("geometry") or {}
    name, kind, buffer_m = props.get("name"), props.get("kind"), props.get("buffer_m", 0.0)
    if not isinstance(name, str) or not name:
        raise _fail(index, "properties.name must be a non-empty string")
    if kind not in ZONE_KINDS:
        raise _fail(index, f"properties.kind must be one of {', '.join(ZONE_KINDS)}, not {kind!r}")
    if not isinstance(buffer_m, (int, float)) or not math.isfinite(buffer_m) or buffer_m < 0:
        raise _fail(index, f"properties.buffer_m must be a number ≥ 0, not {buffer_m!r}")
    gtype, coords = geometry.get("type"), geometry.get("coordinates")
    if gtype == "Polygon" and isinstance(coords, list) and coords:
        rings = tuple(tuple(_position(index, p) for p in ring) for ring in coords)
        if any(len(ring) < 4 for ring in rings):
            raise _fail(index, "a polygon ring needs at least 4 positions (closed)")
        return ZoneSpec(name, ZONE_KINDS.index(kind), float(buffer_m), True, rings)
    if gtype == "LineString" and isinstance(coords, list) and len(coords) >= 2:
        if buffer_m <= 0:
            raise _fail(index, "a LineString zone needs properties.buffer_m > 0")
        return ZoneSpec(name, ZONE_KINDS.index(kind), float(buffer_m), False,
                        (tuple(_position(index, p) for p in coords),))
    raise _fail(index, "geometry must be a Polygon or a LineString with coordinates")


def parse_zones(geojson: Any) -> list[ZoneSpec]:
    """Validate a zones FeatureCollection; raise ValueError saying which feature is wrong and why."""
    if not isinstance(geojson, dict) or geojson.get("type") != "FeatureCollection" \
            or not isinstance(geojson.get("features"), list):
        raise ValueError("zones must be a GeoJSON FeatureCollection")
    specs = [_feature(i, f) for i, f in enumerate(geojson["features"])]
    names = [s.name for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"zone names must be unique: {', '.join(duplicates)}")
    return specs


class ZoneSet:
    """All zones in the site's ENU plane: boundary segments as arrays, grouped by zone."""

    def __init__(self, specs: list[ZoneSpec], frame: LocalFrame) -> None:
        self.names: tuple[str, ...] = tuple(s.name for s in specs)
        self.kind = np.array([s.kind for s in specs], dtype=np.intp)
        self.buffer = np.array([s.buffer_m for s in specs], dtype=np.float64)
        self.polygon = np.array([s.polygon for s in specs], dtype=bool)
        starts: list[int] = []
        a: list[Array] = []
        b: list[Array] = []
        owner: list[int] = []
        for z, spec in enumerate(specs):
            starts.append(len(a))
            for ring in spec.rings:
                lon, lat = np.array(ring).T
                enu = frame.from_geodetic(lat, lon, np.full(len(lat), frame.alt_m))[:, :2]
                a.extend(enu[:-1])
                b.extend(enu[1:])
                owner.extend([z] * (len(enu) - 1))
        self.starts = np.array(starts, dtype=np.intp)
        self.a = np.array(a, dtype=np.float64).reshape(-1, 2)
        self.b = np.array(b, dtype=np.float64).reshape(-1, 2)
        self.owner = np.array(owner, dtype=np.intp)

    def __len__(self) -> int:
        return len(self.names)

    def boundary_distance(self, points: Array) -> Array:
        """Horizontal distance (m) of each point (m, 2) to each zone's boundary or line: (m, zones)."""
        d = self.b - self.a
        rel = points[:, None, :] - self.a[None, :, :]
        length2 = np.maximum(np.einsum("sk,sk->s", d, d), 1e-12)
        u = np.clip(np.einsum("msk,sk->ms", rel, d) / length2, 0.0, 1.0)
        gap = rel - u[..., None] * d[None, :, :]
        return np.minimum.reduceat(np.hypot(gap[..., 0], gap[..., 1]), self.starts, axis=1)

    def inside_polygon(self, points: Array) -> NDArray[np.bool_]:
        """Even-odd point-in-polygon of each point for each polygon zone (False for lines): (m, zones)."""
        ay, by = self.a[:, 1], self.b[:, 1]
        py = points[:, 1:2]
        crosses = (ay[None, :] > py) != (by[None, :] > py)
        slope = (self.b[:, 0] - self.a[:, 0]) / np.where(by == ay, 1.0, by - ay)
        x_cross = self.a[None, :, 0] + (py - ay[None, :]) * slope[None, :]
        hits = crosses & (points[:, 0:1] < x_cross)
        counts = np.add.reduceat(hits.astype(np.intp), self.starts, axis=1)
        return (counts % 2 == 1) & self.polygon[None, :]

    def contains(self, points: Array, margin_m: float | Array = 0.0) -> NDArray[np.bool_]:
        """Which zones contain each point: inside a polygon, or within its buffer (+ ``margin_m``): (m, zones)."""
        near = self.boundary_distance(points) <= self.buffer[None, :] + margin_m
        return self.inside_polygon(points) | near
