"""Tracking metrics of a tracker's estimates against the truth: GOSPA, ID switches, time to
confirm, false tracks and label accuracy, all derived from one GOSPA assignment per time.

A truth object counts at a time if it is present in the truth and (unless ``all_truth``)
inside some sensor's coverage: an object that no sensor can see is nobody's miss.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from numpy.typing import NDArray

from fusion.eval.data import Coverage, Detected, EstimateFrame, Estimates, Truth
from fusion.eval.gospa import distances, gospa, identity_assignment

Array = NDArray[np.float64]


@dataclass(frozen=True)
class GospaParams:
    """GOSPA's cut-off ``c`` (m), order ``p`` and ``alpha`` (2: missed and false split exactly), and the
    distance a changed pairing must gain before the identity metrics follow it (see ``identity_assignment``)."""

    c: float = 100.0
    p: float = 2.0
    alpha: float = 2.0
    switch_margin_m: float = 30.0


@dataclass
class ObjectResult:
    """What happened to one truth object."""

    id: str
    label: str
    first_detection: float | None
    second_sensor: float | None
    #: First time an established track was assigned to it, at the tracker's first message that showed that track
    #: since the evaluation time before (None: never).
    confirmed_at: float | None = None
    frames: int = 0
    matched: int = 0
    id_switches: int = 0
    squared_error: float = 0.0

    @property
    def time_to_confirm(self) -> float | None:
        """Seconds from its first detection to its first established track."""
        if self.confirmed_at is None or self.first_detection is None:
            return None
        return self.confirmed_at - self.first_detection

    @property
    def time_to_confirm_two_sensors(self) -> float | None:
        """Seconds from its detection by a second sensor to its first established track (may be negative)."""
        if self.confirmed_at is None or self.second_sensor is None:
            return None
        return self.confirmed_at - self.second_sensor

    @property
    def rms_error_m(self) -> float | None:
        """RMS 3-D position error over the times a track was assigned to it."""
        return float(np.sqrt(self.squared_error / self.matched)) if self.matched else None


@dataclass(frozen=True)
class FalseDroneTrack:
    """One false drone track: when it was labelled ``drone`` falsely (evaluation times), on which non-drone objects
    (a bird's or an aircraft's track labelled drone), whether it was so on no object too and, then, how near the
    nearest object present came (None: none was present), so that an analyst can tell a misclassified bird from a
    ghost."""

    track_id: str
    first: float
    last: float
    times: int
    on: tuple[str, ...]
    alone: bool
    nearest_m: float | None


@dataclass
class Evaluation:
    """Metrics of one tracker run: per-time GOSPA series, totals and per-object results."""

    params: GospaParams
    detection_source: str
    times: Array
    distance: Array
    localisation: Array
    missed: Array
    false: Array
    n_missed: Array
    n_false: Array
    objects: list[ObjectResult]
    id_switches: int
    tracks: int
    false_tracks: int
    false_drone_tracks: int
    duplicate_drone_tracks: int
    label_pairs: int
    label_correct: int
    matched_errors: Array = field(default_factory=lambda: np.zeros(0))
    #: The ``false_drone_tracks``, each with when and on what (``FalseDroneTrack``), in order of their first time.
    false_drone_list: list[FalseDroneTrack] = field(default_factory=list)
    #: The truth's first time (the scenario's start), from which reports count times.
    start: float = 0.0
    #: The ``id_switches`` to a track last assigned to another object (a swap); the others are to a new track, to
    #: one that was on no object, or back to the object's own earlier track (a track lost and replaced).
    id_swaps: int = 0

    @property
    def gospa_mean(self) -> float:
        return float(np.mean(self.distance)) if len(self.distance) else 0.0

    @property
    def label_accuracy(self) -> float | None:
        """Share of assigned (track, object) pairs whose track label is the object's label."""
        return self.label_correct / self.label_pairs if self.label_pairs else None

    @property
    def localisation_rms_m(self) -> float | None:
        errors = self.matched_errors
        return float(np.sqrt(np.mean(errors**2))) if len(errors) else None

    def confirm_times(self, label: str | None = None) -> list[float]:
        """Time to confirm of every confirmed object (of one label, if given)."""
        return [t for o in self.objects if label in (None, o.label) and (t := o.time_to_confirm) is not None]

    def unconfirmed(self, label: str | None = None) -> list[str]:
        """Detected objects (of one label, if given) that never got an established track."""
        return [o.id for o in self.objects if label in (None, o.label) and o.frames and o.confirmed_at is None]


def evaluation_times(estimates: Estimates) -> Array:
    """The tracker's period (the median spacing of its messages) as a grid from its first message to its last, and
    the messages off that grid, except one between two grid times at which the tracker published too.

    The grid fills the gaps a tracker skipped (Sargas publishes nothing while it has no track). Each grid time is
    the previous one plus the period, moved to the nearest message within a quarter of a period, so that the grid
    keeps to a tracker whose clock jitters or whose period is no exact binary fraction. A periodic tracker's extra
    message (Sargas publishes one when a scan confirms a track) would weigh its moment twice in the time means: it
    counts through the time to confirm (``Estimates.first_shown``) instead. A tracker whose spacing varies keeps the
    messages that fall in its grid's gaps; if extra messages split more than about a third of its periods, the
    median spacing, and with it the grid, is theirs.
    """
    times = estimates.times
    if len(times) < 2:
        return times
    period = float(np.median(np.diff(times)))
    if period <= 0.0:
        return times
    tolerance = 0.25 * period
    grid = [float(times[0])]
    while grid[-1] + period <= times[-1] + tolerance:
        target = grid[-1] + period
        k = int(np.searchsorted(times, target))
        near = min((times[j] for j in (k - 1, k) if 0 <= j < len(times)), key=lambda t: abs(t - target))
        grid.append(float(near) if abs(near - target) <= tolerance else target)
    on_grid = np.array(grid)
    published = np.isin(on_grid, times)
    off = times[~np.isin(times, on_grid)]
    after = np.searchsorted(on_grid, off)  # the grid time after each message off the grid (len(grid): none)
    between = (after > 0) & (after < len(on_grid))
    extra = between.copy()
    extra[between] = published[after[between] - 1] & published[after[between]]
    return np.union1d(on_grid, off[~extra])


@dataclass
class _Identity:
    """The identity metrics' running state over successive times."""

    objects: list[ObjectResult]
    labels: tuple[str, ...]
    params: GospaParams
    last_track: dict[int, str] = field(default_factory=dict)
    last_object: dict[str, int] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    matched: set[str] = field(default_factory=set)
    drone_on_other: set[str] = field(default_factory=set)
    drone_on_nothing: set[str] = field(default_factory=set)
    drone_beside_drone: set[str] = field(default_factory=set)
    on_drone: set[str] = field(default_factory=set)
    #: Per track, each time it was labelled drone on a non-drone object (its id) or on nothing beyond c of every
    #: drone (None, and the distance to the nearest object present, inf if none was).
    drone_falsely: dict[str, list[tuple[float, str | None, float]]] = field(default_factory=dict)
    switches: int = 0
    #: Switches to a track last assigned to another object (a track moving over to another target: ``id_swaps``).
    swaps: int = 0
    label_pairs: int = 0
    label_correct: int = 0

    def pairs(self, present: NDArray[np.intp], d: Array, frame: EstimateFrame) -> list[tuple[int, int, float]]:
        """(object, estimate index, distance) pairs from the distances ``d`` (objects × estimates), preferring to
        keep earlier pairings."""
        changed = np.array([[self.last_track.get(i, ident) != ident or self.last_object.get(ident, i) != i
                             for ident in frame.ids] for i in present.tolist()], dtype=bool).reshape(d.shape)
        p = self.params
        rows, cols = identity_assignment(d, changed, p.c, p.p, p.switch_margin_m**p.p)
        return list(zip(present[rows].tolist(), cols.tolist(), d[rows, cols].tolist(), strict=True))

    def add(self, t: float, present: NDArray[np.intp], frame: EstimateFrame, d: Array,
            pairs: list[tuple[int, int, float]], shown: Callable[[str], float]) -> None:
        """Count one time's pairs (``d``: the distances they come from, objects × estimates; ``shown``: when the
        tracker first showed a track since the time before, ``Estimates.first_shown``)."""
        self.seen.update(frame.ids)
        assigned = {j: i for i, j, _ in pairs}
        drones = np.array([self.labels[i] == "drone" for i in present.tolist()], dtype=bool)
        beside_drone = (d[drones] <= self.params.c).any(axis=0) if drones.any() else np.zeros(len(frame.ids), bool)
        nearest = d.min(axis=0) if len(d) else np.full(len(frame.ids), np.inf)
        for j, label in enumerate(frame.labels):
            obj = assigned.get(j)
            if obj is not None and self.labels[obj] == "drone":
                self.on_drone.add(frame.ids[j])
            elif label == "drone" and obj is not None:
                self.drone_on_other.add(frame.ids[j])
                self.drone_falsely.setdefault(frame.ids[j], []).append((t, self.objects[obj].id, 0.0))
            elif label == "drone":
                (self.drone_beside_drone if beside_drone[j] else self.drone_on_nothing).add(frame.ids[j])
                if not beside_drone[j]:
                    self.drone_falsely.setdefault(frame.ids[j], []).append((t, None, float(nearest[j])))
        for i in present.tolist():
            self.objects[i].frames += 1
        for i, j, error in pairs:
            ident, result = frame.ids[j], self.objects[i]
            self.matched.add(ident)
            result.matched += 1
            result.squared_error += error**2
            if result.confirmed_at is None:
                result.confirmed_at = shown(ident)
            if self.last_track.get(i, ident) != ident:
                result.id_switches += 1
                self.switches += 1
                self.swaps += self.last_object.get(ident, i) != i
            self.last_track[i], self.last_object[ident] = ident, i
            if frame.labels[j] is not None:
                self.label_pairs += 1
                self.label_correct += frame.labels[j] == result.label

    @property
    def false_drone_ids(self) -> set[str]:
        """Tracks labelled drone on a bird or an aircraft, or on nothing beyond c of every drone and never on one."""
        return self.drone_on_other | (self.drone_on_nothing - self.on_drone)

    @property
    def false_drone_tracks(self) -> int:
        return len(self.false_drone_ids)

    def false_drone_details(self) -> list[FalseDroneTrack]:
        """Each false drone track with the times that made it one (a track that was also on a drone once counts
        only its times on a bird or an aircraft)."""
        out = []
        for ident in self.false_drone_ids:
            times = [(t, obj, dist) for t, obj, dist in self.drone_falsely[ident]
                     if obj is not None or ident not in self.on_drone]
            alone = [dist for _, obj, dist in times if obj is None]
            nearest = min(alone, default=np.inf)
            out.append(FalseDroneTrack(ident, times[0][0], times[-1][0], len(times),
                                       tuple(sorted({obj for _, obj, _ in times if obj is not None})),
                                       bool(alone), nearest if np.isfinite(nearest) else None))
        return sorted(out, key=lambda f: (f.first, f.track_id))

    @property
    def duplicate_drone_tracks(self) -> int:
        """Tracks never assigned to any object, labelled drone only within c of a true drone: a second track on a
        real drone (counted among the false tracks, not among the false drone tracks: not born of clutter)."""
        return len(self.drone_beside_drone - self.matched - self.drone_on_nothing)


def evaluate(truth: Truth, estimates: Estimates, detected: Detected, coverage: Coverage | None = None,
             times: Array | None = None, params: GospaParams = GospaParams(), all_truth: bool = False) -> Evaluation:
    """Score ``estimates`` against ``truth`` at ``times`` (default: ``evaluation_times``, the grid of the tracker's
    own period).

    Each time, the truth (interpolated) and the established tracks are assigned by GOSPA, which
    gives the GOSPA series. The identity metrics use the same assignment with a cost for
    changing an earlier pairing (``identity_assignment``); its pairs give the ID switches (an
    object's assigned track id differs from the one it last had), the time to confirm (first
    assignment, dated by the tracker's first message since the time before that showed the
    track, ``Estimates.first_shown``), the per-object errors, the false tracks (never assigned
    to any object), the false drone tracks (labelled ``drone`` while assigned to a bird or an
    aircraft, or while assigned to nothing and farther than c from every drone if never assigned
    to a drone: born of clutter), the duplicate drone tracks (never assigned, labelled ``drone`` only within c of a
    drone: a second track on a real drone, which the identity assignment leaves to the first) and
    the label accuracy.
    """
    times = evaluation_times(estimates) if times is None else np.asarray(times, dtype=float)
    objects = [ObjectResult(ident, label, detected.first.get(ident), detected.second_sensor.get(ident))
               for ident, label in zip(truth.ids, truth.labels, strict=True)]
    series = {k: np.zeros(len(times)) for k in ("distance", "localisation", "missed", "false", "n_missed", "n_false")}
    identity = _Identity(objects, truth.labels, params)
    errors: list[Array] = []
    before = -np.inf
    for k, t in enumerate(times.tolist()):
        present, tpos = truth.at(t)
        if not all_truth and coverage is not None and len(present):
            inside = coverage.contains(tpos)
            present, tpos = present[inside], tpos[inside]
        frame = estimates.at(t)
        d = distances(tpos, frame.pos)
        g = gospa(tpos, frame.pos, params.c, params.p, params.alpha)
        for name, values in series.items():
            values[k] = getattr(g, name)
        errors.append(g.errors)
        identity.add(t, present, frame, d, identity.pairs(present, d, frame),
                     partial(estimates.first_shown, after=before, until=t))
        before = t
    return Evaluation(
        params=params, detection_source=detected.source, times=times, objects=objects,
        id_switches=identity.switches, tracks=len(identity.seen), false_tracks=len(identity.seen - identity.matched),
        false_drone_tracks=identity.false_drone_tracks, duplicate_drone_tracks=identity.duplicate_drone_tracks,
        label_pairs=identity.label_pairs,
        label_correct=identity.label_correct, matched_errors=np.concatenate(errors) if errors else np.zeros(0),
        false_drone_list=identity.false_drone_details(),
        start=float(truth.times[0]) if len(truth.times) else float(times[0]) if len(times) else 0.0,
        id_swaps=identity.swaps,
        **{k: v.astype(int) if k.startswith("n_") else v for k, v in series.items()},  # type: ignore[arg-type]
    )
