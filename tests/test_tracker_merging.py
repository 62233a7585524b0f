"""Track coalescence (``fusion.tracking.merging``): duplicates of one target merge, resolved targets only once the
radar has long seen one object where two would have shown."""

from __future__ import annotations

import numpy as np
import pytest

from fusion.tracking import Tracker, TrackerParams
from fusion.tracking.gating import chi2_gates
from fusion.tracking.initiation import IdentityMap
from fusion.tracking.merging import Coalescence, state_chi2
from fusion.tracking.tracks import CONFIRMED, TENTATIVE, TrackTable
from test_tracking import T0, radar_plot, scan

PARAMS = TrackerParams()
GATE = float(chi2_gates(PARAMS.merge_gate_probability)[6])


def test_state_chi2_is_the_mahalanobis_distance_of_the_difference() -> None:
    xa, xb = np.zeros((1, 6)), np.array([[3.0, 4.0, 0.0, 1.0, 0.0, 0.0]])
    pa = np.eye(6)[None] * 4.0
    pb = np.eye(6)[None] * 6.0
    assert state_chi2(xa, pa, xb, pb).tolist() == [26.0 / 10.0]
    assert round(GATE, 2) == 16.81  # χ²₆ at 0.99


def _two_tracks(offset_m: float, sigma_m: float) -> tuple[TrackTable, IdentityMap]:
    """An older confirmed track (T-1, fixed at T0 by 'radar') and a newer tentative one (T-2, by 'mic')
    ``offset_m`` east of it, both still; each with an RF identity of its own kind."""
    tab, identities = TrackTable(len(PARAMS.modes)), IdentityMap()
    p = np.diag([sigma_m**2] * 3 + [4.0] * 3)[None]
    logp = np.log(np.array([[0.7, 0.1, 0.1, 0.1]]))
    tab.add(np.zeros((1, 6)), p, PARAMS.initial_mode_p, T0, logp, "radar", hits=5)
    tab.add(np.array([[offset_m, 0.0, 0.0, 0.0, 0.0, 0.0]]), p, PARAMS.initial_mode_p, T0 + 0.5,
            np.log(np.array([[0.4, 0.4, 0.1, 0.1]])), "mic", hits=2)
    tab.status[0] = CONFIRMED
    identities.bind(1, ("emitter:a",))
    identities.bind(2, ("uas:b",))
    return tab, identities


def test_a_lasting_duplicate_is_merged_into_the_established_track_with_the_fresher_state() -> None:
    tab, identities = _two_tracks(10.0, 20.0)
    tab.score[:] = [12.0, 31.0]
    merging = Coalescence(PARAMS, GATE)
    for now in (T0 + 0.5, T0 + 1.5):
        assert len(merging.merge(tab, identities, now, np.array([1])).numbers) == 0
    assert merging.since == {(1, 2): T0 + 0.5}
    merged = merging.merge(tab, identities, T0 + 2.5, np.array([1]))
    assert merged.numbers.tolist() == [2] and merged.into.tolist() == [1]
    assert merged.was_confirmed.tolist() == [False] and merged.last_update.tolist() == [T0 + 0.5]
    assert tab.ids == ["T-1"] and tab.status.tolist() == [CONFIRMED]
    assert tab.x[0, 0] == 10.0 and tab.t.tolist() == [T0 + 0.5]  # T-2 was fixed last: its state
    assert tab.hits.tolist() == [5] and tab.score.tolist() == [31.0] and tab.first_seen.tolist() == [T0]
    assert tab.sensor_last.tolist() == [[T0, T0 + 0.5]]
    assert identities.track_of(("uas:b",)) == 1 and identities.keys_of(1) == ("emitter:a", "uas:b")
    # Label evidence multiplies: (0.7·0.4, 0.1·0.4, ...)/prior, normalised.
    prior = np.asarray(PARAMS.class_prior)
    expected = np.array([0.7 * 0.4, 0.1 * 0.4, 0.1 * 0.1, 0.1 * 0.1]) / prior
    np.testing.assert_allclose(np.exp(tab.label_logp[0]), expected / expected.sum())
    assert merging.since == {}


def test_pooled_labels_divide_out_the_prior_that_new_tracks_start_from() -> None:
    """With the tracker's class mix as the new tracks' prior (``Tracker._class_prior``), the pooled posterior
    divides out that prior, not the configured one: each track's posterior counts it once."""
    tab, identities = _two_tracks(10.0, 20.0)
    mix = (0.1, 0.3, 0.1, 0.5)
    merging = Coalescence(PARAMS, GATE, class_prior=lambda: mix)
    for now in (T0 + 0.5, T0 + 1.5, T0 + 2.5):
        merging.merge(tab, identities, now, np.array([1]))
    expected = np.array([0.7 * 0.4, 0.1 * 0.4, 0.1 * 0.1, 0.1 * 0.1]) / np.asarray(mix)
    np.testing.assert_allclose(np.exp(tab.label_logp[0]), expected / expected.sum())


def test_tracks_seen_as_two_stay_apart_until_radar_scans_make_one_object_likelier() -> None:
    tab, identities = _two_tracks(10.0, 20.0)
    merging = Coalescence(PARAMS, GATE)
    merging.merge(tab, identities, T0 + 0.5, np.array([1]))
    assert merging.since == {(1, 2): T0 + 0.5}
    both, one, pd = np.array([0, 1]), np.array([1]), np.full(2, 0.9)
    # One message of which the pair explains 1.6 detections: two objects.
    merging.merge(tab, identities, T0 + 1.0, both, np.array([0.8, 0.8]), pd=pd)
    assert merging.since == {} and merging.doubt == {(1, 2): 0.0}
    merging.merge(tab, identities, T0 + 1.2, one, np.array([0.0, 1.0]))  # not a radar scan: no evidence
    assert merging.doubt == {(1, 2): 0.0}
    # Radar scans with one plot for the pair: each -ln(1 - 0.81) = 1.66 for one object; ln 1000 = 6.91 needs five.
    for k in range(1, 5):
        merging.merge(tab, identities, T0 + 1.0 + k, one, np.array([0.0, 1.0]), pd=pd)
    assert merging.doubt[(1, 2)] == pytest.approx(-4 * np.log(0.19)) and merging.since == {}
    merging.merge(tab, identities, T0 + 6.0, one, np.array([0.0, 1.0]), pd=pd)
    assert merging.since == {(1, 2): T0 + 6.0}
    assert len(merging.merge(tab, identities, T0 + 7.0, one, np.array([0.0, 1.0]), pd=pd).numbers) == 0
    assert merging.merge(tab, identities, T0 + 8.0, one, np.array([0.0, 1.0]), pd=pd).numbers.tolist() == [2]


def test_a_rarely_detected_pair_takes_longer_and_two_objects_again_restart_it() -> None:
    tab, identities = _two_tracks(10.0, 20.0)
    merging = Coalescence(PARAMS, GATE)
    merging.merge(tab, identities, T0 + 1.0, np.array([0, 1]), np.array([1.0, 1.0]))
    for k in range(1, 40):  # Pd 0.3 each: 0.094 a scan
        merging.merge(tab, identities, T0 + 1.0 + k, np.array([1]), np.array([0.0, 1.0]), pd=np.full(2, 0.3))
    assert merging.doubt[(1, 2)] == pytest.approx(-39 * np.log(0.91)) and merging.since == {}
    merging.merge(tab, identities, T0 + 41.0, np.array([0, 1]), np.array([0.6, 0.9]), pd=np.full(2, 0.3))
    assert merging.doubt == {(1, 2): 0.0}


def test_a_radar_scan_in_two_messages_that_detects_each_track_sees_two_objects() -> None:
    tab, identities = _two_tracks(10.0, 20.0)
    merging = Coalescence(PARAMS, GATE)
    merging.merge(tab, identities, T0 + 1.0, np.array([0, 1]), np.array([1.0, 1.0]))
    one, mass, pd = np.array([1]), np.array([0.0, 1.0]), np.full(2, 0.9)
    merging.merge(tab, identities, T0 + 2.0, one, mass, pd=pd, last=np.array([T0 + 1.0, T0 + 2.0]))  # last revisit
    assert merging.doubt[(1, 2)] == pytest.approx(-np.log(0.19))
    merging.merge(tab, identities, T0 + 3.0, one, mass, pd=pd, last=np.array([T0 + 2.9, T0 + 3.0]))  # this one
    assert merging.doubt == {(1, 2): 0.0}
    merging.merge(tab, identities, T0 + 4.0, one, mass, pd=pd, last=np.array([np.nan, T0 + 4.0]))  # never: one
    assert merging.doubt[(1, 2)] == pytest.approx(-np.log(0.19))


def test_a_track_started_near_another_is_a_second_object_even_if_both_are_tentative() -> None:
    tab, identities = _two_tracks(10.0, 20.0)
    tab.status[0] = TENTATIVE
    merging = Coalescence(PARAMS, GATE)
    merging.merge(tab, identities, T0 + 0.5, np.array([0]), np.array([1.0, 0.0]), born=np.array([1]))
    assert merging.doubt == {(1, 2): 0.0}
    merging = Coalescence(PARAMS, GATE)  # both started by this message: two detections of it
    merging.merge(tab, identities, T0 + 0.5, np.zeros(0, dtype=np.intp), np.zeros(2), born=np.array([0, 1]))
    assert merging.doubt == {(1, 2): 0.0}


def test_a_track_started_beside_one_an_earlier_part_of_the_scan_detected_is_a_second_object() -> None:
    tab, identities = _two_tracks(10.0, 20.0)
    merging = Coalescence(PARAMS, GATE)
    merging.merge(tab, identities, T0 + 0.5, np.zeros(0, dtype=np.intp), np.zeros(2), born=np.array([1]),
                  last=np.array([T0 + 0.4, T0 + 0.5]))
    assert merging.doubt == {(1, 2): 0.0}


def test_a_track_started_beside_one_this_message_missed_is_its_duplicate_and_merges() -> None:
    """A track that lost its target and the track its next plots started: no scan saw two objects (a β below ½
    on the old track is no detection of it; the radar last saw it a revisit ago)."""
    tab, identities = _two_tracks(10.0, 20.0)
    merging = Coalescence(PARAMS, GATE)
    merged = merging.merge(tab, identities, T0 + 0.5, np.array([1]), np.array([0.3, 1.0]), born=np.array([1]),
                           last=np.array([T0 - 0.5, T0 + 0.5]))
    assert merging.doubt == {} and merging.since == {(1, 2): T0 + 0.5}
    for now in (T0 + 1.5, T0 + 2.5):
        merged = merging.merge(tab, identities, now, np.array([1]), np.array([0.0, 1.0]))
    assert merged.numbers.tolist() == [2] and merged.into.tolist() == [1]


def test_tracks_with_different_reported_identities_of_one_kind_are_two_drones() -> None:
    tab, identities = _two_tracks(10.0, 20.0)
    identities.bind(1, ("uas:a",), reported=True)
    identities.bind(2, ("uas:b",), reported=True)
    merging = Coalescence(PARAMS, GATE)
    for now in (T0 + 0.5, T0 + 1.5, T0 + 2.5, T0 + 3.5):
        assert len(merging.merge(tab, identities, now, np.array([1])).numbers) == 0
    assert tab.ids == ["T-1", "T-2"] and merging.apart == {(1, 2)}


def test_emitters_bound_through_bearings_do_not_keep_tracks_apart() -> None:
    tab, identities = _two_tracks(10.0, 20.0)
    identities.bind(2, ("emitter:b",))  # T-1 holds emitter:a; bearings move such keys between tracks
    merging = Coalescence(PARAMS, GATE)
    for now in (T0 + 0.5, T0 + 1.5):
        merging.merge(tab, identities, now, np.array([1]))
    assert merging.merge(tab, identities, T0 + 2.5, np.array([1])).numbers.tolist() == [2]


def test_a_pair_that_fails_the_test_once_starts_over() -> None:
    tab, identities = _two_tracks(10.0, 20.0)
    merging = Coalescence(PARAMS, GATE)
    merging.merge(tab, identities, T0 + 0.5, np.array([1]))
    tab.x[1, 0] = tab.xm[1, :, 0] = 500.0  # T-2 jumps away: not the same target
    merging.merge(tab, identities, T0 + 1.5, np.array([1]))
    assert merging.since == {}
    tab.x[1, 0] = tab.xm[1, :, 0] = 10.0
    merging.merge(tab, identities, T0 + 2.0, np.array([1]))
    assert len(merging.merge(tab, identities, T0 + 3.0, np.array([1])).numbers) == 0  # 1 s of 2
    assert merging.since == {(1, 2): T0 + 2.0}


def test_two_tentative_tracks_are_left_alone() -> None:
    tab, identities = _two_tracks(10.0, 20.0)
    tab.status[0] = TENTATIVE
    merging = Coalescence(PARAMS, GATE)
    for now in (T0 + 0.5, T0 + 1.5, T0 + 2.5):
        assert len(merging.merge(tab, identities, now, np.array([0, 1])).numbers) == 0
    assert merging.since == {} and tab.ids == ["T-1", "T-2"]


def test_far_apart_for_their_covariances_is_no_candidate() -> None:
    tab, identities = _two_tracks(100.0, 5.0)  # 100 m at σ 5 m per axis: χ² ≈ 200
    merging = Coalescence(PARAMS, GATE)
    merging.merge(tab, identities, T0 + 0.5, np.array([1]))
    assert merging.since == {}


def test_the_tracker_reports_a_merged_track_as_ended_into_its_survivor() -> None:
    tracker = Tracker()
    tab = tracker.table
    plot = radar_plot(1000.0, 45.0, 3.0)
    for k in range(5):
        tracker.step(scan("radar", T0 + k, [plot]))
    assert tab.ids == ["T-1"] and tab.status.tolist() == [CONFIRMED]
    # A duplicate (say, from crossed bearings) at the same place, then the radar goes on seeing one target.
    tab.add(tab.x[:1].copy(), tab.p[:1] * 4.0, PARAMS.initial_mode_p, T0 + 4.0, tab.label_logp[:1].copy(), "mic")
    ended = []
    for k in range(5, 9):
        result = tracker.step(scan("radar", T0 + k, [plot]))
        ended.append((result.ended.ids, result.ended.merged_into.tolist()))
        assert not set(result.ended.ids) & set(result.updated + result.confirmed)  # ended, not also updated
    assert tab.ids == ["T-1"] and tab.status.tolist() == [CONFIRMED]
    assert [e for e in ended if e[0]] == [(("T-2",), [1])]
    assert TENTATIVE not in tab.status.tolist()
