"""Joint probabilistic data association (JPDA) for one sensor message, batched and exact on small clusters.

Fortmann, Bar-Shalom & Scheffe (1983); Bar-Shalom, Willett & Tian, *Tracking and Data Fusion*, 6.2.
A joint event assigns each track at most one detection and each detection at most one track.
Its weight is ``Π_assigned Pd·N(ν_ij; 0, S_ij)/λ · Π_missed (1 - Pd·Pg)`` (clutter and new targets
Poisson with density λ). Dividing every track's factors by its miss weight leaves the same
marginals with a miss weight of 1, so a joint event weighs the product of the likelihood ratios
``L_ij`` of its pairs, and a detection left unassigned weighs 1 too: the problem is symmetric in
tracks and detections.

The clutter density is given per *resolution cell* of the sensor, ``λ = ρ / √|2πR|``, which makes
``ln L_ij = ln(Pd / (ρ (1 - Pd Pg))) - ½ (d²_ij + ln|S_ij| - ln|R_j|)`` dimensionless for every
measurement model: the bracket is the tracker's GNN cost, so both methods read one matrix.

Marginals β_ij = P(detection j is track i's | all detections) come from the connected components
of the gate matrix (independent clusters); a cluster whose smaller side has at most
``max_exact`` members is summed exactly over all its joint events by a forward-backward recursion
over the subsets of that side (O(n·m·2^min(n,m))); a larger one falls back to Fitzgerald's cheap
JPDA (1990). The update (``mix``) is the moment-matched mixture of the per-hypothesis EKF
posteriors, per IMM mode: with one R for every detection it is exactly the textbook PDA update,
the combined innovation ``ν = Σ β_j ν_j`` plus the spread term ``K (Σ β_j ν_j ν_jᵀ - ν νᵀ) Kᵀ``.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

#: Association probability below which a (track, detection) pair is left out of the update.
NEGLIGIBLE = 1e-6
#: JPDA* enumerates 2^(tracks + detections) subsets of a cluster: up to this many members in all.
STAR_MAX_MEMBERS = 16
#: Largest ln L_ij (see ``likelihood_ratios``).
MAX_LOG_RATIO = 40.0


def log_likelihood_ratios(cost: Array, detection_probability: float | Array, clutter_density: float | Array,
                          gate_probability: float) -> Array:
    """``ln L_ij`` (N, M) from the association cost ``-2 ln(p(z) √|2πR|)`` (``gating.Gating.cost``; ``d² + ln|S| -
    ln|R|`` for one Gaussian; meaningful inside the gate only). ``detection_probability`` and ``clutter_density``
    may be arrays that broadcast against ``cost``: each track's Pd for this sensor (N, 1), one per track since the miss
    hypothesis is the track's (the miss weight ``1 - Pd Pg`` assumes it), and a density per column (M,)."""
    pd = np.asarray(detection_probability, dtype=float)
    log_odds = np.log(pd) - np.log(clutter_density) - np.log1p(-pd * gate_probability)
    return log_odds - 0.5 * cost


def likelihood_ratios(cost: Array, allowed: NDArray[np.bool_], detection_probability: float | Array,
                      clutter_density: float | Array, gate_probability: float) -> Array:
    """``L_ij`` (N, M) of every gated pair from the association cost (``gating.Gating.cost``); 0 outside the gate.
    ``detection_probability`` and ``clutter_density`` as in ``log_likelihood_ratios``.

    ``ln L`` is capped at ``MAX_LOG_RATIO`` so that a product over 16 pairs stays finite (a pair
    that likely already has a miss probability below e⁻⁶⁰).
    """
    log_ratio = log_likelihood_ratios(np.where(allowed, cost, 0.0), detection_probability, clutter_density,
                                      gate_probability)
    return np.where(allowed, np.exp(np.minimum(log_ratio, MAX_LOG_RATIO)), 0.0)


def clusters(allowed: NDArray[np.bool_]) -> tuple[int, NDArray[np.intp], NDArray[np.intp]]:
    """Independent clusters: connected components of the bipartite gate graph.

    Returns the number of components and the component of each track (N,) and detection (M,);
    components are numbered in order of their lowest track (then detection) index. Every node
    takes the lowest node index (tracks 0..N-1, then detections N..N+M-1) among its neighbours
    until nothing changes: a few array passes over the small gate matrix of one message.
    """
    n, m = allowed.shape
    none = n + m
    track_low, det_low = np.arange(n), np.arange(n, n + m)
    while True:
        det_new = np.minimum(det_low, np.where(allowed, track_low[:, None], none).min(axis=0, initial=none))
        track_new = np.minimum(track_low, np.where(allowed, det_new[None, :], none).min(axis=1, initial=none))
        if np.array_equal(det_new, det_low) and np.array_equal(track_new, track_low):
            break
        track_low, det_low = track_new, det_new
    # A component's lowest node is the one node that is its own lowest: counted in node order, they number them.
    low = np.concatenate([track_low, det_low])
    lowest = low == np.arange(none)
    labels = (np.cumsum(lowest) - 1)[low]
    return int(np.count_nonzero(lowest)), labels[:n], labels[n:]


@cache
def _subset_steps(m: int) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.intp], NDArray[np.intp]]:
    """Index tables of ``_exact`` over the subsets of m detections (bit masks), read-only and shared by every
    cluster of m detections. Rows of 2^(m-1) subsets in increasing order: the two halves of all subsets (rows 0
    and 1), then for each detection j the subsets without j (``without``, flat) and, row for row, the same
    subsets with j (``with_j``, flat); and the same ``without`` and ``with_j`` per subset (2^(m-1), m)."""
    masks = np.arange(1 << m)
    bits = 1 << np.arange(m)
    without = np.array([masks[(masks & bit) == 0] for bit in bits.tolist()])
    halves = masks.reshape(2, (1 << m) >> 1)
    tables = (np.concatenate([halves, without]).ravel(), np.concatenate([halves, without | bits[:, None]]).ravel(),
              np.ascontiguousarray(without.T), np.ascontiguousarray((without | bits[:, None]).T))
    for table in tables:
        table.flags.writeable = False
    return tables


def _exact(ratio: Array) -> Array:
    """Exact pair marginals (n, m) of one cluster, subsets over the columns (m small).

    ``F[k][mask]``: total weight of the joint events of tracks 0..k-1 that use exactly the
    detections in ``mask``; ``B[k][mask]``: of tracks k..n-1 that avoid ``mask``. Then
    ``β_kj ∝ Σ_{mask ∌ j} F[k][mask] · L_kj · B[k+1][mask ∪ j]``.

    Track k's step adds ``L_kj F[k][mask]`` into ``F[k+1][mask ∪ j]`` for every detection j not in ``mask`` (``B``
    alike, the other way round): all its terms at once, gathered through ``_subset_steps``'s tables (every subset's
    own weight first, then detection after detection) and added into their subsets by one ``bincount``, which adds
    in the order given. So every subset sums its own weight, then its terms in column order (an ungated pair adds
    an exact 0 while the weights are finite), and the marginals sum their subsets in increasing order over the
    first axis of a C-ordered array, which numpy adds row after row: the sums of the textbook pair-by-pair
    recursion (``tests/test_jpda.py``), bit for bit, in a few array operations per track instead of a few per pair.
    """
    n, m = ratio.shape
    size = 1 << m
    without, with_j, subsets_without, subsets_with = _subset_steps(m)
    weights = np.concatenate([np.ones((n, 2)), ratio], axis=1)[:, :, None]  # (n, m + 2, 1): a row of each table
    forward = np.zeros((n + 1, size))
    forward[0, 0] = 1.0
    backward = np.zeros((n + 1, size))
    backward[n] = 1.0
    for k in range(n):
        forward[k + 1] = np.bincount(with_j, (weights[k] * forward[k][without].reshape(m + 2, -1)).ravel(), size)
    for k in range(n - 1, -1, -1):
        backward[k] = np.bincount(without, (weights[k] * backward[k + 1][with_j].reshape(m + 2, -1)).ravel(), size)
    by_subset = np.ascontiguousarray(forward[:n].T), np.ascontiguousarray(backward[1:].T)  # (2^m, n)
    weight = (by_subset[0][subsets_without] * by_subset[1][subsets_with]).sum(axis=0)  # (m, n)
    return ratio * weight.T / backward[0, 0]


def _star(ratio: Array) -> Array:
    """JPDA* pair marginals (n, m) of one cluster (Blom & Bloem, 2000), subsets of both sides (n + m small).

    Of the joint events that detect the same set of tracks S with the same set of detections D
    (they differ only by a permutation), only the most likely is kept: with targets closer than
    their errors those permutations are near-equally likely, and averaging over them is what
    pulls JPDA's estimates together (coalescence). ``g[S, D]``, the best weight of a one-to-one
    assignment of S to D, follows by pairing the lowest track of S with each detection of D;
    then every kept event's weight flows back along its own pairs.
    """
    n, m = ratio.shape
    masks = np.arange(1 << m)
    bits = 1 << np.arange(m)
    has = (masks[:, None] & bits[None, :]) != 0
    without = masks[:, None] ^ bits[None, :]
    best = np.zeros((1 << n, 1 << m))
    choice = np.zeros((1 << n, 1 << m), dtype=np.intp)
    best[0, 0] = 1.0
    lowest = [(s & -s).bit_length() - 1 for s in range(1 << n)]
    for s in range(1, 1 << n):
        i = lowest[s]
        weight = np.where(has, ratio[i][None, :] * best[s ^ (1 << i)][without], 0.0)
        choice[s] = weight.argmax(axis=1)
        best[s] = weight[masks, choice[s]]
    flow = best.copy()
    beta = np.zeros((n, m))
    for s in range((1 << n) - 1, 0, -1):
        i = lowest[s]
        live = np.flatnonzero(flow[s] > 0.0)
        j = choice[s, live]
        np.add.at(flow[s ^ (1 << i)], live ^ bits[j], flow[s, live])
        np.add.at(beta[i], j, flow[s, live])
    return beta / best.sum()


def _cheap(ratio: Array) -> Array:
    """Fitzgerald's cheap JPDA: ``β_ij = L_ij / (Σ_j' L_ij' + Σ_i' L_i'j - L_ij + 1)`` (miss weight 1);
    each row sums to less than 1, the rest is the miss."""
    return ratio / (ratio.sum(axis=1, keepdims=True) + ratio.sum(axis=0, keepdims=True) - ratio + 1.0)


def marginals(ratio: Array, max_exact: int = 10, star: bool = False) -> Array:
    """Association probabilities (N, M + 1) from likelihood ratios (N, M): column j < M is
    ``β_ij``, the last column the miss ``β_i0``; every row sums to 1 and every column of
    pairs to at most 1. Clusters whose smaller side exceeds ``max_exact`` use cheap JPDA;
    with ``star``, clusters of at most ``STAR_MAX_MEMBERS`` tracks and detections use JPDA*."""
    n, m = ratio.shape
    beta = np.zeros((n, m + 1))
    beta[:, m] = 1.0
    gated = ratio > 0.0
    if not gated.any():
        return beta
    # Only tracks and detections with some gated pair can share a cluster; the rest keep β = 0.
    tracks, dets = np.flatnonzero(gated.any(axis=1)), np.flatnonzero(gated.any(axis=0))
    if len(tracks) == 1 or len(dets) == 1:  # one cluster: most messages, with one track or one detection near
        count, track_label, det_label = 1, np.zeros(len(tracks), dtype=np.intp), np.zeros(len(dets), dtype=np.intp)
    else:
        count, track_label, det_label = clusters(gated[tracks[:, None], dets])
    n_tracks, n_dets = np.bincount(track_label, minlength=count), np.bincount(det_label, minlength=count)
    # A cluster of one track or one detection has a closed form: β = L / (1 + Σ L) over its pairs.
    lone_track = tracks[n_tracks[track_label] == 1]
    if len(lone_track):
        beta[lone_track, :m] = ratio[lone_track] / (1.0 + ratio[lone_track].sum(axis=1, keepdims=True))
    lone_det = dets[n_dets[det_label] == 1]
    if len(lone_det):
        beta[:, lone_det] = ratio[:, lone_det] / (1.0 + ratio[:, lone_det].sum(axis=0, keepdims=True))
    for label in np.flatnonzero((n_tracks > 1) & (n_dets > 1)).tolist():
        rows, cols = tracks[track_label == label], dets[det_label == label]
        block = ratio[rows[:, None], cols]
        if star and sum(block.shape) <= STAR_MAX_MEMBERS:
            pairs = _star(block) if block.shape[0] <= block.shape[1] else _star(block.T).T
        elif min(block.shape) > max_exact:
            pairs = _cheap(block)
        elif block.shape[1] <= block.shape[0]:
            pairs = _exact(block)
        else:
            pairs = _exact(block.T).T
        beta[rows[:, None], cols] = pairs
    beta[:, m] = np.clip(1.0 - beta[:, :m].sum(axis=1), 0.0, 1.0)
    return beta


def mix(x_pred: Array, p_pred: Array, c: Array, beta_miss: Array, pair_track: NDArray[np.intp],
        beta_pair: Array, x_pair: Array, p_pair: Array, loglik_pair: Array) -> tuple[Array, Array, Array]:
    """JPDA-IMM update of k tracks: per-mode states (k, r, 6), covariances (k, r, 6, 6) and mode probabilities (k, r).

    Inputs: the tracks' predicted modes ``x_pred`` (k, r, 6), ``p_pred`` and probabilities ``c``
    (k, r); their miss probabilities ``beta_miss`` (k,); and for p (track, detection) pairs the
    track (index into k), ``β``, each mode's EKF posterior ``x_pair`` (p, r, 6), ``p_pair`` and
    measurement log-likelihood (p, r). The pair's mode posterior is ``c_r l_r / Σ c l``, so
    ``P(mode r, hypothesis j) = β_j P(r | j)`` (with ``P(r | miss) = c_r``); summed over j it is the
    new μ_r, and each mode's state is the moment-matched mixture of its hypotheses.
    Weights are renormalised per track, so pairs the caller dropped (tiny β) are ignored.
    """
    logw = np.log(np.maximum(c[pair_track], 1e-300)) + loglik_pair
    mode_given_pair = np.exp(logw - logw.max(axis=1, keepdims=True))
    mode_given_pair /= mode_given_pair.sum(axis=1, keepdims=True)
    w_pair = beta_pair[:, None] * mode_given_pair
    w_miss = beta_miss[:, None] * c
    mu = w_miss.copy()
    np.add.at(mu, pair_track, w_pair)
    total = mu.sum(axis=1, keepdims=True)
    mu_safe = np.maximum(mu, 1e-300)
    x = w_miss[..., None] * x_pred
    np.add.at(x, pair_track, w_pair[..., None] * x_pair)
    x = np.where(mu[..., None] > 0.0, x / mu_safe[..., None], x_pred)
    d_miss, d_pair = x_pred - x, x_pair - x[pair_track]
    p = w_miss[..., None, None] * (p_pred + d_miss[..., :, None] * d_miss[..., None, :])
    np.add.at(p, pair_track, w_pair[..., None, None] * (p_pair + d_pair[..., :, None] * d_pair[..., None, :]))
    p /= mu_safe[..., None, None]
    return x, 0.5 * (p + np.swapaxes(p, -1, -2)), mu / total
