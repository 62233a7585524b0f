"""How soon the sensors' own detections of each drone allow its confirmation, beside when Sargas confirmed it.

The issue asks for every drone confirmed within 5 s of its detection by a second sensor. A confirmed track
stands for a target at a place, so confirming needs two independent position fixes of it: a radar plot or
a Remote ID report is one; a bearing is one only with another sensor's bearing that crosses it at
``min_crossing_deg`` or more within ``crossing_window_s`` (the tracker's own thresholds, ``FusionConfig``).
Two fixes are independent if they differ in sensor or in time. One fix and the bearings of one direction
finder are not enough: the line passes through the fix but leaves the target's place along it free, so a
rule that confirmed on them would confirm any lone clutter plot under a drone's bearing line (in ``mass``,
30 false plots a scan, a direction finder's wedge of ±3°, one sigma, holds about one of them every scan).

For each drone that two sensors detected, this reports when the second independent fix came, counted
from the second sensor (0 if before), only from the drone's own detections (``truth_id``: what a tracker
with perfect association would have), and when Sargas confirmed it. A drone whose second fix came later
than 5 s is late for any tracker that needs two fixes; one whose fix came in time but whose track did not
is late for the tracker's own reasons (sparse plots, ambiguous formation mates, a score still short).

Run: ``OMP_NUM_THREADS=1 python benchmarks/confirmation_evidence.py [--scenarios swarm mass] [--seed N]``.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core: before numpy is imported
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.compare_trackers import (
    LATE_S,
    SCENARIOS,
    cap_arg,
    grid_of,
    late_drones,
    record,
    run_sargas,
    scans_of,
    seed_arg,
    shipped_names,
)
from benchmarks.site_scans import SiteScan
from fusion.config import FusionConfig
from fusion.eval import Evaluation, ScenarioRecording
from simulators.scenario import load_scenario


@dataclass(frozen=True)
class Fix:
    """A position fix of one object: when, and by which sensor(s)."""

    time: float
    sensors: str


@dataclass(frozen=True)
class DroneEvidence:
    """One drone: when a second sensor first detected it (s from the truth's start), when its second independent
    fix came and by which sensor(s), and when Sargas confirmed it (both s after the second sensor, the fix at least
    0; None: never), and whether Sargas was late (``compare_trackers.late_drones``)."""

    drone: str
    second_sensor: float
    second_fix: Fix | None
    confirmed: float | None
    late: bool

    @property
    def possible(self) -> bool:
        """Whether two fixes came within ``LATE_S`` of the second sensor."""
        return self.second_fix is not None and self.second_fix.time <= LATE_S


def fixes(scans: list[SiteScan], ident: str, window_s: float, min_crossing_deg: float) -> list[Fix]:
    """Every position fix of object ``ident`` by its own detections, in time order: its plots and reports, and each
    bearing that crosses an earlier bearing of another sensor within ``window_s`` at ``min_crossing_deg`` or more
    (lines, so 180° apart is parallel). A bearing joins one crossing at most, as in the tracker's ``_cross``: a
    fix that reused a line would place the target with one new measurement only."""
    out: list[Fix] = []
    unused: list[tuple[float, str, float]] = []  # time, sensor, azimuth (rad, clockwise from north, site axes)
    min_sine = math.sin(math.radians(min_crossing_deg))
    for scan in scans:
        mine = [k for k, t in enumerate(scan.truth_ids) if t == ident]
        if not mine:
            continue
        if scan.kind != "bearing":
            out.append(Fix(scan.time, scan.sensor_id))
            continue
        for k in mine:
            azimuth = float(scan.z[k, 0])
            unused = [b for b in unused if scan.time - b[0] <= window_s]
            partners = [b for b in unused if b[1] != scan.sensor_id and abs(math.sin(azimuth - b[2])) >= min_sine]
            if partners:
                unused.remove(partners[-1])  # the latest
                out.append(Fix(scan.time, f"{scan.sensor_id}×{partners[-1][1]}"))
            else:
                unused.append((scan.time, scan.sensor_id, azimuth))
    return out


def second_fix(found: list[Fix]) -> Fix | None:
    """The second independent fix (differing from an earlier or simultaneous one in sensor or time)."""
    for k, fix in enumerate(found):
        if any(f.time != fix.time or f.sensors != fix.sensors for f in found[:k]):
            return fix
    return None


def evidence(rec: ScenarioRecording, scans: list[SiteScan], evaluation: Evaluation,
             config: FusionConfig) -> list[DroneEvidence]:
    """``DroneEvidence`` of every drone that two sensors detected, in object order, with Sargas's ``evaluation``."""
    confirmed = {o.id: o.time_to_confirm_two_sensors for o in evaluation.objects}
    late = {ident for ident, _ in late_drones(evaluation)}
    out = []
    for ident, label in zip(rec.truth.ids, rec.truth.labels, strict=True):
        t2 = rec.detected.second_sensor.get(ident)
        if label != "drone" or t2 is None:
            continue
        fix = second_fix(fixes(scans, ident, config.crossing_window_s, config.min_crossing_deg))
        after = None if fix is None else Fix(max(fix.time - t2, 0.0), fix.sensors)
        out.append(DroneEvidence(ident, t2 - float(rec.truth.times[0]), after, confirmed.get(ident), ident in late))
    return out


def _seconds(value: float | None) -> str:
    """A time in s for the report, or 'never'."""
    return "never" if value is None else f"{value:.1f}"


def _fix_text(fix: Fix | None) -> str:
    """A fix's time in s and its sensors for the report, or 'never'."""
    return "never" if fix is None else f"{fix.time:.1f} ({fix.sensors})"


def report(name: str, drones: list[DroneEvidence]) -> list[str]:
    """Markdown: the late drones of one scenario with their second fix, then the on-time ones' count and latest
    second fix (a track built from formation mates' plots can be confirmed before the drone's own second fix)."""
    late = [d for d in drones if d.late]
    lines = [f"#### {name}: {len(drones)} drones seen by two sensors, {len(late)} confirmed later than {LATE_S:g} s",
             "", "| drone | 2nd sensor at, s from start | 2nd fix after it, s (by) | Sargas confirmed after it, s "
             "| two fixes in time |", "| --- | ---: | --- | ---: | :-: |"]
    lines += [f"| {d.drone} | {d.second_sensor:.1f} | {_fix_text(d.second_fix)} | {_seconds(d.confirmed)} | "
              f"{'yes' if d.possible else '**no**'} |" for d in late]
    on_time = [d for d in drones if not d.late]
    latest = max((d.second_fix.time for d in on_time if d.second_fix is not None), default=None)
    lines += ["", f"On time: {len(on_time)}" + ("" if latest is None else f", their second fix at most {latest:.1f} s "
                                                 "after the second sensor") + "."]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", nargs="*", default=SCENARIOS)
    parser.add_argument("--cap", nargs="*", type=cap_arg, default=[("mass", 300.0)],
                        help="per-scenario caps, NAME=SECONDS (as compare_trackers.py)")
    parser.add_argument("--seed", type=seed_arg, default=None, help="simulate every scenario with this seed")
    args = parser.parse_args()
    names = shipped_names(parser, args.scenarios)
    caps = dict(args.cap)
    config = FusionConfig()
    print(f"machine: {platform.machine()}, Python {platform.python_version()}; scenarios: {', '.join(names)}"
          + ("" if args.seed is None else f"; seed {args.seed}"), flush=True)
    totals = {"late": 0, "fixes late": 0}
    with tempfile.TemporaryDirectory(prefix="sargas-evidence-") as tmp:
        workdir = Path(tmp)
        for name in names:
            path, rec = record(name, min(caps.get(name, math.inf), load_scenario(name).duration_s), workdir, args.seed)
            result = run_sargas(path, rec, grid_of(rec), workdir)
            drones = evidence(rec, scans_of(rec), result.evaluation, config)
            totals["late"] += sum(d.late for d in drones)
            totals["fixes late"] += sum(d.late and not d.possible for d in drones)
            print()
            print("\n".join(report(name, drones)), flush=True)
    print()
    print(f"Late drones: {totals['late']}, of which {totals['fixes late']} had no second fix within {LATE_S:g} s "
          "of their second sensor.")


if __name__ == "__main__":
    main()
