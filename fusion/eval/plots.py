"""PNG plots of an evaluation: GOSPA over time, and tracks over truth in plan view (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from fusion.eval.data import Estimates, Truth
from fusion.eval.metrics import Evaluation


def plot_gospa(ev: Evaluation, path: Path) -> None:
    """GOSPA against time above, its three parts (p-th powers, m², they add up) stacked below."""
    t = ev.times - (ev.times[0] if len(ev.times) else 0.0)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    top.plot(t, ev.distance, color="black", lw=1.0)
    top.set_ylabel("GOSPA, m")
    top.set_title(f"GOSPA (c={ev.params.c:g} m, p={ev.params.p:g}), mean {ev.gospa_mean:.1f} m")
    bottom.stackplot(t, ev.localisation, ev.missed, ev.false, labels=["localisation", "missed", "false"],
                     colors=["#4c72b0", "#dd8452", "#c44e52"])
    bottom.set_ylabel("parts, m²")
    bottom.set_xlabel("time since start, s")
    bottom.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_plan(truth: Truth, estimates: Estimates, path: Path) -> None:
    """Truth paths (lines) and established track positions (dots, one colour per track) in plan view."""
    fig, ax = plt.subplots(figsize=(8, 8))
    for i, (ident, label) in enumerate(zip(truth.ids, truth.labels, strict=True)):
        xy = truth.pos[:, i, :2]
        ax.plot(xy[:, 0], xy[:, 1], color="0.6" if label != "drone" else "0.2", lw=1.0)
        first = np.flatnonzero(~np.isnan(xy[:, 0]))
        if len(first):
            ax.annotate(ident, xy[first[0]], fontsize=7)
    ids = sorted({ident for f in estimates.frames for ident in f.ids})
    colour = {ident: plt.cm.tab20(k % 20) for k, ident in enumerate(ids)}
    for frame in estimates.frames:
        if frame.ids:
            ax.scatter(frame.pos[:, 0], frame.pos[:, 1], s=3, c=[colour[i] for i in frame.ids])
    ax.set_aspect("equal")
    ax.set_xlabel("east, m")
    ax.set_ylabel("north, m")
    ax.set_title("tracks (dots) over truth (lines; drones dark)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_plots(ev: Evaluation, truth: Truth, estimates: Estimates, directory: Path) -> list[Path]:
    """Both plots into ``directory`` (created if needed); returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / "gospa.png", directory / "plan.png"]
    plot_gospa(ev, paths[0])
    plot_plan(truth, estimates, paths[1])
    return paths
