"""The benchmark's reference trackers' geometry on exact cases: frames, bearings, crossings, the floor filter."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.floor_tracker import (
    FloorTracker,
    bearing_model,
    crossing,
    polar_covariance,
)
from benchmarks.site_scans import (
    ScanKind,
    SiteScan,
    Snapshot,
    estimates_on_grid,
    site_scans,
)
from fusion.geo import LocalFrame, enu_to_polar
from fusion.protocol import DetectionsMessage
from simulators.scenario import load_scenario

SITE = LocalFrame(54.3, 23.15, 200.0)


def radar_message(sensor_enu: list[float], target_enu: list[float], kind: str = "radar",
                  fields: tuple[str, ...] = ("range_m", "azimuth_deg", "elevation_deg")) -> DetectionsMessage:
    """One exact detection of a site-frame target by a sensor placed at a site-frame position (a radar
    plot by default; ``kind`` and ``fields`` make it, e.g., an acoustic bearing with or without elevation)."""
    lat, lon, alt = SITE.to_geodetic(sensor_enu)
    sensor = LocalFrame(float(lat), float(lon), float(alt))
    m, b = SITE.transform_to(sensor)
    measured = dict(zip(("range_m", "azimuth_deg", "elevation_deg"), map(float, enu_to_polar(m @ np.array(target_enu) + b))))
    return DetectionsMessage.model_validate({
        "schema": "sargas.detections/1", "sensor_id": f"{kind}-east", "kind": kind, "time": 1795766400.0, "seq": 0,
        "origin": {"lat": float(lat), "lon": float(lon), "alt_m": float(alt)},
        "detections": [{**{name: measured[name] for name in fields}, "truth_id": "uav-1"}]})


def test_a_radar_detection_lands_on_its_target_in_site_axes() -> None:
    # 20 km east of the site origin the sensor's north is turned by about 0.15° against the site's.
    (scan,) = site_scans(radar_message([20000.0, 0.0, 0.0], [20000.0, 1000.0, 100.0]), SITE)
    assert scan.kind == "radar"
    assert scan.point[0] == pytest.approx([20000.0, 1000.0, 100.0], abs=1e-3)
    rng, bearing, elevation = scan.z[0]
    assert rng == pytest.approx(np.hypot(1000.0, 100.0), abs=1e-3)
    assert bearing == pytest.approx(np.pi / 2, abs=1e-6)       # north is 90° counter-clockwise from east
    assert elevation == pytest.approx(np.arctan2(100.0, 1000.0), abs=1e-6)
    assert scan.truth_ids == ("uav-1",)


def test_polar_covariance_is_range_and_cross_range_at_boresight() -> None:
    cov = polar_covariance(np.array([1000.0, 0.0, 0.0]), np.array([10.0, 0.01, 0.02]))
    assert cov == pytest.approx(np.diag([100.0, 100.0, 400.0]))


def test_two_rays_cross_where_they_meet() -> None:
    point = crossing(np.zeros(3), np.array([1.0, 0.0, 0.0]), np.array([100.0, -100.0, 0.0]), np.array([0.0, 1.0, 0.0]))
    assert point == pytest.approx([100.0, 0.0, 0.0])
    assert crossing(np.zeros(3), np.array([1.0, 0.0, 0.0]), np.array([0.0, 5.0, 0.0]), np.array([1.0, 0.0, 0.0])) is None


def test_bearing_jacobian_matches_finite_differences() -> None:
    x, origin = np.array([300.0, 400.0, 120.0, 5.0, 0.0, 0.0]), np.array([10.0, -20.0, 2.0])
    z, jac = bearing_model(x, origin)
    assert z[0] == pytest.approx(np.arctan2(290.0, 420.0))
    for k in range(3):
        dx = np.zeros(6)
        dx[k] = 1e-3
        assert (bearing_model(x + dx, origin)[0] - z) / 1e-3 == pytest.approx(jac[:, k], rel=1e-3, abs=1e-9)


def test_the_floor_follows_exact_positions_and_confirms_on_the_second() -> None:
    floor = FloorTracker(q=0.01)
    for k in range(3):
        point = np.array([[10.0 * k, 0.0, 100.0]])
        floor.step(SiteScan(float(k), "rid", "position", np.zeros(3), point, np.full((1, 3), 0.01), point, ("uav-1",)))
        snap = floor.snapshot(float(k) + 0.5)
        assert snap.ids == (() if k == 0 else ("uav-1",))
    assert snap.x[0] == pytest.approx([25.0, 0.0, 100.0, 10.0, 0.0, 0.0], abs=1e-2)


@pytest.mark.parametrize("fields", [("azimuth_deg",), ("azimuth_deg", "elevation_deg"), ("range_m", "azimuth_deg",
                                                                                          "elevation_deg")])
def test_stone_soup_gets_each_detection_as_its_measurement_model_predicts_it(fields: tuple[str, ...]) -> None:
    """Stone Soup's measurement model of a bearing (with or without elevation) or radar plot, at the true
    state, reproduces the measurement it is fed: the frame, order and angle conventions agree."""
    pytest.importorskip("stonesoup")  # the benchmark extra
    from stonesoup.types.state import GaussianState

    from benchmarks.stonesoup_tracker import _detections

    target = [1500.0, -700.0, 150.0]
    (scan,) = site_scans(radar_message([-9000.0, 4000.0, 30.0], target, "radar" if "range_m" in fields else "acoustic",
                                       fields), SITE)
    (detection,) = _detections(scan, {})
    state = GaussianState(np.array([[target[0]], [5.0], [target[1]], [-3.0], [target[2]], [0.0]]), np.eye(6))
    predicted = np.asarray(detection.measurement_model.function(state), dtype=float).ravel()
    assert len(predicted) == len(fields)
    assert predicted == pytest.approx(np.asarray(detection.state_vector, dtype=float).ravel(), abs=1e-7)


def test_the_comparison_records_a_scenario_with_another_seed(tmp_path: Path) -> None:
    pytest.importorskip("stonesoup")  # the comparison module imports the Stone Soup tracker
    from benchmarks.compare_trackers import record

    def radar_ranges(seed: int | None) -> list[float]:
        workdir = tmp_path / str(seed)
        workdir.mkdir()
        _, rec = record("crossing", 6.0, workdir, seed)
        return [d.range_m for m in rec.detections if m.kind == "radar" for d in m.detections]

    shipped = radar_ranges(None)
    assert shipped and radar_ranges(load_scenario("crossing").seed) == shipped
    assert radar_ranges(7) != shipped  # other noise draws on the same geometry


def test_the_seed_sweep_scores_each_draw_and_leaves_the_speed_target_out(tmp_path: Path) -> None:
    pytest.importorskip("stonesoup")  # the comparison module imports the Stone Soup tracker
    from benchmarks.compare_trackers import late_drones, run_scenarios, target_checks
    from benchmarks.seed_sweep import row

    rows, results, _ = run_scenarios(["crossing"], {"crossing": 20.0}, float("inf"), 7, ["Sargas", "floor"], None,
                                     tmp_path)
    assert [(name, duration, r.system) for name, duration, r in rows] == [("crossing", 20.0, "Sargas"),
                                                                          ("crossing", 20.0, "floor")]
    sargas = results["crossing"]["Sargas"].evaluation
    cells = [cell.strip() for cell in row(7, "crossing", results["crossing"]).strip("|").split("|")]
    assert cells[:5] == ["7", "crossing", f"{sargas.gospa_mean:.1f}", "-", "-"]  # no Stone Soup: no GOSPA, no ratio
    assert cells[5:8] == [str(sargas.id_switches), str(sargas.false_drone_tracks), str(sargas.duplicate_drone_tracks)]
    late = late_drones(sargas)
    assert cells[8] == str(len(late)) and cells[10] == f"{sargas.label_accuracy:.3f}"
    as_mass = {"mass": results["crossing"]}
    assert [what for what, _, _ in target_checks(as_mass, {}, None)][-1].startswith("mass: ≥ 50,000 det/s")
    checks = target_checks(as_mass, {}, None, with_speed=False)
    assert [what for what, _, _ in checks] == ["mass: every drone confirmed ≤ 5 s after its 2nd sensor",
                                               "mass: no drone track from birds/clutter",
                                               "mass: label accuracy ≥ 0.9"]
    assert checks[0][2] == (not late) and checks[1][1].startswith(f"{sargas.false_drone_tracks} false drone tracks")


def test_the_comparisons_read_seeds_and_caps_strictly() -> None:
    pytest.importorskip("stonesoup")
    import argparse

    from benchmarks.compare_trackers import cap_arg, seed_arg

    assert seed_arg("7") == 7 and cap_arg("mass=300") == ("mass", 300.0)
    for bad in ("-1", "x"):
        with pytest.raises(argparse.ArgumentTypeError):
            seed_arg(bad)
    for bad in ("mass", "mass=", "=300", "mass=0", "mass=-5", "mass=nan"):
        with pytest.raises(argparse.ArgumentTypeError):
            cap_arg(bad)


def test_the_comparisons_run_sargas_with_a_given_configuration(tmp_path: Path) -> None:
    """``--config`` reaches the fusion: a variant that may never confirm a track gives no established track where the
    shipped configuration tracks every drone of the draw; a bad file is refused before anything runs."""
    pytest.importorskip("stonesoup")
    import argparse

    from benchmarks.compare_trackers import config_arg, config_text, run_scenarios
    from fusion.config import FusionConfig

    variant = tmp_path / "never.yaml"
    variant.write_text("confirm_hits: 1000\nconfirm_score: 1.0e9\n", encoding="utf-8")
    never = config_arg(str(variant))
    assert never == FusionConfig(confirm_hits=1000, confirm_score=1e9)
    assert config_text(never) == "confirm_hits = 1000, confirm_score = 1000000000.0"
    assert config_text(None) == config_text(FusionConfig()) == "shipped configuration"
    # Within a section every option that differs from the shipped value shows, also those the file did not name
    # but that its section's own defaults changed.
    (tmp_path / "acoustic.yaml").write_text("sigma:\n  acoustic:\n    range_m: 20\n", encoding="utf-8")
    shipped = FusionConfig().sigma.acoustic
    assert config_text(config_arg(str(tmp_path / "acoustic.yaml"))) == ", ".join(
        f"sigma.acoustic.{name} = {value}" for name, value in (("range_m", 20.0), ("azimuth_deg", 1.0),
                                                               ("elevation_deg", 1.5))
        if getattr(shipped, name) != value)
    runs = {}
    for name, config in (("shipped", None), ("never", never)):
        workdir = tmp_path / name
        workdir.mkdir()
        _, results, _ = run_scenarios(["crossing"], {"crossing": 20.0}, float("inf"), 7, ["Sargas"], None, workdir,
                                      config=config)
        runs[name] = results["crossing"]["Sargas"].evaluation
    assert runs["shipped"].tracks >= 2 and runs["never"].tracks == 0
    assert runs["never"].gospa_mean > runs["shipped"].gospa_mean
    (tmp_path / "bad.yaml").write_text("association: nearest\n", encoding="utf-8")
    for bad in (str(tmp_path / "bad.yaml"), str(tmp_path / "missing.yaml")):
        with pytest.raises(argparse.ArgumentTypeError, match=bad.rsplit("/", 1)[1]):
            config_arg(bad)


def test_the_speed_benchmark_splits_wrapped_time_by_key() -> None:
    from benchmarks.fusion_speed import _Timer

    timer = _Timer()
    step = timer.wrap("step", lambda scan: sum(range(scan * 1000)), key=lambda scan: "big" if scan > 5 else "small")
    for scan in (1, 2, 50):
        step(scan)
    assert set(timer.by_key) == {"step"} and sorted(timer.by_key["step"]) == ["big", "small"]
    assert [timer.by_key["step"][k][1] for k in ("big", "small")] == [1.0, 2.0]  # calls
    assert timer.seconds["step"] == pytest.approx(sum(cpu for cpu, _ in timer.by_key["step"].values()))


def test_the_protocol_variations_change_only_what_they_name(tmp_path: Path) -> None:
    pytest.importorskip("stonesoup")  # the comparison module imports the Stone Soup tracker
    from benchmarks.compare_trackers import record
    from benchmarks.protocol_variations import with_radar_period, without
    from fusion.eval.recordings import read_scenario
    from fusion.protocol import read_recording

    shipped = load_scenario("crossing")
    slow = with_radar_period(shipped, 3.0)
    assert [s.model_dump() for s in slow.sensors] == [
        {**s.model_dump(), "scan_period_s": 3.0} if s.kind == "radar" else s.model_dump() for s in shipped.sensors]
    assert slow.model_dump(exclude={"sensors"}) == shipped.model_dump(exclude={"sensors"})
    _, slow_rec = record("crossing", 6.0, tmp_path / "slow", spec=slow)
    assert {s.scan_period_s for s in slow_rec.statuses.values() if s.kind == "radar"} == {3.0}
    path, rec = record("crossing", 6.0, tmp_path)

    def plots(recording: Path) -> list[dict]:
        return [d.model_dump(exclude_none=True) for m in read_scenario(recording).detections if m.kind == "radar"
                for d in m.detections]

    changed = without(path, tmp_path / "no-snr.jsonl", "snr_db")
    assert changed == sum(1 for m in rec.detections
                          if m.kind == "radar" and any(d.snr_db is not None for d in m.detections))
    stripped = plots(tmp_path / "no-snr.jsonl")
    assert stripped == [{k: v for k, v in p.items() if k != "snr_db"} for p in plots(path)] and changed > 0
    n_status = without(path, tmp_path / "no-status.jsonl", "status")
    assert n_status > 0 and read_scenario(tmp_path / "no-status.jsonl").statuses == {}
    assert plots(tmp_path / "no-status.jsonl") == plots(path)
    others = [(line.topic, line.payload) for line in read_recording(path) if b'"kind":"radar"' not in line.payload
              and b"sensor_status" not in line.payload]
    assert others and others == [(line.topic, line.payload) for line in read_recording(tmp_path / "no-snr.jsonl")
                                 if b'"kind":"radar"' not in line.payload and b"sensor_status" not in line.payload]


def _scan(time: float, sensor: str, kind: ScanKind, azimuth_deg: float = 0.0, truth: str = "uav-1") -> SiteScan:
    """One detection of ``truth`` by ``sensor``: a plot (kind 'radar') or a bearing at ``azimuth_deg`` (site axes)."""
    z = np.array([[1000.0, 0.0, 0.0]]) if kind == "radar" else np.array([[np.radians(azimuth_deg), 0.0]])
    return SiteScan(time, sensor, kind, np.zeros(3), z, np.ones_like(z), np.zeros((1, 3)), (truth,))


def test_a_fix_is_a_plot_or_two_unused_bearings_that_cross() -> None:
    pytest.importorskip("stonesoup")  # the benchmark reads compare_trackers, which imports the Stone Soup tracker
    from benchmarks.confirmation_evidence import Fix, fixes, second_fix

    scans = [_scan(0.0, "df-a", "bearing", 40.0),
             _scan(0.5, "df-a", "bearing", 41.0),  # the same sensor again: no crossing
             _scan(1.0, "df-b", "bearing", 45.0),  # 4–5° from df-a's lines: too shallow
             _scan(1.2, "df-c", "bearing", 130.0),  # 85–90° from the others, within 1.5 s of df-a's and df-b's
             _scan(1.4, "df-a", "bearing", 40.0),  # crosses only df-c's, which the last fix used
             _scan(3.0, "radar", "radar"),
             _scan(4.0, "radar", "radar", truth="bird-1")]  # another object's
    assert fixes(scans, "uav-1", 1.5, 10.0) == [Fix(1.2, "df-c×df-b"), Fix(3.0, "radar")]
    assert fixes(scans[:3], "uav-1", 1.5, 10.0) == []
    assert fixes([scans[0], scans[3]], "uav-1", 1.0, 10.0) == []  # 1.2 s apart: outside a 1 s window
    assert fixes([scans[0], _scan(0.5, "df-b", "bearing", 220.0)], "uav-1", 1.5, 10.0) == []  # one line, both ways
    assert second_fix(fixes(scans, "uav-1", 1.5, 10.0)) == Fix(3.0, "radar")
    assert second_fix([Fix(2.0, "radar")]) is None
    assert second_fix([Fix(2.0, "radar"), Fix(2.0, "radar"), Fix(2.0, "df-a×df-b")]) == Fix(2.0, "df-a×df-b")


SWEEP_HEADER = ("| seed | scenario | Sargas GOSPA m | Stone Soup GOSPA m | ratio | ID sw. | false drone tracks | "
                "duplicate drone tracks | drones late > 5 s | latest | label acc. |\n"
                "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")


def test_two_sweeps_compare_draw_by_draw_on_every_figure() -> None:
    from benchmarks.compare_sweeps import compare, draw_rows, read_sweep

    before = read_sweep("machine: x86_64\nseed 1:\n\n" + SWEEP_HEADER
                        + "| 1 | swarm | 40.0 | - | - | 8 | 0 | 0 | 4 | 17.1 s | 0.995 |\n"
                        + "| 2 | swarm | 30.0 | 60.0 | 0.50× | 2 | 1 | 0 | 0 | - | - |\n"
                        + "| 1 | mass | 130.0 | - | - | 10 | 1 | 1 | 12 | 40.0 s | 0.990 |\n\n| target | draws |\n")
    after = read_sweep(SWEEP_HEADER + "| 2 | swarm | 31.5 | - | - | 1 | 0 | 0 | 1 | 6.0 s | 0.999 |\n"
                       + "| 1 | swarm | 39.0 | - | - | 5 | 0 | 1 | 4 | 9.0 s | 0.997 |\n"
                       + "| 3 | swarm | 10.0 | - | - | 0 | 0 | 0 | 0 | - | 1.000 |\n")
    assert before[("2", "swarm")].accuracy is None and before[("1", "mass")].duplicate == 1
    rows = compare(before, after)
    # Only the draws both have (the mass draw and seed 3 are in one sweep only); the mean accuracy only over the draws
    # both labelled (seed 2's first has no label accuracy).
    assert rows[2:] == ["| swarm | 2 | 35.00 → 35.25 | 1 / 1 | 10 → 6 | 1 → 0 | 0 → 1 | 4 → 5 | 0.9950 → 0.9970 |"]
    assert draw_rows(before, after)[2:] == [
        "| 1 | swarm | 40.0 → 39.0 | 8 → 5 | 0 → 0 | 0 → 1 | 4 → 4 | 0.995 → 0.997 |",
        "| 2 | swarm | 30.0 → 31.5 | 2 → 1 | 1 → 0 | 0 → 0 | 0 → 1 | - → 0.999 |"]


def test_a_sweep_without_its_draw_table_with_a_short_row_or_a_draw_twice_is_refused() -> None:
    from benchmarks.compare_sweeps import read_sweep

    with pytest.raises(ValueError, match="no draw table"):
        read_sweep("machine: x86_64\nseed 1:\n")
    with pytest.raises(ValueError, match=r"no column 'false drone tracks', .*, 'label acc\.'$"):
        read_sweep("| seed | scenario | Sargas GOSPA m | ID sw. |\n| --- | --- | --- | --- |\n")
    row = "| 1 | swarm | 40.0 | - | - | 8 | 0 | 0 | 4 | 17.1 s | 0.995 |\n"
    with pytest.raises(ValueError, match="seed 1 of swarm is in the tables twice"):
        read_sweep(SWEEP_HEADER + row + "\n" + SWEEP_HEADER + row)
    with pytest.raises(ValueError, match="line 3 has 5 cells, its table's header 11"):
        read_sweep(SWEEP_HEADER + "| 1 | swarm | 40.0 | - | - |\n")
    # Two sweeps' outputs one after the other are read whole.
    other = "| 2 | mass | 130.0 | - | - | 10 | 1 | 1 | 12 | 40.0 s | 0.990 |\n"
    assert list(read_sweep(SWEEP_HEADER + row + "\nseed 2:\n" + SWEEP_HEADER + other)) == [("1", "swarm"), ("2", "mass")]


def test_the_grid_estimates_date_a_new_track_by_the_step_that_showed_it() -> None:
    """Stone Soup's and the floor's confirmations are dated as Sargas's are: by the step, not by the grid."""
    x = np.array([[100.0, 0.0, 50.0, 10.0, 0.0, 0.0]])
    both = np.vstack([x, x + 500.0])
    snaps = [Snapshot(0.2, (), np.zeros((0, 6))), Snapshot(0.7, ("T-1",), x), Snapshot(1.0, ("T-1",), x),
             Snapshot(1.2, ("T-1", "T-2"), both)]
    est = estimates_on_grid(np.array([0.0, 0.5, 1.0, 1.5]), snaps)
    assert est.times.tolist() == [0.0, 0.5, 0.7, 1.0, 1.2, 1.5]  # the grid, and the steps that showed T-1 and T-2
    assert est.at(1.0).time == 1.0 and est.at(1.5).pos[0].tolist() == [103.0, 0.0, 50.0]  # grid frames predicted
    assert est.first_shown("T-1", 0.5, 1.0) == 0.7 and est.first_shown("T-2", 1.0, 1.5) == 1.2
