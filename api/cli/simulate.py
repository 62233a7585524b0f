"""Feeds: simulated sensors (sim), recording (record) and replaying (replay) what a broker carries."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
    if seed is not None:
        spec = spec.replace(seed=seed)
    if duration is not None:
        spec = spec.replace(duration_s=duration)
    known = {s.id for s in spec.sensors} | {TRUTH_SOURCE}
    unknown = sorted(set(only or ()) - known)
    if unknown:
        fail(f"--only {', '.join(unknown)}: no such sensor in {spec.name} (it has {', '.join(sorted(known))})", EXIT_USAGE)
    if record is not None:
        count = write_recording(spec, record)
        typer.echo(f"wrote {count} messages to {record}")
        return
    stop = stop_event()
    try:
        while True:
            run_live(spec, broker, prefix, factor, only, stop)
            if not loop or stop.is_set():
                break
    except ConnectionError as exc:
        fail(str(exc))


@app.command()
def record(
    output: Annotated[Path, typer.Option("-o", "--output", help="Recording to write (.jsonl or .jsonl.gz).")],
    broker: BrokerOpt = DEFAULT_BROKER,
    prefix: PrefixOpt = DEFAULT_PREFIX,
    verbose: VerboseOpt = False,
) -> None:
    """Record every message under the prefix into a recording, flushed every second."""
    from simulators.record import record_feed

    setup_logging(verbose)
    stop = stop_event()
    try:
        count = record_feed(broker, prefix, output, stop)
    except ConnectionError as exc:
        fail(str(exc))
    typer.echo(f"recorded {count} messages to {output}", err=True)


@app.command()
def replay(
    recording: Annotated[Path, typer.Argument(help="Recording to publish (.jsonl or .jsonl.gz).")],
    broker: BrokerOpt = DEFAULT_BROKER,
    prefix: Annotated[str | None, typer.Option("--prefix", help="Publish under this prefix instead of the recorded one.")] = None,
    speed: SpeedOpt = "1",
    verbose: VerboseOpt = False,
) -> None:
    """Republish a recording with its original relative timing (or faster)."""
    from simulators.replay import replay_recording

    setup_logging(verbose)
    if not recording.is_file():
        fail(f"{recording}: no such file", EXIT_USAGE)
    if prefix is not None:
        check_prefix(prefix)
    stop = stop_event()
    try:
        count = replay_recording(recording, broker, parse_speed(speed), stop, prefix)
    except ConnectionError as exc:
        fail(str(exc))
    typer.echo(f"replayed {count} messages from {recording}", err=True)
