"""Global nearest neighbour: one optimal assignment of detections to tracks per sensor message.

The classic augmented cost matrix (Blackman & Popoli, 6.5) lets every track and every
detection stay unassigned at ``non_assignment_cost`` each, so a pair is only used when its
cost is below twice that; pairs outside the gate are forbidden. One call of
``scipy.optimize.linear_sum_assignment`` solves it exactly.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

Array = NDArray[np.float64]

#: Cost of a forbidden pair: finite so the solver stays fast, far above any allowed total.
FORBIDDEN = 1e12


def gnn_assign(cost: Array, allowed: NDArray[np.bool_],
               non_assignment_cost: float) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Track and detection indices of the optimal pairs, ordered by track index.

    ``cost`` and ``allowed`` are (N tracks, M detections).
    """
    n, m = cost.shape
    if n == 0 or m == 0:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty
    big = np.full((n + m, m + n), FORBIDDEN)
    big[:n, :m] = np.where(allowed, cost, FORBIDDEN)
    big[np.arange(n), m + np.arange(n)] = non_assignment_cost
    big[n + np.arange(m), np.arange(m)] = non_assignment_cost
    big[n:, m:] = 0.0
    rows, cols = linear_sum_assignment(big)
    real = (rows < n) & (cols < m)
    rows, cols = rows[real], cols[real]
    keep = allowed[rows, cols]
    return rows[keep], cols[keep]


def identity_probabilities(log_odds: Array) -> Array:
    """P(identity k is track i) (N, K) from the log-odds (N, K) of "k is i" against "k is a target without a
    track" (whose odds are 1): ``e^{o_ik} / (1 + Σ_j e^{o_jk})``."""
    return np.exp(log_odds - _log_sum_exp_columns(np.vstack([log_odds, np.zeros((1, log_odds.shape[1]))])))


def _log_sum_exp_columns(a: Array) -> Array:
    """``scipy.special.logsumexp(a, axis=0)`` of a real 2-d array by the same operations, without its array-API
    dispatch (ten times the cost at this size). Its steps for negative sums (only with weights) do nothing here."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        a_max = a.max(axis=0, keepdims=True)
        at_max = a == a_max
        # The maxima are separated out of the sum, for precision: m of them, each e⁰ = 1.
        m = at_max.astype(a.dtype).sum(axis=0, keepdims=True, dtype=a.dtype)
        s = np.exp(np.where(at_max, -np.inf, a) - a_max).sum(axis=0, keepdims=True, dtype=a.dtype)
        out = np.log1p(np.where(s == 0, s, s / m)) + np.log(m) + a_max
    finite = np.isfinite(out)
    if not finite.all():  # an infinite or NaN input: the direct formula's edge cases
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = np.where(finite, out, np.log(np.exp(a).sum(axis=0, keepdims=True)))
    return out[0]


class IdentityEvidence:
    """Which track each RF identity seen on bearings belongs to, weighed on all its bearings, not scan by scan.

    An emitter id is one target's: all its bearings come from one track or from none. So the
    hypothesis "identity k is track i" is tested on the whole sequence of k's bearings, as in a
    track-oriented multi-scan test: its log-likelihood ratio against "k is a target without a track"
    adds, per bearing, ``ln L_ki`` (the association's ratio) if the bearing fell inside track i's gate
    and ``ln(1 - Pg)`` (``outside``) if not (a target's own detection leaves its gate with probability
    1 - Pg; another's almost surely does). Older bearings fade with time constant ``memory_s``, so an
    identity can move to another track when the tracks' geometry changes.
    """

    def __init__(self, memory_s: float, gate_probability: float) -> None:
        self.memory_s = memory_s
        self.outside = float(np.log1p(-gate_probability))
        #: Per identity: time of its last bearing, the track numbers and their evidence then, and the largest of those
        #: numbers (-1: none; ``history``'s newborn test), kept so that no call takes a maximum per identity.
        self._evidence: dict[str, tuple[float, NDArray[np.int64], Array, int]] = {}

    def history(self, now: float, keys: list[str], numbers: NDArray[np.int64],
                level: NDArray[np.bool_] | None = None) -> Array:
        """Evidence (tracks ``numbers`` (sorted), keys) of each identity for each track, faded to ``now``
        (0 where it has none).

        A track born since the identity's evidence was last stored and marked for it in ``level`` (N, keys) starts
        level with the identity's best living track (at least 0), not at 0: its target was there before its track,
        so the bearings it never saw are no evidence against it; each bearing's fit then adds to that start, as to
        every track's evidence. At 0 a drone's own radar track, born a second after its emitter's first bearings,
        started 20.9 nats behind every older track in the bearings' wedge and never caught up (``mass`` seed 29,
        traced: a clutter track 300 m away took the emitter's bearings, its label and a confirmation).
        """
        n = len(numbers)
        known = [k for k, key in enumerate(keys) if key in self._evidence]
        if not known or not n:
            return np.zeros((n, len(keys)))
        # Every known identity's stored tracks at once: one scatter instead of a few per identity.
        times, old_numbers, old, newest = zip(*(self._evidence[keys[k]] for k in known))
        sizes = [len(stored) for stored in old_numbers]
        elapsed = np.maximum(now - np.array(times), 0.0)  # an older scan: no decay
        faded = np.concatenate(old) * np.repeat(np.exp(-elapsed / self.memory_s), sizes)
        # Each stored track's row, n (a spare row, dropped below) if it is dead. Identities stored together share
        # one numbers array (``add``): each distinct array is searched once.
        rows_of: dict[int, NDArray[np.intp]] = {}
        for stored in old_numbers:
            if id(stored) not in rows_of:
                rows = np.minimum(np.searchsorted(numbers, stored), n - 1)
                rows[numbers[rows] != stored] = n
                rows_of[id(stored)] = rows
        at, column = np.concatenate([rows_of[id(stored)] for stored in old_numbers]), np.repeat(known, sizes)
        spare = np.zeros((n + 1, len(keys)))
        spare[at, column] = faded
        out = spare[:n]
        if level is not None:
            # Track numbers only grow: a track numbered above all an identity stored was born since it was stored.
            born = (numbers[:, None] > np.array(newest)[None, :]) & level[:, known]
            kept = out[:, known]
            best = np.maximum(np.where(born, -np.inf, kept).max(axis=0), 0.0)
            out[:, known] = np.where(born, best, kept)
        return out

    def add(self, now: float, keys: list[str], numbers: NDArray[np.int64], evidence: Array) -> None:
        """Set the identities' evidence (tracks ``numbers``, keys) at ``now``; forget identities unseen for
        ten memories (their evidence is below e⁻¹⁰ of what it was)."""
        # One copy of the numbers and one of the evidence, shared by these identities (each stores a row of the
        # transposed copy): stored arrays are never written to.
        numbers, columns = numbers.copy(), evidence.T.copy()
        newest = int(numbers.max(initial=-1))
        for k, key in enumerate(keys):
            latest = max(now, self._evidence[key][0]) if key in self._evidence else now  # never back in time
            self._evidence[key] = (latest, numbers, columns[k], newest)
        for key in [key for key, (t, *_) in self._evidence.items() if t < now - 10.0 * self.memory_s]:
            del self._evidence[key]

    def merge(self, numbers: NDArray[np.int64], into: NDArray[np.int64]) -> None:
        """Tracks ``numbers`` were merged into ``into`` (one target's two tracks): each survivor keeps, per
        identity, the larger of the two evidences (the same bearings mostly gated both; summing would count
        them twice)."""
        for key, (t, old_numbers, old, newest) in self._evidence.items():
            drop = np.isin(old_numbers, numbers)
            if not drop.any():
                continue
            evidence = old.copy()
            for gone, survivor in zip(numbers.tolist(), into.tolist()):
                src, dst = np.flatnonzero(old_numbers == gone), np.flatnonzero(old_numbers == survivor)
                if len(src) and len(dst):
                    evidence[dst] = np.maximum(evidence[dst], evidence[src])
            self._evidence[key] = (t, old_numbers, evidence, newest)

    def assign(self, now: float, numbers: NDArray[np.int64]) -> list[tuple[str, int | None]]:
        """Every identity with its track number in the one-to-one assignment of largest total positive
        evidence (None: no track)."""
        keys = list(self._evidence)
        track: list[int | None] = [None] * len(keys)
        if keys and len(numbers):
            score = self.history(now, keys, numbers)
            # Only tracks and identities with some positive evidence can pair: the rest stay unassigned anyway.
            positive = score > 0.0
            tracks, ids = np.flatnonzero(positive.any(axis=1)), np.flatnonzero(positive.any(axis=0))
            live = np.ix_(tracks, ids)
            rows, cols = gnn_assign(-score[live], positive[live], 0.0)
            for r, c in zip(tracks[rows].tolist(), ids[cols].tolist()):
                track[c] = int(numbers[r])
        return list(zip(keys, track))
