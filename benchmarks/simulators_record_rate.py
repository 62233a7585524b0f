"""How fast ``sargas sim SCENARIO --record FILE`` writes a recording: messages and scenario seconds per wall second.

Each shipped scenario is written in full (gzip), as the command does, and timed; the
best of ``--repeat`` runs is reported, since other work on the machine only slows a run.
Run: ``python benchmarks/simulators_record_rate.py [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulators.runner import write_recording  # noqa: E402
from simulators.scenario import list_scenarios, load_scenario  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print("| scenario | sensors | targets | scenario s | messages | best wall s | messages/s | × real time |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        for name, _ in list_scenarios():
            spec = load_scenario(name)
            best, count = float("inf"), 0
            for _ in range(args.repeat):
                started = time.perf_counter()
                count = write_recording(spec, Path(tmp) / f"{name}.jsonl.gz")
                best = min(best, time.perf_counter() - started)
            targets = sum(len(t.member_ids) for t in spec.targets)
            print(f"| {name} | {len(spec.sensors)} | {targets} | {spec.duration_s:g} | {count} | {best:.2f} | "
                  f"{count / best:,.0f} | {spec.duration_s / best:,.0f} |")


if __name__ == "__main__":
    main()
