"""JPDA (``fusion.tracking.jpda``): marginals against hypotheses written out by hand, cluster splitting,
the combined update against the textbook PDA formula, and the tracker driven with ``association: jpda``."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.stats import multivariate_normal
from test_tracking import RADAR_ORIGIN, T0, radar_plot, scan

from fusion.config import FusionConfig
from fusion.geo import LocalFrame
from fusion.tracking import Tracker, TrackerParams, jpda
from fusion.tracking.association import IdentityEvidence
from fusion.tracking.filters import update
from fusion.tracking.tracks import CONFIRMED


def brute_force(ratio: np.ndarray) -> np.ndarray:
    """Marginals (N, M + 1) by listing every joint event: each track takes a gated detection or misses."""
    n, m = ratio.shape
    beta = np.zeros((n, m + 1))
    total = 0.0
    for choice in itertools.product(*[[m, *np.flatnonzero(ratio[i]).tolist()] for i in range(n)]):
        used = [j for j in choice if j < m]
        if len(used) != len(set(used)):
            continue
        weight = math.prod(ratio[i, j] for i, j in enumerate(choice) if j < m)
        total += weight
        for i, j in enumerate(choice):
            beta[i, j] += weight
    return beta / total


def test_two_tracks_two_detections_marginals_by_hand() -> None:
    # Likelihood ratios (miss weight 1): L11 = 3, L12 = 1, L21 = 2, L22 = 4. The joint events:
    #   both miss: 1;  T1-D1: 3;  T1-D2: 1;  T2-D1: 2;  T2-D2: 4;  T1-D1 & T2-D2: 12;  T1-D2 & T2-D1: 2.
    # Z = 25; β11 = (3 + 12)/25, β12 = (1 + 2)/25, β10 = (1 + 2 + 4)/25 (T1 misses: T2 misses, D1 or D2);
    # β21 = (2 + 2)/25, β22 = (4 + 12)/25, β20 = (1 + 3 + 1)/25.
    beta = jpda.marginals(np.array([[3.0, 1.0], [2.0, 4.0]]))
    np.testing.assert_allclose(beta, np.array([[15, 3, 7], [4, 16, 5]]) / 25.0, rtol=1e-12)


def test_jpda_star_keeps_only_the_best_permutation_by_hand() -> None:
    # The same events, but of the two that detect both tracks with both detections only the better
    # (T1-D1 & T2-D2: 12, not T1-D2 & T2-D1: 2) is kept: Z = 23.
    beta = jpda.marginals(np.array([[3.0, 1.0], [2.0, 4.0]]), star=True)
    np.testing.assert_allclose(beta, np.array([[15, 1, 7], [2, 16, 5]]) / 23.0, rtol=1e-12)


def brute_force_star(ratio: np.ndarray) -> np.ndarray:
    """JPDA* marginals by listing every joint event and keeping the best per (tracks, detections) sets."""
    n, m = ratio.shape
    kept: dict[tuple[tuple[int, ...], tuple[int, ...]], tuple[float, tuple[int, ...]]] = {}
    for choice in itertools.product(*[[m, *np.flatnonzero(ratio[i]).tolist()] for i in range(n)]):
        used = [j for j in choice if j < m]
        if len(used) != len(set(used)):
            continue
        weight = math.prod(ratio[i, j] for i, j in enumerate(choice) if j < m)
        key = (tuple(i for i, j in enumerate(choice) if j < m), tuple(sorted(used)))
        if key not in kept or weight > kept[key][0]:
            kept[key] = (weight, choice)
    beta = np.zeros((n, m + 1))
    for weight, choice in kept.values():
        for i, j in enumerate(choice):
            beta[i, j] += weight
    return beta / sum(weight for weight, _ in kept.values())


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 4)])
def test_jpda_star_matches_enumeration(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(shape[0] * 10 + shape[1])
    ratio = rng.exponential(3.0, shape) * (rng.random(shape) < 0.7)
    beta = jpda.marginals(ratio, star=True)
    np.testing.assert_allclose(beta, brute_force_star(ratio), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(beta.sum(axis=1), 1.0, rtol=1e-12)


def test_likelihood_ratio_is_pd_times_gaussian_over_clutter_and_miss() -> None:
    r = np.diag([4.0, 9.0])
    s = r + np.array([[5.0, 1.0], [1.0, 3.0]])
    y = np.array([2.0, -1.0])
    d2 = float(y @ np.linalg.solve(s, y))
    cost = d2 + np.linalg.slogdet(s)[1] - np.linalg.slogdet(r)[1]
    pd, rho, pg = 0.8, 1e-3, 0.99
    clutter = rho / math.sqrt(np.linalg.det(2 * np.pi * r))
    expected = pd * multivariate_normal(np.zeros(2), s).pdf(y) / clutter / (1.0 - pd * pg)
    ratio = jpda.likelihood_ratios(np.array([[cost, 0.0]]), np.array([[True, False]]), pd, rho, pg)
    np.testing.assert_allclose(ratio, [[expected, 0.0]], rtol=1e-10)


def test_likelihood_ratios_take_a_pd_per_track_and_a_density_per_column() -> None:
    cost = np.array([[1.0, 2.0], [3.0, 4.0]])
    pd, rho, pg = np.array([[0.9], [0.09]]), np.array([1e-6, 1e-2]), 0.999
    expected = pd * np.exp(-0.5 * cost) / (rho[None, :] * (1.0 - pd * pg))
    np.testing.assert_allclose(jpda.likelihood_ratios(cost, np.ones((2, 2), dtype=bool), pd, rho, pg), expected,
                               rtol=1e-12)


def test_clusters_split_and_are_solved_independently() -> None:
    ratio = np.array([[5.0, 0.0, 2.0, 0.0],
                      [0.0, 7.0, 0.0, 0.0],
                      [0.0, 0.0, 3.0, 0.0],
                      [0.0, 0.0, 0.0, 0.0]])
    count, tracks, dets = jpda.clusters(ratio > 0)
    assert count == 4  # {T0, T2, D0, D2}, {T1, D1}, {T3}, {D3}
    assert tracks.tolist()[:3] == [0, 1, 0] and dets.tolist()[:3] == [0, 1, 0]
    assert len({tracks[3], dets[3]} & {0, 1}) == 0 and tracks[3] != dets[3]
    beta = jpda.marginals(ratio)
    np.testing.assert_allclose(beta, brute_force(ratio), rtol=1e-12)
    np.testing.assert_allclose(beta[1], [0.0, 7 / 8, 0.0, 0.0, 1 / 8], rtol=1e-12)
    np.testing.assert_array_equal(beta[3], [0.0, 0.0, 0.0, 0.0, 1.0])
    small = jpda.marginals(ratio[np.ix_([0, 2], [0, 2])])
    np.testing.assert_allclose(beta[np.ix_([0, 2], [0, 2, 4])], small, rtol=1e-12)


@pytest.mark.parametrize("shape", [(4, 6), (6, 4), (5, 5)])
def test_exact_marginals_match_enumeration_and_rows_sum_to_one_with_the_miss(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(shape) * shape[0])
    ratio = rng.exponential(3.0, shape) * (rng.random(shape) < 0.6)
    beta = jpda.marginals(ratio)
    np.testing.assert_allclose(beta, brute_force(ratio), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(beta.sum(axis=1), 1.0, rtol=1e-12)
    assert (beta[:, :-1].sum(axis=0) <= 1.0 + 1e-12).all() and (beta >= 0.0).all()


def test_large_clusters_fall_back_to_cheap_jpda() -> None:
    ratio = np.array([[4.0, 1.0], [2.0, 3.0]])
    beta = jpda.marginals(ratio, max_exact=1)
    # Fitzgerald: β_ij = L_ij / (row sum + column sum - L_ij + 1).
    expected = np.array([[4 / (5 + 6 - 4 + 1), 1 / (5 + 4 - 1 + 1)], [2 / (5 + 6 - 2 + 1), 3 / (5 + 4 - 3 + 1)]])
    np.testing.assert_allclose(beta[:, :2], expected, rtol=1e-12)
    np.testing.assert_allclose(beta.sum(axis=1), 1.0, rtol=1e-12)


def test_combined_update_of_one_track_with_two_detections_is_the_textbook_pda() -> None:
    x = np.array([0.0, 0.0, 0.0, 5.0, 0.0, 0.0])
    p = np.diag([100.0, 100.0, 50.0, 4.0, 4.0, 1.0])
    p[0, 3] = p[3, 0] = 10.0
    h = np.zeros((3, 6))
    h[0, 0] = h[1, 1] = h[2, 2] = 1.0
    r = np.diag([25.0, 25.0, 25.0])
    s = h @ p @ h.T + r
    z = np.array([[12.0, -5.0, 3.0], [-4.0, 9.0, 0.0]])
    nu = z - h @ x
    pd, rho, pg = 0.9, 1e-2, 0.999
    cost = np.array([[n @ np.linalg.solve(s, n) + np.linalg.slogdet(s)[1] - np.linalg.slogdet(r)[1] for n in nu]])
    beta = jpda.marginals(jpda.likelihood_ratios(cost, np.ones((1, 2), dtype=bool), pd, rho, pg))[0]
    # By hand: e_j = N(ν_j; 0, S), b = λ (1 - Pd Pg) / Pd; β_j = e_j / (b + Σ e), β_0 = b / (b + Σ e).
    e = np.array([multivariate_normal(np.zeros(3), s).pdf(n) for n in nu])
    b = rho / math.sqrt(np.linalg.det(2 * np.pi * r)) * (1 - pd * pg) / pd
    np.testing.assert_allclose(beta, [*e / (b + e.sum()), b / (b + e.sum())], rtol=1e-10)

    k = p @ h.T @ np.linalg.inv(s)
    combined = beta[0] * nu[0] + beta[1] * nu[1]
    spread = sum(beta[j] * np.outer(nu[j], nu[j]) for j in range(2)) - np.outer(combined, combined)
    x_book = x + k @ combined
    p_book = beta[2] * p + (1 - beta[2]) * (p - k @ s @ k.T) + k @ spread @ k.T

    hs = np.repeat(h[None], 2, axis=0)
    x_j, p_j = update(np.repeat(x[None], 2, axis=0), np.repeat(p[None], 2, axis=0), nu, hs,
                      np.repeat(s[None], 2, axis=0), np.repeat(r[None], 2, axis=0))
    x_new, p_new, mu = jpda.mix(x[None, None], p[None, None], np.ones((1, 1)), beta[2:], np.array([0, 0]),
                                beta[:2], x_j[:, None], p_j[:, None], np.zeros((2, 1)))
    np.testing.assert_allclose(x_new[0, 0], x_book, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(p_new[0, 0], p_book, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(mu, [[1.0]])


def test_mix_with_a_certain_association_is_the_imm_update() -> None:
    rng = np.random.default_rng(7)
    x_pred, x_post = rng.normal(size=(1, 2, 6)), rng.normal(size=(1, 2, 6))
    p_pred = np.repeat(np.eye(6)[None, None] * 9.0, 2, axis=1)
    p_post = np.repeat(np.eye(6)[None, None] * 4.0, 2, axis=1)
    c, loglik = np.array([[0.7, 0.3]]), np.array([[-1.0, -3.0]])
    x, p, mu = jpda.mix(x_pred, p_pred, c, np.zeros(1), np.array([0]), np.ones(1), x_post, p_post, loglik)
    w = c[0] * np.exp(loglik[0])
    np.testing.assert_allclose(mu[0], w / w.sum(), rtol=1e-12)
    np.testing.assert_allclose(x, x_post, rtol=1e-12)
    np.testing.assert_allclose(p, p_post, rtol=1e-12)


def jpda_tracker() -> Tracker:
    return Tracker(FusionConfig().tracker_params())


def formation_run() -> Tracker:
    """Two drones 50 m apart at 2 km, flying side by side towards a radar whose plots say their noise
    (5 m, 0.3°: 10 m across) for 20 scans. With the default 1° the spacing would be about one sigma
    across, where JPDA's estimates are known to coalesce (see docs/performance.md)."""
    tracker = jpda_tracker()
    rng = np.random.default_rng(11)
    sigma = {"range_m": 5.0, "azimuth_deg": 0.3, "elevation_deg": 0.5}
    for k in range(20):
        plots = [{**radar_plot(2000.0 - 10 * k + float(rng.normal(0, 5)), az + float(rng.normal(0, 0.3))),
                  "sigma": sigma} for az in (44.3, 45.7)]
        tracker.step(scan("radar", T0 + k, plots))
    return tracker


def test_jpda_tracker_keeps_a_close_pair_apart_and_is_deterministic() -> None:
    assert TrackerParams().association == FusionConfig().association == "jpda"
    tracker = formation_run()
    assert tracker.table.ids == ["T-1", "T-2"]
    assert tracker.table.status.tolist() == [CONFIRMED, CONFIRMED]
    truth = Tracker()
    truth.step(scan("radar", T0 + 19, [radar_plot(2000.0 - 190, az) for az in (44.3, 45.7)]))
    distance = np.linalg.norm(tracker.table.x[:, None, :3] - truth.table.x[None, :, :3], axis=2)
    assert distance.argmin(axis=1).tolist() == [0, 1]  # no swap: T-1 is still the left drone
    assert distance.min(axis=1).max() < 20.0
    again = formation_run()
    for name in ("x", "p", "mu", "hits"):
        np.testing.assert_array_equal(getattr(tracker.table, name), getattr(again.table, name))


def test_jpda_tracker_confirms_a_lone_target_and_ignores_an_old_scan() -> None:
    tracker = jpda_tracker()
    for k in range(4):
        result = tracker.step(scan("radar", T0 + k, [radar_plot(1000.0 + 5 * k, 45.0)]))
    assert result.confirmed == ("T-1",)
    before = tracker.table.x.copy()
    result = tracker.step(scan("radar", T0 + 2.5, [radar_plot(1013.0, 45.0)]))
    assert result.out_of_order == 1 and result.started == () and result.updated == ()
    np.testing.assert_array_equal(before, tracker.table.x)


def _exact_by_boolean_masks(ratio: np.ndarray) -> np.ndarray:
    """The plain subset recursion ``jpda._exact`` replaces: boolean subset masks per column, and the
    marginal sums over a transposed (column-major) array, which numpy adds one subset after another."""
    n, m = ratio.shape
    masks = np.arange(1 << m)
    bits = 1 << np.arange(m)
    has = (masks[:, None] & bits[None, :]) != 0
    forward = np.zeros((n + 1, 1 << m))
    forward[0, 0] = 1.0
    for k in range(n):
        f = forward[k].copy()
        for j in np.flatnonzero(ratio[k]):
            f[has[:, j]] += ratio[k, j] * forward[k][masks[has[:, j]] ^ bits[j]]
        forward[k + 1] = f
    backward = np.zeros((n + 1, 1 << m))
    backward[n] = 1.0
    for k in range(n - 1, -1, -1):
        b = backward[k + 1].copy()
        for j in np.flatnonzero(ratio[k]):
            b[~has[:, j]] += ratio[k, j] * backward[k + 1][masks[~has[:, j]] | bits[j]]
        backward[k] = b
    beta = np.zeros((n, m))
    for col in range(m):
        free = ~has[:, col]
        beta[:, col] = ratio[:, col] * (forward[:n, free] * backward[1:, masks[free] | bits[col]]).sum(axis=1) \
            / backward[0, 0]
    return beta


@pytest.mark.parametrize("shape", [(2, 2), (7, 3), (12, 6), (25, 8)])
def test_exact_marginals_equal_the_plain_subset_recursion_bit_for_bit(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(shape[0] * 31 + shape[1])
    ratio = rng.exponential(5.0, shape) * (rng.random(shape) < 0.4)
    ratio[0, 0] = 2.0  # never an all-empty first row or column
    ratio[:, -1] += 0.5
    beta = jpda._exact(ratio)
    np.testing.assert_array_equal(beta, _exact_by_boolean_masks(ratio))
    if shape[0] <= 8:
        np.testing.assert_allclose(beta, brute_force(ratio)[:, :-1], rtol=1e-10, atol=1e-15)


def test_clusters_are_the_connected_components_numbered_by_lowest_member() -> None:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    rng = np.random.default_rng(7)
    for _ in range(30):
        n, m = rng.integers(1, 30), rng.integers(1, 12)
        allowed = rng.random((n, m)) < 0.08
        rows, cols = np.nonzero(allowed)
        count, labels = connected_components(coo_matrix((np.ones(len(rows)), (rows, n + cols)), shape=(n + m, n + m)),
                                             directed=False)
        got = jpda.clusters(allowed)
        assert got[0] == count
        np.testing.assert_array_equal(got[1], labels[:n])
        np.testing.assert_array_equal(got[2], labels[n:])


def test_marginals_of_ungated_rows_and_columns_are_a_certain_miss_and_zero() -> None:
    rng = np.random.default_rng(11)
    core = rng.exponential(4.0, (4, 3)) * (rng.random((4, 3)) < 0.7)
    core[0] = [3.0, 2.0, 0.0]
    ratio = np.zeros((7, 5))
    ratio[np.ix_([1, 3, 4, 6], [0, 2, 3])] = core
    beta = jpda.marginals(ratio)
    np.testing.assert_array_equal(beta[np.ix_([1, 3, 4, 6], [0, 2, 3, 5])], jpda.marginals(core))
    np.testing.assert_array_equal(beta[[0, 2, 5]], [[0.0, 0.0, 0.0, 0.0, 0.0, 1.0]] * 3)
    np.testing.assert_array_equal(beta[:, [1, 4]], 0.0)


def test_identity_evidence_sums_bearings_fades_and_assigns_identities_one_to_one() -> None:
    evidence = IdentityEvidence(memory_s=10.0, gate_probability=0.999)
    numbers = np.array([3, 5], dtype=np.int64)
    keys = ["emitter:a", "emitter:b"]
    np.testing.assert_array_equal(evidence.history(T0, keys, numbers), np.zeros((2, 2)))
    assert evidence.outside == pytest.approx(math.log(0.001), rel=1e-12)  # outside a track's gate: ln(1 - Pg)
    evidence.add(T0, keys, numbers, np.array([[5.0, 4.0], [3.0, evidence.outside]]))
    faded = np.array([[5.0, 4.0], [3.0, math.log(0.001)]]) * math.exp(-1.0)
    np.testing.assert_allclose(evidence.history(T0 + 10.0, keys, numbers), faded, rtol=1e-12)
    # a on T-3 and nothing for b scores 5; a on T-5 and b on T-3 scores 3 + 4 = 7: the assignment is one-to-one.
    assert evidence.assign(T0 + 10.0, numbers) == [("emitter:a", 5), ("emitter:b", 3)]
    # T-3 ends, T-7 starts: b's evidence for T-5 is negative, so b goes to no track.
    later = np.array([5, 7], dtype=np.int64)
    np.testing.assert_allclose(evidence.history(T0 + 10.0, keys, later), [faded[1], [0.0, 0.0]], rtol=1e-12)
    assert evidence.assign(T0 + 10.0, later) == [("emitter:a", 5), ("emitter:b", None)]


def test_a_track_born_since_an_identitys_last_bearing_may_start_level_with_its_best_living_track() -> None:
    """Its target was there before its track: the bearings it never saw are no evidence against it."""
    evidence = IdentityEvidence(memory_s=10.0, gate_probability=0.999)
    keys = ["emitter:a", "emitter:b"]
    evidence.add(T0, keys, np.array([1, 2, 3], dtype=np.int64), np.array([[20.0, -4.0], [12.0, -6.0], [30.0, -1.0]]))
    # T-3 (a's best) has ended; T-4, T-6 and T-7 are new, T-5 ended unseen. Level, T-4 and T-6 start with a's
    # best living track (T-1, 20) and with "no track" (0) for b, whose living tracks are all below it; T-7, level
    # for neither, starts at 0, as every new track does without ``level``. Old tracks keep their own evidence.
    now = np.array([1, 2, 4, 6, 7], dtype=np.int64)
    level = np.array([[True, True], [True, True], [True, True], [True, False], [False, False]])
    np.testing.assert_allclose(evidence.history(T0, keys, now, level),
                               [[20.0, -4.0], [12.0, -6.0], [20.0, 0.0], [20.0, 0.0], [0.0, 0.0]])
    level[3] = [False, True]
    np.testing.assert_allclose(evidence.history(T0, keys, now, level)[3], [0.0, 0.0])
    level[2] = [False, True]
    np.testing.assert_allclose(evidence.history(T0, ["emitter:a"], now, level[:, :1])[2], [0.0])
    np.testing.assert_allclose(evidence.history(T0, keys, now)[2:], np.zeros((3, 2)))
    # Once a bearing has weighed the newcomers, their own evidence counts: here it fell outside T-4's gate.
    evidence.add(T0 + 1.0, ["emitter:a"], now, np.array([[21.0], [13.0], [20.0 + evidence.outside], [21.5], [1.0]]))
    faded = math.exp(-0.1)
    np.testing.assert_allclose(evidence.history(T0 + 2.0, ["emitter:a"], now, np.ones((5, 1), dtype=bool)),
                               np.array([[21.0], [13.0], [20.0 + math.log(0.001)], [21.5], [1.0]]) * faded, rtol=1e-12)


def bearing(emitter: str, az_deg: float) -> dict:  # type: ignore[type-arg]
    """An RF direction finder's bearing of ``emitter`` (sigma 6°)."""
    return {"azimuth_deg": az_deg, "emitter_id": emitter, "sigma": {"azimuth_deg": 6.0}}


def test_an_identitys_earlier_bearings_steer_its_next_bearing_to_its_own_track() -> None:
    """Two drones 8° apart at 1 km, each with its own emitter, seen by a direction finder at the radar (bearing
    sigma 6°): a bearing half-way fits both tracks alike, but its emitter's earlier bearings fit one track."""
    tracker = Tracker(FusionConfig().tracker_params())
    for k in range(4):
        tracker.step(scan("radar", T0 + k, [radar_plot(1000.0, 45.0), radar_plot(1000.0, 53.0)]))
    assert tracker.table.ids == ["T-1", "T-2"] and tracker.table.status.tolist() == [CONFIRMED] * 2

    for k in range(6):
        tracker.step(scan("rf", T0 + 3.5 + 0.1 * k, [bearing("em-a", 45.0), bearing("em-b", 53.0)],
                          sensor_id="df-1"))
    assert tracker.identities.track_of(("emitter:em-a",)) == 1 and tracker.identities.track_of(("emitter:em-b",)) == 2
    before = tracker.table.x[:, :2].copy()
    tracker.step(scan("rf", T0 + 4.2, [bearing("em-a", 49.0)], sensor_id="df-1"))
    across = np.array([np.cos(np.radians(49.0)), -np.sin(np.radians(49.0))]) @ (tracker.table.x[:, :2] - before).T
    # em-a's six earlier bearings fit T-1 about e⁵ times better: T-1 takes the bearing, T-2 (which alone
    # would take it with β ≈ ½ too, and move as far the other way) hardly moves.
    assert across[0] > 1.0 and abs(across[1]) < 0.05 * across[0]
    # Far from both tracks: em-a's target has a track, so its bearing is no strobe to start another; em-c's is.
    tracker.step(scan("rf", T0 + 4.4, [bearing("em-a", 120.0), bearing("em-c", 121.0)], sensor_id="df-1"))
    np.testing.assert_allclose(np.degrees(tracker.strobes(T0 + 4.4).az), [121.0], rtol=1e-9)


def test_a_new_targets_track_competes_for_an_emitters_bearings_but_takes_its_class_only_on_its_own_bearings() -> None:
    """em-a's six bearings fitted T-1; then a plot 7° off starts a track and em-a's next bearings pass through it.
    A strong plot (25 dB: likelier a target's than clutter's, score above 0) makes it level with T-1 in the
    association, so it takes the bearings; a weak one (11 dB, score 0) leaves it 20-odd nats behind and T-1 takes
    them. Either way the new track's label takes none of em-a's drone evidence: its own fit has not earned it."""

    def plot(az: float, snr_db: float, r: float = 1000.0) -> dict:  # type: ignore[type-arg]
        return {**radar_plot(r, az), "snr_db": snr_db}

    taken = {}
    for snr_db in (25.0, 11.0):
        tracker = Tracker(FusionConfig().tracker_params())
        for k in range(4):  # T-1, and far plots the radar's clutter statistics learn from
            tracker.step(scan("radar", T0 + k, [plot(45.0, 20.0), plot(200.0 + 40.0 * k, 11.0, r=1500.0)]))
        for k in range(6):
            tracker.step(scan("rf", T0 + 3.5 + 0.1 * k, [bearing("em-a", 45.0)], sensor_id="df-1"))
        tracker.step(scan("radar", T0 + 4.0, [plot(45.0, 20.0), plot(52.0, snr_db)]))
        new = tracker.table.ids[-1]
        assert (tracker.table.score[-1] > 0.0) == (snr_db == 25.0)
        for k in range(3):
            before = dict(zip(tracker.table.ids, tracker.table.label_logp.copy()))
            tracker.step(scan("rf", T0 + 4.1 + 0.1 * k, [bearing("em-a", 52.0)], sensor_id="df-1"))
            row = tracker.table.ids.index(new)
            np.testing.assert_allclose(tracker.table.label_logp[row], before[new], rtol=0.0, atol=1e-9)  # no class from em-a
        taken[snr_db] = tracker.table.t[row] - T0
    assert taken[25.0] == pytest.approx(4.3) and taken[11.0] == pytest.approx(4.0)


def test_a_merged_away_tracks_identity_evidence_goes_to_the_survivor() -> None:
    evidence = IdentityEvidence(memory_s=10.0, gate_probability=0.999)
    keys = ["emitter:a", "emitter:b"]
    evidence.add(T0, keys, np.array([1, 2], dtype=np.int64), np.array([[-20.0, 4.0], [30.0, 1.0]]))
    evidence.merge(np.array([2], dtype=np.int64), np.array([1], dtype=np.int64))
    # Each survivor keeps the larger of the two evidences: a's 30 (was T-2's), b's 4 (T-1's own).
    np.testing.assert_allclose(evidence.history(T0, keys, np.array([1], dtype=np.int64)), [[30.0, 4.0]])
    assert evidence.assign(T0, np.array([1], dtype=np.int64)) == [("emitter:a", 1), ("emitter:b", None)]


def rid_report(position: list[float], uas: str = "X") -> dict:  # type: ignore[type-arg]
    """A Remote ID position report, ``position`` east/north/up metres from the test radar's origin."""
    radar = LocalFrame(RADAR_ORIGIN["lat"], RADAR_ORIGIN["lon"], RADAR_ORIGIN["alt_m"])
    lat, lon, alt = radar.to_geodetic(np.array(position))
    return {"position": {"lat": float(lat), "lon": float(lon), "alt_m": float(alt)}, "uas_id": uas}


def test_bearings_never_move_a_serial_that_remote_id_bound() -> None:
    """A direction finder's bearing that carries a Remote ID serial (the protocol allows it) points at another
    track: the serial stays on the track its own position reports made, and the next report goes there."""
    tracker = Tracker(FusionConfig().tracker_params())
    for k in range(5):
        tracker.step(scan("radar", T0 + k, [radar_plot(1000.0, 45.0)]))
        tracker.step(scan("rf", T0 + k + 0.2, [rid_report([700.0, -700.0, 50.0])], sensor_id="rid-1", origin=None))
    reported = tracker.identities.track_of(("uas:X",))
    assert reported is not None and tracker.identities.reported("uas:X")
    for k in range(3):
        tracker.step(scan("rf", T0 + 4.5 + 0.1 * k, [{"azimuth_deg": 45.0, "uas_id": "X", "sigma": {"azimuth_deg": 3.0}}],
                          sensor_id="df-1"))
    assert tracker.identities.track_of(("uas:X",)) == reported
    other = int(tracker.table.number[tracker.table.number != reported][0])
    before = tracker.table.x[tracker.table.number == other, :3].copy()
    tracker.step(scan("rf", T0 + 5.0, [rid_report([700.0, -700.0, 50.0])], sensor_id="rid-1", origin=None))
    np.testing.assert_array_equal(tracker.table.x[tracker.table.number == other, :3], before)


def test_an_rf_sensors_own_bearings_do_not_make_its_remote_id_track_bearings_only() -> None:
    tracker = Tracker(FusionConfig().tracker_params())
    for k in range(8):
        dets = [rid_report([700.0 + 10.0 * k, -700.0, 50.0])]
        if k >= 4:  # the same RF sensor also direction-finds the drone
            dets.append({"azimuth_deg": 135.0, "emitter_id": "E"})
        tracker.step(scan("rf", T0 + k, dets, sensor_id="rf-1"))
    assert tracker._bearing_origins  # its bearings did update the track
    assert tracker._bearings_only(np.arange(len(tracker.table))).tolist() == [False]


def test_an_older_scan_neither_amplifies_nor_rewinds_identity_evidence() -> None:
    evidence = IdentityEvidence(memory_s=10.0, gate_probability=0.999)
    numbers, keys = np.array([1], dtype=np.int64), ["emitter:a"]
    evidence.add(T0 + 10.0, keys, numbers, np.array([[6.0]]))
    np.testing.assert_allclose(evidence.history(T0 + 5.0, keys, numbers), [[6.0]])  # not 6·e^0.5
    evidence.add(T0 + 5.0, keys, numbers, np.array([[8.0]]))
    np.testing.assert_allclose(evidence.history(T0 + 20.0, keys, numbers), [[8.0 * math.exp(-1.0)]], rtol=1e-12)
