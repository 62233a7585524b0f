"""Offline fusion speed and memory: detections per second of ``fuse_recording`` (parse, track, serialise).

Simulates a scenario into a recording (not timed), then runs the same offline fusion as
``sargas fuse`` on one core and reports detections per second of wall time and of this
process's CPU time (the fair figure on a shared machine), the CPU time of the engine's stages
(decode, ingest, tracker step, threat assessment, building tracks messages; timed by wrapping
them, which adds a little), a hash of everything published (offline fusion must give the same
bytes every run), and the resident memory sampled through the run, so that a long recording
shows whether memory stays flat. With ``--repeat N`` the fusion runs N times and the fastest
run is reported: on a shared machine other jobs only ever add CPU time (cache misses).

Run: ``OMP_NUM_THREADS=1 python benchmarks/fusion_speed.py [--scenario mass] [--duration 300] [--repeat 3]
[--config fusion.yaml]``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core: before numpy is imported
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fusion import pipeline
from fusion.config import FusionConfig
from fusion.pipeline import FusionEngine
from fusion.protocol import RecordingError, Topics, read_recording
from fusion.tracking.scan import Scan
from simulators.runner import write_recording
from simulators.scenario import load_scenario


def _rss_mib() -> float:
    """Current resident set size, MiB (Linux /proc), else the peak."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _Timer:
    """Accumulates the CPU time spent in wrapped functions, by name, and for those given a ``key``, by the key of
    their arguments too (CPU seconds and calls)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.by_key: dict[str, dict[str, list[float]]] = {}

    def wrap(self, name: str, fn: Callable[..., Any], key: Callable[..., str] | None = None) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent = time.process_time() - start
                self.seconds[name] = self.seconds.get(name, 0.0) + spent
                if key is not None:
                    tally = self.by_key.setdefault(name, {}).setdefault(key(*args, **kwargs), [0.0, 0.0])
                    tally[0] += spent
                    tally[1] += 1
        return timed


def _scan_kind(scan: Scan) -> str:
    """A tracker step's key: its sensor kind, or "empty" for a message without detections."""
    return scan.kind if scan.n_detections else "empty"


#: Stages timed, each (label, object, attribute); they do not nest, so their times add up.
_STAGES = (("decode", "module", "decode"), ("ingest", "module", "ingest"), ("tracker.step", "tracker", "step"),
           ("threat", "engine", "_threat_step"), ("tracks messages", "engine", "_tracks_at"))


def run(path: Path, samples: int = 10, stages: bool = True, config: FusionConfig | None = None) -> dict[str, Any]:
    """Fuse one recording; return detections/s, stage CPU times, the output hash and the memory samples."""
    lines = [entry for entry in read_recording(path) if not isinstance(entry, RecordingError)]
    topics = Topics("sargas/v1")
    lines = [entry for entry in lines
             if (kind := topics.classify(entry.topic)) is not None and kind[0] in ("detections", "status")]
    engine = FusionEngine(config, prefix=topics.prefix)
    timer = _Timer()
    originals = {name: getattr(pipeline, name) for _, where, name in _STAGES if where == "module"}
    if stages:
        owners = {"module": pipeline, "tracker": engine.tracker, "engine": engine}
        for label, where, name in _STAGES:
            key = _scan_kind if label == "tracker.step" else None
            setattr(owners[where], name, timer.wrap(label, getattr(owners[where], name), key))
    digest = hashlib.sha256()
    memory = []
    every = max(1, len(lines) // samples)
    try:
        start, cpu_start = time.perf_counter(), time.process_time()
        for i, entry in enumerate(lines):
            for out in engine.handle(entry.topic, entry.payload, entry.t):
                digest.update(out.topic.encode() + b"\0" + out.payload)
            if i % every == 0:
                memory.append(round(_rss_mib(), 1))
        for out in engine.flush():
            digest.update(out.topic.encode() + b"\0" + out.payload)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    finally:
        for name, fn in originals.items():
            setattr(pipeline, name, fn)
    detections = engine.stats["detections"]
    return {"detections": detections, "messages": engine.stats["scans"], "seconds": wall,
            "per_second": detections / wall, "cpu_seconds": cpu, "per_cpu_second": detections / cpu,
            "stages": timer.seconds, "step_by_kind": timer.by_key.get("tracker.step", {}),
            "tracks_messages": engine.stats["tracks_messages"], "memory_mib": memory, "sha256": digest.hexdigest()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="mass")
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of scenario time")
    parser.add_argument("--recording", type=Path, default=None, help="use this recording instead")
    parser.add_argument("--repeat", type=int, default=1, help="fuse this many times, report the fastest")
    parser.add_argument("--config", type=Path, default=None, help="fusion configuration (YAML)")
    parser.add_argument("--target", type=float, default=50_000.0,
                        help="detections per CPU second aimed at: prints the CPU per message it allows beside each stage's")
    args = parser.parse_args()
    config = None if args.config is None else FusionConfig.from_file(args.config)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.recording
        if path is None:
            path = Path(tmp) / f"{args.scenario}.jsonl"
            write_recording(load_scenario(args.scenario), path, duration_s=args.duration)
        runs = [run(path, stages=False, config=config) for _ in range(args.repeat)]
        staged = run(path, config=config)
    result = min(runs, key=lambda r: r["cpu_seconds"])
    all_cpu = ", ".join(f"{r['cpu_seconds']:.2f}" for r in runs)
    if len({r["sha256"] for r in [*runs, staged]}) != 1:
        print("  WARNING: the output differed between runs")
    name = args.scenario if args.recording is None else args.recording.name
    print(f"{name}: {result['detections']} detections in {result['messages']} messages, "
          f"{result['seconds']:.2f} s = {result['per_second']:,.0f} detections/s (one core); CPU "
          f"{result['cpu_seconds']:.2f} s = {result['per_cpu_second']:,.0f} detections per CPU second "
          f"(fastest of {args.repeat}; all: {all_cpu} s)")
    seconds = staged["stages"]
    split = ", ".join(f"{label} {seconds.get(label, 0.0):.2f}" for label, _, _ in _STAGES)
    print(f"  CPU s by stage (a separate, wrapped run of {staged['cpu_seconds']:.2f} s): {split}, other "
          f"{staged['cpu_seconds'] - sum(seconds.values()):.2f} ({staged['tracks_messages']} tracks messages)")
    messages = max(1, staged["messages"])
    per_message = ", ".join(f"{label} {1e6 * seconds.get(label, 0.0) / messages:.0f}" for label, _, _ in _STAGES)
    print(f"  CPU µs per message ({staged['detections'] / messages:.1f} detections each): {per_message}, other "
          f"{1e6 * (staged['cpu_seconds'] - sum(seconds.values())) / messages:.0f}; {args.target:,.0f} detections "
          f"per CPU second allow {1e6 * staged['detections'] / messages / args.target:.0f} µs in all")
    per_kind = ", ".join(f"{kind} {calls:.0f} × {1e3 * cpu / calls:.2f} ms"
                         for kind, (cpu, calls) in sorted(staged["step_by_kind"].items()))
    print(f"  tracker.step CPU per message by sensor kind (messages × mean): {per_kind}")
    print(f"  output sha256 {result['sha256'][:16]}; resident memory through the run, MiB: {result['memory_mib']}")


if __name__ == "__main__":
    main()
