"""Starting tentative tracks, and binding RF identities (emitter id, Remote ID serial) to tracks.

Here: tracks from single measurements that fix a position, a radar plot (range, azimuth,
elevation) or a decoded Remote ID / telemetry position. A single bearing fixes no range;
bearings of two sensors start a track where they cross (``fusion.tracking.triangulation``,
driven by ``Tracker._cross``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from fusion.tracking.measurements import polar_jacobian, polar_to_site

Array = NDArray[np.float64]


def from_radar(z: Array, mask: NDArray[np.bool_], r: Array, m: Array, b: Array,
               velocity_mean: Array, velocity_cov: Array, missing_elevation_sigma: float) -> tuple[Array, Array]:
    """States (k, 6) and covariances (k, 6, 6) of tracks started from radar plots (k, 4).

    Position is the plot converted to site ENU with its covariance mapped through the polar
    Jacobian; a missing elevation is taken as 0 with ``missing_elevation_sigma`` (rad). The
    velocity has the prior ``velocity_mean`` (k, 3), m/s, with covariance ``velocity_cov`` (k, 3, 3), updated
    with the plot's radial velocity where it has one (``radial_velocity_prior``).
    """
    k = len(z)
    polar = z[:, :3].copy()
    polar[:, 2] = np.where(mask[:, 2], polar[:, 2], 0.0)
    r_polar = r[:, :3, :3].copy()
    r_polar[:, 2, 2] = np.where(mask[:, 2], r_polar[:, 2, 2], missing_elevation_sigma**2)
    j = m.T @ polar_jacobian(polar)
    x = np.zeros((k, 6))
    x[:, :3] = polar_to_site(polar, m, b)
    p = np.zeros((k, 6, 6))
    p[:, :3, :3] = j @ r_polar @ np.swapaxes(j, -1, -2)
    line_of_sight = j[:, :, 0]  # d(site position)/d(range): the unit vector from the radar to the plot
    x[:, 3:], p[:, 3:, 3:] = radial_velocity_prior(line_of_sight, np.where(mask[:, 3], z[:, 3], 0.0),
                                                   np.where(mask[:, 3], r[:, 3, 3], np.inf), velocity_mean,
                                                   velocity_cov)
    return x, p


def radial_velocity_prior(line_of_sight: Array, radial_velocity: Array, variance: Array, prior_mean: Array,
                          prior_cov: Array) -> tuple[Array, Array]:
    """Velocities (k, 3) and covariances (k, 3, 3) from a prior (means (k, 3), covariances (k, 3, 3), ENU)
    and one measured radial velocity each: a Kalman update with ``rv = uᵀ v + noise``.

    A radar measures the velocity along the line of sight ``u`` (k, 3) to a fraction of a m/s; leaving
    it at the prior's tens of m/s made a new track's next gates wide in radial velocity and range:
    clutter fell in them, and in a formation its neighbours' plots too (measured without it: 2 false
    tracks on ``mass``, and duplicate tracks in ``swarm``, GOSPA 52 → 91 m). An infinite ``variance``
    (no radial velocity) leaves the prior unchanged.
    """
    pu = np.einsum("kij,kj->ki", prior_cov, line_of_sight)  # P0 u, P0 symmetric
    s = np.einsum("ki,ki->k", pu, line_of_sight) + variance
    gain = pu / s[:, None]
    innovation = np.where(np.isfinite(variance), radial_velocity - np.einsum("ki,ki->k", line_of_sight, prior_mean),
                          0.0)
    v = prior_mean + gain * innovation[:, None]
    p = prior_cov - gain[:, :, None] * pu[:, None, :]
    return v, 0.5 * (p + np.swapaxes(p, -1, -2))


def from_position(z: Array, mask: NDArray[np.bool_], r: Array, velocity_sigma: Array,
                  missing_altitude_sigma: float) -> tuple[Array, Array]:
    """States and covariances of tracks started from site-ENU position(+velocity) reports (k, 6).

    A missing altitude (Remote ID's "unknown") is taken as the site's level with
    ``missing_altitude_sigma`` (m); a missing velocity as zero with ``velocity_sigma`` (m/s, per ENU axis).
    """
    has_velocity = mask[:, 3]
    x = np.where(mask, z, 0.0)
    p = np.zeros((len(z), 6, 6))
    p[:, :3, :3] = r[:, :3, :3]
    p[:, 2, 2] = np.where(mask[:, 2], r[:, 2, 2], missing_altitude_sigma**2)
    unknown = np.diag(velocity_sigma**2)
    p[:, 3:, 3:] = np.where(has_velocity[:, None, None], r[:, 3:, 3:], unknown)
    return x, p


def identity_keys(uas_id: str | None, emitter_id: str | None) -> tuple[str, ...]:
    """The binding keys of one detection's identities, most specific first."""
    keys = []
    if uas_id:
        keys.append(f"uas:{uas_id}")
    if emitter_id:
        keys.append(f"emitter:{emitter_id}")
    return tuple(keys)


class IdentityMap:
    """Which track each RF identity belongs to, so reports of one emitter update one track.

    Only looked up and updated, never iterated to produce output, so dict order cannot leak.
    The latest association wins: a key moves to the track it was last associated with.
    """

    def __init__(self) -> None:
        self._track_of: dict[str, int] = {}
        self._keys_of: dict[int, list[str]] = {}
        #: Keys bound by a position report (Remote ID decodes the drone's own serial): bearings never move them.
        self._reported: set[str] = set()

    def track_of(self, keys: tuple[str, ...]) -> int | None:
        """The track number bound to the first of ``keys`` that is bound, or None."""
        for key in keys:
            number = self._track_of.get(key)
            if number is not None:
                return number
        return None

    def namespaces(self, number: int) -> tuple[str, ...]:
        """The identity kinds ('uas', 'emitter') already bound to track ``number``."""
        return tuple(key.split(":", 1)[0] for key in self._keys_of.get(number, ()))

    def keys_of(self, number: int) -> tuple[str, ...]:
        """The keys bound to track ``number``."""
        return tuple(self._keys_of.get(number, ()))

    def any_reported(self) -> bool:
        """Whether any key is bound by a position report."""
        return bool(self._reported)

    def reported(self, key: str) -> bool:
        """Whether ``key`` was bound by a position report (and is still bound)."""
        return key in self._reported

    def bind(self, number: int, keys: tuple[str, ...], reported: bool = False) -> None:
        """Bind ``keys`` to track ``number``, releasing them from any other track; ``reported``: by a position
        report (a key keeps that mark when it moves, e.g. with a merge, until it is released)."""
        if reported:
            self._reported.update(keys)
        for key in keys:
            previous = self._track_of.get(key)
            if previous == number:
                continue
            if previous is not None:
                self._keys_of[previous].remove(key)
            self._track_of[key] = number
            self._keys_of.setdefault(number, []).append(key)

    def release(self, key: str) -> None:
        """Unbind ``key`` from its track, if it has one."""
        number = self._track_of.pop(key, None)
        self._reported.discard(key)
        if number is not None:
            self._keys_of[number].remove(key)

    def forget(self, numbers: NDArray[np.int64]) -> None:
        """Release every key of the given (deleted) tracks."""
        for number in numbers.tolist():
            for key in self._keys_of.pop(number, []):
                del self._track_of[key]
                self._reported.discard(key)
