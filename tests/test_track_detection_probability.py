"""A track's own detection probability from its radar plots' SNR (Swerling 1, square-law detector): the
estimator, the threshold learnt from the weakest plot, the track score's Pd and the tentative track's life."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fusion.config import FusionConfig
from fusion.geo import LocalFrame, enu_to_polar
from fusion.tracking import Tracker
from fusion.tracking.amplitude import (FreePlots, birth_log_ratios, detection_probability, excess_power,
                                      log_ratios)

from test_tracking import SITE, T0, radar_plot, scan


def _plot(r: float, az: float, snr_db: float) -> dict:
    return {**radar_plot(r, az), "snr_db": snr_db}


def _power(snr_db: float) -> float:
    return 1.0 + 10.0 ** (snr_db / 10.0)


def test_excess_power_is_relative_to_the_threshold_and_carried_to_1_km_by_r4() -> None:
    # snr 10 dB: P = 11; threshold 6: (11 - 6) / 6 at 2 km is 16 times that at 1 km.
    np.testing.assert_allclose(excess_power(np.array([10.0, 10.0]), 6.0, np.array([1000.0, 2000.0])),
                               [5.0 / 6.0, 16.0 * 5.0 / 6.0], rtol=1e-12)
    assert np.isnan(excess_power(np.array([math.nan]), 6.0, np.array([1000.0]))[0])


def test_detection_probability_is_exp_of_minus_threshold_over_mean_power_at_the_range_asked() -> None:
    excess = excess_power(np.array([10.0]), 6.0, np.array([2000.0]))
    # μ/T = 5/6 where the plot was: Pd = exp(-6/5); at 1 km the SNR is 16 times larger.
    np.testing.assert_allclose(detection_probability(excess, np.array([1]), np.array([2000.0])), [math.exp(-1.2)],
                               rtol=1e-12)
    np.testing.assert_allclose(detection_probability(excess, np.array([1]), np.array([1000.0])),
                               [math.exp(-1.2 / 16.0)], rtol=1e-12)
    # The mean over plots; no plots (or nothing above the threshold) says 0.
    np.testing.assert_allclose(detection_probability(np.array([3.0, 0.0]), np.array([2, 0]), np.array([1000.0, 1000.0])),
                               [math.exp(-2.0 / 3.0), 0.0], rtol=1e-12)


def test_the_mean_excess_of_detected_swerling_1_powers_is_the_mean_power_however_weak_the_target() -> None:
    """Why the estimator is unbiased: detected powers are truncated at T, but P - T given P > T is again
    exponential with the mean μ (memorylessness), so few and weak detections do not bias it."""
    rng = np.random.default_rng(11)
    threshold = -math.log(1e-6)
    for mu in (6.0, 12.0, 40.0):  # Pd 0.10, 0.32, 0.71
        power = rng.exponential(mu, 400_000)
        seen = power[power > threshold]
        assert len(seen) / len(power) == pytest.approx(math.exp(-threshold / mu), rel=0.03)
        assert np.mean(seen - threshold) == pytest.approx(mu, rel=0.03)
        assert np.mean(seen) > 1.3 * mu  # the naive mean of the detected powers is far off


def test_ingest_carries_each_plots_snr_and_nan_without_one() -> None:
    radar = scan("radar", T0, [_plot(1000.0, 45.0, 14.5), radar_plot(2000.0, 90.0)])
    np.testing.assert_array_equal(radar.snr_db, [14.5, math.nan])


def test_an_snr_beyond_any_radar_is_read_at_the_cap_and_crashes_nothing() -> None:
    # The protocol allows any finite snr_db; 10^(5000 / 10) overflows a float (it raised out of the tracker step).
    radar = scan("radar", T0, [_plot(1000.0, 45.0, 5000.0)])
    np.testing.assert_array_equal(radar.snr_db, [300.0])
    tracker = Tracker()
    tracker.step(radar)
    tracker.step(scan("radar", T0 + 1.0, [_plot(1000.0, 45.0, 1e9)]))
    assert tracker.table.ids == ["T-1"] and tracker.table.hits.tolist() == [2]


def test_the_threshold_is_the_weakest_plot_a_radar_reported() -> None:
    tracker = Tracker()
    tracker.step(scan("radar", T0, [_plot(1000.0, 45.0, 15.0), _plot(3000.0, 200.0, 12.0)]))
    tracker.step(scan("radar", T0 + 1.0, [_plot(4000.0, 300.0, 13.0)]))
    assert tracker._threshold == {0: pytest.approx(_power(12.0), rel=1e-12)}
    tracker.step(scan("radar", T0 + 2.0, [_plot(4500.0, 100.0, 11.0)]))
    assert tracker._threshold == {0: pytest.approx(_power(11.0), rel=1e-12)}


def _two_tracks() -> Tracker:
    """Threshold at 11 dB (the clutter plot); a target plot of 15 dB at 4 km: μ/T = (P - T) / T."""
    tracker = Tracker()
    tracker.step(scan("radar", T0, [_plot(4000.0, 45.0, 15.0), _plot(3000.0, 200.0, 11.0)]))
    assert tracker.table.ids == ["T-1", "T-2"]
    return tracker


def _target_pd() -> float:
    return math.exp(-_power(11.0) / (_power(15.0) - _power(11.0)))


def test_a_tentative_track_of_a_weak_target_lives_until_missing_it_that_long_is_unlikely() -> None:
    tracker = _two_tracks()
    pd = _target_pd()
    assert 0.2 < pd < 0.9  # trackable, well below the nominal 0.9
    life = math.log(0.05) / math.log1p(-pd)
    np.testing.assert_allclose(tracker._tentative_life(), [life, 3.0], rtol=1e-9)
    assert 4.0 < life < 5.0
    # The clutter plot (at the threshold: Pd ≈ 0) dies after the usual 3 s, the target's track after ``life``.
    assert tracker.maintain(T0 + 3.01).ids == ("T-2",)
    assert tracker.maintain(T0 + life - 0.01).ids == ()
    assert tracker.maintain(T0 + life + 0.01).ids == ("T-1",)


def test_bearings_that_fit_a_tentative_track_keep_it_alive_while_the_radar_misses_it() -> None:
    """A direction finder's bearings through a trackable tentative track add their log-likelihood ratios to its
    support, which lengthens its life by ``revisit · S / -ln(1 - Pd)``; they do not fix it, and its next plot
    starts the count again."""
    tracker = _two_tracks()
    pd = _target_pd()
    alone = math.log(0.05) / math.log1p(-pd)
    df = {"lat": 54.35, "lon": 23.40, "alt_m": 160.0}
    frame = LocalFrame(df["lat"], df["lon"], df["alt_m"])
    _, az, el = enu_to_polar(frame.from_geodetic(*SITE.to_geodetic(tracker.table.x[0, :3])))
    for k in range(1, 5):
        bearing = {"azimuth_deg": float(az) % 360.0, "elevation_deg": float(el),
                   "sigma": {"azimuth_deg": 2.0, "elevation_deg": 4.0}}
        result = tracker.step(scan("rf", T0 + k, [bearing], origin=df, sensor_id="df-1"))
        assert result.updated == ("T-1",)
    assert tracker.table.ids == ["T-1"]  # the clutter plot's track died after its 3 s
    support = tracker.table.support[0]
    assert support > 4 * 3.0  # four bearings, each well inside the gate of a well-placed track
    assert tracker.table.t_fix[0] == T0  # one sensor's bearings leave the range free: no fix
    life = (math.log(0.05) - support) / math.log1p(-pd)
    np.testing.assert_allclose(tracker._tentative_life(), [min(life, 10.0)], rtol=1e-9)
    assert life > alone + 3.0
    assert tracker.maintain(T0 + alone + 1.0).ids == ()
    tracker.step(scan("radar", T0 + 6.0, [_plot(4000.0, 45.0, 15.0)]))
    assert tracker.table.hits[0] == 2 and tracker.table.support[0] == 0.0


def test_a_track_whose_plots_carry_no_snr_keeps_the_fixed_timeout() -> None:
    tracker = Tracker()
    tracker.step(scan("radar", T0, [radar_plot(4000.0, 45.0)]))
    np.testing.assert_array_equal(tracker.table.plots, [0])
    np.testing.assert_array_equal(tracker._tentative_life(), [3.0])


def test_the_score_uses_the_tracks_own_detection_probability_and_its_plot_joins_the_estimate() -> None:
    tracker = _two_tracks()
    pd = _target_pd()
    radar = scan("radar", T0 + 3.0, [_plot(4000.0, 45.0, 13.0)])
    tracker._score(radar, np.array([0, 1], dtype=np.intp), np.array([0]), np.array([0]), np.array([[6.0]]))
    # ln(Pd / λ) - cost / 2 + 2 ln(1 - Pd): 2 scans missed, each far less telling than at Pd = 0.9; plus the plot's
    # amplitude (``amplitude.log_ratios``). The free plots were the two first: the 11 dB one, at the threshold, is
    # clutter and the 15 dB one, 19 noise powers over it (over 10 times the noise prior's mean), a new target's:
    # clutter mean (1 + 0) / 2, new targets' share ½ (its bound: 2 of 4 strong). The track's one plot exceeded the
    # threshold by 19.03 at this range: Lomax a = 2, b = 0.5 + 19.03.
    e, s = _power(13.0) - _power(11.0), _power(15.0) - _power(11.0)
    target = math.log(2.0 / (0.5 + s)) - 3.0 * math.log1p(e / (0.5 + s))
    elsewhere = math.log(0.5 / 0.5 * math.exp(-e / 0.5) + 0.5 * (1.0 / 0.5) * (1.0 + e / 0.5) ** -2)
    assert target - elsewhere == pytest.approx(2.27200, abs=1e-5)
    # The score began with the first plot's amplitude, a new target's against clutter's with the noise prior's mean 1
    # (``amplitude.birth_log_ratios``): s - 2 ln(1 + s) = 13.03, capped at 10.
    assert s - 2.0 * math.log1p(s) > 10.0
    assert tracker.table.score[0] == pytest.approx(10.0 + math.log(pd / 1e-6) - 3.0 + 2.0 * math.log1p(-pd)
                                                   + target - elsewhere, rel=1e-12)
    assert tracker.table.plots[0] == 2
    expected = ((_power(15.0) - _power(11.0)) + (_power(13.0) - _power(11.0))) / _power(11.0) * 4.0**4
    assert tracker.table.excess[0] == pytest.approx(expected, rel=1e-12)


def test_the_detection_probability_stays_between_the_floor_and_the_nominal_value() -> None:
    tracker = _two_tracks()
    rows = np.array([0, 1])
    np.testing.assert_allclose(tracker._detection_probability(rows, np.array([4000.0, 3000.0])), [_target_pd(), 0.2],
                               rtol=1e-12)
    np.testing.assert_allclose(tracker._detection_probability(rows, np.array([400.0, 3000.0])), [0.9, 0.2])


# ------------------------------------------------------------------ amplitude in the track score


def test_the_amplitude_log_ratio_matches_hand_computed_values() -> None:
    """Free plots: 999 clutter plots summing 1999 (with the noise pseudo-plot, mean 2) and 9 strong ones: f = 10/1010
    strong, so new targets' share w = (f - e⁻¹⁰) / (1/11 - e⁻¹⁰) = 0.108466. Tracks: one without plots (Lomax a = 1,
    b = 2) and one whose 3 plots exceeded the threshold by 30 in all (a = 4, b = 32).
    ``ln[a/b (1 + e/b)^-(a+1)] - ln[(1 - w) ½ e^(-e/2) + w ½ (1 + e/2)^-2]``."""
    free = FreePlots(total=1999.0, clutter=999, strong=9)
    assert free.clutter_mean == 2.0 and free.new_share == pytest.approx(0.1084657, abs=1e-7)
    ratios = log_ratios(np.array([2.0, 10.0, 0.5, 1000.0, math.nan])[None, :], np.array([0.0, 30.0])[:, None],
                        np.array([0, 3])[:, None], free, cap=10.0)
    np.testing.assert_allclose(ratios, [[-0.350920, 1.124787, -0.176767, 2.221322, 0.0],
                                        [-0.654044, 1.962343, -1.194295, -4.099351, 0.0]], atol=1e-6)
    # A plot far stronger than this track's target is likelier a new target's; one without SNR says nothing. The cap.
    assert log_ratios(np.array([10.0]), np.array([30.0]), np.array([3]), free, cap=1.5)[0] == 1.5
    assert (log_ratios(np.array([0.1, 1000.0]), np.array([5000.0]), np.array([50]), free, 0.0) == 0.0).all()


def test_a_plot_that_starts_a_track_weighs_a_new_target_against_clutter() -> None:
    """Clutter mean 2: ``e/2 - 2 ln(1 + e/2)``, below 0 for a plot like clutter's, 5.2 for one of ten means."""
    ratios = birth_log_ratios(np.array([2.0, 20.0, math.nan, 0.0, 1e4]), FreePlots(1999.0, 999, 9), cap=10.0)
    np.testing.assert_allclose(ratios, [1.0 - 2.0 * math.log(2.0), 10.0 - 2.0 * math.log(11.0), 0.0, 0.0, 10.0],
                               rtol=1e-12)


def test_a_new_tracks_score_begins_with_its_plots_amplitude_against_the_clutter_learnt_before_it() -> None:
    """Scan 1: plots of 11 and 12 dB start tracks; the threshold is the weaker's power, and against the noise prior's
    mean 1 the stronger, 10^1.2 - 10^1.1 = 3.26 over it, scores 3.26 - 2 ln(4.26). Then both are clutter: mean
    (1 + 0 + 3.26) / 3 = 1.42. Scan 2: a 13 dB plot elsewhere, 7.36 over the threshold, 5.19 of those means: its
    track's score begins at 5.19 - 2 ln(6.19) = 1.54 (with the mean it joins after, 1.54 would be 1.06)."""
    tracker = Tracker()
    tracker.step(scan("radar", T0, [_plot(3000.0, 10.0, 11.0), _plot(2000.0, 200.0, 12.0)]))
    first = 10.0**1.2 - 10.0**1.1
    np.testing.assert_allclose(tracker.table.score, [0.0, first - 2.0 * math.log1p(first)], rtol=1e-12)
    tracker.step(scan("radar", T0 + 1.0, [_plot(2500.0, 100.0, 13.0)]))
    x = (10.0**1.3 - 10.0**1.1) / ((1.0 + first) / 3.0)
    assert tracker.table.ids[-1] == "T-3"
    assert tracker.table.score[-1] == pytest.approx(x - 2.0 * math.log1p(x), rel=1e-12)
    assert tracker.table.score[-1] == pytest.approx(1.5413, abs=1e-4)


def test_free_plots_count_as_clutter_below_ten_clutter_means_and_as_new_targets_above() -> None:
    free = FreePlots().learn(np.array([0.0, 3.0, math.nan]))  # the noise prior's mean 1: both below 10
    assert free == FreePlots(3.0, 2, 0) and free.clutter_mean == pytest.approx(4.0 / 3.0, rel=1e-12)
    free = free.learn(np.array([13.0, 14.0, 1000.0]))  # 10 means: 13.3
    assert free == FreePlots(16.0, 3, 2)
    # Few plots: new targets' share at most one half. Many: 41 strong of 9042 (Laplace) is w = 0.0494.
    assert free.new_share == 0.5
    assert FreePlots(1000.0, 9000, 40).new_share == pytest.approx(0.0494036, abs=1e-7)


def test_plots_that_start_tracks_are_the_radars_free_plots() -> None:
    tracker = Tracker()
    tracker.step(scan("radar", T0, [_plot(3000.0, 10.0, 11.0), _plot(2000.0, 200.0, 12.0)]))
    # The threshold is the weaker plot's power, 1 + 10^1.1: excesses 0 and 10^1.2 - 10^1.1.
    free = tracker._free_plots[0]
    assert (free.clutter, free.strong) == (2, 0) and free.total == pytest.approx(10.0**1.2 - 10.0**1.1, rel=1e-12)
    # A plot in the first track's gate is not free; a target's first plot at 30 dB, elsewhere, is a strong one.
    tracker.step(scan("radar", T0 + 1.0, [_plot(3000.0, 10.0, 13.0), _plot(2500.0, 100.0, 30.0)]))
    assert tracker.table.ids == ["T-1", "T-2", "T-3"]
    assert (tracker._free_plots[0].clutter, tracker._free_plots[0].strong) == (2, 1)


def _scan_confirming_a_strong_target(cap: float) -> int:
    """The scan at which a target 25 dB above the noise, closing at 10 m/s, is confirmed by its score alone
    (``confirm_hits`` 20), with weak clutter plots far away setting the radar's threshold and free plots."""
    tracker = Tracker(FusionConfig(amplitude_max_log_ratio=cap, confirm_hits=20).tracker_params())
    for k in range(10):
        result = tracker.step(scan("radar", T0 + k, [_plot(2000.0 - 10.0 * k, 45.0, 25.0),
                                                     _plot(4000.0, 150.0 + 25 * k, 11.0 + 0.3 * k)]))
        if "T-1" in result.confirmed:
            return k
    return -1


def test_a_strong_targets_plots_confirm_its_track_a_scan_sooner() -> None:
    """Its plots, each far above clutter and as strong as its earlier ones, add their amplitude's ratio to the score
    of ln(Pd N / λ), the first its own (a new target's against clutter's): the third plot confirms it, not the
    fourth."""
    assert _scan_confirming_a_strong_target(10.0) == 2
    assert _scan_confirming_a_strong_target(0.0) == 3
