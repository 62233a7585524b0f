"""A track's own detection probability from its radar plots' SNR and its record of revisits (Swerling 1,
square-law detector): the likelihoods, the posterior mean, the threshold learnt from the weakest plot, the
track score's Pd and the tentative track's life."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fusion.tracking import Tracker, amplitude
from fusion.tracking.amplitude import SNR_GRID, detection_probability, mean_power, plot_loglik, revisit_loglik

from test_tracking import T0, radar_plot, scan

Array = np.ndarray


def _plot(r: float, az: float, snr_db: float) -> dict:
    return {**radar_plot(r, az), "snr_db": snr_db}


def _power(snr_db: float) -> float:
    return 1.0 + 10.0 ** (snr_db / 10.0)


def _at(g: int) -> Array:
    """Evidence (1, grid) that puts the whole posterior on grid point ``g``."""
    loglik = np.full((1, len(SNR_GRID)), -1e6)
    loglik[0, g] = 0.0
    return loglik



def test_the_mean_power_over_the_threshold_is_noise_plus_the_snr_carried_by_r4() -> None:
    g = 24  # s = 10⁰ = 1: μ / T = 1 / T + (1 km / r)⁴
    assert SNR_GRID[g] == pytest.approx(1.0)
    np.testing.assert_allclose(mean_power(np.array([4.0, 4.0]), np.array([1000.0, 2000.0]))[:, g],
                               [0.25 + 1.0, 0.25 + 1.0 / 16.0], rtol=1e-12)


def test_a_plots_power_is_exponential_above_the_threshold_and_a_revisit_is_bernoulli() -> None:
    g = 24
    m = 0.25 + 1.0  # T = 4, s = 1, at 1 km
    excess = (_power(10.0) - 4.0) / 4.0  # P = 11: (P - T) / T = 7/4
    np.testing.assert_allclose(plot_loglik(np.array([10.0]), np.array([4.0]), np.array([1000.0]))[0, g],
                               -math.log(m) - excess / m, rtol=1e-12)
    assert np.isnan(plot_loglik(np.array([math.nan]), np.array([4.0]), np.array([1000.0]))).all()
    # Two detections and three misses: 2 ln Pd + 3 ln(1 - Pd) with Pd = exp(-1/m).
    pd = math.exp(-1.0 / m)
    np.testing.assert_allclose(revisit_loglik(np.array([2.0]), np.array([3.0]), np.array([4.0]),
                                              np.array([1000.0]))[0, g],
                               2.0 * math.log(pd) + 3.0 * math.log1p(-pd), rtol=1e-12)


def test_detection_probability_is_the_posterior_mean_of_exp_minus_one_over_m_at_the_range_asked() -> None:
    # All the posterior on s = 1 (T = 4): Pd = exp(-1 / (1/4 + (1 km / r)⁴)).
    np.testing.assert_allclose(detection_probability(np.vstack([_at(24), _at(24)]), np.array([4.0, 4.0]),
                                                     np.array([1000.0, 2000.0])),
                               [math.exp(-1.0 / 1.25), math.exp(-1.0 / (0.25 + 1.0 / 16.0))], rtol=1e-9)
    # Half on s = 1, half on s = 10: the mean of the two.
    both = np.maximum(_at(24), _at(32))
    assert SNR_GRID[32] == pytest.approx(10.0)
    np.testing.assert_allclose(detection_probability(both, np.array([4.0]), np.array([1000.0])),
                               [0.5 * (math.exp(-1.0 / 1.25) + math.exp(-1.0 / 10.25))], rtol=1e-9)


def test_the_revisit_record_tells_a_recurring_weak_target_from_clutter_with_the_same_powers() -> None:
    """Plots 0.5 dB over the threshold say Pd ≈ 0 by their powers alone; a target that the following scans
    detect again and again cannot have that Pd, while a lone plot followed by misses keeps it."""
    threshold, r = np.array([_power(11.0)]), np.array([4000.0])
    power = plot_loglik(np.array([11.5]), threshold, r)
    alone = power.copy()
    recurring = 3.0 * power + revisit_loglik(np.array([2.0]), np.array([1.0]), threshold, r)
    clutter = power + revisit_loglik(np.array([0.0]), np.array([3.0]), threshold, r)
    pd_alone, pd_recurring, pd_clutter = (float(detection_probability(e, threshold, r)[0])
                                          for e in (alone, recurring, clutter))
    assert pd_alone < 0.2  # one weak plot: not a trackable target
    # 2 of 3 revisits detected: trackable, where the plots' mean excess alone said exp(-T / (P - T)) ≈ 1e-4.
    assert math.exp(-_power(11.0) / (_power(11.5) - _power(11.0))) < 2e-4
    assert 0.25 < pd_recurring < 0.3
    assert pd_clutter < pd_alone  # misses only lower it


def test_the_mean_excess_of_detected_swerling_1_powers_is_the_mean_power_however_weak_the_target() -> None:
    """Why a plot's power enters as exponential above the threshold: detected powers are truncated at T, but
    P - T given P > T is again exponential with the mean μ (memorylessness), so weak detections do not bias it."""
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


def test_the_threshold_is_the_weakest_plot_a_radar_reported() -> None:
    tracker = Tracker()
    tracker.step(scan("radar", T0, [_plot(1000.0, 45.0, 15.0), _plot(3000.0, 200.0, 12.0)]))
    tracker.step(scan("radar", T0 + 1.0, [_plot(4000.0, 300.0, 13.0)]))
    assert tracker._threshold == {0: pytest.approx(_power(12.0), rel=1e-12)}
    tracker.step(scan("radar", T0 + 2.0, [_plot(4500.0, 100.0, 11.0)]))
    assert tracker._threshold == {0: pytest.approx(_power(11.0), rel=1e-12)}


def _weak_target_and_clutter() -> Tracker:
    """Threshold at 11 dB (the clutter plot T-2); a weak target T-1 at 4 km whose plots are 11.5 dB, detected
    by the scans at 0, 1 and 3 s (hit, miss, hit after its first plot)."""
    tracker = Tracker()
    tracker.step(scan("radar", T0, [_plot(4000.0, 45.0, 11.5), _plot(3000.0, 200.0, 11.0)]))
    for t in (1.0, 3.0):
        tracker.step(scan("radar", T0 + t, [_plot(4000.0, 45.0, 11.5)]))
    assert tracker.table.ids == ["T-1", "T-2"]
    np.testing.assert_array_equal(tracker.table.plots, [3, 1])
    return tracker


def test_a_tracks_record_is_its_plots_powers_and_the_revisits_after_its_first_plot() -> None:
    tracker = _weak_target_and_clutter()
    threshold, r = np.array([_power(11.0)]), np.array([4000.0])
    expected = (3.0 * plot_loglik(np.array([11.5]), threshold, r)
                + revisit_loglik(np.array([2.0]), np.array([1.0]), threshold, r))
    np.testing.assert_allclose(tracker.table.snr_loglik[:1], expected, rtol=1e-12)
    np.testing.assert_allclose(tracker.table.snr_loglik[1:], plot_loglik(np.array([11.0]), threshold,
                                                                         np.array([3000.0])), rtol=1e-12)
    np.testing.assert_array_equal(tracker.table.t_plot, [T0 + 3.0, T0])


def test_a_weak_recurring_target_lives_until_missing_it_that_long_is_unlikely_and_clutter_does_not() -> None:
    tracker = _weak_target_and_clutter()
    now = T0 + 3.0
    pd = float(detection_probability(tracker.table.snr_loglik[:1], np.array([_power(11.0)]), np.array([4000.0]))[0])
    assert 0.2 < pd < 0.9
    life = tracker._tentative_life(now)
    np.testing.assert_allclose(life, [math.log(0.05) / math.log1p(-pd), 3.0], rtol=1e-9)
    # Each missed revisit lowers the Pd the record shows; the third (a revisit ± ½ s) makes it no trackable target's.
    pds = [tracker._radar_detection_probability(np.array([0]), np.array([4000.0]), now + k)[0] for k in range(6)]
    assert all(b < a for a, b in zip(pds[1:], pds[2:])) and pds[3] > 0.2 > pds[4]
    # The clutter plot dies after the usual 3 s; the target's track outlives it by those three misses.
    assert tracker.maintain(T0 + 3.01).ids == ("T-2",)
    assert tracker.maintain(now + 3.4).ids == ()
    assert tracker.maintain(now + 3.6).ids == ("T-1",)


def test_a_track_whose_plots_carry_no_snr_keeps_the_fixed_timeout_and_the_nominal_pd() -> None:
    tracker = Tracker()
    tracker.step(scan("radar", T0, [radar_plot(4000.0, 45.0)]))
    np.testing.assert_array_equal(tracker.table.plots, [0])
    np.testing.assert_array_equal(tracker._tentative_life(T0 + 1.0), [3.0])
    np.testing.assert_array_equal(tracker._detection_probability(np.array([0]), np.array([4000.0]), T0 + 1.0), [0.9])


def test_the_score_uses_the_tracks_own_detection_probability_and_its_plot_joins_the_record() -> None:
    tracker = _weak_target_and_clutter()
    rows, now = np.array([0]), T0 + 6.0
    pd = float(tracker._detection_probability(rows, np.array([4000.0]), now)[0])
    before, record = tracker.table.score[0], tracker.table.snr_loglik[0].copy()
    radar = scan("radar", now, [_plot(4000.0, 45.0, 13.0)])
    tracker._score(radar, np.array([0, 1], dtype=np.intp), rows, np.array([0]), np.array([[6.0]]))
    # ln(Pd / λ) - cost / 2 + 2 ln(1 - Pd): 2 scans missed since the last fix at 3 s.
    assert tracker.table.score[0] - before == pytest.approx(math.log(pd / 1e-6) - 3.0 + 2.0 * math.log1p(-pd),
                                                            rel=1e-12)
    threshold, r = np.array([_power(11.0)]), np.array([4000.0])
    np.testing.assert_allclose(tracker.table.snr_loglik[0], record + plot_loglik(np.array([13.0]), threshold, r)[0]
                               + revisit_loglik(np.array([1.0]), np.array([2.0]), threshold, r)[0], rtol=1e-12)
    assert tracker.table.plots[0] == 4 and tracker.table.t_plot[0] == now


def test_the_detection_probability_stays_between_the_floor_and_the_nominal_value() -> None:
    tracker = _weak_target_and_clutter()
    rows, now = np.array([0, 1]), T0 + 3.0
    raw = amplitude.detection_probability(tracker.table.snr_loglik, tracker.table.radar_threshold,
                                          np.array([4000.0, 3000.0]))
    assert raw[1] < 0.2
    np.testing.assert_allclose(tracker._detection_probability(rows, np.array([4000.0, 3000.0]), now), [raw[0], 0.2],
                               rtol=1e-12)
    np.testing.assert_allclose(tracker._detection_probability(rows, np.array([300.0, 3000.0]), now), [0.9, 0.2])
