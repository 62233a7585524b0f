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
               velocity_sigma: Array, missing_elevation_sigma: float) -> tuple[Array, Array]:
    """States (k, 6) and covariances (k, 6, 6) of tracks started from radar plots (k, 4).

    Position is the plot converted to site ENU with its covariance mapped through the polar
    Jacobian; a missing elevation is taken as 0 with ``missing_elevation_sigma`` (rad). The
    velocity is unknown: zero with ``velocity_sigma`` (m/s) per ENU axis (3,).
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
    p[:, 3:, 3:] = np.diag(velocity_sigma**2)
    return x, p


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

    def bind(self, number: int, keys: tuple[str, ...]) -> None:
        """Bind ``keys`` to track ``number``, releasing them from any other track."""
        for key in keys:
            previous = self._track_of.get(key)
            if previous == number:
                continue
            if previous is not None:
                self._keys_of[previous].remove(key)
            self._track_of[key] = number
            self._keys_of.setdefault(number, []).append(key)

    def forget(self, numbers: NDArray[np.int64]) -> None:
        """Release every key of the given (deleted) tracks."""
        for number in numbers.tolist():
            for key in self._keys_of.pop(number, []):
                del self._track_of[key]
