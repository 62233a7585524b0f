"""The tracker's shortcuts for speed give the same answers as the plain computations they replace."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import logsumexp

from fusion.tracking import MeasurementBlock, Scan, Tracker
from fusion.tracking.association import _log_sum_exp_columns
from fusion.tracking.filters import combine, combine_position_variance, imm_predict
from fusion.tracking.gating import (
    masked_covariance,
    short_max,
    short_sum,
    squared_distances,
)
from fusion.tracking.measurements import (
    BEARING,
    POSITION,
    RADAR,
    MeasurementModel,
    predict_measurement,
)
from fusion.tracking.motion import ct_transition, cv_process_noise, mode_matrices
from fusion.tracking.tracks import CONFIRMED, TENTATIVE


def test_mode_matrices_equal_the_per_mode_transition_and_process_noise_exactly() -> None:
    dt = np.random.default_rng(1).uniform(-2.0, 6.0, 50)
    omega = np.array([0.0, math.radians(15.0), -math.radians(15.0), 0.5])
    q_h, q_v = np.array([0.02, 1.0, 1.0, 3.0]), np.array([0.02, 0.05, 0.05, 0.4])
    f, q = mode_matrices(dt, omega, q_h, q_v)
    for j in range(len(omega)):
        np.testing.assert_array_equal(f[:, j], ct_transition(dt, float(omega[j])))
        np.testing.assert_array_equal(q[:, j], cv_process_noise(dt, float(q_h[j]), float(q_v[j])))


def _spd(rng: np.random.Generator, n: int, scale: np.ndarray) -> np.ndarray:
    a = rng.normal(size=(n, 6, 6)) * np.sqrt(scale)[:, None, None]
    return a @ np.swapaxes(a, 1, 2) / 6.0 + np.eye(6) * scale[:, None, None] * 0.05


def _tracker(rng: np.random.Generator, n: int) -> Tracker:
    """A tracker with n tracks of random IMM states (modes spread apart: a third of the tracks by 10σ, with
    mode probabilities down to a few thousandths), covariances and times."""
    tracker = Tracker()
    tab = tracker.table
    x = np.concatenate([rng.uniform(-4000, 4000, (n, 2)), rng.uniform(0, 300, (n, 1)),
                        rng.uniform(-30, 30, (n, 2)), rng.uniform(-3, 3, (n, 1))], axis=1)
    scale = 10.0 ** rng.uniform(0, 4, n)
    r = len(tracker.params.modes)
    tab.add(x, _spd(rng, n, scale), tracker.params.initial_mode_p, 0.0, np.log(np.full((n, 4), 0.25)), "s")
    spread = np.where(rng.random(n) < 1.0 / 3.0, 10.0, 0.3)
    tab.xm = tab.xm + rng.normal(size=tab.xm.shape) * (np.sqrt(scale) * spread)[:, None, None]
    tab.pm = np.stack([_spd(rng, n, scale) for _ in range(r)], axis=1)
    tab.mu = 0.99 * rng.dirichlet(np.full(r, 0.3), n) + 0.01 / r
    tab.x, tab.p = combine(tab.xm, tab.pm, tab.mu)
    tab.t = rng.uniform(-6.0, 1.0, n)
    tab.status = np.where(rng.random(n) < 0.5, CONFIRMED, TENTATIVE).astype(np.int8)
    return tracker


def _block(rng: np.random.Generator, model: MeasurementModel, x: np.ndarray, m: np.ndarray, b: np.ndarray
           ) -> MeasurementBlock:
    """Detections of some predicted tracks (with noise up to a few hundred metres) and some at random."""
    z, _ = predict_measurement(model, x + rng.normal(size=x.shape) * rng.choice([1.0, 30.0, 300.0], (len(x), 1)), m, b)
    sigma = {"radar": [10.0, 0.01, 0.01, 1.0], "bearing": [0.05, 0.05], "position": [5.0] * 3 + [2.0] * 3}[model.name]
    mask = rng.random(z.shape) < 0.8
    mask[:, 0] = mask[:, 1] = True
    return MeasurementBlock(model, z, mask, np.broadcast_to(np.diag(np.square(sigma)), (len(z), len(sigma),
                                                                                           len(sigma))).copy(),
                            np.arange(len(z)))


@pytest.mark.parametrize("model", [RADAR, BEARING, POSITION])
def test_the_plausibility_pre_gate_keeps_every_track_within_its_gate_of_a_detection(model: MeasurementModel) -> None:
    rng = np.random.default_rng({"radar": 3, "bearing": 4, "position": 5}[model.name])
    checked = 0
    for _ in range(20):
        tracker = _tracker(rng, 60)
        tab, prm = tracker.table, tracker.params
        yaw = rng.uniform(0, 2 * math.pi)
        m = np.array([[math.cos(yaw), -math.sin(yaw), 0.0], [math.sin(yaw), math.cos(yaw), 0.0], [0.0, 0.0, 1.0]])
        b = rng.uniform(-2000, 2000, 3)
        every = np.arange(len(tab))
        modes = tracker._predict(every, 0.5)
        x, p = combine(modes.x, modes.p, modes.c)
        picked = rng.choice(len(tab), 8, replace=False)
        at_modes = modes.x[picked, rng.integers(0, modes.x.shape[1], len(picked))]  # a mode's own prediction
        block = _block(rng, model, np.concatenate([x[picked], at_modes, x[:4] + rng.uniform(-3000, 3000, (4, 6))]),
                       m, b)
        scan = Scan(time=0.5, sensor_id="s", kind=model.name, origin=np.zeros(3), m=m, b=b, blocks=(block,),
                    class_probs=np.zeros((len(block), 4)), has_class=np.zeros(len(block), dtype=bool),
                    emitter=np.zeros(len(block), dtype=bool))
        exact = tracker._gate(block, modes, x, p, every, scan)  # every mode of every track
        limit = np.where(tab.status != TENTATIVE, prm.initiation_exclusion, 1.0)[:, None] \
            * tracker._gates[block.mask.sum(axis=1)][None, :]
        needed = np.flatnonzero((exact.d2 <= limit).any(axis=1))
        kept = tracker._plausible(scan)
        assert set(needed.tolist()) <= set(kept.tolist())
        checked += len(needed)
    assert checked > 20  # the detections did gate with tracks: the test exercised the bound


@pytest.mark.parametrize("model", [RADAR, BEARING, POSITION])
def test_the_batched_mixture_gate_equals_each_pairs_mode_likelihoods(model: MeasurementModel) -> None:
    """``Tracker._gate``'s cost, for every pair within the initiation exclusion, is ``-2 ln Σ_r c_r l_r - ln|R|``
    with ``l_r`` the mode likelihoods ``_posteriors`` computes for that pair alone (the update's own numbers)."""
    rng = np.random.default_rng({"radar": 6, "bearing": 7, "position": 8}[model.name])
    tracker = _tracker(rng, 30)
    tab = tracker.table
    m, b = np.eye(3), np.array([100.0, -200.0, 0.0])
    every = np.arange(len(tab))
    modes = tracker._predict(every, 0.5)
    x, p = combine(modes.x, modes.p, modes.c)
    block = _block(rng, model, x[:10], m, b)
    scan = Scan(time=0.5, sensor_id="s", kind=model.name, origin=np.zeros(3), m=m, b=b, blocks=(block,),
                class_probs=np.zeros((len(block), 4)), has_class=np.zeros(len(block), dtype=bool),
                emitter=np.zeros(len(block), dtype=bool))
    g = tracker._gate(block, modes, x, p, every, scan)
    rows, dets = np.nonzero(np.isfinite(g.d2))
    assert len(rows) >= 10 and g.inside.any()
    loglik = tracker._posteriors(block, rows, dets, modes, scan)[2]
    log_r = np.linalg.slogdet(masked_covariance(block.r[dets], block.mask[dets]))[1]
    expected = -2.0 * logsumexp(np.log(modes.c[rows]) + loglik, axis=1) - log_r
    np.testing.assert_allclose(g.cost[rows, dets], expected, rtol=1e-9, atol=1e-9)


def test_masked_covariance_replaces_absent_components_by_the_identity_and_copies_a_full_mask() -> None:
    cov = np.arange(2 * 9, dtype=float).reshape(2, 3, 3) + 1.0
    mask = np.array([[True, False, True], [True, True, True]])
    out = masked_covariance(cov, mask)
    np.testing.assert_array_equal(out[0], [[1.0, 0.0, 3.0], [0.0, 1.0, 0.0], [7.0, 0.0, 9.0]])
    np.testing.assert_array_equal(out[1], cov[1])
    full = masked_covariance(cov, np.ones((2, 3), dtype=bool))
    np.testing.assert_array_equal(full, cov)
    full[0, 0, 0] = -1.0
    assert cov[0, 0, 0] == 1.0  # a copy: callers may write into it
    # Broadcast masks take the general path and give the broadcast shape.
    assert masked_covariance(cov[0], np.ones((4, 3), dtype=bool)).shape == (4, 3, 3)


def test_the_position_variance_of_a_mixture_is_combines_trace_bit_for_bit() -> None:
    rng = np.random.default_rng(3)
    xm = rng.normal(0.0, 100.0, size=(50, 3, 6))
    root = rng.normal(0.0, 5.0, size=(50, 3, 6, 6))
    pm = root @ np.swapaxes(root, 2, 3)
    mu = rng.dirichlet(np.ones(3), size=50)
    x, p = combine(xm, pm, mu)
    x_only, variance = combine_position_variance(xm, pm, mu)
    assert np.array_equal(x_only, x)
    assert np.array_equal(variance, np.trace(p[:, :3, :3], axis1=1, axis2=2))


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_short_axis_sums_and_maxima_are_numpys_bit_for_bit(axis: int) -> None:
    """The written-out reductions over a short axis (fewer than 8 elements) give numpy's numbers exactly, NaN,
    infinities and a -0.0 among other values included (the tracker relies on it to publish the same bytes)."""
    rng = np.random.default_rng(7)
    a = rng.normal(size=(50, 3, 7)) * 10.0 ** rng.integers(-8, 9, size=(50, 3, 7))
    a[0, 0, 0], a[1, 1, 1], a[2, 2, 2], a[3, 0, 3] = np.nan, np.inf, -np.inf, -0.0
    assert short_sum(a, axis).tobytes() == a.sum(axis=axis).tobytes()
    assert short_max(a, axis).tobytes() == a.max(axis=axis).tobytes()
    assert short_sum(a, axis).tobytes() != a.max(axis=axis).tobytes()  # the comparison can fail


@pytest.mark.parametrize("dims", [2, 3])
def test_squared_distances_are_numpys_sum_of_squares_bit_for_bit(dims: int) -> None:
    rng = np.random.default_rng(dims)
    a, b = rng.normal(size=(13, dims)) * 3000.0, rng.normal(size=(40, dims)) * 3000.0
    a[0, 0] = np.nan
    expected = ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2)
    assert squared_distances(a, b).shape == (13, 40)
    assert squared_distances(a, b).tobytes() == expected.tobytes()


def test_the_identity_log_sum_exp_is_scipys_bit_for_bit_with_ties_infinities_and_nan() -> None:
    rng = np.random.default_rng(7)
    a = rng.normal(0.0, 30.0, size=(6, 40))
    a[0, :4] = [np.inf, -np.inf, np.nan, 800.0]
    a[:, 5] = -np.inf  # a column of -inf only
    a[:, 6] = 3.0  # every row ties at the maximum
    a[1, 7], a[2, 7] = np.inf, -np.inf
    with np.errstate(all="ignore"):
        expected = logsumexp(a, axis=0)
    assert np.array_equal(_log_sum_exp_columns(a), expected, equal_nan=True)
    assert np.isnan(expected[2]) and np.isposinf(expected[0]) and expected[5] == -np.inf


def test_threat_memory_shortcut_for_unchanged_tracks_gives_the_same_alerts_and_levels(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``_Memory.of`` returns the memory itself when the tracks are the remembered ones; a monitor that
    always takes the general lookup must decide exactly the same, through tracks appearing and leaving."""
    from test_threat import SITE, T0, ZONES, geo_of

    from fusion.threat import ThreatMonitor, ThreatParams, parse_zones
    from fusion.threat.assess import _Memory

    def general(self: _Memory, numbers: np.ndarray) -> _Memory:
        idx, found = self.rows(numbers)
        return _Memory(numbers, *(self.column(name, idx, found, default) for name, default in (
            ("level", 0), ("score", 0.0), ("zone", -1), ("alerted", False), ("peak", 0), ("inside", False))))

    def run() -> list[tuple[object, ...]]:
        rng = np.random.default_rng(5)
        monitor = ThreatMonitor(ThreatParams(), parse_zones(ZONES))
        numbers = np.arange(1, 7, dtype=np.int64)
        x = np.concatenate([rng.uniform(-1500, 1500, (6, 2)), np.full((6, 1), 100.0), rng.uniform(-20, 20, (6, 2)),
                            np.zeros((6, 1))], axis=1)
        seen: list[tuple[object, ...]] = []
        for k in range(120):
            if k % 15 == 7:  # a track leaves and a new one starts: the general path for one step
                numbers = np.append(numbers[1:], numbers[-1] + 1)
                x = np.concatenate([x[1:], x[:1] * 0.5])
            if k % 40 == 20:  # a track starts: the path for tracks appended
                numbers = np.append(numbers, numbers[-1] + 1)
                x = np.concatenate([x, x[:1] * 0.7])
            x = x + np.concatenate([x[:, 3:6], np.zeros((len(x), 3))], axis=1)
            status = np.where(numbers % 3 == 0, TENTATIVE, CONFIRMED).astype(np.int8)
            events = monitor.assess(T0 + k, SITE, numbers, status, np.full(len(x), 0.9), x, lambda r: geo_of(x[r]))
            now = monitor.current(numbers)
            seen.append((tuple((e.kind, e.track_id, e.zone) for e in events), now.level.tolist(),
                         now.score.tolist(), now.zone.tolist()))
        return seen

    shortcut = run()
    assert any(events for events, *_ in shortcut)  # the drones did raise alerts
    monkeypatch.setattr(_Memory, "of", general)
    assert run() == shortcut


def test_carried_states_equal_a_new_prediction_exactly() -> None:
    """``Tracker._carried`` reuses the step's IMM prediction for formation mates and merge candidates: the numbers
    must be those of a new prediction bit for bit, bearings-only tracks (slower mode switching) included."""
    rng = np.random.default_rng(7)
    tracker = _tracker(rng, 40)
    tab, prm = tracker.table, tracker.params
    tab.t_point = np.where(rng.random(len(tab)) < 0.3, tab.t - 60.0, tab.t)  # some tracks only bearings see
    now = 1.5
    modes = tracker._predict(np.sort(rng.choice(len(tab), 25, replace=False)), now)
    rows = np.arange(len(tab))  # predicted by the step or not
    assert tracker._bearings_only(modes.rows).any() and (~tracker._bearings_only(modes.rows)).any()
    x, p = tracker._carried(rows, now, modes)
    fresh_x, fresh_p = combine(*tracker._imm_predict(rows, now))
    np.testing.assert_array_equal(x, fresh_x)
    np.testing.assert_array_equal(p, fresh_p)
    x, p = tracker._carried(rows, now, modes, bearing_modes=False)  # as ``Coalescence.merge`` predicts
    fresh_x, fresh_p = combine(*imm_predict(tab.xm, tab.pm, tab.mu, now - tab.t, prm.modes))
    np.testing.assert_array_equal(x, fresh_x)
    np.testing.assert_array_equal(p, fresh_p)


def test_the_plausibility_pre_gate_keeps_a_track_whose_improbable_mode_holds_a_report() -> None:
    """A tentative track whose modes sit at one point (σ 2 m), but for the hover (probability 0.002, above the gating
    floor of 0.001) 70 m east; a position report at the hover: the hover's gate holds it (d² = 0), so the pre-gate
    must keep the track although the combined state puts the report 20σ away."""
    tracker = _tracker(np.random.default_rng(0), 30)  # enough tracks for the pre-gate to act
    tab = tracker.table
    tab.xm[0] = np.array([0.0, 0.0, 100.0, 0.0, 0.0, 0.0])
    tab.xm[0, 3, 0] = 70.0
    tab.pm[0] = np.diag([4.0, 4.0, 4.0, 1.0, 1.0, 1.0])
    tab.mu[0] = [0.818, 0.09, 0.09, 0.002]
    tab.t[0], tab.status[0] = 0.5, TENTATIVE
    tab.x, tab.p = combine(tab.xm, tab.pm, tab.mu)
    mask = np.zeros((1, 6), dtype=bool)
    mask[:, :3] = True
    block = MeasurementBlock(POSITION, np.array([[70.0, 0.0, 100.0, 0.0, 0.0, 0.0]]), mask,
                             np.diag([25.0] * 3 + [4.0] * 3)[None].copy(), np.arange(1))
    scan = Scan(time=0.5, sensor_id="s", kind="position", origin=np.zeros(3), m=np.eye(3), b=np.zeros(3),
                blocks=(block,), class_probs=np.zeros((1, 4)), has_class=np.zeros(1, dtype=bool),
                emitter=np.zeros(1, dtype=bool))
    every = np.arange(len(tab))
    modes = tracker._predict(every, 0.5)
    exact = tracker._gate(block, modes, *combine(modes.x, modes.p, modes.c), every, scan)
    assert exact.inside[0, 0] and exact.d2[0, 0] == pytest.approx(0.0, abs=1e-9)
    assert 0 in tracker._plausible(scan).tolist()
