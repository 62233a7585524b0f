"""Two runs of ``seed_sweep.py`` side by side: is a variant of the tracker better on the same unseen draws?

A change is judged on many draws, not on the shipped ones (``seed_sweep.py``), and on every figure at
once: a variant that lowers the mean GOSPA while starting false drone tracks or confirming drones later
is no better. This reads the draw tables that two sweeps printed (the same seeds and scenarios, e.g. the
code before and after a change, or without and with a ``--config``), pairs their draws by seed and
scenario, and prints per scenario: the mean GOSPA of each, on how many draws the second is lower or
higher (as printed, to 0.1 m), and the totals over the draws of ID switches, false and duplicate drone
tracks and drones confirmed late, and the mean label accuracy (over the draws both labelled). ``--draws``
adds every draw's figures.

Run: ``python benchmarks/compare_sweeps.py BEFORE.txt AFTER.txt [--draws]``, each file the whole output
of one or more ``seed_sweep.py`` runs.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

#: The draw table's header cells (``seed_sweep.py``) that this reads, by the name this gives them.
COLUMNS = {"seed": "seed", "scenario": "scenario", "gospa": "Sargas GOSPA m", "switches": "ID sw.",
           "false_drone": "false drone tracks", "duplicate": "duplicate drone tracks",
           "late": "drones late > 5 s", "accuracy": "label acc."}


@dataclass(frozen=True)
class Draw:
    """Sargas's figures on one draw (seed) of one scenario, as one sweep printed them."""

    gospa: float
    switches: int
    false_drone: int
    duplicate: int
    late: int
    accuracy: float | None


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def read_sweep(text: str) -> dict[tuple[str, str], Draw]:
    """The draws of one or more sweeps' outputs (every draw table in ``text``), by (seed, scenario). Raises
    ValueError without a draw table, with a column missing, a row too short or a draw twice."""
    lines = text.splitlines()
    starts = [k for k, line in enumerate(lines) if _cells(line)[:2] == ["seed", "scenario"]]
    if not starts:
        raise ValueError("no draw table (a header row '| seed | scenario | ...') in the sweep's output")
    draws: dict[tuple[str, str], Draw] = {}
    for start in starts:
        header = _cells(lines[start])
        missing = [name for name in COLUMNS.values() if name not in header]
        if missing:
            raise ValueError(f"the draw table on line {start + 1} has no column {', '.join(map(repr, missing))}")
        at = {key: header.index(name) for key, name in COLUMNS.items()}
        for number, line in enumerate(lines[start + 2:], start + 3):
            if not line.startswith("|"):
                break
            cells = _cells(line)
            if len(cells) < len(header):
                raise ValueError(f"line {number} has {len(cells)} cells, its table's header {len(header)}")
            key = (cells[at["seed"]], cells[at["scenario"]])
            if key in draws:
                raise ValueError(f"seed {key[0]} of {key[1]} is in the tables twice")
            accuracy = cells[at["accuracy"]]
            draws[key] = Draw(float(cells[at["gospa"]]), int(cells[at["switches"]]), int(cells[at["false_drone"]]),
                              int(cells[at["duplicate"]]), int(cells[at["late"]]),
                              None if accuracy == "-" else float(accuracy))
    return draws


def _accuracy(draw: Draw) -> str:
    return "-" if draw.accuracy is None else f"{draw.accuracy:.3f}"


def _mean(values: list[float]) -> str:
    return f"{sum(values) / len(values):.4f}"


def _total(pairs: list[tuple[Draw, Draw]], field: str) -> str:
    """A count summed over the draws, before → after."""
    return " → ".join(str(sum(getattr(draw, field) for draw in side)) for side in zip(*pairs))


def compare(before: dict[tuple[str, str], Draw], after: dict[tuple[str, str], Draw]) -> list[str]:
    """Markdown rows, one per scenario, over the draws both sweeps have (in the first sweep's order)."""
    by_scenario: dict[str, list[tuple[Draw, Draw]]] = defaultdict(list)
    for key, draw in before.items():
        if key in after:
            by_scenario[key[1]].append((draw, after[key]))
    rows = [("| scenario | draws | mean GOSPA m | lower / higher | ID sw. | false drone tracks | "
             "duplicate drone tracks | drones late > 5 s | label acc. |"),
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for scenario, pairs in by_scenario.items():
        gospa = " → ".join(f"{sum(d.gospa for d in side) / len(side):.2f}" for side in zip(*pairs))
        labelled = [(x.accuracy, y.accuracy) for x, y in pairs if x.accuracy is not None and y.accuracy is not None]
        accuracy = " → ".join(_mean(list(side)) for side in zip(*labelled)) if labelled else "- → -"
        lower = sum(y.gospa < x.gospa for x, y in pairs)
        higher = sum(y.gospa > x.gospa for x, y in pairs)
        rows.append(f"| {scenario} | {len(pairs)} | {gospa} | {lower} / {higher} | {_total(pairs, 'switches')} | "
                    f"{_total(pairs, 'false_drone')} | {_total(pairs, 'duplicate')} | {_total(pairs, 'late')} | "
                    f"{accuracy} |")
    return rows


def draw_rows(before: dict[tuple[str, str], Draw], after: dict[tuple[str, str], Draw]) -> list[str]:
    """Markdown rows, one per draw both sweeps have: each figure as before → after."""
    rows = ["| seed | scenario | GOSPA m | ID sw. | false drone | duplicate | late | label acc. |",
            "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for (seed, scenario), x in before.items():
        y = after.get((seed, scenario))
        if y is not None:
            rows.append(f"| {seed} | {scenario} | {x.gospa:.1f} → {y.gospa:.1f} | {x.switches} → {y.switches} | "
                        f"{x.false_drone} → {y.false_drone} | {x.duplicate} → {y.duplicate} | {x.late} → {y.late} | "
                        f"{_accuracy(x)} → {_accuracy(y)} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path, help="the output of one seed_sweep.py run")
    parser.add_argument("after", type=Path, help="the output of another, on the same seeds")
    parser.add_argument("--draws", action="store_true", help="also print every draw's figures")
    args = parser.parse_args()
    sweeps = []
    for path in (args.before, args.after):
        try:
            sweeps.append(read_sweep(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            sys.exit(f"compare_sweeps: {path}: {exc}")
    before, after = sweeps
    unpaired = len(set(before) ^ set(after))
    left_out = f"; {unpaired} in one only, left out" if unpaired else ""
    print(f"{len(set(before) & set(after))} draws in both sweeps{left_out}")
    print("\n".join(compare(before, after)))
    if args.draws:
        print()
        print("\n".join(draw_rows(before, after)))


if __name__ == "__main__":
    main()
