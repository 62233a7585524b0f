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
