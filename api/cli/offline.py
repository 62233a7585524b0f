"""Offline work on recordings, driven by message times only (fuse, eval)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import (
    EXIT_USAGE,
    ConfigOpt,
    app,
    check_prefix,
    fail,
    load_config,
)


@app.command()
def fuse(
    recording: Annotated[Path, typer.Argument(help="Input recording (.jsonl or .jsonl.gz).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output recording of tracks and alerts.")],
    prefix: Annotated[str | None, typer.Option("--prefix", help="Topic prefix (default: read from the recording).")] = None,
    config: ConfigOpt = None,
) -> None:
    """Offline fusion of a recording, as fast as the CPU allows, byte-identical run to run."""
    import time

    from fusion.service import fuse_recording

    if not recording.is_file():
        fail(f"{recording}: no such file", EXIT_USAGE)
    if prefix is not None:
        check_prefix(prefix)
    started = time.perf_counter()
    try:
        summary = fuse_recording(recording, output, load_config(config), prefix)
    except OSError as exc:
        fail(f"{exc.filename or recording}: {exc.strerror or exc}", EXIT_USAGE)
    elapsed = time.perf_counter() - started
    for error in summary.first_errors:
        typer.echo(f"skipped {error}", err=True)
    detections = summary.stats.get("detections", 0)
    rejected = sum(v for k, v in summary.stats.items() if k.startswith("rejected"))
    typer.echo(f"read {summary.lines} messages ({summary.bad_lines} bad lines, {rejected} rejected, "
               f"{detections} detections) and wrote {summary.written} to {output} in {elapsed:.2f} s", err=True)


@app.command("eval")
def eval_(
    recording: Annotated[Path, typer.Argument(help="Scenario recording with sargas.truth/1 messages.")],
    tracks: Annotated[Path | None, typer.Argument(
        help="Recording of sargas.tracks/1 messages (e.g. from 'sargas fuse'); default: fuse RECORDING now.")] = None,
    plots: Annotated[Path | None, typer.Option("--plots", help="Write gospa.png and plan.png into this directory.")] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON instead of a table.")] = False,
    all_truth: Annotated[bool, typer.Option(
        "--all-truth", help="Count every truth object, also outside every sensor's coverage.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Score tracks against the recorded truth: GOSPA, ID switches, time to confirm, false tracks, labels."""
    import tempfile

    from fusion.eval import evaluate, read_scenario, read_tracks, table, to_json
    from fusion.protocol import dumps

    for path in (recording, tracks):
        if path is not None and not path.is_file():
            fail(f"{path}: no such file", EXIT_USAGE)
    scenario = read_scenario(recording)
    if len(scenario.truth.times) == 0:
        fail(f"{recording}: no sargas.truth/1 messages to evaluate against", EXIT_USAGE)
    if tracks is None:
        from fusion.service import fuse_recording

        with tempfile.TemporaryDirectory(prefix="sargas-eval-") as tmp:
            fused = Path(tmp) / "tracks.jsonl"
            fuse_recording(recording, fused, load_config(config))
            estimates = read_tracks(fused, scenario.truth.frame)
    else:
        estimates = read_tracks(tracks, scenario.truth.frame)
    if not estimates.frames:
        fail(f"{tracks or recording}: no sargas.tracks/1 messages to evaluate", EXIT_USAGE)
    result = evaluate(scenario.truth, estimates, scenario.detected, scenario.coverage, all_truth=all_truth)
    typer.echo(dumps(to_json(result)).decode() if json_ else table(result))
    if plots is not None:
        from fusion.eval.plots import write_plots

        for path in write_plots(result, scenario.truth, estimates, plots):
            typer.echo(f"wrote {path}", err=True)
