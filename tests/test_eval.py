"""fusion.eval on small exact cases: GOSPA by hand, ID switches, time to confirm, labels, and ``sargas eval``."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import sargas_command

from fusion.eval import (
    Coverage,
    Detected,
    EstimateFrame,
    Estimates,
    Truth,
    evaluate,
    evaluation_times,
    gospa,
    table,
    to_json,
)
from fusion.eval.recordings import first_detections
from fusion.geo import LocalFrame
from fusion.protocol import (
    RecordingWriter,
    Track,
    TracksMessage,
    TruthMessage,
    TruthObject,
    Velocity,
    encode,
)

FRAME = LocalFrame(54.3, 23.15, 200.0)
T0 = 1795766400.0
NOT_DETECTED = Detected("truth_id")


def test_gospa_of_one_pair_is_their_distance() -> None:
    g = gospa([[0.0, 0.0, 0.0]], [[30.0, 0.0, 0.0]])
    assert g.distance == pytest.approx(30.0)
    assert (g.localisation, g.missed, g.false) == (pytest.approx(900.0), 0.0, 0.0)


def test_a_missed_object_costs_c_squared_over_two() -> None:
    g = gospa([[0.0, 0.0, 0.0]], np.zeros((0, 3)))
    assert g.distance == pytest.approx(math.sqrt(5000.0))
    assert (g.missed, g.n_missed, g.false) == (5000.0, 1, 0.0)


def test_a_false_track_adds_to_a_good_pair() -> None:
    g = gospa([[0.0, 0.0, 0.0]], [[0.0, 30.0, 40.0], [1000.0, 0.0, 0.0]])
    assert g.distance == pytest.approx(math.sqrt(2500.0 + 5000.0))
    assert (g.localisation, g.missed, g.false, g.n_false) == (pytest.approx(2500.0), 0.0, 5000.0, 1)
    assert g.estimate_index.tolist() == [0]


def test_a_pair_beyond_c_is_one_missed_and_one_false() -> None:
    g = gospa([[0.0, 0.0, 0.0]], [[150.0, 0.0, 0.0]])
    assert g.distance == pytest.approx(100.0)
    assert (g.n_missed, g.n_false, g.localisation) == (1, 1, 0.0)


def test_the_assignment_is_optimal_not_greedy() -> None:
    # Greedy would pair truth 0 with estimate 0 (10 m) and leave truth 1 at 90 m: 100 + 8100.
    g = gospa([[0.0, 0.0, 0.0], [80.0, 0.0, 0.0]], [[10.0, 0.0, 0.0], [-30.0, 0.0, 0.0]])
    assert g.localisation == pytest.approx(30.0**2 + 70.0**2)
    assert g.distance == pytest.approx(math.sqrt(5800.0))


def line_truth(times: list[float], labels: tuple[str, ...] = ("drone",)) -> Truth:
    """Objects flying east at 10 m/s, the i-th one 1 km north of the previous."""
    t = np.array(times)
    pos = np.stack([np.stack([10.0 * (t - t[0]), np.full_like(t, 1000.0 * i), np.full_like(t, 100.0)], axis=1)
                    for i in range(len(labels))], axis=1)
    return Truth(FRAME, tuple(f"obj-{i}" for i in range(len(labels))), labels, t, pos)


def frames(truth: Truth, ids_per_time: list[tuple[str, ...]], labels: list[tuple[str | None, ...]] | None = None,
           offset: float = 5.0) -> Estimates:
    """Estimates ``offset`` m east of object 0, one per id; an id starting with 'far' is 5 km away."""
    out = []
    for k, ids in enumerate(ids_per_time):
        _, pos = truth.at(float(truth.times[k]))
        rows = [pos[0] + [offset, 0.0, 0.0] if not i.startswith("far") else [5000.0, 5000.0, 0.0] for i in ids]
        out.append(EstimateFrame(float(truth.times[k]), ids, np.array(rows).reshape(-1, 3),
                                 labels[k] if labels else (None,) * len(ids)))
    return Estimates(out)


def test_id_switches_count_each_change_of_an_objects_track() -> None:
    truth = line_truth([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    est = frames(truth, [(), ("T-1",), ("T-1",), ("T-2",), (), ("T-2",), ("T-1", "far-9")])
    ev = evaluate(truth, est, NOT_DETECTED)
    assert ev.id_switches == 2          # T-1 → T-2, then (across the gap) T-2 → T-1
    assert ev.objects[0].id_switches == 2
    assert ev.id_swaps == 0             # neither track was ever on another object: replacements, not swaps
    assert (ev.tracks, ev.false_tracks) == (3, 1)
    assert ev.objects[0].rms_error_m == pytest.approx(5.0)
    assert ev.n_missed.tolist() == [1, 0, 0, 0, 1, 0, 0]
    assert ev.distance[0] == pytest.approx(math.sqrt(5000.0))
    assert ev.distance[6] == pytest.approx(math.sqrt(25.0 + 5000.0))
    assert ev.gospa_mean == pytest.approx((2 * math.sqrt(5000.0) + 4 * 5.0 + math.sqrt(5025.0)) / 7)


def test_time_to_confirm_from_first_and_second_sensor_detection() -> None:
    truth = line_truth([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5])
    detected = Detected("truth_id", first={"obj-0": 1.0}, second_sensor={"obj-0": 2.0})
    est = frames(truth, [()] * 7 + [("T-1",)])
    ev = evaluate(truth, est, detected)
    assert ev.objects[0].confirmed_at == 3.5
    assert ev.objects[0].time_to_confirm == pytest.approx(2.5)
    assert ev.objects[0].time_to_confirm_two_sensors == pytest.approx(1.5)
    assert ev.confirm_times("drone") == [pytest.approx(2.5)]
    assert ev.confirm_times("bird") == []


def test_a_track_shown_between_two_evaluation_times_is_confirmed_when_first_shown() -> None:
    truth = line_truth([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5])
    detected = Detected("truth_id", first={"obj-0": 1.0}, second_sensor={"obj-0": 2.0})
    grid = frames(truth, [()] * 7 + [("T-1",)])
    shown = grid.frames[:7] + [EstimateFrame(3.2, ("T-1",), grid.frames[7].pos, (None,)),
                               EstimateFrame(3.3, ("T-1", "T-2"), np.repeat(grid.frames[7].pos, 2, axis=0),
                                             (None, None))] + grid.frames[7:]
    ev = evaluate(truth, Estimates(shown), detected, times=truth.times)
    assert ev.objects[0].confirmed_at == 3.2 and ev.objects[0].time_to_confirm_two_sensors == pytest.approx(1.2)
    # Only since the evaluation time before: a track shown earlier but assigned later is confirmed at its time.
    early = grid.frames[:5] + [EstimateFrame(2.2, ("T-1",), grid.frames[7].pos + 5000.0, (None,))] + grid.frames[5:]
    assert evaluate(truth, Estimates(early), detected, times=truth.times).objects[0].confirmed_at == 3.5
    assert Estimates(shown).first_shown("T-2", 3.0, 3.5) == 3.3
    assert Estimates(shown).first_shown("T-9", 3.0, 3.5) == 3.5
    # A track listed already at the time before (far away, on nothing) is credited with the time it was assigned,
    # whatever other track a frame between shows.
    far = [EstimateFrame(f.time, ("T-1",), np.array([[5000.0, 5000.0, 0.0]]), (None,)) for f in grid.frames[4:7]]
    listed = Estimates(grid.frames[:4] + far + [EstimateFrame(3.2, ("T-1", "T-2"), np.repeat(
        grid.frames[7].pos, 2, axis=0), (None, None))] + grid.frames[7:])
    assert evaluate(truth, listed, detected, times=truth.times).objects[0].confirmed_at == 3.5


def test_label_accuracy_and_false_drone_tracks() -> None:
    truth = line_truth([0.0, 1.0, 2.0, 3.0])
    est = frames(truth, [("T-1",), ("T-1",), ("T-1", "far-2"), ("T-1",)],
                 [("unknown",), ("drone",), ("drone", "drone"), ("drone",)])
    ev = evaluate(truth, est, NOT_DETECTED)
    assert ev.label_accuracy == pytest.approx(0.75)
    assert ev.false_drone_tracks == 1
    bird = evaluate(line_truth([0.0, 1.0], ("bird",)), frames(line_truth([0.0, 1.0]), [("T-1",), ("T-1",)],
                                                              [("bird",), ("drone",)]), NOT_DETECTED)
    assert (bird.label_accuracy, bird.false_drone_tracks) == (0.5, 1)
    # A drone's own track that strays beyond c for a while is no false drone track.
    stray = Estimates([EstimateFrame(t, ("T-1",), np.array([[x, 0.0, 100.0]]), ("drone",))
                       for t, x in ((0.0, 5.0), (1.0, 600.0))])
    assert evaluate(line_truth([0.0, 1.0]), stray, NOT_DETECTED).false_drone_tracks == 0


def test_a_second_track_beside_a_drone_is_a_duplicate_not_a_false_drone_track() -> None:
    truth = line_truth([0.0, 1.0])  # a drone at x = 0, then 10 m
    est = Estimates([EstimateFrame(t, ("T-1", "T-2"), np.array([[x, 0.0, 100.0], [x + dx, 0.0, 100.0]]),
                                   ("drone", "drone")) for t, x, dx in ((0.0, 0.0, 60.0), (1.0, 10.0, 90.0))])
    ev = evaluate(truth, est, NOT_DETECTED)
    assert (ev.false_tracks, ev.false_drone_tracks, ev.duplicate_drone_tracks) == (1, 0, 1)
    # Beyond c of the drone at one time: born of clutter as far as anyone can tell.
    far = Estimates([EstimateFrame(t, ("T-1", "T-2"), np.array([[x, 0.0, 100.0], [x + dx, 0.0, 100.0]]),
                                   ("drone", "drone")) for t, x, dx in ((0.0, 0.0, 60.0), (1.0, 10.0, 101.0))])
    ev = evaluate(truth, far, NOT_DETECTED)
    assert (ev.false_tracks, ev.false_drone_tracks, ev.duplicate_drone_tracks) == (1, 1, 0)


def test_each_false_drone_track_is_named_with_when_and_on_what() -> None:
    """A bird's track labelled drone at two times, and a ghost 5 km from everything at one: both are listed with
    their times, the first on the bird, the second on nothing with the distance to the nearest object; the
    drone's own track, and the bird's while labelled bird, are not."""
    truth = line_truth([0.0, 1.0, 2.0], ("drone", "bird"))
    bird_at = [truth.at(t)[1][1] for t in truth.times]
    est = Estimates([EstimateFrame(float(t), ("T-1", "T-2", "far-3"), np.array([
        truth.at(t)[1][0] + [5.0, 0.0, 0.0], bird_at[k] + [0.0, 3.0, 4.0], [5000.0, 5000.0, 100.0]]), labels)
        for k, (t, labels) in enumerate(zip(truth.times, [("drone", "drone", "unknown"), ("drone", "bird", "drone"),
                                                              ("drone", "drone", "unknown")]))])
    ev = evaluate(truth, est, NOT_DETECTED)
    assert ev.false_drone_tracks == len(ev.false_drone_list) == 2
    bird, ghost = ev.false_drone_list
    assert (bird.track_id, bird.first, bird.last, bird.times, bird.on, bird.alone, bird.nearest_m) == (
        "T-2", 0.0, 2.0, 2, ("obj-1",), False, None)
    nearest = float(np.linalg.norm(np.array([5000.0, 5000.0, 100.0]) - truth.at(1.0)[1], axis=1).min())
    assert (ghost.track_id, ghost.first, ghost.last, ghost.times, ghost.on, ghost.alone) == ("far-3", 1.0, 1.0, 1,
                                                                                            (), True)
    assert ghost.nearest_m == pytest.approx(nearest)
    listed = to_json(ev)["false_drone_track_list"]
    assert [(f["track_id"], f["on"], f["alone"], f["times"]) for f in listed] == [("T-2", ["obj-1"], False, 2),
                                                                                   ("far-3", [], True, 1)]
    lines = table(ev).splitlines()
    row = next(line for line in lines if line.strip().startswith("T-2 "))
    assert row.split()[-3:] == ["times):", "on", "obj-1"] and "labelled drone from 0.0 to 2.0 s (2 times)" in row
    assert any(line.strip().startswith("far-3 ") and f"on nothing, {nearest:.0f} m or more" in line for line in lines)


def test_a_false_drone_track_counts_only_its_times_on_birds_once_it_was_on_a_drone_and_may_find_no_object() -> None:
    """T-1 is labelled drone on a bird, then follows the drone: only its time on the bird made it false. T-2 is
    labelled drone beyond c of everything while no object is in view (the truth has a gap): on nothing, no
    distance. Times count from the truth's start, not from the tracker's first message."""
    truth = Truth(FRAME, ("uav", "gull"), ("drone", "bird"), np.array([0.0, 1.0, 2.0, 9.0]),
                  np.array([[[0.0, 0.0, 100.0], [0.0, 1000.0, 100.0]]] * 4))
    est = Estimates([EstimateFrame(1.0, ("T-1",), np.array([[0.0, 1005.0, 100.0]]), ("drone",)),
                     EstimateFrame(2.0, ("T-1",), np.array([[5.0, 0.0, 100.0]]), ("drone",)),
                     EstimateFrame(5.0, ("T-2",), np.array([[3000.0, 0.0, 100.0]]), ("drone",))])
    ev = evaluate(truth, est, NOT_DETECTED)
    assert ev.false_drone_tracks == len(ev.false_drone_list) == 2 and ev.start == 0.0
    on_bird, lost = ev.false_drone_list
    assert (on_bird.track_id, on_bird.first, on_bird.last, on_bird.times, on_bird.on, on_bird.alone) == (
        "T-1", 1.0, 1.0, 1, ("gull",), False)
    assert (lost.track_id, lost.first, lost.times, lost.on, lost.alone, lost.nearest_m) == ("T-2", 5.0, 1, (), True,
                                                                                           None)
    assert to_json(ev)["false_drone_track_list"][1]["nearest_m"] is None
    assert "labelled drone from 5.0 to 5.0 s (1 times): on nothing, no object present" in table(ev)


def test_truth_is_interpolated_and_absent_outside_its_samples() -> None:
    truth = line_truth([0.0, 2.0])
    idx, pos = truth.at(0.5)
    assert idx.tolist() == [0]
    assert pos[0].tolist() == pytest.approx([5.0, 0.0, 100.0])
    assert len(truth.at(2.5)[0]) == 0


def test_objects_outside_every_coverage_are_nobodys_miss() -> None:
    truth = line_truth([0.0, 1.0], ("drone", "drone"))
    # One sensor at the origin seeing 500 m, only its northern half: object 1 (1 km north) is out.
    coverage = Coverage(np.zeros((1, 3)), np.array([500.0]), np.array([270.0]), np.array([90.0]))
    ev = evaluate(truth, Estimates([]), NOT_DETECTED, coverage, times=truth.times)
    assert ev.n_missed.tolist() == [1, 1]
    assert evaluate(truth, Estimates([]), NOT_DETECTED, coverage, times=truth.times, all_truth=True
                    ).n_missed.tolist() == [2, 2]
    fallback = first_detections([], line_truth([0.0, 1.0, 2.0]), Coverage(
        np.array([[15.0, 0.0, 100.0]]), np.array([6.0]), np.zeros(1), np.full(1, 360.0)))
    assert (fallback.source, fallback.first) == ("coverage", {"obj-0": 1.0})


def test_evaluation_times_fill_the_gaps_a_tracker_skipped() -> None:
    est = Estimates([EstimateFrame(t, (), np.zeros((0, 3)), ()) for t in (10.0, 10.5, 11.0, 13.0)])
    assert evaluation_times(est).tolist() == [10.0, 10.5, 11.0, 11.5, 12.0, 12.5, 13.0]


def test_evaluation_times_are_the_trackers_period_not_every_message() -> None:
    """A message between two grid times at which the tracker published too (one that confirms a track) is no
    sample, so that time means do not weigh its moment twice; one in a gap the tracker skipped is."""
    times = [10.0, 10.5, 10.8, 11.0, 11.5, 12.0, 12.5, 13.0, 14.2, 14.5]
    est = Estimates([EstimateFrame(t, (), np.zeros((0, 3)), ()) for t in times])
    assert evaluation_times(est).tolist() == [10.0, 10.5, 11.0, 11.5, 12.0, 12.5, 13.0, 13.5, 14.0, 14.2, 14.5]
    # A period that is no binary fraction, at epoch times, and a clock that jitters: the grid keeps to the messages.
    rng = np.random.default_rng(3)
    for stamps in ([1795766400.0 + 0.1 * k for k in range(3000)],
                   (1795766400.0 + 0.5 * np.arange(1200) + rng.uniform(-0.005, 0.005, 1200)).tolist()):
        est = Estimates([EstimateFrame(t, (), np.zeros((0, 3)), ()) for t in stamps])
        assert evaluation_times(est).tolist() == stamps
    # Without a period, the messages in the grid's gaps are kept: 1, 2 and 5 s give a 2 s grid and 2 s too.
    est = Estimates([EstimateFrame(t, (), np.zeros((0, 3)), ()) for t in (1.0, 2.0, 5.0)])
    assert evaluation_times(est).tolist() == [1.0, 2.0, 3.0, 5.0]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*sargas_command(), *args], check=False, capture_output=True, text=True, timeout=120)


def test_eval_cli_scores_a_given_tracks_recording_exactly(tmp_path: Path) -> None:
    site = {"lat": FRAME.lat, "lon": FRAME.lon, "alt_m": FRAME.alt_m}
    rec, tracks = tmp_path / "scenario.jsonl", tmp_path / "tracks.jsonl"
    still = Velocity(east_mps=0.0, north_mps=0.0, up_mps=0.0)
    with RecordingWriter(rec) as out:
        for k in range(3):
            out.write(T0 + k, "sargas/v1/truth", encode(TruthMessage(
                schema="sargas.truth/1", time=T0 + k, objects=[TruthObject(id="uav-1", label="drone", **site,
                                                                           velocity=still)])))
    lat, lon, alt = FRAME.to_geodetic([30.0, 0.0, 0.0])
    with RecordingWriter(tracks) as out:
        for k, status in enumerate(("tentative", "confirmed", "coasting")):
            track = Track(track_id="T-1", status=status, lat=float(lat), lon=float(lon), alt_m=float(alt),
                          velocity=still, position_sigma_m=5.0, label="drone", first_seen=T0, last_update=T0 + k)
            out.write(T0 + k, "sargas/v1/tracks", encode(TracksMessage(time=T0 + k, tracks=[track])))
    result = run("eval", str(rec), str(tracks), "--json")
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    # The tentative track is no estimate: first a miss, then 30 m twice.
    assert metrics["gospa"]["mean_m"] == pytest.approx((math.sqrt(5000.0) + 30.0 + 30.0) / 3, abs=1e-3)
    assert metrics["time_to_confirm"]["from"] == "coverage"
    assert metrics["objects"][0]["confirmed_at"] == T0 + 1
    assert (metrics["id_switches"], metrics["id_swaps"], metrics["false_tracks"], metrics["label_accuracy"]) == \
        (0, 0, 0, 1.0)


@pytest.mark.slow
def test_eval_cli_fuses_a_generated_recording_and_draws_two_plots(tmp_path: Path) -> None:
    rec = tmp_path / "default.jsonl.gz"
    assert run("sim", "default", "--record", str(rec), "--duration", "40").returncode == 0
    result = run("eval", str(rec), "--plots", str(tmp_path / "plots"))
    assert result.returncode == 0, result.stderr
    gospa_line = next(line for line in result.stdout.splitlines() if line.startswith("GOSPA mean"))
    assert math.isfinite(float(gospa_line.split()[-1]))
    assert "ID switches" in result.stdout
    assert "truth_id" in result.stdout
    for name in ("gospa.png", "plan.png"):
        assert (tmp_path / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_noise_between_close_objects_is_no_switch_but_a_real_swap_is() -> None:
    truth = Truth(FRAME, ("a", "b"), ("drone", "drone"), np.array([0.0, 1.0, 2.0]),
                  np.array([[[0.0, 0.0, 0.0], [40.0, 0.0, 0.0]]] * 3))
    # Tracks A and B: at 15/25 m, then 22/18 m (GOSPA alone would swap them), then 38/2 m (swapped).
    est = Estimates([EstimateFrame(float(t), ("A", "B"), np.array([[a, 0.0, 0.0], [b, 0.0, 0.0]]), (None, None))
                     for t, (a, b) in enumerate([(15.0, 25.0), (22.0, 18.0), (38.0, 2.0)])])
    ev = evaluate(truth, est, NOT_DETECTED)
    assert ev.distance[1] == pytest.approx(math.sqrt(2 * 18.0**2))   # GOSPA itself takes the best pairs
    assert [o.id_switches for o in ev.objects] == [1, 1]
    assert ev.id_switches == 2
    assert ev.id_swaps == 2  # each object's new track was the other's


def test_a_track_that_hops_to_another_object_is_one_swap_and_its_replacement_none() -> None:
    """Object a's track A moves over to b (b's own track B ended): a swap for b; a's new track C replaces A."""
    truth = Truth(FRAME, ("a", "b"), ("drone", "drone"), np.array([0.0, 1.0, 2.0]),
                  np.array([[[0.0, 0.0, 0.0], [300.0, 0.0, 0.0]]] * 3))
    placed = [(("A", "B"), [[0.0, 0.0, 0.0], [300.0, 0.0, 0.0]]), (("A", "B"), [[5.0, 0.0, 0.0], [305.0, 0.0, 0.0]]),
              (("C", "A"), [[0.0, 0.0, 0.0], [300.0, 0.0, 0.0]])]
    est = Estimates([EstimateFrame(float(t), ids, np.array(pos), (None, None)) for t, (ids, pos) in enumerate(placed)])
    ev = evaluate(truth, est, NOT_DETECTED)
    assert [o.id_switches for o in ev.objects] == [1, 1]
    assert (ev.id_switches, ev.id_swaps) == (2, 1)
