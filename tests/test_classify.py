"""Label fusion: the reject option of the published label, the weak RF bearing emitter evidence, and
class evidence only from detections on tracks whose position a sensor fixed lately."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from fusion.config import FusionConfig
from fusion.geo import LocalFrame, enu_to_polar
from fusion.ingest import ingest
from fusion.protocol import DetectionsMessage
from fusion.tracking import Tracker
from fusion.tracking.association import identity_probabilities
from fusion.tracking.classify import (
    BIRD,
    DRONE,
    UNKNOWN,
    associated,
    association_log_ratios,
    best_label,
    class_mix,
    emitter_likelihoods,
    evidence,
    fuse,
    prior_logp,
    speed_evidence,
)
from fusion.tracking.params import TrackerParams
from fusion.tracking.tracks import CONFIRMED

SITE = LocalFrame(54.30, 23.15, 200.0)
T0 = 1795766400.0
RADAR = np.zeros(3)
RF_DF = np.array([900.0, -700.0, 2.0])


def test_a_label_needs_p_one_half_and_the_drone_label_two_thirds() -> None:
    """A bird or an aircraft is labelled at P ≥ ½, a drone only at P ≥ 2/3 (twice as likely as all else)."""
    p = np.array([[0.45, 0.30, 0.05, 0.20], [0.66, 0.14, 0.10, 0.10], [2 / 3, 0.13, 0.10, 0.1 - 1 / 30],
                  [0.10, 0.50, 0.10, 0.30]])
    label, label_p = best_label(np.log(p))
    assert label.tolist() == [UNKNOWN, UNKNOWN, DRONE, BIRD]
    np.testing.assert_allclose(label_p, [0.20, 0.10, 2 / 3, 0.50])


def test_a_new_track_s_prior_spreads_the_known_classes_by_the_established_tracks_mix() -> None:
    """Eight bird tracks and two drone tracks against the configured prior worth ten tracks: a new track's
    drone:bird:aircraft proportions are the soft counts (0.4, 0.4, 0.2)·10 + (2, 8, 0), 'unknown' keeps its 0.5;
    with no track yet, the configured prior. Among birds a new track is a bird first, in a raid a drone."""
    prior = (0.2, 0.2, 0.1, 0.5)
    birds = np.log(np.array([[0.001, 0.997, 0.001, 0.001]] * 8 + [[0.997, 0.001, 0.001, 0.001]] * 2))
    counts = np.array([4.0 + 2 * 0.997 + 8 * 0.001, 4.0 + 8 * 0.997 + 2 * 0.001, 2.0 + 10 * 0.001])
    np.testing.assert_allclose(class_mix(birds, prior, 10.0), [*(0.5 * counts / counts.sum()), 0.5], rtol=1e-12)
    assert class_mix(birds, prior, 10.0)[DRONE] < 0.6 * class_mix(birds, prior, 10.0)[BIRD]
    raid = np.log(np.array([[0.997, 0.001, 0.001, 0.001]] * 10))
    assert class_mix(raid, prior, 10.0)[DRONE] > 2.0 * class_mix(raid, prior, 10.0)[BIRD]
    np.testing.assert_allclose(class_mix(np.zeros((0, 4)), prior, 10.0), prior, rtol=1e-12)
    with pytest.raises(ValidationError, match="class_mix_strength"):  # no prior at all: 0/0 before any track
        FusionConfig(class_mix_strength=0.0)


def test_a_bearing_only_emitter_is_5_to_1_for_a_drone_and_a_located_one_90_to_1() -> None:
    prm = TrackerParams()
    lik = emitter_likelihoods(np.array([True, False]), prm.emitter_likelihood, prm.bearing_emitter_likelihood)
    np.testing.assert_allclose(lik, [[0.6, 0.12, 0.12, 0.16], [0.9, 0.01, 0.04, 0.05]])
    loglik = evidence(np.zeros((2, 4)), np.zeros(2, dtype=bool), np.ones(2, dtype=bool), prm.class_evidence_weight,
                      prm.class_floor, lik)
    post = np.exp(fuse(prior_logp(prm.class_prior, 2), loglik, prm.class_min_p))
    # prior (0.2, 0.2, 0.1, 0.5) times each likelihood, normalised
    np.testing.assert_allclose(post[0], np.array([0.12, 0.024, 0.012, 0.08]) / 0.236)
    np.testing.assert_allclose(post[1], np.array([0.18, 0.002, 0.004, 0.025]) / 0.211)


def _origin(enu: np.ndarray) -> dict[str, float]:
    lat, lon, alt = SITE.to_geodetic(enu)
    return {"lat": float(lat), "lon": float(lon), "alt_m": float(alt)}


def _target(t: float) -> np.ndarray:
    return np.array([600.0 + 8.0 * t, 400.0 - 5.0 * t, 150.0])


def _message(kind: str, sensor: str, at: np.ndarray, t: float) -> DetectionsMessage:
    """A noise-free detection of the target at ``t``: a radar plot that says 'bird', or an RF bearing."""
    origin = _origin(at)
    frame = LocalFrame(origin["lat"], origin["lon"], origin["alt_m"])
    r, az, el = enu_to_polar(frame.from_geodetic(*SITE.to_geodetic(_target(t))))
    det: dict[str, object] = {"azimuth_deg": float(az) % 360.0}
    if kind == "radar":
        det |= {"range_m": float(r), "elevation_deg": float(el),
                "class_probs": {"drone": 0.2, "bird": 0.6, "aircraft": 0.1, "unknown": 0.1}}
    else:
        det |= {"emitter_id": "em-1", "sigma": {"azimuth_deg": 5.0}}
    return DetectionsMessage.model_validate({"schema": "sargas.detections/1", "sensor_id": sensor, "kind": kind,
                                             "time": T0 + t, "seq": 0, "origin": origin, "detections": [det]})


def test_a_bearing_labels_a_track_only_while_a_sensor_has_fixed_its_position_lately() -> None:
    config = FusionConfig()
    tracker = Tracker(config.tracker_params())
    for t in range(4):
        tracker.step(ingest(_message("radar", "radar", RADAR, float(t)), SITE, config))
    tab = tracker.table
    assert tab.status.tolist() == [CONFIRMED]
    before = tab.label_logp.copy()
    # 2 s after the last plot (beyond the 1.5 s crossing window): the bearing updates the track, not its label
    tracker.step(ingest(_message("rf", "rf-df", RF_DF, 5.0), SITE, config))
    assert tab.t.tolist() == [T0 + 5.0]
    np.testing.assert_array_equal(tab.label_logp, before)
    tracker.step(ingest(_message("radar", "radar", RADAR, 6.0), SITE, config))
    after_plot = tab.label_logp.copy()
    tracker.step(ingest(_message("rf", "rf-df", RF_DF, 6.5), SITE, config))
    # 0.5 s after a plot it counts: the emitter's 0.6 / 0.12 plus the (unchanged) speed evidence
    speed = tracker.params.speed_evidence_weight * np.log(
        1.0 / (1.0 + np.exp((np.hypot(8.0, 5.0) - np.array([35.0, 25.0])) / 3.0)))
    gain = np.log(0.6 / 0.12) + speed[0] - speed[1]
    np.testing.assert_allclose((tab.label_logp - after_plot)[0, DRONE] - (tab.label_logp - after_plot)[0, BIRD],
                               gain, atol=0.02)


def test_class_log_ratios_weigh_an_emitter_for_a_drone_track_against_a_bird_track() -> None:
    prm = TrackerParams()
    loglik = np.log(np.array([prm.bearing_emitter_likelihood]))
    tracks = np.log(np.array([[0.997, 0.001, 0.001, 0.001], [0.001, 0.997, 0.001, 0.001]]))
    ratio = association_log_ratios(tracks, loglik, prm.class_prior)
    # Σ_c P_i(c) ℓ(c) over Σ_c π_c ℓ(c) = 0.2·0.6 + 0.2·0.12 + 0.1·0.12 + 0.5·0.16 = 0.236
    drone = 0.997 * 0.6 + 0.001 * (0.12 + 0.12 + 0.16)
    bird = 0.997 * 0.12 + 0.001 * (0.6 + 0.12 + 0.16)
    np.testing.assert_allclose(ratio[:, 0], np.log(np.array([drone, bird]) / 0.236))


def test_an_identity_is_each_track_or_none_with_probabilities_from_its_log_odds_against_none() -> None:
    # odds 1 and 2 against "no track" (odds 1): 1/4, 2/4 (and 1/4 none); odds e⁻⁴⁰ each: all but surely none
    p = identity_probabilities(np.array([[0.0, -40.0], [np.log(2.0), -40.0]]))
    np.testing.assert_allclose(p[:, 0], [0.25, 0.5])
    np.testing.assert_allclose(p[:, 1], [np.exp(-40.0)] * 2, rtol=1e-9)


def test_a_detection_that_is_the_track_s_with_probability_w_mixes_its_evidence_with_the_prior_s() -> None:
    prm = TrackerParams()
    loglik = np.log(np.array([prm.bearing_emitter_likelihood] * 3))
    mixed = associated(loglik, np.array([1.0, 0.25, 0.0]), prm.class_prior)
    odds = mixed[:, DRONE] - mixed[:, BIRD]
    # w = 1: the full 5:1; w = 0.25: (0.25·0.6 + 0.75·0.236) / (0.25·0.12 + 0.75·0.236); w = 0: nothing
    np.testing.assert_allclose(odds, np.log([5.0, (0.15 + 0.177) / (0.03 + 0.177), 1.0]))


def _plot(t: float, at: np.ndarray, probs: dict[str, float]) -> DetectionsMessage:
    """A noise-free radar plot of a target at ``at`` (site frame) that says ``probs``."""
    r, az, el = enu_to_polar(at)
    return DetectionsMessage.model_validate({
        "schema": "sargas.detections/1", "sensor_id": "radar", "kind": "radar", "time": T0 + t, "seq": 0,
        "origin": _origin(RADAR), "detections": [{"range_m": float(r), "azimuth_deg": float(az) % 360.0,
                                                   "elevation_deg": float(el), "class_probs": probs}]})


def _df_bearing(t: float, at: np.ndarray, origin: np.ndarray, kind: str = "rf",
                **carries: object) -> DetectionsMessage:
    """A bearing towards ``at`` from a sensor of ``kind`` at ``origin``: by default an RF bearing of emitter em-1;
    ``carries`` replaces what the detection carries besides its azimuth and sigma."""
    _, az, _ = enu_to_polar(at - origin)
    return DetectionsMessage.model_validate({
        "schema": "sargas.detections/1", "sensor_id": f"{kind}-1", "kind": kind, "time": T0 + t, "seq": 0,
        "origin": _origin(origin), "detections": [{"azimuth_deg": float(az) % 360.0, "sigma": {"azimuth_deg": 3.0},
                                                    **(carries or {"emitter_id": "em-1"})}]})


@pytest.mark.parametrize(("carries", "drone_has_another"), [({}, False), ({"freq_mhz": 2437.0}, False), ({}, True)],
                         ids=["emitter", "anonymous", "drone-with-a-second-emitter"])
def test_a_drone_s_bearings_along_a_line_through_a_goose_label_the_drone_not_the_goose(
        carries: dict[str, object], drone_has_another: bool) -> None:
    """A direction finder's line runs through a drone's track and, 400 m farther on, a goose's; its bearings
    (the drone's emitter's, 0.5σ off towards the goose) fit the goose a little better, but a goose carries no
    emitter: the emitter's identity and its drone evidence go to the drone's track, not to the goose's. An RF
    bearing without an ``emitter_id`` (the protocol's is optional) counts by its association probability instead,
    and does not turn the goose into a drone either; nor does one from a drone already known by another emitter
    (a drone may have several links)."""
    config = FusionConfig()
    tracker = Tracker(config.tracker_params())
    df = np.array([-1500.0, -1000.0, 2.0])
    step = np.array([6.0, 4.0, 0.0])

    def drone(t: float) -> np.ndarray:
        return np.array([600.0, 400.0, 150.0]) + step * t

    def goose(t: float) -> np.ndarray:  # 1.5° off the drone's line, seen from the direction finder
        turn = np.radians(1.5)
        rotation = np.array([[np.cos(turn), -np.sin(turn), 0.0], [np.sin(turn), np.cos(turn), 0.0], [0.0, 0.0, 1.0]])
        return df + rotation @ ((drone(t) - df) * 1.16)

    drone_says = {"drone": 0.8, "bird": 0.1, "unknown": 0.1}
    goose_says = {"drone": 0.1, "bird": 0.8, "unknown": 0.1}
    for t in range(8):
        tracker.step(ingest(_plot(float(t), drone(t), drone_says), SITE, config))
        tracker.step(ingest(_plot(float(t) + 0.01, goose(t + 0.01), goose_says), SITE, config))
    tab = tracker.table
    assert tab.status.tolist() == [CONFIRMED, CONFIRMED]
    if drone_has_another:
        tracker.identities.bind(int(tab.number[0]), ("emitter:em-2",))
    for t in np.arange(8.0, 20.0, 0.5):
        tracker.step(ingest(_df_bearing(t, goose(t), df, **carries), SITE, config))
        if t == int(t):
            tracker.step(ingest(_plot(t + 0.1, drone(t + 0.1), drone_says), SITE, config))
            tracker.step(ingest(_plot(t + 0.11, goose(t + 0.11), goose_says), SITE, config))
    label, _ = best_label(tab.label_logp)
    assert label.tolist() == [DRONE, BIRD]
    assert np.exp(tab.label_logp[1, DRONE]) < 0.01


def test_an_emitter_s_class_term_penalises_only_tracks_less_likely_than_the_prior_to_carry_it() -> None:
    """An emitter's bearing gates a drone's track, an unlabelled one and a goose's. The class term is each track's
    class likelihood ratio against clutter or a new target (the prior's class mix), clipped at 0: the drone's and
    the unlabelled track's are 0 (the fit alone decides between them, and a drone known by another emitter still
    competes), the goose's ln(Σ P_goose ℓ / Σ π ℓ) < 0; outside the gate, 0."""
    config = FusionConfig()
    tracker = Tracker(config.tracker_params())
    prm = tracker.params
    drone_logp = np.log(np.array([[0.997, 0.001, 0.001, 0.001]]))
    goose_logp = np.log(np.array([[0.001, 0.997, 0.001, 0.001]]))
    tracker.table.add(np.zeros((3, 6)), np.repeat(np.eye(6)[None], 3, axis=0), prm.initial_mode_p, T0,
                      np.concatenate([drone_logp, prior_logp(prm.class_prior, 1), goose_logp]), "radar")
    tracker.identities.bind(1, ("emitter:em-2",))
    scan = ingest(_df_bearing(1.0, np.array([600.0, 400.0, 150.0]), RF_DF), SITE, config)
    det_index = np.arange(1)
    loglik = evidence(scan.class_probs, scan.has_class, scan.emitter, prm.class_evidence_weight, prm.class_floor,
                      emitter_likelihoods(np.ones(1, dtype=bool), prm.emitter_likelihood,
                                          prm.bearing_emitter_likelihood))
    lik = np.array(prm.bearing_emitter_likelihood)
    prior = np.exp(prior_logp(prm.class_prior, 1)[0]) @ lik
    goose = np.log(np.exp(goose_logp[0]) @ lik / prior)
    assert goose < -0.5
    classes = tracker._emitter_classes(scan, det_index, np.ones((3, 1), dtype=bool), loglik, np.arange(1))
    np.testing.assert_allclose(classes[:, 0], [0.0, 0.0, goose], atol=1e-12)
    outside = tracker._emitter_classes(scan, det_index, np.array([[True], [True], [False]]), loglik,
                                       np.arange(1))
    np.testing.assert_allclose(outside[:, 0], [0.0, 0.0, 0.0], atol=1e-12)


def test_an_anonymous_rf_bearing_weighs_each_track_by_its_association_and_the_others_classes() -> None:
    """An RF bearing without an identity, β = (0.5, 0.3) for a drone's and a goose's track and β_0 = 0.2 for
    clutter or a new target: each track's weight is β_i / (β_i + Σ_{k≠i} β_k r_k + β_0), r_k the other track's class
    likelihood ratio against the prior; a bearing with an identity is left to ``carried`` (NaN here)."""
    config = FusionConfig()
    tracker = Tracker(config.tracker_params())
    prm = tracker.params
    logp = np.log(np.array([[0.997, 0.001, 0.001, 0.001], [0.001, 0.997, 0.001, 0.001]]))
    tracker.table.add(np.zeros((2, 6)), np.repeat(np.eye(6)[None], 2, axis=0), prm.initial_mode_p, T0, logp, "radar")
    scan = ingest(_df_bearing(1.0, np.array([600.0, 400.0, 150.0]), RF_DF, freq_mhz=2437.0), SITE, config)
    loglik = evidence(scan.class_probs, scan.has_class, scan.emitter, prm.class_evidence_weight, prm.class_floor,
                      emitter_likelihoods(np.ones(1, dtype=bool), prm.emitter_likelihood,
                                          prm.bearing_emitter_likelihood))
    lik = np.array(prm.bearing_emitter_likelihood)
    r = np.exp(logp) @ lik / (np.exp(prior_logp(prm.class_prior, 1)[0]) @ lik)
    beta = np.array([[0.5], [0.3]])
    expected = [0.5 / (0.5 + 0.3 * r[1] + 0.2), 0.3 / (0.3 + 0.5 * r[0] + 0.2)]
    weights = tracker._class_aided(scan, np.arange(1), np.ones(1, dtype=bool), beta, loglik, np.full((2, 1), np.nan))
    np.testing.assert_allclose(weights[:, 0], expected, rtol=1e-12)
    assert expected[1] < 0.3 < 0.5 < expected[0]  # the goose loses the bearing to the drone, which gains it
    keyed = tracker._class_aided(scan, np.arange(1), np.ones(1, dtype=bool), beta, loglik, np.full((2, 1), 0.9))
    assert np.isnan(keyed).all()


def test_a_bearing_without_an_identity_labels_a_track_only_as_far_as_it_is_that_track_s() -> None:
    """An acoustic array's line runs through a drone's track and, 400 m farther on, a gull's; the drone's sound,
    its bearing 0.5σ off towards the gull, fits the gull a little better, so JPDA gives the gull's track the bearing
    with a probability β between ½ and 1. Its drone evidence counts for the gull's label as a mixture of the
    bearing's own likelihood and the prior's (``classify.associated``), not whole, with a weight below β: the
    drone's track explains a drone's sound better than the gull's (``Tracker._class_aided``, as for an RF bearing).
    Measured on ``birds``, seed 29: a gull's track took a drone's sound at β 0.5-0.7 and was a drone for 2 s."""
    config = FusionConfig()
    tracker = Tracker(config.tracker_params())
    prm = tracker.params
    array = np.array([-1500.0, -1000.0, 2.0])
    step = np.array([6.0, 4.0, 0.0])

    def drone(t: float) -> np.ndarray:
        return np.array([600.0, 400.0, 150.0]) + step * t

    def gull(t: float) -> np.ndarray:  # 1.5° off the drone's line, seen from the array
        turn = np.radians(1.5)
        rotation = np.array([[np.cos(turn), -np.sin(turn), 0.0], [np.sin(turn), np.cos(turn), 0.0], [0.0, 0.0, 1.0]])
        return array + rotation @ ((drone(t) - array) * 1.16)

    for t in range(8):
        tracker.step(ingest(_plot(float(t), drone(t), {"drone": 0.8, "bird": 0.1, "unknown": 0.1}), SITE, config))
        tracker.step(ingest(_plot(float(t) + 0.01, gull(t + 0.01), {"drone": 0.1, "bird": 0.8, "unknown": 0.1}),
                            SITE, config))
    tab = tracker.table
    assert tab.status.tolist() == [CONFIRMED, CONFIRMED]
    sound = {"drone": 0.8, "bird": 0.1, "unknown": 0.1}
    before = tab.label_logp.copy()
    scan = ingest(_df_bearing(7.5, gull(7.5), array, "acoustic", class_probs=sound), SITE, config)
    aided, seen = tracker._class_aided, {}

    def spy(*args: np.ndarray) -> np.ndarray:
        seen["beta"], seen["w"] = args[3], aided(*args)
        return seen["w"]

    tracker._class_aided = spy  # type: ignore[method-assign]
    tracker.step(scan)
    speed = speed_evidence(np.linalg.norm(tab.x[:, 3:5], axis=1), prm.speed_evidence_weight, prm.class_floor)
    change = (tab.label_logp - before) - speed
    loglik = evidence(scan.class_probs, scan.has_class, scan.emitter, prm.class_evidence_weight, prm.class_floor,
                      np.ones(4))
    beta, w = seen["beta"][1, 0], seen["w"][1, 0]
    mixed = associated(np.repeat(loglik, 3, axis=0), np.array([w, beta, 1.0]), prm.class_prior)
    aided_gain, plain_gain, whole = mixed[:, DRONE] - mixed[:, BIRD]
    np.testing.assert_allclose(whole, loglik[0, DRONE] - loglik[0, BIRD])
    # The gull's track took the bearing with β ≥ ½ but a weight below it: its drone odds grew by the mixture's ratio
    # at that weight, less than plain β would have given.
    assert 0.5 <= beta and w < beta
    np.testing.assert_allclose(change[1, DRONE] - change[1, BIRD], aided_gain, rtol=1e-9)
    assert 0.0 < aided_gain < plain_gain < whole
