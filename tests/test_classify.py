"""Label fusion: the reject option of the published label, the weak RF bearing emitter evidence, and
class evidence only from detections on tracks whose position a sensor fixed lately."""

from __future__ import annotations

import numpy as np

from fusion.config import FusionConfig
from fusion.geo import LocalFrame, enu_to_polar
from fusion.ingest import ingest
from fusion.protocol import DetectionsMessage
from fusion.tracking import Tracker
from fusion.tracking.classify import (
    BIRD,
    DRONE,
    UNKNOWN,
    best_label,
    emitter_likelihoods,
    evidence,
    fuse,
    prior_logp,
)
from fusion.tracking.params import TrackerParams
from fusion.tracking.tracks import CONFIRMED

SITE = LocalFrame(54.30, 23.15, 200.0)
T0 = 1795766400.0
RADAR = np.zeros(3)
RF_DF = np.array([900.0, -700.0, 2.0])


def test_the_label_is_unknown_until_one_class_is_more_likely_than_all_others_together() -> None:
    p = np.array([[0.45, 0.30, 0.05, 0.20], [0.50, 0.30, 0.10, 0.10], [0.10, 0.60, 0.10, 0.20]])
    label, label_p = best_label(np.log(p))
    assert label.tolist() == [UNKNOWN, DRONE, BIRD]
    np.testing.assert_allclose(label_p, [0.20, 0.50, 0.60])


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
