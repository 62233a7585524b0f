"""Targets: waypoint paths flown at constant speed, and the true state of every target at a time.

Kinematics live in the site's East-North-Up frame (metres); conversion to WGS84 happens only
when a message needs it. Paths are evaluated with array operations, vectorised over time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fusion.geo import LocalFrame
from simulators.scenario import Formation, Loiter, Scenario, TargetConfig, Transit, Wander
from simulators.seeds import derive_hex, derive_rng

Array = NDArray[np.float64]

#: Class labels in the order of every label-indexed array (``class_probs`` keys, in this order).
LABELS: tuple[str, ...] = ("drone", "bird", "aircraft", "unknown")
LABEL_INDEX = {label: i for i, label in enumerate(LABELS)}

#: Typical radar cross-sections, dBsm: a small multirotor, a large bird, a light aircraft.
DEFAULT_RCS_DBSM = {"drone": -20.0, "bird": -25.0, "aircraft": 10.0}
#: Typical sound pressure levels at 1 m, dB: rotor noise, wing beats and calls, a piston engine.
DEFAULT_SOURCE_LEVEL_DB = {"drone": 85.0, "bird": 65.0, "aircraft": 115.0}

AtEnd = Literal["stop", "loop", "vanish"]


def _clean_points(points: ArrayLike, at_end: AtEnd) -> Array:
    """Waypoints (k, 3) as flown: closed for ``loop``, consecutive duplicates dropped."""
    pts = np.atleast_2d(np.asarray(points, dtype=float))
    if at_end == "loop" and len(pts) > 1:
        pts = np.vstack([pts, pts[:1]])
    keep = np.concatenate([[True], np.linalg.norm(np.diff(pts, axis=0), axis=1) > 1e-9])
    return pts[keep]


@dataclass(frozen=True)
class Paths:
    """Straight legs between waypoints at constant speed, for many targets at once.

    Each target starts at its ``start_s``. At the end of its path, ``stop`` hovers at the
    last waypoint, ``loop`` flies back to the first one and starts again, ``vanish`` removes
    the target (landed or left the area). Paths of different lengths are padded: knots with
    the last waypoint, arrival times with infinity.
    """

    knots: Array             # (n, K, 3) waypoints in the site ENU frame
    times: Array             # (n, K) arrival time at each waypoint, from the target's start
    leg_velocity: Array      # (n, K - 1, 3) velocity on each leg
    last_leg: NDArray[np.intp]  # (n,) index of each target's last real leg
    start_s: Array           # (n,)
    total_s: Array           # (n,) time to fly each path once
    loop: NDArray[np.bool_]  # (n,)
    vanish: NDArray[np.bool_]  # (n,)

    @classmethod
    def build(cls, points: Sequence[ArrayLike], speed_mps: ArrayLike, start_s: ArrayLike,
              at_end: Sequence[AtEnd]) -> Paths:
        """Paths through ``points[i]`` (k_i, 3) at ``speed_mps[i]`` from ``start_s[i]``."""
        cleaned = [_clean_points(p, e) for p, e in zip(points, at_end, strict=True)]
        n, k_max = len(cleaned), max([2, *(len(p) for p in cleaned)])
        knots = np.empty((n, k_max, 3))
        times = np.full((n, k_max), np.inf)
        speeds = np.asarray(speed_mps, dtype=float).reshape(n)
        for i, pts in enumerate(cleaned):
            knots[i, : len(pts)], knots[i, len(pts):] = pts, pts[-1]
            times[i, : len(pts)] = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])
            times[i, : len(pts)] /= speeds[i]
        with np.errstate(invalid="ignore"):
            leg_velocity = np.nan_to_num(np.diff(knots, axis=1) / np.diff(times, axis=1)[..., None])
        counts = np.array([len(p) for p in cleaned], dtype=np.intp).reshape(n)
        return cls(knots, times, leg_velocity, np.maximum(counts - 2, 0),
                   np.asarray(start_s, dtype=float).reshape(n), times[np.arange(n), counts - 1],
                   np.array([e == "loop" for e in at_end], dtype=bool).reshape(n),
                   np.array([e == "vanish" for e in at_end], dtype=bool).reshape(n))

    def __len__(self) -> int:
        return len(self.start_s)

    def state(self, t: ArrayLike) -> tuple[Array, Array, NDArray[np.bool_]]:
        """Positions (…, n, 3), velocities (…, n, 3) and presence (…, n) at sim time(s) ``t`` (…)."""
        tau = np.asarray(t, dtype=float)[..., None] - self.start_s
        present = tau >= 0.0
        along = np.clip(tau, 0.0, self.total_s)
        cyclic = self.loop & (self.total_s > 0.0)
        if cyclic.any():
            along = np.where(cyclic, np.mod(np.maximum(tau, 0.0), np.where(cyclic, self.total_s, 1.0)), along)
        leg = np.minimum((self.times[:, 1:] <= along[..., None]).sum(axis=-1), self.last_leg)
        rows = np.arange(len(self))
        t0, t1 = self.times[rows, leg], self.times[rows, leg + 1]
        frac = np.where(np.isfinite(t1), (along - t0) / np.where(np.isfinite(t1), t1 - t0, 1.0), 0.0)
        p0 = self.knots[rows, leg]
        pos = p0 + frac[..., None] * (self.knots[rows, leg + 1] - p0)
        done = ~self.loop & (tau >= self.total_s)
        vel = np.where(done[..., None], 0.0, self.leg_velocity[rows, leg])
        return pos, vel, present & ~(done & self.vanish)


@dataclass(frozen=True)
class ResolvedTarget:
    """One object in the sky: a scenario target, or one member of its formation, with its concrete path."""

    id: str
    config: TargetConfig
    waypoints: Array  # (k, 3) site ENU
    start_s: float
    at_end: AtEnd
    member: int       # 0 for a lone target, 1.. for formation members


def behaviour_waypoints(config: TargetConfig, site: LocalFrame, seed: int) -> Array:
    """The waypoints (k, 3) a target flies: its own, or those its behaviour draws."""
    behaviour = config.behaviour
    if isinstance(behaviour, Transit):
        return np.array([behaviour.start.enu(site), behaviour.end.enu(site)])
    if isinstance(behaviour, Loiter):
        angle = np.linspace(0.0, 2.0 * np.pi, behaviour.points, endpoint=False)
        ring = np.stack([np.sin(angle), np.cos(angle), np.zeros_like(angle)], axis=1) * behaviour.radius_m
        return behaviour.centre.enu(site) + ring
    if isinstance(behaviour, Wander):
        rng = derive_rng(seed, "wander", config.id)
        radius = behaviour.radius_m * np.sqrt(rng.random(behaviour.legs))
        angle = rng.uniform(0.0, 2.0 * np.pi, behaviour.legs)
        up = rng.uniform(-behaviour.vertical_m, behaviour.vertical_m, behaviour.legs)
        return behaviour.centre.enu(site) + np.stack([radius * np.sin(angle), radius * np.cos(angle), up], axis=1)
    return np.array([w.enu(site) for w in config.waypoints or ()])


def formation_offsets(formation: Formation, heading: Array, rng: np.random.Generator) -> Array:
    """Offsets (count, 3) of the members from the path, in ENU, for a formation flying along ``heading``."""
    n, spacing = formation.count, formation.spacing_m
    k = np.arange(n, dtype=float)
    if formation.shape == "line":
        right, forward = (k - (n - 1) / 2.0) * spacing, np.zeros(n)
    elif formation.shape == "vee":
        rank, side = np.ceil(k / 2.0), np.where(k % 2 == 1, 1.0, -1.0)
        right, forward = side * rank * spacing * np.sqrt(0.5), -rank * spacing * np.sqrt(0.5)
    elif formation.shape == "grid":
        cols = int(np.ceil(np.sqrt(n)))
        rows = int(np.ceil(n / cols))
        right, forward = (k % cols - (cols - 1) / 2.0) * spacing, -((k // cols) - (rows - 1) / 2.0) * spacing
    else:
        side = spacing * np.sqrt(n)
        right, forward = rng.uniform(-side / 2, side / 2, n), rng.uniform(-side / 2, side / 2, n)
    jitter = formation.jitter_m * np.sqrt(rng.random(n))
    turn = rng.uniform(0.0, 2.0 * np.pi, n)
    right, forward = right + jitter * np.cos(turn), forward + jitter * np.sin(turn)
    up = rng.uniform(-formation.vertical_m, formation.vertical_m, n)
    east_north = np.outer(forward, heading) + np.outer(right, [heading[1], -heading[0]])
    return np.column_stack([east_north, up])


def _heading(points: Array) -> Array:
    """Unit horizontal direction of the first leg (north when there is none)."""
    step = points[1, :2] - points[0, :2] if len(points) > 1 else np.zeros(2)
    norm = float(np.linalg.norm(step))
    return step / norm if norm > 1e-9 else np.array([0.0, 1.0])


def resolve_targets(scenario: Scenario) -> list[ResolvedTarget]:
    """Every object a scenario puts in the sky, behaviours drawn and formations expanded, in file order."""
    site, resolved = scenario.site.frame, []
    for config in scenario.targets:
        points = behaviour_waypoints(config, site, scenario.seed)
        at_end: AtEnd = "loop" if isinstance(config.behaviour, (Loiter, Wander)) else config.at_end
        if config.formation is None:
            resolved.append(ResolvedTarget(config.id, config, points, config.start_s, at_end, 0))
            continue
        rng = derive_rng(scenario.seed, "formation", config.id)
        offsets = formation_offsets(config.formation, _heading(points), rng)
        starts = config.start_s + rng.uniform(0.0, config.formation.start_spread_s, config.formation.count)
        resolved.extend(ResolvedTarget(ident, config, points + offsets[k], float(starts[k]), at_end, k + 1)
                        for k, ident in enumerate(config.member_ids))
    return resolved


@dataclass(frozen=True)
class TruthState:
    """Where the present targets are at sim time ``t``: rows of ``enu``/``vel`` follow ``index``."""

    t: float
    index: NDArray[np.intp]  # indices into the TargetSet's arrays
    enu: Array              # (m, 3) positions, site ENU
    vel: Array              # (m, 3) velocities, site ENU axes


@dataclass(frozen=True)
class TargetSet:
    """Every target of a scenario: paths and per-target physical properties as arrays."""

    ids: tuple[str, ...]
    labels: tuple[str, ...]
    label_index: NDArray[np.intp]
    paths: Paths
    rcs_dbsm: Array
    source_level_db: Array
    emits_rf: NDArray[np.bool_]
    rf_freq_mhz: Array
    rf_eirp_dbm: Array
    rf_protocol: tuple[str, ...]
    emitter_ids: tuple[str, ...]
    remote_id: NDArray[np.bool_]
    uas_ids: tuple[str, ...]
    operator_enu: Array  # (n, 3)
    unknown_altitude: NDArray[np.bool_]  # Remote ID broadcasts the standard's "unknown" altitude
    unknown_operator: NDArray[np.bool_]  # ... and "unknown" operator position

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> TargetSet:
        """Build the targets of ``scenario`` in its site frame."""
        site = scenario.site.frame
        members = resolve_targets(scenario)
        targets = [m.config for m in members]
        paths = Paths.build([m.waypoints for m in members], [t.speed_mps for t in targets],
                            [m.start_s for m in members], [m.at_end for m in members])
        operators = [(m.config.operator.enu(site) if m.config.operator is not None else _ground_below(m.waypoints[0]))
                     for m in members]
        return cls(
            ids=tuple(m.id for m in members),
            labels=tuple(t.label for t in targets),
            label_index=np.array([LABEL_INDEX[t.label] for t in targets], dtype=np.intp),
            paths=paths,
            rcs_dbsm=_floats([t.rcs_dbsm if t.rcs_dbsm is not None else DEFAULT_RCS_DBSM[t.label] for t in targets]),
            source_level_db=_floats([t.source_level_db if t.source_level_db is not None
                                     else DEFAULT_SOURCE_LEVEL_DB[t.label] for t in targets]),
            emits_rf=np.array([t.emits_rf for t in targets], dtype=bool),
            rf_freq_mhz=_floats([t.rf.freq_mhz for t in targets]),
            rf_eirp_dbm=_floats([t.rf.eirp_dbm for t in targets]),
            rf_protocol=tuple(t.rf.protocol for t in targets),
            emitter_ids=tuple(_member_tag(m.config.rf.emitter_id, m.member)
                              or f"em-{derive_hex(scenario.seed, 'emitter', m.id)}" for m in members),
            remote_id=np.array([t.remote_id for t in targets], dtype=bool),
            uas_ids=tuple(_member_tag(m.config.uas_id, m.member) or f"SIM-{m.id.upper()}" for m in members),
            operator_enu=np.array(operators, dtype=float).reshape(len(members), 3),
            unknown_altitude=np.array(["altitude" in t.remote_id_unknown for t in targets], dtype=bool),
            unknown_operator=np.array(["operator" in t.remote_id_unknown for t in targets], dtype=bool),
        )

    def __len__(self) -> int:
        return len(self.ids)

    def state(self, t: float) -> TruthState:
        """The true state of every target present at sim time ``t``."""
        enu, vel, present = self.paths.state(t)
        index = np.flatnonzero(present)
        return TruthState(t, index, enu[index], vel[index])


def _member_tag(value: str | None, member: int) -> str | None:
    """A configured id, suffixed ``-k`` for the k-th member of a formation so that each stays unique."""
    return None if value is None else (value if member == 0 else f"{value}-{member}")


def _floats(values: list[float]) -> Array:
    return np.array(values, dtype=float).reshape(len(values))


def _ground_below(point: Array) -> Array:
    """The point at the site's altitude below ``point``: where an operator stands by default."""
    return np.array([point[0], point[1], 0.0])


def local_velocity(lat_deg: ArrayLike, lon_deg: ArrayLike, ecef_vel: ArrayLike) -> Array:
    """ECEF vectors (…, 3) expressed in the ENU axes at each point (lat, lon) — vectorised."""
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    sl, cl, so, co = np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)
    v = np.asarray(ecef_vel, dtype=float)
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    return np.stack([-so * x + co * y, -sl * co * x - sl * so * y + cl * z, cl * co * x + cl * so * y + sl * z],
                    axis=-1)


def to_geodetic(frame: LocalFrame, enu: ArrayLike, vel: ArrayLike) -> tuple[Array, Array, Array, Array]:
    """Latitude, longitude, altitude and the velocity in the ENU axes at each object.

    The protocol gives velocities in the local frame *at the object*; far from the origin
    that differs from the origin's axes by the curvature of the earth.
    """
    lat, lon, alt = frame.to_geodetic(enu)
    ecef_vel = np.asarray(vel, dtype=float) @ frame.rotation
    return lat, lon, alt, local_velocity(lat, lon, ecef_vel)
