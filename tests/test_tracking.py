"""Exact tests of the tracking maths: motion, filter, Jacobians, gating, assignment, track management."""

from __future__ import annotations

import math
from dataclasses import fields

import numpy as np
import pytest
from scipy.stats import chi2

from fusion.config import FusionConfig
from fusion.geo import LocalFrame
from fusion.ingest import ingest
from fusion.protocol import DetectionsMessage
from fusion.tracking import Tracker, TrackerParams
from fusion.tracking.association import gnn_assign
from fusion.tracking.classify import DRONE, best_label, evidence, fuse, prior_logp
from fusion.tracking.filters import update
from fusion.tracking.gating import chi2_gates, gate
from fusion.tracking.measurements import bearing_h, radar_h, wrap_angle
from fusion.tracking.motion import cv_process_noise, cv_transition
from fusion.tracking.tracks import CONFIRMED, TENTATIVE

SITE = LocalFrame(54.30, 23.30, 150.0)
RADAR_ORIGIN = {"lat": 54.3161, "lon": 23.3415, "alt_m": 180.0}
T0 = 1795766400.0


def detections(kind: str, t: float, dets: list[dict], origin: dict | None = RADAR_ORIGIN,
               sensor_id: str = "s-1") -> DetectionsMessage:
    return DetectionsMessage.model_validate({"schema": "sargas.detections/1", "sensor_id": sensor_id, "kind": kind,
                                             "time": t, "seq": 0, "origin": origin, "detections": dets})


def scan(kind: str, t: float, dets: list[dict], **kw: object):  # type: ignore[no-untyped-def]
    return ingest(detections(kind, t, dets, **kw), SITE, FusionConfig())  # type: ignore[arg-type]


# --------------------------------------------------------------------------- motion


def test_cv_transition_and_process_noise_match_hand_computed_matrices() -> None:
    f = cv_transition(np.array([2.0, -1.0]))
    expected = np.eye(6)
    expected[0, 3] = expected[1, 4] = expected[2, 5] = 2.0
    assert f.shape == (2, 6, 6)
    np.testing.assert_array_equal(f[0], expected)
    assert f[1, 0, 3] == -1.0

    q = cv_process_noise(np.array([2.0]), q_horizontal=3.0, q_vertical=1.0)[0]
    expected_q = np.zeros((6, 6))
    for axis, (pos, cross, vel) in enumerate([(8.0, 6.0, 6.0), (8.0, 6.0, 6.0), (8.0 / 3.0, 2.0, 2.0)]):
        expected_q[axis, axis] = pos
        expected_q[axis, axis + 3] = expected_q[axis + 3, axis] = cross
        expected_q[axis + 3, axis + 3] = vel
    np.testing.assert_allclose(q, expected_q, rtol=1e-12)
    np.testing.assert_allclose(cv_process_noise(np.array([-2.0]), 3.0, 1.0)[0], expected_q, rtol=1e-12)


# --------------------------------------------------------------------------- filter


def test_kalman_update_matches_hand_computation() -> None:
    x = np.zeros((1, 6))
    p = np.diag([4.0, 4.0, 4.0, 1.0, 1.0, 1.0])[None].copy()
    p[0, 0, 3] = p[0, 3, 0] = 1.0
    h = np.zeros((1, 1, 6))
    h[0, 0, 0] = 1.0
    r = np.array([[[1.0]]])
    s = h @ p @ np.swapaxes(h, -1, -2) + r  # 5
    x_new, p_new = update(x, p, np.array([[5.0]]), h, s, r)
    # K = P Hᵀ / S = [4, 0, 0, 1, 0, 0] / 5
    np.testing.assert_allclose(x_new[0], [4.0, 0.0, 0.0, 1.0, 0.0, 0.0], atol=1e-12)
    assert p_new[0, 0, 0] == pytest.approx(0.8)
    assert p_new[0, 0, 3] == pytest.approx(0.2)
    assert p_new[0, 3, 3] == pytest.approx(0.8)
    assert p_new[0, 1, 1] == pytest.approx(4.0)
    np.testing.assert_allclose(p_new, np.swapaxes(p_new, -1, -2))


# --------------------------------------------------------------------------- measurements


def test_radar_jacobian_matches_finite_differences_in_a_displaced_sensor_frame() -> None:
    sensor = LocalFrame(54.35, 23.40, 220.0)
    m, b = SITE.transform_to(sensor)
    rng = np.random.default_rng(7)
    x = np.column_stack([rng.uniform(-3000, 6000, (5, 2)), rng.uniform(50, 600, 5), rng.normal(0, 15, (5, 3))])
    _, h = radar_h(x, m, b)
    eps = 1e-4
    numeric = np.zeros_like(h)
    for j in range(6):
        step = np.zeros(6)
        step[j] = eps
        hi, _ = radar_h(x + step, m, b)
        lo, _ = radar_h(x - step, m, b)
        diff = hi - lo
        diff[:, 1] = wrap_angle(diff[:, 1])
        numeric[:, :, j] = diff / (2 * eps)
    np.testing.assert_allclose(h, numeric, rtol=1e-5, atol=1e-9)


def test_radar_prediction_is_range_azimuth_elevation_in_the_sensor_frame() -> None:
    sensor = LocalFrame(RADAR_ORIGIN["lat"], RADAR_ORIGIN["lon"], RADAR_ORIGIN["alt_m"])
    m, b = SITE.transform_to(sensor)
    target_in_sensor = np.array([300.0, 400.0, 0.0])
    site_pos = (target_in_sensor - b) @ m
    v_sensor = np.array([3.0, 4.0, 0.0])  # straight away from the sensor at 5 m/s
    x = np.concatenate([site_pos, v_sensor @ m])[None]
    z, _ = radar_h(x, m, b)
    np.testing.assert_allclose(z[0], [500.0, np.arctan2(300.0, 400.0), 0.0, 5.0], atol=1e-7)
    zb, hb = bearing_h(x, m, b)
    np.testing.assert_allclose(zb[0], z[0, 1:3])
    assert hb.shape == (1, 2, 6)


def test_wrap_angle_is_half_open() -> None:
    np.testing.assert_allclose(wrap_angle(np.array([np.pi, -np.pi, 3 * np.pi / 2, 0.1])),
                               [-np.pi, -np.pi, -np.pi / 2, 0.1])


# --------------------------------------------------------------------------- gating and assignment


def test_mahalanobis_gate_by_hand_with_masks_and_azimuth_wrap() -> None:
    z_pred = np.zeros((1, 2))
    hph = np.diag([3.0, 8.0])[None]
    z = np.array([[2.0, 3.0], [6.0, 0.0], [7.0, 0.0], [2.0, 100.0]])
    r = np.repeat(np.eye(2)[None], 4, axis=0)
    mask = np.array([[True, True], [True, True], [True, True], [True, False]])
    thresholds = chi2_gates(0.99)
    g = gate(z_pred, hph, z, r, mask, angles=(), thresholds=thresholds, wide=2.0)
    # S = diag(4, 9): d² = 4/4 + 9/9, 36/4, 49/4, and 4/4 with the second component absent.
    np.testing.assert_allclose(g.d2[0], [2.0, 9.0, 12.25, 1.0])
    assert thresholds[2] == pytest.approx(chi2.ppf(0.99, 2))
    assert g.inside[0].tolist() == [True, True, False, True]
    np.testing.assert_allclose(g.cost[0, :3] - g.d2[0, :3], np.log(36.0))  # d² + ln|S| - ln|R|
    assert g.cost[0, 3] - g.d2[0, 3] == pytest.approx(np.log(4.0))

    wrapped = gate(np.array([[-np.pi + 0.01, 0.0]]), hph, np.array([[np.pi - 0.01, 0.0]]), r[:1], mask[:1],
                   angles=(0,), thresholds=thresholds)
    assert wrapped.d2[0, 0] == pytest.approx(0.02**2 / 4.0)
    # The marginal pre-gate: the third detection is 3.5 sigma off on one component (12.25 > 9.21),
    # so without a wide gate its d² is never computed; with 2 gates it is exact (above).
    narrow = gate(z_pred, hph, z, r, mask, angles=(), thresholds=thresholds, wide=1.0)
    assert narrow.d2[0, :2].tolist() == [2.0, 9.0] and np.isinf(narrow.d2[0, 2])
    assert narrow.inside.tolist() == g.inside.tolist()


def test_a_plot_that_only_the_hover_mode_predicts_is_gated_with_the_mixture_likelihood() -> None:
    # Two modes of one track: CV (c = 0.98) at 0 with HPHᵀ = 3 I, hover (0.02) at (10, 0) with I; R = I.
    # Moment matching gives mean (0.2, 0) and variance 0.98·(3 + 0.2²) + 0.02·(1 + 9.8²) + 1 = 5.92 along x:
    # d² = 9.8² / 5.92 = 16.2 > χ²₂(0.99) = 9.21, outside. The hover mode predicts the plot exactly.
    z_pred = np.array([[[0.0, 0.0], [10.0, 0.0]]])
    hph = np.array([[np.eye(2) * 3.0, np.eye(2)]])
    weights = np.array([[0.98, 0.02]])
    z, r, mask = np.array([[10.0, 0.0]]), np.eye(2)[None], np.ones((1, 2), dtype=bool)
    thresholds = chi2_gates(0.99)
    assert 9.8**2 / (0.98 * (3.0 + 0.2**2) + 0.02 * (1.0 + 9.8**2) + 1.0) > thresholds[2]
    g = gate(z_pred, hph, z, r, mask, (), thresholds, wide=4.0, weights=weights, floor=0.001)
    assert g.inside.tolist() == [[True]] and g.d2[0, 0] == 0.0  # the hover's own gate holds it
    # Per mode, d² + ln|S| - ln|R|: 100/4 + ln 16 (CV, S = 4 I) and 0 + ln 4 (hover, S = 2 I); the cost is
    # -2 ln of their c-weighted sum of e^(-cost/2): the mixture's, on the same cell √|2πR| as one Gaussian's.
    mixture = 0.98 * math.exp(-12.5) / 4.0 + 0.02 / 2.0
    assert g.cost[0, 0] == pytest.approx(-2.0 * math.log(mixture), rel=1e-12)
    # Within one gate of the hover only, the CV mode (25 > 9.21 on x alone) still counts: the pair passed the pre-gate.
    narrow = gate(z_pred, hph, z, r, mask, (), thresholds, wide=1.0, weights=weights, floor=0.001)
    assert narrow.cost[0, 0] == g.cost[0, 0]
    # A mode below the floor counts in the likelihood but opens no gate: the CV's d² decides.
    rare = gate(z_pred, hph, z, r, mask, (), thresholds, wide=4.0, weights=weights, floor=0.05)
    assert rare.inside.tolist() == [[False]] and rare.d2[0, 0] == 25.0 and rare.cost[0, 0] == g.cost[0, 0]
    # One mode of weight 1 is the plain gate, bit for bit.
    one = gate(z_pred[:, :1], hph[:, :1], z, r, mask, (), thresholds, wide=4.0, weights=np.ones((1, 1)))
    plain = gate(z_pred[:, 0], hph[:, 0], z, r, mask, (), thresholds, wide=4.0)
    assert one.d2.tolist() == plain.d2.tolist() == [[25.0]]
    assert one.cost.tolist() == plain.cost.tolist() == [[25.0 + math.log(16.0)]]


def test_the_mixture_gate_survives_a_diverged_mode_a_far_plot_and_a_floor_above_every_weight() -> None:
    z, r, mask, thresholds = np.array([[10.0, 0.0]]), np.eye(2)[None], np.ones((1, 2), dtype=bool), chi2_gates(0.99)
    # A diverged mode below the floor predicts nothing: the pair is gated by the other mode, with its cost alone.
    with np.errstate(invalid="ignore"):
        diverged = gate(np.array([[[10.0, 0.0], [0.0, 0.0]]]), np.array([[np.eye(2), np.full((2, 2), np.inf)]]), z,
                        r, mask, (), thresholds, weights=np.array([[0.9995, 0.0005]]), floor=0.001)
    assert diverged.inside.tolist() == [[True]]  # d² 0 and cost ln|2I| - ln|I| = ln 4 for the finite mode
    assert diverged.cost[0, 0] == pytest.approx(math.log(4.0) - 2.0 * math.log(0.9995), rel=1e-12)
    # Far beyond both modes, the cost is still the mixture's: -2 ln(c₂ e^(-800)) with c₁'s term underflowing.
    far = gate(np.array([[[-1590.0, 0.0], [-30.0, 0.0]]]), np.array([[np.zeros((2, 2)), np.zeros((2, 2))]]), z, r,
               mask, (), thresholds, wide=1e9, weights=np.array([[1e-300, 1.0]]))
    assert far.cost[0, 0] == pytest.approx(1600.0, rel=1e-12)
    # A floor above every weight (gate probability 0.7, two equal modes): the most probable modes still gate.
    equal = gate(np.array([[[10.0, 0.0], [40.0, 0.0]]]), np.array([[np.eye(2), np.eye(2)]]), z, r, mask, (),
                 thresholds, weights=np.array([[0.5, 0.5]]), floor=0.3 + 0.5)
    assert equal.inside.tolist() == [[True]] and equal.d2[0, 0] == 0.0


def test_gnn_beats_greedy_and_respects_non_assignment_and_gates() -> None:
    cost = np.array([[1.0, 2.0, 50.0], [2.0, 8.0, 50.0], [50.0, 50.0, 3.0]])
    allowed = np.ones((3, 3), dtype=bool)
    rows, cols = gnn_assign(cost, allowed, non_assignment_cost=20.0)
    assert rows.tolist() == [0, 1, 2] and cols.tolist() == [1, 0, 2]  # greedy would take (0,0), (1,1)

    cost[2, 2] = 45.0  # dearer than leaving track 2 and detection 2 alone (2 × 20)
    rows, cols = gnn_assign(cost, allowed, non_assignment_cost=20.0)
    assert rows.tolist() == [0, 1] and cols.tolist() == [1, 0]

    allowed[0, 1] = False  # outside the gate: forbidden whatever its cost
    rows, cols = gnn_assign(cost, allowed, non_assignment_cost=20.0)
    assert (0, 1) not in list(zip(rows.tolist(), cols.tolist()))
    assert gnn_assign(np.zeros((0, 2)), np.zeros((0, 2), dtype=bool), 20.0)[0].size == 0


# --------------------------------------------------------------------------- classification and threat


def test_emitter_makes_drone_likely_and_classifier_outputs_accumulate() -> None:
    prm = TrackerParams()
    prior = prior_logp(prm.class_prior, 2)
    assert best_label(prior)[0].tolist() == [3, 3]  # an unseen track is 'unknown'
    probs = np.array([[0.0, 0.0, 0.0, 0.0], [0.7, 0.2, 0.0, 0.1]])
    loglik = evidence(probs, np.array([False, True]), np.array([True, False]), prm.class_evidence_weight,
                      prm.class_floor, prm.emitter_likelihood)
    post = fuse(prior, loglik, prm.class_min_p)
    label, p = best_label(post)
    assert label[0] == DRONE and p[0] > 0.8
    for _ in range(3):
        post = fuse(post, loglik, prm.class_min_p)
    assert best_label(post)[0][1] == DRONE
    np.testing.assert_allclose(np.exp(post).sum(axis=1), 1.0)


# --------------------------------------------------------------------------- tracker


def radar_plot(r: float, az: float, el: float = 3.0) -> dict:
    return {"range_m": r, "azimuth_deg": az, "elevation_deg": el}


def test_confirmation_after_enough_hits_and_ids_are_never_reused() -> None:
    tracker = Tracker(TrackerParams(confirm_hits=3))
    for k in range(3):
        result = tracker.step(scan("radar", T0 + k, [radar_plot(1000.0 + 5 * k, 45.0)]))
        assert result.confirmed == (("T-1",) if k == 2 else ())
    assert tracker.table.ids == ["T-1"] and tracker.table.status.tolist() == [CONFIRMED]
    # Silence: coasting after 2.5 s, deleted after 10 s without updates.
    assert tracker.maintain(T0 + 5.0).ids == ()
    assert tracker.table.status.tolist() == [2]
    assert tracker.maintain(T0 + 12.5).ids == ("T-1",)
    result = tracker.step(scan("radar", T0 + 13, [radar_plot(1000.0, 45.0), radar_plot(3000.0, 200.0)]))
    assert result.started == ("T-2", "T-3") and tracker.table.ids == ["T-2", "T-3"]


def test_isolated_clutter_is_never_confirmed_and_dies() -> None:
    rng = np.random.default_rng(3)
    tracker = Tracker()
    for k in range(20):
        plots = [radar_plot(float(rng.uniform(300, 5000)), float(rng.uniform(0, 360)), float(rng.uniform(0, 10)))
                 for _ in range(5)]
        result = tracker.step(scan("radar", T0 + k, plots))
        assert result.confirmed == ()
    assert int((tracker.table.status != TENTATIVE).sum()) == 0
    assert len(tracker.table) <= 5 * 4  # tentative tracks die after 3 s


def test_a_scan_older_than_a_track_is_counted_and_does_not_change_it() -> None:
    tracker = Tracker()
    for k in range(4):
        tracker.step(scan("radar", T0 + k, [radar_plot(1000.0 + 5 * k, 45.0)]))
    before = (tracker.table.x.copy(), tracker.table.p.copy(), tracker.table.t.copy(), tracker.table.hits.copy())
    result = tracker.step(scan("radar", T0 + 2.5, [radar_plot(1013.0, 45.0)]))
    assert result.out_of_order == 1 and result.started == () and result.updated == ()
    for old, new in zip(before, (tracker.table.x, tracker.table.p, tracker.table.t, tracker.table.hits)):
        np.testing.assert_array_equal(old, new)


def test_a_lone_bearing_is_a_strobe_and_updates_a_radar_track_without_confirming_it() -> None:
    tracker = Tracker()
    result = tracker.step(scan("acoustic", T0, [{"azimuth_deg": 45.0, "elevation_deg": 3.0}]))
    assert result.started == () and len(tracker.table) == 0
    strobes = tracker.strobes(T0 + 0.5)
    assert strobes.az.tolist() == [np.radians(45.0)] and strobes.time.tolist() == [T0]
    for k in range(4):
        tracker.step(scan("radar", T0 + 1 + k, [radar_plot(1000.0, 45.0)]))
    hits = int(tracker.table.hits[0])
    result = tracker.step(scan("acoustic", T0 + 5, [{"azimuth_deg": 45.2}], sensor_id="mic-1"))
    assert result.updated == ("T-1",) and result.started == ()
    assert int(tracker.table.hits[0]) == hits  # bearings do not count towards confirmation
    assert tracker.table.recent_sensor_lists(T0 + 5, 10.0) == [["mic-1", "s-1"]]


def test_remote_id_reports_bind_to_one_track_and_mark_it_a_drone() -> None:
    tracker = Tracker()
    for k in range(4):
        # A fast mover next to another Remote ID drone with unknown altitude: serials keep them apart.
        rid = {"position": {"lat": 54.31 + 0.0018 * k, "lon": 23.32, "alt_m": 250.0}, "uas_id": "SERIAL-1",
               "velocity": {"east_mps": 0.0, "north_mps": 200.0, "up_mps": 0.0}}
        other = {"position": {"lat": 54.28, "lon": 23.25 + 0.0001 * k, "alt_m": -1000.0}, "uas_id": "SERIAL-2"}
        tracker.step(scan("rf", T0 + k, [rid, other], origin=None))
    assert tracker.table.ids == ["T-1", "T-2"]
    assert tracker.table.hits.tolist() == [4, 4]  # confirmed on the 4th report
    label, p = best_label(tracker.table.label_logp)
    assert label.tolist() == [DRONE, DRONE] and p.min() > 0.9
    assert tracker.table.status.tolist() == [CONFIRMED, CONFIRMED]
    expected = SITE.from_geodetic(54.31 + 0.0018 * 3, 23.32, 250.0)
    np.testing.assert_allclose(tracker.table.x[0, :3], expected, atol=15.0)
    jump = {"position": {"lat": 54.31, "lon": 23.40, "alt_m": 250.0}, "uas_id": "SERIAL-1"}
    result = tracker.step(scan("rf", T0 + 4, [jump], origin=None))
    assert result.started == () and result.updated == ("T-1",)  # the serial wins over the gate


def test_the_configuration_sets_every_tracker_parameter_it_names() -> None:
    """A setting in the fusion configuration reaches the tracker under the same name (none is left at the
    tracker's own default), and the derived ones are converted."""
    config = FusionConfig(coverage_margin=1.5, merge_after_s=3.0, confirm_score=21.0, gate_probability=0.99,
                          bearing_emitter_likelihood=(0.5, 0.2, 0.2, 0.1), missing_elevation_sigma_deg=5.0)
    params = config.tracker_params()
    shared = [f.name for f in fields(TrackerParams) if f.name in FusionConfig.model_fields]
    assert len(shared) == len(fields(TrackerParams)) - 3  # all but modes, initial_mode_p, missing_elevation_sigma_rad
    assert all(getattr(params, name) == getattr(config, name) for name in shared)
    assert (params.coverage_margin, params.merge_after_s, params.confirm_score) == (1.5, 3.0, 21.0)
    assert params.missing_elevation_sigma_rad == math.radians(5.0)


def _snr_plot(r: float, az: float, snr_db: float) -> dict:
    return {**radar_plot(r, az), "snr_db": snr_db}


@pytest.mark.parametrize(("snr_db", "starts"), [(15.0, True), (40.0, False)])
def test_a_plot_beside_a_track_that_missed_it_starts_a_track_unless_the_track_is_seen_every_scan(
        snr_db: float, starts: bool) -> None:
    """A confirmed track at 4 km misses its plot; a plot 10° away (beyond its gate, within four) comes instead. From a
    target whose plots say the radar sees it in about half its scans, a miss says little of a manoeuvre (its
    exclusion is 2.6 gates) and the plot starts a track (a neighbour in a wave); from one seen every scan it is the
    target manoeuvring, and starts none (``Tracker._exclusion``)."""
    tracker = Tracker(FusionConfig().tracker_params())
    for k in range(5):  # the weakest plot (11 dB, far away) sets the radar's threshold
        tracker.step(scan("radar", T0 + k, [_snr_plot(4000.0, 45.0, snr_db), _snr_plot(3000.0, 150.0 + 40 * k, 11.0)]))
    assert tracker.table.status[0] == CONFIRMED and tracker.table.ids[0] == "T-1"
    pd = tracker._detection_probability(np.array([0]), np.array([4000.0]))[0]
    assert (0.2 < pd < 0.6) if starts else (pd == 0.9)
    plot = scan("radar", T0 + 5.0, [_snr_plot(4000.0, 55.0, snr_db)])
    np.testing.assert_allclose(tracker._exclusion(plot)[0], 1.0 + 3.0 * pd / 0.9, rtol=1e-9)
    result = tracker.step(plot)
    assert "T-1" not in result.updated
    assert bool(result.started) == starts


def test_the_exclusion_is_the_configured_one_for_a_track_without_snr_and_for_a_bearing_scan() -> None:
    """Without SNR the radar's Pd of a track is unknown: the full ``initiation_exclusion``; a direction finder's miss
    has nothing to do with the radar's Pd: the full one too, also for a track the radar sees weakly."""
    tracker = Tracker(FusionConfig().tracker_params())
    for k in range(5):
        tracker.step(scan("radar", T0 + k, [radar_plot(4000.0, 45.0), _snr_plot(3000.0, 150.0 + 40 * k, 11.0),
                                            _snr_plot(4000.0, 120.0, 15.0)]))
    weak = tracker.table.ids.index("T-3")
    radar = scan("radar", T0 + 5.0, [radar_plot(4000.0, 300.0)])
    exclusion = tracker._exclusion(radar)
    assert exclusion[0] == 4.0 and 1.0 < exclusion[weak] < 3.0
    bearing = scan("rf", T0 + 5.0, [{"azimuth_deg": 300.0}], sensor_id="df-1")
    np.testing.assert_array_equal(tracker._exclusion(bearing), np.full(len(tracker.table), 4.0))
