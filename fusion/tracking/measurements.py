"""Measurement models h(x) and their analytic Jacobians, batched over tracks.

Three models, each a vector of components with a per-detection mask of which ones are present:

- ``RADAR``: slant range (m), azimuth (rad, clockwise from north), elevation (rad) and
  radial velocity (m/s, positive away), all in the sensor's own ENU frame;
- ``BEARING``: azimuth and elevation (rad) in the sensor's frame (acoustic, RF direction finding);
- ``POSITION``: ENU position and velocity in the site frame (decoded Remote ID / telemetry).

The sensor frame is given by the exact affine map ``p_sensor = M p_site + b`` from
``fusion.geo.LocalFrame.transform_to``; velocities map by ``M`` alone. Angles are in
radians internally; azimuth innovations are wrapped to [-π, π).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

#: Smallest horizontal distance / range used in Jacobians, so a target at the zenith stays finite, m.
_MIN_DISTANCE = 1e-3


@dataclass(frozen=True)
class MeasurementModel:
    """A measurement type: its dimension, which components are angles, and whether it may start tracks."""

    name: str
    dim: int
    angles: tuple[int, ...]
    starts_tracks: bool


RADAR = MeasurementModel("radar", 4, angles=(1,), starts_tracks=True)
BEARING = MeasurementModel("bearing", 2, angles=(0,), starts_tracks=False)
POSITION = MeasurementModel("position", 6, angles=(), starts_tracks=True)


def wrap_angle(a: NDArray[np.float64]) -> Array:
    """Angles wrapped to [-π, π)."""
    return (np.asarray(a) + np.pi) % (2.0 * np.pi) - np.pi


def _angles(p: Array, h: Array) -> tuple[Array, Array, Array]:
    """Azimuth and elevation of sensor-frame positions ``p`` (N, 3), their squared slant range, and their gradients
    w.r.t. the sensor-frame position written into ``h`` (N, 2, ≥3) (``radar_h``'s rows 1-2, ``bearing_h``'s)."""
    e, n, u = p[:, 0], p[:, 1], p[:, 2]
    g2 = np.maximum(e * e + n * n, _MIN_DISTANCE**2)
    g = np.sqrt(g2)
    r2 = g2 + u * u
    west, r2g = -e, r2 * g
    h[:, 0, 0] = n / g2
    h[:, 0, 1] = west / g2
    h[:, 1, 0] = west * u / r2g
    h[:, 1, 1] = -n * u / r2g
    h[:, 1, 2] = g / r2
    return np.arctan2(e, n), np.arctan2(u, g), r2


def _to_site(h: Array, m: Array) -> None:
    """Chain rule through the site → sensor map, in place: the position columns of every row of ``h`` (N, k, 6)
    rotate by M, as one product of all the rows."""
    position = h[:, :, :3]
    position[...] = (position.reshape(-1, 3) @ m).reshape(position.shape)


def radar_h(x: Array, m: Array, b: Array) -> tuple[Array, Array]:
    """Predicted radar measurements (N, 4) and Jacobians (N, 4, 6) w.r.t. the site state."""
    p = x[:, :3] @ m.T + b
    v = x[:, 3:] @ m.T
    h = np.zeros((len(x), 4, 6))
    azimuth, elevation, r2 = _angles(p, h[:, 1:3])
    r = np.sqrt(r2)
    los = p / r[:, None]
    rv = np.einsum("ij,ij->i", los, v)
    z = np.stack([r, azimuth, elevation, rv], axis=1)
    h[:, 0, :3] = los
    h[:, 3, :3] = (v - rv[:, None] * los) / r[:, None]
    # Velocity rotates by M too: its only non-zero row, radial velocity's, is the line of sight (range's position row).
    _to_site(h, m)
    h[:, 3, 3:] = h[:, 0, :3]
    return z, h


def bearing_h(x: Array, m: Array, b: Array) -> tuple[Array, Array]:
    """Predicted azimuth/elevation (N, 2) and Jacobians (N, 2, 6) in the sensor frame: ``radar_h``'s angle rows,
    without its range and radial velocity (a third of the cost of taking them from it)."""
    h = np.zeros((len(x), 2, 6))
    azimuth, elevation, _ = _angles(x[:, :3] @ m.T + b, h)
    _to_site(h, m)
    return np.stack([azimuth, elevation], axis=1), h


def position_h(x: Array) -> tuple[Array, Array]:
    """Predicted site-frame position and velocity (N, 6) and the identity Jacobians (N, 6, 6)."""
    return x.copy(), np.broadcast_to(np.eye(6), (len(x), 6, 6)).copy()


def predict_measurement(model: MeasurementModel, x: Array, m: Array, b: Array) -> tuple[Array, Array]:
    """h(x) and its Jacobian for any model."""
    if model is RADAR:
        return radar_h(x, m, b)
    if model is BEARING:
        return bearing_h(x, m, b)
    return position_h(x)


def polar_to_site(z: Array, m: Array, b: Array) -> Array:
    """Site-ENU positions (n, 3) of range/azimuth/elevation measurements (n, ≥3) of a sensor."""
    r, az, el = z[:, 0], z[:, 1], z[:, 2]
    ground = r * np.cos(el)
    p_sensor = np.empty((len(z), 3))
    p_sensor[:, 0], p_sensor[:, 1], p_sensor[:, 2] = ground * np.sin(az), ground * np.cos(az), r * np.sin(el)
    return (p_sensor - b) @ m


def polar_jacobian(z: Array) -> Array:
    """d(sensor ENU)/d(range, az, el) of shape (n, 3, 3)."""
    r, az, el = z[:, 0], z[:, 1], z[:, 2]
    sa, ca, se, ce = np.sin(az), np.cos(az), np.sin(el), np.cos(el)
    j = np.zeros((len(z), 3, 3))
    j[:, 0, 0], j[:, 0, 1], j[:, 0, 2] = ce * sa, r * ce * ca, -r * se * sa
    j[:, 1, 0], j[:, 1, 1], j[:, 1, 2] = ce * ca, -r * ce * sa, -r * se * ca
    j[:, 2, 0], j[:, 2, 2] = se, r * ce
    return j
