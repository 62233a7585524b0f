"""Close formations: a new track's radial velocity, plots left out of the best joint event, and plots
among established tracks next to one that missed its detection."""

from __future__ import annotations

import numpy as np
from test_tracking import T0, radar_plot, scan

from fusion.tracking import Tracker, TrackerParams, jpda
from fusion.tracking.initiation import from_radar, radial_velocity_prior
from fusion.tracking.tracker import _in_best_event
from fusion.tracking.tracks import CONFIRMED, TENTATIVE

SIGMA = np.array([30.0, 30.0, 5.0])
#: The zero-mean velocity prior of ``SIGMA`` for one track: mean (1, 3), covariance (1, 3, 3).
ZERO_PRIOR = (np.zeros((1, 3)), np.diag(SIGMA**2)[None])


def test_radial_velocity_prior_is_the_kalman_update_along_the_line_of_sight() -> None:
    east = np.array([[1.0, 0.0, 0.0]])
    v, p = radial_velocity_prior(east, np.array([-14.0]), np.array([0.25]), *ZERO_PRIOR)
    gain = 900.0 / 900.25
    np.testing.assert_allclose(v, [[-14.0 * gain, 0.0, 0.0]])
    np.testing.assert_allclose(p, [np.diag([900.0 * 0.25 / 900.25, 900.0, 25.0])])
    # Along a diagonal line of sight the two axes become correlated; the cross-range direction keeps the prior.
    u = np.array([[1.0, 1.0, 0.0]]) / np.sqrt(2.0)
    v, p = radial_velocity_prior(u, np.array([10.0]), np.array([1.0]), *ZERO_PRIOR)
    np.testing.assert_allclose(v[0], [10.0 * 900.0 / 901.0 / np.sqrt(2.0)] * 2 + [0.0])
    np.testing.assert_allclose(u[0] @ p[0] @ u[0], 900.0 / 901.0)
    across = np.array([1.0, -1.0, 0.0]) / np.sqrt(2.0)
    np.testing.assert_allclose(across @ p[0] @ across, 900.0)


def test_radial_velocity_prior_updates_a_neighbours_velocity_prior() -> None:
    # Prior (5, 0, 0) ± 2 m/s per horizontal axis; a radial velocity of 7 ± 1 m/s eastward pulls east 4/5 of the way.
    mean, cov = np.array([[5.0, 0.0, 0.0]]), np.diag([4.0, 4.0, 1.0])[None]
    east, north = np.array([[1.0, 0.0, 0.0]]), np.array([[0.0, 1.0, 0.0]])
    v, p = radial_velocity_prior(east, np.array([7.0]), np.array([1.0]), mean, cov)
    np.testing.assert_allclose(v, [[6.6, 0.0, 0.0]])
    np.testing.assert_allclose(p, [np.diag([0.8, 4.0, 1.0])])
    v, _ = radial_velocity_prior(north, np.array([7.0]), np.array([1.0]), mean, cov)
    np.testing.assert_allclose(v, [[5.0, 5.6, 0.0]])
    # No radial velocity (infinite variance, any value): the prior unchanged.
    v, p = radial_velocity_prior(east, np.array([np.nan]), np.array([np.inf]), mean, cov)
    np.testing.assert_allclose(v, mean)
    np.testing.assert_allclose(p, cov)


def test_a_radar_plot_without_radial_velocity_starts_a_track_at_rest_with_the_prior() -> None:
    z = np.array([[1000.0, np.pi / 2, 0.0, 0.0]])
    r = np.diag([7.5**2, 1e-4, 3e-4, 0.25])[None]
    m, b = np.eye(3), np.zeros(3)
    x, p = from_radar(z, np.array([[True, True, True, False]]), r, m, b, *ZERO_PRIOR, 0.1)
    np.testing.assert_allclose(x[0], [1000.0, 0.0, 0.0, 0.0, 0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(p[0, 3:, 3:], np.diag(SIGMA**2))
    z[0, 3] = -14.0  # closing at 14 m/s along the east line of sight
    x, p = from_radar(z, np.ones((1, 4), dtype=bool), r, m, b, *ZERO_PRIOR, 0.1)
    np.testing.assert_allclose(x[0, 3:], [-14.0 * 900.0 / 900.25, 0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(np.diag(p[0, 3:, 3:]), [900.0 * 0.25 / 900.25, 900.0, 25.0], atol=1e-9)


def test_the_best_joint_event_leaves_out_a_plot_that_the_marginals_call_explained() -> None:
    # Two tracks, three plots, all alike: every plot is two-thirds explained, yet one must be new.
    ratio = np.full((2, 3), 10.0)
    explained = jpda.marginals(ratio)[:, :3].sum(axis=0)
    np.testing.assert_allclose(explained, explained[0])
    assert explained[0] > 0.6
    assert int(_in_best_event(ratio).sum()) == 2
    # One track: only its most likely plot; a pair with L ≤ 1 is never worth making.
    assert _in_best_event(np.array([[5.0, 3.0]])).tolist() == [True, False]
    assert _in_best_event(np.array([[0.5, 0.0]])).tolist() == [False, False]
    assert _in_best_event(np.zeros((0, 2))).tolist() == [False, False]


def _two_confirmed_tracks() -> Tracker:
    """T-1 at 3,000 m and T-2 at 3,100 m range on one bearing, both confirmed (range sigma 10 m)."""
    tracker = Tracker()
    for k in range(4):
        tracker.step(scan("radar", T0 + k, [radar_plot(3000.0, 45.0), radar_plot(3100.0, 45.0)]))
    assert tracker.table.status.tolist() == [CONFIRMED, CONFIRMED]
    return tracker


def test_a_plot_among_detected_tracks_starts_a_track_next_to_a_missed_neighbour() -> None:
    # T-1 gets its plot; T-2 is missed. The plot at 3,020 m is in T-1's gate (d² 1.3, not its best
    # plot) and 80 m short of T-2 (d² 20.6 in its nearest mode: outside its gate, inside 4 gates): a target
    # among tracked ones, where an undetected neighbour is likelier than one that left its gate. It starts T-3.
    # (At 3,030 m, 70 m short, T-2's turn modes, 8 % each, hold the plot in their gates: d² 15.8 < 16.3.)
    tracker = _two_confirmed_tracks()
    result = tracker.step(scan("radar", T0 + 4, [radar_plot(3000.0, 45.0), radar_plot(3020.0, 45.0)]))
    assert result.updated == ("T-1",)
    assert result.started == ("T-3",)
    assert tracker.table.status.tolist() == [CONFIRMED, CONFIRMED, TENTATIVE]


def test_a_plot_just_beyond_a_missed_track_and_in_no_detected_gate_starts_nothing() -> None:
    # 70 m beyond T-2 and in no gate of a detected track: most likely T-2's target out of its gate.
    for plots in ([3170.0], [3000.0, 3170.0]):
        tracker = _two_confirmed_tracks()
        result = tracker.step(scan("radar", T0 + 4, [radar_plot(r, 45.0) for r in plots]))
        assert result.started == ()
        assert len(tracker.table) == 2


def test_a_plot_among_detected_tracks_starts_with_the_nearest_ones_velocity() -> None:
    tracker = _two_confirmed_tracks()
    tab = tracker.table
    tab.x[:, 3:] = [[3.0, 4.0, 0.0], [-1.0, 0.0, 0.0]]
    tab.p[:, 3:, 3:] = np.eye(3)
    inf = np.inf
    d2 = np.array([[1.0, 2.0, 5.0], [2.0, 1.0, inf]])
    inside = np.array([[True, True, False], [True, True, False]])
    spread = TrackerParams().formation_velocity_sigma_mps**2
    mean, cov = tracker._velocity_prior(d2, inside, np.array([0, 1]))
    # Plot 0 is nearest T-1, plot 1 nearest T-2; plot 2 is in no gate: the zero-mean prior.
    np.testing.assert_allclose(mean, [[3.0, 4.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(cov[:2], [np.eye(3) * (1.0 + spread)] * 2)
    np.testing.assert_allclose(cov[2], np.diag(SIGMA**2))
    # Only tracks detected by the scan count: with T-1 missed, plot 0 takes T-2's velocity.
    mean, _ = tracker._velocity_prior(d2, inside, np.array([1]))
    np.testing.assert_allclose(mean[:2], [[-1.0, 0.0, 0.0]] * 2)
    mean, _ = tracker._velocity_prior(d2, inside, np.zeros(0, dtype=np.intp))
    np.testing.assert_allclose(mean, np.zeros((3, 3)))


def test_a_track_started_among_a_formation_has_its_neighbours_velocity() -> None:
    # As above: the plot at 3,020 m lies in detected T-1's gate and starts T-3, with T-1's velocity and its
    # velocity covariance widened by the formation's spread.
    tracker = _two_confirmed_tracks()
    tracker.step(scan("radar", T0 + 4, [radar_plot(3000.0, 45.0), radar_plot(3020.0, 45.0)]))
    tab = tracker.table
    assert tab.ids == ["T-1", "T-2", "T-3"]
    np.testing.assert_allclose(tab.x[2, 3:], tab.x[0, 3:])
    spread = TrackerParams().formation_velocity_sigma_mps**2
    np.testing.assert_allclose(tab.p[2, 3:, 3:], tab.p[0, 3:, 3:] + spread * np.eye(3))
