"""Sargas against Stone Soup and against the perfect-association floor, on every shipped scenario.

For each scenario this generates the recording and, in the same run, tracks it with
(a) Sargas's offline fusion (``fuse_recording``: parse, track, serialise, timed end to end),
(b) Stone Soup (EKF, GNN 2-D assignment, multi-measurement initiator, time and covariance
deleters; radar and Remote ID, and with ``--stonesoup-bearings`` bearings for updates) with the process noise chosen by a sweep on one
scenario (``default``) and then kept for all, and (c) the floor: a CV Kalman filter per object fed only its
own detections (``truth_id``). All three are scored by ``fusion.eval`` on the same 0.5 s grid
against the same truth. It prints a markdown table and the issue's targets, measured.

Run: ``OMP_NUM_THREADS=1 python benchmarks/compare_trackers.py [--scenarios crossing swarm] [--systems Sargas floor]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core: before numpy is imported
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from benchmarks.floor_tracker import FloorTracker
from benchmarks.site_scans import (
    Array,
    SiteScan,
    Snapshot,
    estimates_on_grid,
    site_scans,
)
from benchmarks.stonesoup_tracker import StoneSoupSettings, run_stonesoup
from fusion.config import FusionConfig
from fusion.eval import (
    Estimates,
    Evaluation,
    ScenarioRecording,
    evaluate,
    read_scenario,
    read_tracks,
    summary,
)
from fusion.service import fuse_recording
from simulators.runner import write_recording
from simulators.scenario import Scenario, list_scenarios, load_scenario

SCENARIOS = ["default", "crossing", "swarm", "birds", "low-drone", "mass"]
SYSTEMS = ("Sargas", "Stone Soup", "floor")
SWEEP_Q = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
GRID_S = 0.5
#: Issue targets: Sargas GOSPA at most this fraction of Stone Soup's (1.0: below it).
GOSPA_RATIO_TARGET = {"crossing": 0.8, "swarm": 0.8, "mass": 0.9, "low-drone": 0.5}
SPEED_TARGET = 50_000.0
#: Issue target: every drone confirmed within this long of its detection by a second sensor, s.
LATE_S = 5.0


@dataclass
class SystemResult:
    """One tracker on one scenario: its evaluation and its speed (None where not timed)."""

    system: str
    evaluation: Evaluation
    detections: int | None = None
    seconds: float | None = None

    @property
    def rate(self) -> float | None:
        return self.detections / self.seconds if self.detections and self.seconds else None


def grid_of(rec: ScenarioRecording) -> Array:
    """The evaluation times: every 0.5 s of the truth's span (where Sargas also publishes)."""
    t = rec.truth.times
    return np.arange(math.ceil(t[0] / GRID_S) * GRID_S, t[-1] + 1e-9, GRID_S)


def scans_of(rec: ScenarioRecording) -> list[SiteScan]:
    """Every detections message as site-frame scans, in time order."""
    out: list[SiteScan] = []
    for msg in sorted(rec.detections, key=lambda m: m.time):
        out += site_scans(msg, rec.truth.frame)
    return out


def run_sargas(path: Path, rec: ScenarioRecording, grid: Array, workdir: Path,
               config: FusionConfig | None = None) -> SystemResult:
    """``fuse_recording`` end to end (parse, track, serialise), timed, with ``config`` (default: the shipped
    configuration); evaluated from its output file."""
    out = workdir / "sargas.tracks.jsonl"
    started = time.perf_counter()
    result = fuse_recording(path, out, config)
    seconds = time.perf_counter() - started
    estimates = read_tracks(out, rec.truth.frame)
    return SystemResult("Sargas", score(rec, estimates, grid), result.stats.get("detections", 0), seconds)


def run_floor(scans: list[SiteScan], rec: ScenarioRecording, grid: Array) -> SystemResult:
    """The perfect-association floor on every detection that carries a ``truth_id``."""
    floor = FloorTracker()
    snapshots: list[Snapshot] = []
    for scan in scans:
        floor.step(scan)
        snapshots.append(floor.snapshot(scan.time))
    return SystemResult("floor", score(rec, estimates_on_grid(grid, snapshots), grid))


def run_stone_soup(scans: list[SiteScan], rec: ScenarioRecording, grid: Array, q: float,
                   bearings: bool = False, settings: StoneSoupSettings | None = None,
                   system: str = "Stone Soup") -> SystemResult:
    """Stone Soup on the scans with process noise ``q`` (and the bearings if asked), its other ``settings`` as
    given (default: as configured for every scenario), scored as ``system``."""
    run = run_stonesoup(scans, replace(settings or StoneSoupSettings(), q=q, bearings=bearings))
    return SystemResult(system, score(rec, estimates_on_grid(grid, run.snapshots), grid), run.detections,
                        run.seconds)


def sargas_speed(name: str, workdir: Path, config: FusionConfig | None = None) -> SystemResult:
    """Sargas's offline fusion (with ``config``) timed on the whole scenario (no evaluation)."""
    path, rec = record(name, math.inf, workdir)
    return run_sargas(path, rec, grid_of(rec)[:1], workdir, config)


def score(rec: ScenarioRecording, estimates: Estimates, grid: Array) -> Evaluation:
    return evaluate(rec.truth, estimates, rec.detected, rec.coverage, times=grid)


def sweep(scans: list[SiteScan], rec: ScenarioRecording, grid: Array, name: str, bearings: bool = False) -> float:
    """The Stone Soup process noise with the lowest mean GOSPA on this scenario."""
    best: tuple[float, float] | None = None
    for q in SWEEP_Q:
        result = run_stone_soup(scans, rec, grid, q, bearings)
        print(f"sweep on {name}: q = {q:g} m²/s³ → mean GOSPA {result.evaluation.gospa_mean:.1f} m "
              f"({result.rate or 0:.0f} det/s)", flush=True)
        if best is None or result.evaluation.gospa_mean < best[1]:
            best = (q, result.evaluation.gospa_mean)
    assert best is not None
    return best[0]


def record(name: str, duration: float, workdir: Path, seed: int | None = None,
           spec: Scenario | None = None) -> tuple[Path, ScenarioRecording]:
    """Simulate scenario ``name`` (or ``spec``, written under that name; capped at ``duration`` s; with another
    ``seed`` if given) into a recording."""
    spec = load_scenario(name) if spec is None else spec
    spec = spec.replace(duration_s=min(spec.duration_s, duration), seed=spec.seed if seed is None else seed)
    path = workdir / f"{name}.jsonl.gz"
    write_recording(spec, path)
    return path, read_scenario(path)


def seed_arg(text: str) -> int:
    """A scenario seed from the command line (a non-negative integer)."""
    try:
        seed = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a seed is a non-negative integer, not {text!r}") from None
    if seed < 0:
        raise argparse.ArgumentTypeError(f"a seed is a non-negative integer, not {seed}")
    return seed


def cap_arg(text: str) -> tuple[str, float]:
    """A per-scenario cap from the command line: ``NAME=SECONDS``, seconds positive."""
    name, sep, value = text.partition("=")
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not sep or not name or not seconds > 0.0:
        raise argparse.ArgumentTypeError(f"a cap is NAME=SECONDS with SECONDS > 0, not {text!r}")
    return name, seconds


def config_arg(text: str) -> FusionConfig:
    """A fusion configuration file from the command line (YAML, as ``sargas fuse --config`` reads it)."""
    try:
        return FusionConfig.from_file(text)
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"{text}: {exc.strerror}") from None
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text}: {exc}") from None


def _leaves(value: Any, path: tuple[str, ...] = ()) -> dict[str, Any]:
    """A nested mapping as ``{"a.b.c": leaf}`` (an empty mapping is a leaf)."""
    if not isinstance(value, dict) or not value:
        return {".".join(path): value}
    return {key: leaf for name, sub in value.items() for key, leaf in _leaves(sub, (*path, name)).items()}


def config_text(config: FusionConfig | None) -> str:
    """The options in which ``config`` differs from the shipped configuration (dotted within sections), for a
    report's header."""
    shipped = _leaves(FusionConfig().model_dump(mode="json"))
    changed = _leaves(config.model_dump(mode="json")) if config is not None else {}
    return ", ".join(f"{key} = {value}" for key, value in changed.items()
                     if key not in shipped or shipped[key] != value) or "shipped configuration"


def shipped_names(parser: argparse.ArgumentParser, names: list[str]) -> list[str]:
    """``names`` if every one is a shipped scenario; else the parser's usage error naming the others."""
    shipped = {s.name for s in list_scenarios()}
    unknown = [n for n in names if n not in shipped]
    if unknown:
        parser.error(f"no such scenario: {', '.join(unknown)} (shipped: {', '.join(sorted(shipped))})")
    return list(names)


def _cell(value: float | None, fmt: str = ".1f") -> str:
    return "-" if value is None else format(value, fmt)


def table(rows: list[tuple[str, float, SystemResult]]) -> str:
    """The markdown table scenario × system."""
    head = ("| scenario (s) | system | GOSPA m | loc. part m² | missed part m² | false part m² | loc. RMS m "
            "| ID sw. | false tracks | false drone tracks | confirm mean/max s | label acc. | det/s |")
    lines = [head, "| " + " | ".join(["---"] * 2 + ["---:"] * 11) + " |"]
    for name, duration, r in rows:
        s = summary(r.evaluation)
        g, ttc = s["gospa"], s["time_to_confirm"]
        lines.append(
            f"| {name} ({duration:g}) | {r.system} | {g['mean_m']:.1f} | {g['localisation_part']:.0f} "
            f"| {g['missed_part']:.0f} | {g['false_part']:.0f} | {_cell(g['localisation_rms_m'])} "
            f"| {s['id_switches']} | {s['false_tracks']} | {s['false_drone_tracks']} "
            f"| {_cell(ttc['mean_s'])}/{_cell(ttc['max_s'])} | {_cell(s['label_accuracy'], '.3f')} "
            f"| {_cell(r.rate, ',.0f')} |")
    return "\n".join(lines)


def radar_blind_drones(scans: list[SiteScan], rec: ScenarioRecording) -> list[str]:
    """Drones that some sensor detected but no radar ever did."""
    by_radar = {i for s in scans if s.kind == "radar" for i in s.truth_ids if i is not None}
    detected = {i for s in scans for i in s.truth_ids if i is not None}
    return [i for i, label in zip(rec.truth.ids, rec.truth.labels, strict=True)
            if label == "drone" and i in detected and i not in by_radar]


def late_drones(evaluation: Evaluation) -> list[tuple[str, float | None]]:
    """Drones confirmed more than ``LATE_S`` after their second sensor, or never (time None), in object order."""
    return [(o.id, o.time_to_confirm_two_sensors) for o in evaluation.objects
            if o.label == "drone" and o.second_sensor is not None
            and (o.time_to_confirm_two_sensors is None or o.time_to_confirm_two_sensors > LATE_S)]


def late_text(evaluation: Evaluation, none: str = "all") -> str:
    """``late_drones`` as the reports print them (``none`` when every drone was on time)."""
    return ", ".join(f"{i} {'never' if t is None else f'{t:.1f} s'}" for i, t in late_drones(evaluation)) or none


def target_checks(results: dict[str, dict[str, SystemResult]], blind: dict[str, list[str]],
                  mass_speed: SystemResult | None, with_speed: bool = True) -> list[tuple[str, str, bool]]:
    """Each target of the issue as (what, what was measured, whether Sargas meets it); the speed, unless
    ``with_speed`` is false, on the whole mass scenario when ``mass_speed`` is given, else on the evaluated part."""
    checks: list[tuple[str, str, bool]] = []
    for name, by_system in results.items():
        sargas = by_system["Sargas"].evaluation
        if "Stone Soup" in by_system:
            stone = by_system["Stone Soup"].evaluation
            ratio = sargas.gospa_mean / stone.gospa_mean if stone.gospa_mean else math.inf
            limit = GOSPA_RATIO_TARGET.get(name, 1.0)
            checks.append((f"{name}: Sargas GOSPA ≤ {limit:g}× Stone Soup's" if limit < 1
                           else f"{name}: Sargas GOSPA below Stone Soup's",
                           f"{sargas.gospa_mean:.1f} / {stone.gospa_mean:.1f} m = {ratio:.2f}×",
                           ratio <= limit if limit < 1 else ratio < 1))
        late = late_drones(sargas)
        checks.append((f"{name}: every drone confirmed ≤ {LATE_S:g} s after its 2nd sensor",
                       late_text(sargas), not late))
        named = ", ".join(f"{f.track_id} on {'/'.join([*f.on, *(['nothing'] if f.alone else [])])}"
                          for f in sargas.false_drone_list)
        checks.append((f"{name}: no drone track from birds/clutter", f"{sargas.false_drone_tracks} false drone tracks"
                       + (f" ({named})" if named else "")
                       + (f" ({sargas.duplicate_drone_tracks} duplicate drone track(s): a second track on a drone,"
                          " counted as false tracks)" if sargas.duplicate_drone_tracks else ""),
                       sargas.false_drone_tracks == 0))
        acc = sargas.label_accuracy
        checks.append((f"{name}: label accuracy ≥ 0.9", _cell(acc, ".3f"), acc is not None and acc >= 0.9))
        for ident in blind.get(name, []):
            err = next(o.rms_error_m for o in sargas.objects if o.id == ident)
            checks.append((f"{name}: radar-invisible {ident} localisation < 60 m", f"{_cell(err)} m RMS",
                           err is not None and err < 60.0))
    if "swarm" in results:
        n = results["swarm"]["Sargas"].evaluation.id_switches
        checks.append(("swarm: no ID switch", str(n), n == 0))
    if with_speed and "mass" in results:
        rate = (mass_speed or results["mass"]["Sargas"]).rate or 0.0
        checks.append(("mass: ≥ 50,000 det/s (offline fusion, one core)", f"{rate:,.0f} det/s", rate >= SPEED_TARGET))
    return checks


def targets(results: dict[str, dict[str, SystemResult]], blind: dict[str, list[str]],
            mass_speed: SystemResult | None) -> list[str]:
    """``target_checks`` as a markdown table."""
    return ["| target | measured | met |", "| --- | --- | :-: |",
            *(f"| {what} | {measured} | {'yes' if ok else '**no**'} |"
              for what, measured, ok in target_checks(results, blind, mass_speed))]


def run_scenario(name: str, duration: float, seed: int | None, systems: list[str], q: float | None, workdir: Path,
                 stonesoup_bearings: bool = False, config: FusionConfig | None = None
                 ) -> tuple[dict[str, SystemResult], list[str]]:
    """Record one scenario (``duration`` s; with ``seed`` if given) and run ``systems`` on it (Sargas with ``config``,
    default the shipped one): the results by system and the scenario's radar-invisible drones."""
    path, rec = record(name, duration, workdir, seed)
    grid, scans = grid_of(rec), scans_of(rec)

    def stone_soup() -> SystemResult:
        if q is None:
            raise ValueError("Stone Soup needs its process noise q")
        return run_stone_soup(scans, rec, grid, q, stonesoup_bearings)

    runners: dict[str, Callable[[], SystemResult]] = {"Sargas": lambda: run_sargas(path, rec, grid, workdir, config),
                                                      "Stone Soup": stone_soup,
                                                      "floor": lambda: run_floor(scans, rec, grid)}
    return {s: runners[s]() for s in SYSTEMS if s in systems}, radar_blind_drones(scans, rec)


def run_scenarios(names: list[str], caps: dict[str, float], duration: float, seed: int | None, systems: list[str],
                  q: float | None, workdir: Path, stonesoup_bearings: bool = False, config: FusionConfig | None = None
                  ) -> tuple[list[tuple[str, float, SystemResult]], dict[str, dict[str, SystemResult]],
                             dict[str, list[str]]]:
    """``run_scenario`` for each of ``names``, capped (``duration``, and ``caps`` by name), Sargas with ``config``: the
    table rows, the results by scenario and system, and each scenario's radar-invisible drones."""
    if q is None and "Stone Soup" in systems:
        raise ValueError("Stone Soup needs its process noise q")
    rows: list[tuple[str, float, SystemResult]] = []
    results: dict[str, dict[str, SystemResult]] = {}
    blind: dict[str, list[str]] = {}
    for name in names:
        capped = min(duration, caps.get(name, math.inf), load_scenario(name).duration_s)
        results[name], blind[name] = run_scenario(name, capped, seed, systems, q, workdir, stonesoup_bearings, config)
        rows += [(name, capped, r) for r in results[name].values()]
        rates = ", ".join(f"{r.system} {r.rate:,.0f} det/s" for r in results[name].values() if r.rate)
        print(f"{name}: {rates}", flush=True)
    return rows, results, blind


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", nargs="*", default=SCENARIOS)
    parser.add_argument("--duration", type=float, default=math.inf, help="cap of every scenario, s")
    parser.add_argument("--cap", nargs="*", type=cap_arg, default=[("mass", 300.0)], help="per-scenario caps, NAME=SECONDS "
                        "(Stone Soup is slow; the cap applies to all three systems, for a fair comparison)")
    parser.add_argument("--q", type=float, default=None, help="Stone Soup process noise; default: sweep")
    parser.add_argument("--sweep-on", default="default", help="scenario of the process-noise sweep "
                        "(default: turns, loops and straight legs; crossing's straight lines favour q → 0)")
    parser.add_argument("--sweep-duration", type=float, default=300.0, help="seconds of it to sweep on")
    parser.add_argument("--json", type=Path, default=None, help="also write the summaries here")
    parser.add_argument("--systems", nargs="*", choices=SYSTEMS, default=list(SYSTEMS),
                        help="systems to run (the GOSPA ratios need Sargas and Stone Soup)")
    parser.add_argument("--seed", type=seed_arg, default=None, help="simulate every scenario with this seed instead "
                        "of its own: other noise, clutter and detection draws, and other random parts of the "
                        "scene (bird wander legs, formation jitter, emitter ids); a check against tuning to the "
                        "shipped draws")
    parser.add_argument("--stonesoup-bearings", action="store_true", help="also feed Stone Soup the acoustic and RF "
                        "bearings (updates only; measured worse for it on 5 of 6 scenarios, so off by default)")
    parser.add_argument("--config", type=config_arg, default=None, help="run Sargas with this fusion configuration "
                        "(YAML, as for 'sargas fuse'; default: the shipped one), to measure a variant")
    args = parser.parse_args()
    shipped = {s.name for s in list_scenarios()}
    names = shipped_names(parser, args.scenarios)
    caps = dict(args.cap)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores (shared), Python {platform.python_version()}; "
          f"scenarios: {', '.join(names)}; Sargas: {config_text(args.config)}", flush=True)
    with tempfile.TemporaryDirectory(prefix="sargas-compare-") as tmp:
        workdir = Path(tmp)
        q = args.q
        if q is None and "Stone Soup" in args.systems:
            sweep_name = args.sweep_on if args.sweep_on in shipped else "default"
            _, rec = record(sweep_name, min(args.duration, args.sweep_duration), workdir, args.seed)
            q = sweep(scans_of(rec), rec, grid_of(rec), sweep_name, args.stonesoup_bearings)
        if q is not None:
            print(f"Stone Soup process noise q = {q:g} m²/s³ for every scenario", flush=True)
        rows, results, blind = run_scenarios(names, caps, args.duration, args.seed, args.systems, q, workdir,
                                             args.stonesoup_bearings, args.config)
        full = None
        if "Sargas" in args.systems and "mass" in names and caps.get("mass", math.inf) < load_scenario("mass").duration_s:
            full = sargas_speed("mass", workdir, args.config)
            print(f"mass, whole scenario: Sargas {full.rate or 0:,.0f} det/s "
                  f"({full.detections} detections in {full.seconds:.1f} s)", flush=True)
    print()
    print(table(rows))
    if "Sargas" in args.systems:
        print()
        print("\n".join(targets(results, blind, full)))
    if args.json is not None:
        args.json.write_text(json.dumps({n: {s: {**summary(r.evaluation), "detections": r.detections,
                                                 "seconds": r.seconds} for s, r in by.items()}
                                         for n, by in results.items()}, indent=1))


if __name__ == "__main__":
    main()
