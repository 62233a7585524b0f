"""GOSPA: the generalised optimal sub-pattern assignment metric (García-Fernández et al., 2017).

With ``alpha = 2`` it splits exactly into a localisation part (the p-th powers of the
distances of assigned pairs), a missed part and a false part (``c**p / 2`` for each
unassigned truth object or estimate). A pair at ``c`` or farther costs as much as leaving
both unassigned, so such pairs are reported as one missed object and one false estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import linear_sum_assignment

Array = NDArray[np.float64]
Index = NDArray[np.intp]


@dataclass(frozen=True)
class Gospa:
    """GOSPA at one time: the distance, its parts (p-th powers, they add up) and the assignment."""

    distance: float
    localisation: float
    missed: float
    false: float
    #: Truth objects and estimates left unassigned (a pair at ``c`` or farther counts in both).
    n_missed: int
    n_false: int
    #: The assigned pairs (closer than ``c``) and their distances.
    truth_index: Index
    estimate_index: Index
    errors: Array


def _points(values: ArrayLike) -> Array:
    return np.asarray(values, dtype=float).reshape(-1, 3) if np.size(values) else np.zeros((0, 3))


def _assign(d: Array, cost: Array, c: float) -> tuple[Index, Index]:
    """The minimum-cost assignment of ``cost``, keeping only pairs closer than ``c``."""
    if d.size == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    rows, cols = linear_sum_assignment(cost)
    keep = d[rows, cols] < c
    return rows[keep].astype(np.intp), cols[keep].astype(np.intp)


def distances(truth: ArrayLike, estimates: ArrayLike) -> Array:
    """Euclidean distances (n, m) between truth positions (n, 3) and estimated positions (m, 3)."""
    x, y = _points(truth), _points(estimates)
    return np.linalg.norm(x[:, None, :] - y[None, :, :], axis=2)


def gospa(truth: ArrayLike, estimates: ArrayLike, c: float = 100.0, p: float = 2.0, alpha: float = 2.0) -> Gospa:
    """GOSPA between truth positions (n, 3) and estimated positions (m, 3), both in metres.

    The optimal assignment minimises the sum of ``min(d, c)**p`` (``linear_sum_assignment``);
    for ``alpha = 2`` this is the GOSPA assignment, and pairs at ``c`` or farther are dropped.
    """
    d = distances(truth, estimates)
    n, m = d.shape
    rows, cols = _assign(d, np.minimum(d, c) ** p, c)
    errors = d[rows, cols]
    half = c**p / alpha
    localisation = float(np.sum(errors**p))
    missed, false = half * (n - len(rows)), half * (m - len(rows))
    distance = (localisation + missed + false) ** (1.0 / p)
    return Gospa(distance, localisation, missed, false, n - len(rows), m - len(rows), rows, cols, errors)


def identity_assignment(d: Array, changed: NDArray[np.bool_], c: float = 100.0, p: float = 2.0,
                        switch_cost: float = 30.0**2) -> tuple[Index, Index]:
    """Pairs (closer than ``c``) for the identity metrics: GOSPA's cost plus ``switch_cost`` for each
    pair that ``changed`` marks as breaking an earlier pairing, so that noise between objects
    closer together than about ``switch_cost ** (1/p)`` metres does not pass for ID switches."""
    return _assign(d, np.minimum(d, c) ** p + np.where(changed & (d < c), switch_cost, 0.0), c)
