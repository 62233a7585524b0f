"""Offline work on recordings, driven by message times only (fuse)."""

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
