"""Track coalescence: two tracks that are statistically one target for a while become one track.

Duplicates arise when a track loses its target for a few scans (a stop, a sharp turn, a track
that only degenerate bearings still update) and a new one starts on the target's next plots,
or when bearings and plots start a track each. Nothing in association ever removes them.

The test (track-to-track association, Bar-Shalom & Li, "Multitarget-Multisensor Tracking",
ch. 8): the difference Δ of the two states at one time, with covariance ``P_a + P_b``, has
``χ² = Δᵀ (P_a + P_b)⁻¹ Δ`` below the χ²₆ gate if both estimate one target (the cross-covariance
of their common process noise is ignored, which only widens the gate). One passing test is weak
evidence for close targets, so a pair must pass every test for ``merge_after_s`` seconds.

A pair once seen as two objects (one message explained by the pair beyond one detection, or one of
them started from a detection no track explained while the radar's revisit detected the other too)
is tested only once the radar's scans since make one object likelier than two: each scan that
detects the pair's target without two objects weighs ``1 - Pd_a Pd_b`` against 1
(``Coalescence._doubt``). Two drones of a formation, or geese of a flock,
that the radar sees as two plots now and then stay two tracks; a track that walked onto another
target after it was resolved is merged once the radar has seen one object there for long enough.
Tracks with different decoded Remote IDs (or other identities of one kind bound by position
reports) are never merged; identities bound through bearings move with their latest association
and prove nothing.

Only pairs with an established track are tested. The merged track keeps the identity of the
preferred one (confirmed over coasting over tentative, then the older) and the state of the one
whose position was fixed last (the one following the target; ties: the smaller position
covariance); sensors, RF identities and label evidence of both are pooled. The merged-away
track ends (``Tracker.step`` reports it in ``Ended``, with the number it was merged into).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from fusion.tracking import classify
from fusion.tracking.filters import combine, imm_predict
from fusion.tracking.gating import short_sum, squared_distances
from fusion.tracking.initiation import IdentityMap
from fusion.tracking.params import TrackerParams
from fusion.tracking.tracks import COASTING, CONFIRMED, TENTATIVE, TrackTable

Array = NDArray[np.float64]

#: The cheap pre-test compares positions extrapolated at constant velocity against this many
#: times the full gate times the summed position variances (a margin for the IMM's turns).
_PRETEST_MARGIN = 4.0
#: Preference of a status for keeping its identity in a merge.
_RANK = {TENTATIVE: 0, COASTING: 1, CONFIRMED: 2}


@dataclass(frozen=True)
class Merged:
    """Tracks merged away at one time: their numbers, the numbers they were merged into, their last states."""

    numbers: NDArray[np.int64]
    into: NDArray[np.int64]
    x: Array
    last_update: Array
    was_confirmed: NDArray[np.bool_]


def state_chi2(xa: Array, pa: Array, xb: Array, pb: Array) -> Array:
    """χ² (k,) of the differences of k pairs of states (k, 6) with covariances (k, 6, 6), as independent."""
    d = xa - xb
    return np.einsum("ki,ki->k", d, np.linalg.solve(pa + pb, d[..., None])[..., 0])


def contradicting(identities: IdentityMap, a: NDArray[np.int64], b: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Whether each pair of tracks carries different RF identities of one kind bound by position reports
    (two decoded Remote IDs): two drones, whatever their states say."""
    def kinds(number: int) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for key in filter(identities.reported, identities.keys_of(number)):
            out.setdefault(key.split(":", 1)[0], set()).add(key)
        return out

    if not len(a) or not identities.any_reported():  # no pair, or no identity that could tell two drones apart
        return np.zeros(len(a), dtype=bool)
    of = {number: kinds(number) for number in np.unique(np.concatenate([a, b])).tolist()}  # tracks recur in pairs
    flags = []
    for na, nb in zip(a.tolist(), b.tolist()):  # candidate pairs: a handful per step
        ka, kb = of[na], of[nb]
        # A track without identities contradicts nothing (the common case, tested first).
        flags.append(bool(ka and kb) and any(ka[kind].isdisjoint(kb[kind]) for kind in ka.keys() & kb.keys()))
    return np.array(flags, dtype=bool)


@dataclass
class Coalescence:
    """Pairs of tracks that have passed every track-to-track test since some time; merges the lasting ones."""

    params: TrackerParams
    gate: float
    #: The class prior that new tracks start from now (the tracker's ``_class_prior``, the airspace's class mix),
    #: divided out of one of two pooled label posteriors (an approximation: that track started from the mix of its
    #: birth); None: the configured ``class_prior``.
    class_prior: Callable[[], tuple[float, ...]] | None = None
    #: (smaller number, larger number) → time of its first passing test in the current run.
    since: dict[tuple[int, int], float] = field(default_factory=dict)
    #: Pairs of tracks with different reported RF identities of one kind: two drones, never merged.
    apart: set[tuple[int, int]] = field(default_factory=set)
    #: Pairs once seen as two objects → the log-likelihood ratio, one object against two, of the radar scans
    #: since; held apart while it is below ``ln(1 / merge_unseen_probability)`` (``_doubt``).
    doubt: dict[tuple[int, int], float] = field(default_factory=dict)

    def merge(self, tab: TrackTable, identities: IdentityMap, now: float, detected: NDArray[np.intp],
              mass: Array | None = None, born: NDArray[np.intp] | None = None,
              pd: Array | None = None, last: Array | None = None,
              predict: Callable[[NDArray[np.intp]], tuple[Array, Array]] | None = None,
              revisit_s: float | None = None) -> Merged:
        """Test the tracks ``detected`` at ``now`` against every other track; merge pairs that have
        looked like one target for ``merge_after_s``; return the tracks merged away (removed from ``tab``).
        ``mass``: per row, the detections of this message it explains, Σβ (default: 1 for ``detected``);
        ``born``: the rows this message started; ``pd``: per row, the probability that this message detects the
        track's target if it is a radar scan (which sees each object apart), else None; ``last``: then, per row,
        when this radar last detected it (its scans come in several messages). ``predict(rows)``: the
        combined states and covariances of rows at ``now`` (default: an IMM prediction with the tracker's modes;
        the tracker reuses its step's). ``revisit_s``: the radar's scan period (default: the parameters'), used only
        with ``last``.

        A pending pair is dropped when a track of it ends or when one of its tracks is detected and
        the pair fails the test; a pair seen as two objects is merged only once the radar's scans since
        make one object likelier (``_doubt``)."""
        if mass is None:
            mass = np.zeros(len(tab))
            mass[detected] = 1.0
        half_scan = 0.5 * (self.params.revisit_s if revisit_s is None else revisit_s)
        reach = self._reach(tab, now)
        if born is not None:
            self._born_apart(tab, now, born, mass, last, half_scan, reach)
        a, b = self._candidates(tab, detected, reach)
        two_drones = contradicting(identities, tab.number[a], tab.number[b])
        if two_drones.any():
            self.apart.update(_keys(tab, a[two_drones], b[two_drones]))
        unresolved = self._doubt(tab, now, a, b, mass, pd, last, half_scan)
        a, b = a[unresolved], b[unresolved]
        if len(a):
            paired = np.zeros(len(tab), dtype=bool)  # the pairs' rows, sorted and once each (np.unique costs more)
            paired[a] = True
            paired[b] = True
            rows = np.flatnonzero(paired)
            x, p = tab.x[rows], tab.p[rows]  # copies; the detected rows are at ``now`` already
            stale = tab.t[rows] != now
            if stale.any():
                old = rows[stale]
                x[stale], p[stale] = predict(old) if predict is not None else combine(*imm_predict(
                    tab.xm[old], tab.pm[old], tab.mu[old], now - tab.t[old], self.params.modes))
            ia, ib = np.searchsorted(rows, a), np.searchsorted(rows, b)
            ok = state_chi2(x[ia], p[ia], x[ib], p[ib]) <= self.gate
            a, b = a[ok], b[ok]
        passing = set(_keys(tab, a, b))
        tested = set(tab.number[detected].tolist())
        crowded = len(self.apart) + len(self.doubt) > 4 * len(tab) + 64  # then forget the pairs of ended tracks
        alive = set(tab.number.tolist()) if self.since or crowded else set()
        for key in list(self.since):
            failed = bool(tested.intersection(key)) and key not in passing
            if failed or key in self.apart or self.doubt.get(key, np.inf) == 0.0 or not alive.issuperset(key):
                del self.since[key]
        for key in passing:
            self.since.setdefault(key, now)
        if crowded:
            self.apart = {key for key in self.apart if alive.issuperset(key)}
            self.doubt = {key: llr for key, llr in self.doubt.items() if alive.issuperset(key)}
        return self._merge_due(tab, identities, now)

    def _born_apart(self, tab: TrackTable, now: float, born: NDArray[np.intp], mass: Array,
                    last: Array | None, half_scan: float, reach: tuple[Array, Array]) -> None:
        """Mark as seen apart the pairs of a track started this message (``born``) and a close track that this
        message detected too (``mass`` at least ½), also started, or that the radar detected in another message
        of this revisit (``last``, as in ``_doubt``; within ``half_scan``, half the radar's scan period, of now): two
        detections of one scan, two objects. A track started beside one that the scan missed is no such evidence:
        that is how a lost target's duplicate arises (the merger's first case). ``reach``: ``_reach`` at now."""
        if not len(born):
            return
        a, b = self._candidates(tab, born, reach, tentative=True)
        is_born = np.zeros(len(tab), dtype=bool)
        is_born[born] = True
        two = (mass[b] >= 0.5) | is_born[b]
        if last is not None:
            two |= now - last[b] < half_scan
        self.doubt.update(dict.fromkeys(_keys(tab, a[two], b[two]), 0.0))

    def _doubt(self, tab: TrackTable, now: float, a: NDArray[np.intp], b: NDArray[np.intp], mass: Array,
               pd: Array | None, last: Array | None, half_scan: float) -> NDArray[np.bool_]:
        """Update the pairs' evidence of two objects with this message; return which may be tested as one target.

        A message of which the pair explains at least one detection and a half (Σβ; one object gives one
        detection, so its duplicate tracks share at most one) sees two objects: the pair's log-likelihood
        ratio, one object against two, restarts at 0 (as when one of them starts beside the other's
        detection, ``_born_apart``), as it does when the radar detected them in two messages of one revisit
        (a scan sent in parts). A radar scan
        that detected a track of the pair but not two objects adds ``-ln(1 - Pd_a Pd_b)``: two objects
        would both have been detected with probability ``Pd_a Pd_b``. The pair may be one target again
        once the ratio reaches ``ln(1 / merge_unseen_probability)``: a target that a track walked onto
        after it was resolved, which the radar then never sees as two. Objects the radar seldom
        detects stay apart far longer than a well-seen drone's duplicate. Pairs never seen as two
        objects are tested at once."""
        seen = mass[a] + mass[b] >= 1.5
        if last is not None:
            seen |= (last[a] != last[b]) & (now - np.minimum(last[a], last[b]) < half_scan)
        keys = _keys(tab, a, b)
        gain = np.zeros(len(a)) if pd is None else -np.log1p(-pd[a] * pd[b])
        limit = -np.log(self.params.merge_unseen_probability)
        doubt, apart = self.doubt, self.apart
        for key, two, more in zip(keys, seen.tolist(), gain.tolist()):  # Python values: no numpy scalar per pair
            if two:
                doubt[key] = 0.0
            elif key in doubt:
                doubt[key] += more
        return np.array([key not in apart and doubt.get(key, np.inf) >= limit for key in keys], dtype=bool)

    @staticmethod
    def _reach(tab: TrackTable, now: float) -> tuple[Array, Array]:
        """Every track's constant-velocity position at ``now`` (N, 3) and the summed variances of that position
        (N,): what ``_candidates`` compares, computed once per message for its two searches."""
        variances = tab.p.reshape(len(tab), 36)[:, ::7]
        return tab.drifted(now), short_sum(variances[:, :3], 1) + (now - tab.t)**2 * short_sum(variances[:, 3:], 1)

    def _candidates(self, tab: TrackTable, detected: NDArray[np.intp], reach: tuple[Array, Array],
                    tentative: bool = False) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """Pairs (detected row, other row), each once and not both tentative (unless ``tentative``), whose
        constant-velocity positions (``reach``: ``_reach`` at the message's time) are close enough for their
        position variances to possibly pass the test.

        Two tentative tracks are not tested: neither is published, and pooling their hits would
        confirm pairs of clutter tracks that neither would have earned alone."""
        if len(detected) == 0 or len(tab) < 2:
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
        pos, var = reach
        d2 = squared_distances(pos[detected], pos)
        close = d2 <= _PRETEST_MARGIN * self.gate * (var[detected, None] + var[None, :])
        if not tentative:
            established = tab.status != TENTATIVE
            close &= established[detected, None] | established[None, :]
        close[np.arange(len(detected)), detected] = False
        i, b = np.nonzero(close)
        a = detected[i]
        is_detected = np.zeros(len(tab), dtype=bool)
        is_detected[detected] = True
        once = ~(is_detected[b] & (b < a))
        return a[once], b[once]

    def _merge_due(self, tab: TrackTable, identities: IdentityMap, now: float) -> Merged:
        """Merge the pairs that have passed for ``merge_after_s`` (each track in one merge per call)."""
        due = sorted(key for key, start in self.since.items() if now - start >= self.params.merge_after_s)
        keep_rows: list[int] = []
        drop_rows: list[int] = []
        for key in due:
            ra, rb = (int(r) for r in np.searchsorted(tab.number, key))
            if {ra, rb} & set(keep_rows + drop_rows):
                continue
            del self.since[key]
            keep, drop = (ra, rb) if _preferred(tab, ra, rb) else (rb, ra)
            keep_rows.append(keep)
            drop_rows.append(drop)
        if not drop_rows:
            return Merged(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros((0, 6)), np.zeros(0),
                          np.zeros(0, dtype=bool))
        keep, drop = np.array(keep_rows, dtype=np.intp), np.array(drop_rows, dtype=np.intp)
        merged = Merged(tab.number[drop], tab.number[keep], tab.x[drop], tab.t[drop], tab.status[drop] != TENTATIVE)
        self._pool(tab, keep, drop)
        for into, number in zip(merged.into.tolist(), merged.numbers.tolist()):
            identities.bind(into, identities.keys_of(number))
        identities.forget(merged.numbers)
        gone = np.ones(len(tab), dtype=bool)
        gone[drop] = False
        tab.keep(gone)
        return merged

    def _pool(self, tab: TrackTable, keep: NDArray[np.intp], drop: NDArray[np.intp]) -> None:
        """Write into rows ``keep`` what the pairs (keep, drop) know together."""
        prm = self.params
        fresher = (tab.t_fix[drop] > tab.t_fix[keep]) | (
            (tab.t_fix[drop] == tab.t_fix[keep])
            & (np.trace(tab.p[drop, :3, :3], axis1=1, axis2=2) < np.trace(tab.p[keep, :3, :3], axis1=1, axis2=2)))
        donor = np.where(fresher, drop, keep)
        for name in ("x", "p", "xm", "pm", "mu", "t"):
            getattr(tab, name)[keep] = getattr(tab, name)[donor]
        prior = classify.prior_logp(prm.class_prior if self.class_prior is None else self.class_prior(), len(keep))
        tab.label_logp[keep] = classify.fuse(tab.label_logp[keep], tab.label_logp[drop] - prior, prm.class_min_p)
        tab.flock_logp[keep] = 0.0  # mostly the dropped track's class, now in its own evidence: the next fix redoes it
        tab.t_fix[keep] = np.maximum(tab.t_fix[keep], tab.t_fix[drop])
        tab.revisit[keep] = np.maximum(tab.revisit[keep], tab.revisit[drop])  # fixes are due as the slower sensor's
        tab.t_point[keep] = np.maximum(tab.t_point[keep], tab.t_point[drop])
        tab.first_seen[keep] = np.minimum(tab.first_seen[keep], tab.first_seen[drop])
        tab.hits[keep] = np.maximum(tab.hits[keep], tab.hits[drop])
        tab.score[keep] = np.maximum(tab.score[keep], tab.score[drop])
        tab.sensor_last[keep] = np.fmax(tab.sensor_last[keep], tab.sensor_last[drop])
        tab.from_bearings[keep] &= tab.from_bearings[drop]
        tab.status[keep] = CONFIRMED  # one of them was established; ``Tracker.maintain`` coasts it if no fix is recent


def _keys(tab: TrackTable, a: NDArray[np.intp], b: NDArray[np.intp]) -> list[tuple[int, int]]:
    """The (smaller, larger) track-number keys of row pairs."""
    na, nb = tab.number[a], tab.number[b]
    return list(zip(np.minimum(na, nb).tolist(), np.maximum(na, nb).tolist()))


def _preferred(tab: TrackTable, a: int, b: int) -> bool:
    """Whether row ``a`` keeps its identity over row ``b``: confirmed over coasting (whose target was lost)
    over tentative, then the older."""
    ra, rb = _RANK[tab.status[a]], _RANK[tab.status[b]]
    return bool(ra > rb or (ra == rb and tab.number[a] < tab.number[b]))
