"""Feeds: simulated sensors (sim), recording (record) and replaying (replay) what a broker carries."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli.common import (
    EXIT_USAGE,
    BrokerOpt,
    PrefixOpt,
    SpeedOpt,
    VerboseOpt,
    app,
    check_prefix,
    check_scenario,
    fail,
    parse_speed,
    setup_logging,
    stop_event,
)
from fusion.mqttlink import DEFAULT_BROKER
from fusion.protocol import DEFAULT_PREFIX

if TYPE_CHECKING:
    from simulators.replay import Window


@app.command()
def sim(
    scenario: Annotated[str, typer.Argument(help="Scenario name (see --list) or YAML file.")] = "default",
    broker: BrokerOpt = DEFAULT_BROKER,
    prefix: PrefixOpt = DEFAULT_PREFIX,
    speed: SpeedOpt = "1",
    only: Annotated[list[str] | None, typer.Option("--only", help="Run only this sensor, or 'truth' (repeatable).")] = None,
    record: Annotated[Path | None, typer.Option("--record", help="Write a recording instead of publishing (no broker).")] = None,
    duration: Annotated[float | None, typer.Option("--duration", min=0.001, help="Seconds of scenario time.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Override the scenario's seed.")] = None,
    loop: Annotated[bool, typer.Option("--loop", help="Start the scenario again when it ends.")] = False,
    list_: Annotated[bool, typer.Option("--list", help="List the shipped scenarios and exit.")] = False,
    export_zones: Annotated[Path | None, typer.Option(
        "--export-zones", help="Write the scenario's zones as GeoJSON (for --zones of serve/fusion) and exit.")] = None,
    verbose: VerboseOpt = False,
) -> None:
    """Simulate the sensors of a scenario: publish to a broker, or write a recording."""
    from simulators import list_scenarios
    from simulators.runner import run_live, write_recording
    from simulators.scenario import TRUTH_SOURCE

    if list_:
        for name, description in list_scenarios():
            typer.echo(f"{name}\t{description}")
        return
    setup_logging(verbose)
    factor = parse_speed(speed)
    spec = check_scenario(scenario)
    if export_zones is not None:
        typer.echo(f"wrote {spec.write_zones(export_zones)} zones to {export_zones}")
        return
    if seed is not None:
        spec = spec.replace(seed=seed)
    if duration is not None:
        spec = spec.replace(duration_s=duration)
    known = {s.id for s in spec.sensors} | {TRUTH_SOURCE}
    unknown = sorted(set(only or ()) - known)
    if unknown:
        fail(f"--only {', '.join(unknown)}: no such sensor in {spec.name} (it has {', '.join(sorted(known))})", EXIT_USAGE)
    if record is not None:
        started = time.perf_counter()
        try:
            count = write_recording(spec, record, prefix=prefix, only=only)
        except OSError as exc:
            fail(f"{exc.filename or record}: {exc.strerror or exc}", EXIT_USAGE)
        elapsed = time.perf_counter() - started
        typer.echo(f"wrote {count} messages ({spec.duration_s:g} s of scenario) to {record} "
                   f"in {elapsed:.1f} s: {count / max(elapsed, 1e-9):,.0f} messages/s")
        return
    stop = stop_event()
    try:
        run_live(spec, broker, prefix, factor, only, stop, loop=loop)
    except ConnectionError as exc:
        fail(str(exc))


#: Multipliers of the size suffixes ``--rotate-size`` accepts.
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def parse_size(value: str | None) -> int | None:
    """``500000``, ``64k``, ``100M`` or ``2G`` as bytes (None stays None)."""
    if value is None:
        return None
    text = value.strip().lower().removesuffix("b").removesuffix("i")
    unit = text[-1:] if text[-1:] in _SIZE_UNITS else ""
    try:
        size = float(text[:len(text) - len(unit)]) * _SIZE_UNITS[unit]
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a size such as 500000, 64k, 100M or 2G") from None
    if not 0 < size < 1 << 50:
        raise typer.BadParameter("the size must be positive")
    return int(size)


@app.command()
def record(
    output: Annotated[Path, typer.Option("-o", "--output", help="Recording to write (.jsonl or .jsonl.gz).")],
    broker: BrokerOpt = DEFAULT_BROKER,
    prefix: PrefixOpt = DEFAULT_PREFIX,
    rotate_size: Annotated[str | None, typer.Option(
        "--rotate-size", help="Start a new numbered file (NAME.0001.jsonl.gz, ...) after this much JSON, "
                              "e.g. 100M.")] = None,
    rotate_every: Annotated[float | None, typer.Option(
        "--rotate-every", min=1.0, help="Start a new numbered file after this many seconds.")] = None,
    verbose: VerboseOpt = False,
) -> None:
    """Record every message under the prefix into a recording, flushed every second."""
    from simulators.record import Rotation, record_feed

    setup_logging(verbose)
    rotation = Rotation(parse_size(rotate_size), rotate_every)
    stop = stop_event()
    try:
        writer = record_feed(broker, prefix, output, stop, rotation)
    except ConnectionError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{exc.filename or output}: {exc.strerror or exc}", EXIT_USAGE)
    files = ", ".join(str(p) for p in writer.paths)
    typer.echo(f"recorded {writer.count} messages to {files}", err=True)


@app.command()
def replay(
    recording: Annotated[Path, typer.Argument(help="Recording to publish (.jsonl or .jsonl.gz).")],
    broker: BrokerOpt = DEFAULT_BROKER,
    prefix: Annotated[str | None, typer.Option("--prefix", help="Publish under this prefix instead of the recorded one.")] = None,
    speed: SpeedOpt = "1",
    loop: Annotated[bool, typer.Option("--loop", help="Start again at the end, until stopped.")] = False,
    from_s: Annotated[float | None, typer.Option("--from", min=0.0, help="Start this many seconds into the recording.")] = None,
    to_s: Annotated[float | None, typer.Option("--to", min=0.0, help="Stop this many seconds into the recording.")] = None,
    rebase_time: Annotated[bool, typer.Option(
        "--rebase-time", help="Shift every message's time so that the replay happens now (for a live fusion service).")] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Republish a recording with its original relative timing (or faster); a summary at the end."""
    from simulators.replay import Window, replay_recording

    setup_logging(verbose)
    if not recording.is_file():
        fail(f"{recording}: no such file", EXIT_USAGE)
    if prefix is not None:
        check_prefix(prefix)
    if from_s is not None and to_s is not None and to_s < from_s:
        fail(f"--to {to_s:g} is before --from {from_s:g}", EXIT_USAGE)
    window = Window(from_s, to_s)
    factor = parse_speed(speed)
    stop = stop_event()
    try:
        with _progress_bar(recording, window) as progress:
            stats = replay_recording(recording, broker, factor, stop, prefix, loop=loop, window=window,
                                     rebase_time=rebase_time, progress=progress)
    except ConnectionError as exc:
        fail(str(exc))
    typer.echo(stats.summary(), err=True)


@contextmanager
def _progress_bar(recording: Path, window: Window) -> Iterator[Callable[[float], None] | None]:
    """A rich progress bar over the recording's seconds on stderr when it is a terminal; else nothing."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from simulators.replay import recording_span

    total = recording_span(recording, window)
    columns = (TextColumn("replay"), BarColumn(), TextColumn("{task.completed:.0f}/{task.total:.0f} s"),
               TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("replay", total=max(total, 1e-9))
        yield lambda done: bar.update(task, completed=done)
