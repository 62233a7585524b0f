"""Sargas on what the protocol allows but the shipped scenarios never send: slower radars, optional fields left out.

The project is judged on scenarios built only from the protocol, so the shipped ones must not be its only test.
Two kinds of variation of one shipped scenario:

- ``--radar-periods 3``: every radar's ``scan_period_s`` set to that many seconds (a slower surveillance radar;
  its status says so). The scenario is simulated again and the chosen systems run on it, as in
  ``compare_trackers.py`` (Stone Soup with the shipped process noise, the perfect-association floor). Stone
  Soup runs twice: as configured for every scenario, and with its tentative timeout (3 s, one scan of such a
  radar) stretched by the period, as Sargas stretches its own; the better is the fair reference;
- ``--drop snr_db radial_velocity_mps elevation_deg status``: the recorded scenario rewritten with that optional
  radar field removed from every plot (``status``: every sensor status removed), one variation each, and Sargas
  alone scored against the unchanged truth and coverage; ``--base-period 3`` first sets its radars' period
  (a 3 s radar that sends no status, say).

Run: ``OMP_NUM_THREADS=1 python benchmarks/protocol_variations.py --scenario default --duration 600
--radar-periods 3 --drop snr_db radial_velocity_mps elevation_deg status [--systems Sargas "Stone Soup" floor]
[--keep DIR]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core: before numpy is imported
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.compare_trackers import (
    SYSTEMS,
    SystemResult,
    grid_of,
    late_text,
    record,
    run_floor,
    run_sargas,
    run_stone_soup,
    scans_of,
    shipped_names,
    table,
)
from benchmarks.seed_sweep import SHIPPED_Q
from benchmarks.stonesoup_tracker import StoneSoupSettings
from fusion.protocol import RecordingError, RecordingWriter, load_json, read_recording
from fusion.eval.recordings import ScenarioRecording
from simulators.scenario import Scenario, load_scenario

#: Optional radar plot fields that ``--drop`` may remove, and ``status`` for every sensor status.
DROPPABLE = ("snr_db", "radial_velocity_mps", "elevation_deg", "rcs_dbsm", "class_probs", "sigma", "status")


def with_radar_period(spec: Scenario, period_s: float) -> Scenario:
    """``spec`` with every radar scanning once in ``period_s`` seconds."""
    sensors = [{**s.model_dump(), "scan_period_s": period_s} if s.kind == "radar" else s.model_dump()
               for s in spec.sensors]
    return spec.replace(sensors=sensors)


def run_systems(path: Path, rec: ScenarioRecording, systems: list[str], period_s: float,
                workdir: Path) -> list[SystemResult]:
    """The chosen systems on one recording of a scenario whose radars scan every ``period_s`` seconds (Stone Soup
    also with its tentative timeout stretched by the period over 1 s)."""
    grid, scans = grid_of(rec), scans_of(rec)
    results = []
    if "Sargas" in systems:
        results.append(run_sargas(path, rec, grid, workdir))
    if "Stone Soup" in systems:
        results.append(run_stone_soup(scans, rec, grid, SHIPPED_Q))
        timeout = StoneSoupSettings.tentative_timeout_s * max(period_s, 1.0)
        stretched = StoneSoupSettings(tentative_timeout_s=timeout)
        results.append(run_stone_soup(scans, rec, grid, SHIPPED_Q, settings=stretched,
                                      system=f"Stone Soup, tentative {timeout:g} s"))
    if "floor" in systems:
        results.append(run_floor(scans, rec, grid))
    return results


def print_late(label: str, result: SystemResult) -> None:
    """Print the drones a result confirmed more than 5 s after their second sensor (``late_text``)."""
    print(f"{label}: Sargas's drones later than 5 s after their second sensor: {late_text(result.evaluation, 'none')}")


def without(source: Path, target: Path, field: str) -> int:
    """Copy the recording ``source`` to ``target`` without ``field`` in any radar plot (``status``: without any
    sensor status); return the number of messages changed or left out."""
    changed = 0
    with RecordingWriter(target) as out:
        for line in read_recording(source):
            if isinstance(line, RecordingError):
                raise line
            message = load_json(line.payload)
            schema = message.get("schema")
            if schema == "sargas.sensor_status/1" and field == "status":
                changed += 1
                continue
            if schema == "sargas.detections/1" and message.get("kind") == "radar" and field != "status":
                plots = message["detections"]
                if any(field in plot for plot in plots):
                    message["detections"] = [{k: v for k, v in plot.items() if k != field} for plot in plots]
                    changed += 1
                    out.write(line.t, line.topic, message)
                    continue
            out.write(line.t, line.topic, line.payload)
    return changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="default", help="a shipped scenario")
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of it (at most its length)")
    parser.add_argument("--radar-periods", nargs="*", type=float, default=[3.0], help="radar scan periods, s")
    parser.add_argument("--drop", nargs="*", choices=DROPPABLE, default=list(DROPPABLE[:3]) + ["status"],
                        help="optional fields to leave out, one variation each (status: every sensor status)")
    parser.add_argument("--systems", nargs="*", choices=SYSTEMS, default=list(SYSTEMS),
                        help="systems for the radar periods (the dropped fields run Sargas alone)")
    parser.add_argument("--base-period", type=float, default=None,
                        help="the radars' scan period of the scenario that --drop rewrites, s (default: as shipped)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="write the recordings and Sargas's tracks here (to score with `sargas eval`), not to a "
                             "temporary directory")
    args = parser.parse_args()
    name = shipped_names(parser, [args.scenario])[0]
    if any(not p > 0.0 for p in args.radar_periods):
        parser.error("radar periods must be positive")
    if not args.duration > 0.0:
        parser.error("the duration must be positive")
    if args.base_period is not None and not args.base_period > 0.0:
        parser.error("the base period must be positive")
    duration = min(args.duration, load_scenario(name).duration_s)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores (shared), Python {platform.python_version()}; "
          f"scenario {name}, {duration:g} s" + (f"; Stone Soup q = {SHIPPED_Q} m²/s³" if "Stone Soup" in args.systems
                                                else ""))
    rows: list[tuple[str, float, SystemResult]] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp) if args.keep is None else args.keep
        workdir.mkdir(parents=True, exist_ok=True)
        for period in args.radar_periods:
            label = f"{name}, radars at {period:g} s"
            path, rec = record(f"{name}-at-{period:g}s", duration, workdir,
                               spec=with_radar_period(load_scenario(name), period))
            for result in run_systems(path, rec, args.systems, period, workdir):
                rows.append((label, duration, result))
                if result.system == "Sargas":
                    print_late(label, result)
        if args.drop:
            base, title, stem = load_scenario(name), name, name
            if args.base_period is not None:
                base = with_radar_period(base, args.base_period)
                title, stem = f"{name} at {args.base_period:g} s", f"{name}-base-{args.base_period:g}s"
            path, rec = record(stem, duration, workdir, spec=base)
            grid = grid_of(rec)
            variants = [(f"{title}, as recorded", path)]
            for field in args.drop:
                variant = workdir / f"{stem}-without-{field}.jsonl.gz"
                changed = without(path, variant, field)
                variants.append((f"{title}, {'no sensor status' if field == 'status' else f'radar without {field}'}",
                                 variant))
                print(f"{variants[-1][0]}: {changed} messages changed")
            for label, recording in variants:
                result = run_sargas(recording, rec, grid, workdir)  # scored against the unchanged truth
                if args.keep is not None:
                    (workdir / "sargas.tracks.jsonl").replace(recording.with_name(f"{recording.name}.tracks.jsonl"))
                rows.append((label, duration, result))
                print_late(label, result)
    print(table(rows))


if __name__ == "__main__":
    main()
