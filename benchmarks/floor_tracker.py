"""The perfect-association floor: one constant-velocity Kalman filter per true object, fed only
the detections that truly came from it (``truth_id``), so that association never errs.

Radar detections are used as converted positions (covariance from the polar Jacobian), Remote ID
as positions, bearings (acoustic, RF direction finding) by an EKF update on azimuth and
elevation. A track starts at its first radar or position detection, or, from bearings alone,
at the crossing of two bearings from different sensors; it is confirmed at its second update
and dropped after ``delete_after_s`` without one. What it achieves bounds what association
can gain: the remaining error is the sensors' and the motion model's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from benchmarks.site_scans import Array, SiteScan, Snapshot

#: Bearings from two sensors are crossed to start a track if at most this far apart in time, s.
PAIR_WINDOW_S = 2.0
#: Position sigma of a track started by crossing two bearings, m.
CROSSING_SIGMA_M = 150.0


def cv_transition(dt: float, q: float) -> tuple[Array, Array]:
    """F and Q of a 3-D constant-velocity model (state: position, velocity) with white acceleration ``q`` m²/s³."""
    eye = np.eye(3)
    f = np.block([[eye, dt * eye], [np.zeros((3, 3)), eye]])
    qm = q * np.block([[dt**3 / 3.0 * eye, dt**2 / 2.0 * eye], [dt**2 / 2.0 * eye, dt * eye]])
    return f, qm


def polar_covariance(z: Array, sigma: Array) -> Array:
    """Covariance (3, 3) in site ENU of a radar point from (range, bearing ccw from east, elevation) and their sigmas."""
    r, b, e = z
    cb, sb, ce, se = np.cos(b), np.sin(b), np.cos(e), np.sin(e)
    jac = np.array([[ce * cb, -r * ce * sb, -r * se * cb],
                    [ce * sb, r * ce * cb, -r * se * sb],
                    [se, 0.0, r * ce]])
    return jac @ np.diag(sigma**2) @ jac.T


def bearing_model(x: Array, origin: Array) -> tuple[Array, Array]:
    """Azimuth (clockwise from north) and elevation of the state's position from ``origin``, and their Jacobian (2, 6)."""
    e, n, u = x[:3] - origin
    h2 = e * e + n * n
    h, r2 = np.sqrt(h2), h2 + u * u
    jac = np.zeros((2, 6))
    jac[0, :3] = [n / h2, -e / h2, 0.0]
    jac[1, :3] = [-e * u / (r2 * h), -n * u / (r2 * h), h / r2]
    return np.array([np.arctan2(e, n), np.arctan2(u, h)]), jac


def crossing(o1: Array, u1: Array, o2: Array, u2: Array) -> Array | None:
    """The midpoint of closest approach of two rays ``o + s u`` (s > 0); None if (nearly) parallel or behind."""
    w = o1 - o2
    a, b, c, d, e = u1 @ u1, u1 @ u2, u2 @ u2, u1 @ w, u2 @ w
    den = a * c - b * b
    if den < 1e-6:
        return None
    s, t = (b * e - c * d) / den, (a * e - b * d) / den
    if s <= 0.0 or t <= 0.0:
        return None
    return 0.5 * ((o1 + s * u1) + (o2 + t * u2))


@dataclass
class _Track:
    x: Array
    p: Array
    t: float
    updates: int


class FloorTracker:
    """Per-object CV Kalman filters with perfect association; ``snapshot`` gives the confirmed ones."""

    def __init__(self, q: float = 1.0, velocity_sigma_mps: float = 30.0, delete_after_s: float = 10.0) -> None:
        self.q = q
        self.velocity_sigma = velocity_sigma_mps
        self.delete_after_s = delete_after_s
        self.tracks: dict[str, _Track] = {}
        self._bearings: dict[str, dict[str, tuple[float, Array, Array]]] = {}

    def _start(self, ident: str, pos: Array, cov: Array, t: float) -> None:
        p = np.zeros((6, 6))
        p[:3, :3] = cov
        p[3:, 3:] = np.eye(3) * self.velocity_sigma**2
        self.tracks[ident] = _Track(np.concatenate([pos, np.zeros(3)]), p, t, 1)

    def _predict(self, track: _Track, t: float) -> None:
        f, qm = cv_transition(t - track.t, self.q)
        track.x, track.p, track.t = f @ track.x, f @ track.p @ f.T + qm, t

    @staticmethod
    def _update(track: _Track, residual: Array, h: Array, r: Array) -> None:
        s = h @ track.p @ h.T + r
        gain = np.linalg.solve(s, h @ track.p).T
        track.x = track.x + gain @ residual
        track.p = (np.eye(6) - gain @ h) @ track.p
        track.updates += 1

    def step(self, scan: SiteScan) -> None:
        """Update each object's filter with its own detections of this scan."""
        for i, ident in enumerate(scan.truth_ids):
            if ident is None:
                continue
            track = self.tracks.get(ident)
            if track is not None and scan.time - track.t > self.delete_after_s:
                del self.tracks[ident]
                track = None
            if scan.kind == "bearing":
                self._bearing(ident, track, scan, i)
                continue
            cov = polar_covariance(scan.z[i], scan.sigma[i]) if scan.kind == "radar" else np.diag(scan.sigma[i] ** 2)
            if track is None:
                self._start(ident, scan.point[i], cov, scan.time)
                continue
            self._predict(track, scan.time)
            h = np.hstack([np.eye(3), np.zeros((3, 3))])
            self._update(track, scan.point[i] - track.x[:3], h, cov)

    def _bearing(self, ident: str, track: _Track | None, scan: SiteScan, i: int) -> None:
        if track is None:
            seen = self._bearings.setdefault(ident, {})
            for sensor, (t, origin, unit) in sorted(seen.items()):
                point = crossing(origin, unit, scan.origin, scan.point[i])
                if sensor != scan.sensor_id and scan.time - t <= PAIR_WINDOW_S and point is not None:
                    self._start(ident, point, np.eye(3) * CROSSING_SIGMA_M**2, scan.time)
                    return
            seen[scan.sensor_id] = (scan.time, scan.origin, scan.point[i])
            return
        self._predict(track, scan.time)
        predicted, h = bearing_model(track.x, scan.origin)
        residual = scan.z[i] - predicted
        residual[0] = (residual[0] + np.pi) % (2.0 * np.pi) - np.pi
        self._update(track, residual, h, np.diag(scan.sigma[i] ** 2))

    def snapshot(self, t: float) -> Snapshot:
        """The confirmed (two or more updates), not yet deleted tracks, by truth id."""
        live = [(ident, tr) for ident, tr in sorted(self.tracks.items())
                if tr.updates >= 2 and t - tr.t <= self.delete_after_s]
        x: NDArray[np.float64] = np.array([tr.x for _, tr in live]).reshape(-1, 6)
        times = np.array([tr.t for _, tr in live])
        x[:, :3] += x[:, 3:] * (t - times)[:, None]
        return Snapshot(t, tuple(ident for ident, _ in live), x)
