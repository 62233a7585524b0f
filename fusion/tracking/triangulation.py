"""Bearing lines and their crossing: where bearing-only sensors (acoustic, RF direction finding) put a target.

A bearing is a ray from its sensor's origin. Each measured angle constrains the target to a
plane through the ray: the azimuth to the vertical plane, whose unit normal is ``n_az``; the
elevation to the plane through the ray perpendicular to that one, normal ``n_el``. The
signed distance ``nᵀ(p - o)`` of a point from such a plane is the angle error times the
distance (horizontal distance for azimuth, slant range for elevation), so its variance is
``(distance · σ)²`` plus any extra lateral variance (the target's motion since an older
bearing). Weighted least squares over the planes of two or more bearings gives a position
and its covariance; the weights depend on the distances, so the solution is iterated.

The small-target altitude prior is one more constraint on every crossing. A crossing is
rejected when the horizontal geometry is degenerate (rays too close to parallel), when the point
is behind a sensor, or (by the caller) when the residual χ² is too large for the bearings and the
prior to see one object.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

#: Smallest distance used in the weights, so a point on a sensor stays finite, m.
_MIN_DISTANCE = 1.0
#: Range assumed for the first, angle-only weighting, m.
_FIRST_RANGE = 1000.0


@dataclass(frozen=True)
class Rays:
    """Bearing rays in the site ENU frame, any leading shape: origins, unit directions and plane normals."""

    origin: Array  # (..., 3)
    direction: Array  # (..., 3)
    n_az: Array  # (..., 3) normal of the azimuth plane (horizontal in the sensor's frame)
    n_el: Array  # (..., 3) normal of the elevation plane


def rays(az: Array, el: Array, m: Array, origin: Array) -> Rays:
    """Rays of azimuths/elevations (n,) in radians measured in a sensor frame ``p_s = m p_site + b``.

    Directions and normals are built in the sensor's own frame, where the angles are defined,
    then rotated into the site frame by ``mᵀ``. A missing elevation should be passed as 0.
    """
    sa, ca, se, ce = np.sin(az), np.cos(az), np.sin(el), np.cos(el)
    zero = np.zeros_like(az)
    direction = np.stack([ce * sa, ce * ca, se], axis=-1) @ m
    n_az = np.stack([ca, -sa, zero], axis=-1) @ m
    n_el = np.stack([-se * sa, -se * ca, ce], axis=-1) @ m
    return Rays(np.broadcast_to(origin, direction.shape).copy(), direction, n_az, n_el)


@dataclass(frozen=True)
class Crossing:
    """Result of triangulating k sets of bearings."""

    position: Array  # (k, 3)
    covariance: Array  # (k, 3, 3)
    chi2: Array  # (k,) weighted squared residuals
    dof: NDArray[np.intp]  # (k,) constraints minus 3 (the altitude prior counts as a constraint)
    ok: NDArray[np.bool_]  # (k,) geometry not degenerate and the point in front of every sensor


def triangulate(r: Rays, var_az: Array, var_el: Array, has_el: NDArray[np.bool_], extra_var: Array,
                valid: NDArray[np.bool_], alt_prior: Array, alt_sigma: float, min_crossing_rad: float,
                iterations: int = 4) -> Crossing:
    """Weighted least-squares crossing of k sets of n bearings (arrays (k, n), rays (k, n, 3)).

    ``var_az``/``var_el`` are angle variances (rad²), ``extra_var`` a lateral variance (m²) added
    to both planes, ``valid`` which of the n bearings take part. Every set gets the altitude
    pseudo-measurement ``alt_prior`` (k,) ± ``alt_sigma`` (site up, m): azimuths alone fix no
    height, and two bearings with one elevation fix exactly three coordinates, so without the prior
    their χ² has no degree of freedom and any two such bearings "cross", at whatever height they
    imply (an acoustic false alarm and an RF bearing met 1.3 km up in ``birds``). The tracker holds
    bearing-only tracks to the same prior (``Tracker._altitude_prior``).
    """
    k = len(valid)
    w_az_ok = valid.astype(float)
    w_el_ok = (valid & has_el).astype(float)
    up = np.array([0.0, 0.0, 1.0])
    prior_info = np.full(k, 1.0 / alt_sigma**2)
    outer_az = r.n_az[..., :, None] * r.n_az[..., None, :]
    outer_el = r.n_el[..., :, None] * r.n_el[..., None, :]
    rhs_az = outer_az @ r.origin[..., None]
    rhs_el = outer_el @ r.origin[..., None]

    horizontal = np.full((k, r.origin.shape[1]), _FIRST_RANGE)
    slant = horizontal.copy()
    for _ in range(iterations):
        w_az = w_az_ok / (horizontal**2 * var_az + extra_var)
        w_el = w_el_ok / (slant**2 * var_el + extra_var)
        info = (np.einsum("kn,knij->kij", w_az, outer_az) + np.einsum("kn,knij->kij", w_el, outer_el)
                + prior_info[:, None, None] * np.outer(up, up))
        rhs = (np.einsum("kn,knij->ki", w_az, rhs_az) + np.einsum("kn,knij->ki", w_el, rhs_el)
               + (prior_info * alt_prior)[:, None] * up)
        position = np.linalg.solve(info + _singular_guard(info), rhs[..., None])[..., 0]
        offset = position[:, None, :] - r.origin
        horizontal = np.maximum(np.hypot(offset[..., 0], offset[..., 1]), _MIN_DISTANCE)
        slant = np.maximum(np.linalg.norm(offset, axis=-1), _MIN_DISTANCE)

    res_az = np.einsum("kni,kni->kn", r.n_az, offset)
    res_el = np.einsum("kni,kni->kn", r.n_el, offset)
    chi2 = (w_az * res_az**2 + w_el * res_el**2).sum(axis=1) + prior_info * (position[:, 2] - alt_prior)**2
    dof = (valid.sum(axis=1) + (valid & has_el).sum(axis=1) + 1 - 3).astype(np.intp)

    flat = r.n_az[..., :2] * w_az_ok[..., None]
    spread = np.einsum("kni,knj->kij", flat, flat)
    smallest = np.linalg.eigvalsh(spread)[:, 0]
    in_front = (~valid | (np.einsum("kni,kni->kn", offset, r.direction) > 0.0)).all(axis=1)
    ok = (smallest >= 1.0 - np.cos(min_crossing_rad)) & in_front & (valid.sum(axis=1) >= 2)
    covariance = np.linalg.inv(info + _singular_guard(info))
    return Crossing(position, 0.5 * (covariance + np.swapaxes(covariance, 1, 2)), chi2, dof, ok)


def crossing_sines(points: Array, origin: Array, others: Array) -> Array:
    """|sin| (k, s) of the horizontal angle at each of k points between its lines of sight from ``origin`` (3,)
    and from each of s ``others`` (s, 3): how well bearings of these two sensors fix a target there
    (0: collinear, the target's distance along the line is free; 1: perpendicular)."""
    a = points[:, None, :2] - origin[None, None, :2]
    b = points[:, None, :2] - others[None, :, :2]
    cross = a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
    return np.abs(cross) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), _MIN_DISTANCE**2)


def _singular_guard(info: Array) -> Array:
    """A tiny diagonal loading (relative to the largest entry) so parallel rays give a finite, flagged answer."""
    scale = np.abs(info).max(axis=(1, 2)) * 1e-12 + 1e-300
    return scale[:, None, None] * np.eye(3)
