"""Offline fusion speed and memory: detections per second of ``fuse_recording`` (parse, track, serialise).

Simulates a scenario into a recording (not timed), then runs the same offline fusion as
``sargas fuse`` on one core and reports detections per second of wall time and of this
process's CPU time (the fair figure on a shared machine), the split
between decoding, tracking and publishing (from the engine's own stages, timed by wrapping
them), and the resident memory sampled through the run, so that a long recording shows
whether memory stays flat.

Run: ``OMP_NUM_THREADS=1 python benchmarks/fusion_speed.py [--scenario mass] [--duration 300]``.
"""

from __future__ import annotations

import argparse
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

from fusion.pipeline import FusionEngine
from fusion.protocol import RecordingError, Topics, read_recording
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
    """Accumulates the wall time spent in wrapped methods, by name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
        return timed


def run(path: Path, samples: int = 10) -> dict[str, Any]:
    """Fuse one recording; return detections/s, stage times and the memory samples."""
    lines = [entry for entry in read_recording(path) if not isinstance(entry, RecordingError)]
    topics = Topics("sargas/v1")
    engine = FusionEngine(prefix=topics.prefix)
    timer = _Timer()
    engine.tracker.step = timer.wrap("track", engine.tracker.step)  # type: ignore[method-assign]
    engine._publish = timer.wrap("publish", engine._publish)  # type: ignore[method-assign]
    memory = []
    every = max(1, len(lines) // samples)
    start, cpu_start = time.perf_counter(), time.process_time()
    for i, entry in enumerate(lines):
        kind = topics.classify(entry.topic)
        if kind is not None and kind[0] in ("detections", "status"):
            engine.handle(entry.topic, entry.payload, entry.t)
        if i % every == 0:
            memory.append(round(_rss_mib(), 1))
    engine.flush()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    detections = engine.stats["detections"]
    return {"detections": detections, "seconds": wall, "per_second": detections / wall, "cpu_seconds": cpu,
            "per_cpu_second": detections / cpu,
            "track_s": timer.seconds.get("track", 0.0), "publish_s": timer.seconds.get("publish", 0.0),
            "tracks_messages": engine.stats["tracks_messages"], "memory_mib": memory}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="mass")
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of scenario time")
    parser.add_argument("--recording", type=Path, default=None, help="use this recording instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.recording
        if path is None:
            path = Path(tmp) / f"{args.scenario}.jsonl"
            write_recording(load_scenario(args.scenario), path, duration_s=args.duration)
        result = run(path)
    other = result["seconds"] - result["track_s"] - result["publish_s"]
    print(f"{args.scenario}: {result['detections']} detections in {result['seconds']:.2f} s = "
          f"{result['per_second']:,.0f} detections/s (one core); CPU {result['cpu_seconds']:.2f} s = "
          f"{result['per_cpu_second']:,.0f} detections per CPU second")
    print(f"  tracker.step {result['track_s']:.2f} s, publishing {result['publish_s']:.2f} s "
          f"({result['tracks_messages']} tracks messages), decode/ingest/threat/other {other:.2f} s")
    print(f"  resident memory through the run, MiB: {result['memory_mib']}")


if __name__ == "__main__":
    main()
