"""The ``sargas`` command: thin wrappers that parse options and call the parts.

Conventions every subcommand keeps: ``--broker mqtt://host:port`` (default
``SARGAS_BROKER``, else ``mqtt://127.0.0.1:1883``) and ``--prefix`` for anything that
talks to a broker, ``--host``/``--port`` for anything that serves HTTP, ``--data-dir``
for state. Exit codes: 0 success, 1 runtime failure (e.g. broker unreachable),
2 usage error (bad option, missing or bad file). User errors print one line, no traceback.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from fusion.mqttlink import DEFAULT_BROKER, BrokerAddress
from fusion.protocol import DEFAULT_PREFIX

app = typer.Typer(
    name="sargas",
    help="Sargas: early-warning sensor fusion against small drones.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_FAILURE = 1
EXIT_USAGE = 2


def _check_broker(url: str) -> str:
    try:
        return BrokerAddress.parse(url).url
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _check_prefix(prefix: str) -> str:
    from fusion.protocol import Topics

    try:
        return Topics(prefix).prefix
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _parse_speed(value: str) -> float:
    """``1``, ``10``, ``0.5`` or ``max`` (as fast as possible)."""
    if value.lower() in ("max", "inf"):
        return math.inf
    try:
        speed = float(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a number or 'max'") from None
    if not speed > 0 or math.isinf(speed):
        raise typer.BadParameter("the speed must be a positive number or 'max'")
    return speed


BrokerOpt = Annotated[str, typer.Option(
    "--broker", help="MQTT broker, mqtt://host:port.", envvar="SARGAS_BROKER", show_envvar=True,
    callback=_check_broker)]
PrefixOpt = Annotated[str, typer.Option("--prefix", help="Topic prefix.", callback=_check_prefix)]
HostOpt = Annotated[str, typer.Option("--host", help="HTTP listen address.")]
PortOpt = Annotated[int, typer.Option("--port", min=1, max=65535, help="HTTP listen port.")]
DataDirOpt = Annotated[Path, typer.Option(
    "--data-dir", help="Where state (alerts database) lives.", envvar="SARGAS_DATA_DIR")]
SpeedOpt = Annotated[str, typer.Option("--speed", help="Time factor: 1 = real time, N = N× faster, max = as fast as possible.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Log more.")]

DEFAULT_DATA_DIR = Path("sargas-data")


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    """Print one line to stderr and exit: user errors never show a traceback."""
    typer.echo(f"sargas: {message}", err=True)
    raise typer.Exit(code)


def _logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("amqtt", "transitions", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _stop_event() -> threading.Event:
    """An event set by SIGINT or SIGTERM, so that every part can stop cleanly."""
    stop = threading.Event()

    def handler(_sig: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def _load_config(path: Path | None):  # type: ignore[no-untyped-def]
    from fusion.config import FusionConfig

    if path is None:
        return None
    try:
        return FusionConfig.from_file(path)
    except (OSError, ValueError) as exc:
        fail(f"{path}: {exc}", EXIT_USAGE)


ConfigOpt = Annotated[Path | None, typer.Option("--config", help="Fusion configuration (YAML).")]


@app.command()
def up(
    broker: Annotated[str | None, typer.Option(
        "--broker", help="Use this MQTT broker instead of starting the embedded one.",
        envvar="SARGAS_BROKER", show_envvar=True)] = None,
    prefix: PrefixOpt = DEFAULT_PREFIX,
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8000,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    scenario: Annotated[str, typer.Option("--scenario", help="Scenario name or YAML file.")] = "default",
    speed: SpeedOpt = "1",
    broker_port: Annotated[int, typer.Option("--broker-port", help="Port of the embedded broker (0 = any free port).")] = 1883,
    open_browser: Annotated[bool, typer.Option("--open/--no-open", help="Open the console in a browser if there is a desktop.")] = True,
) -> None:
    """Run everything on this machine: embedded broker, simulators, fusion and the live console."""
    from api.supervisor import Supervisor

    if broker is not None:
        broker = _check_broker(broker)
    _parse_speed(speed)
    _check_scenario(scenario)
    supervisor = Supervisor(broker=broker, prefix=prefix, host=host, port=port, data_dir=data_dir,
                            scenario=scenario, speed=speed, broker_port=broker_port, open_browser=open_browser)
    raise typer.Exit(supervisor.run())


def _check_scenario(name: str):  # type: ignore[no-untyped-def]
    from simulators import load_scenario
    from simulators.scenario import ScenarioError

    try:
        return load_scenario(name)
    except ScenarioError as exc:
        fail(str(exc), EXIT_USAGE)


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
    _logging(verbose)
    factor = _parse_speed(speed)
    spec = _check_scenario(scenario)
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
    stop = _stop_event()
    try:
        while True:
            run_live(spec, broker, prefix, factor, only, stop)
            if not loop or stop.is_set():
                break
    except ConnectionError as exc:
        fail(str(exc))


@app.command()
def serve(
    broker: BrokerOpt = DEFAULT_BROKER,
    prefix: PrefixOpt = DEFAULT_PREFIX,
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8000,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    config: ConfigOpt = None,
    fusion_enabled: Annotated[bool, typer.Option("--fusion/--no-fusion", help="Run the fusion service in this process.")] = True,
    verbose: VerboseOpt = False,
) -> None:
    """Run the fusion service and the API (REST, WebSocket, console) against a broker."""
    import uvicorn

    from api.app import create_app
    from api.settings import ApiSettings
    from fusion.service import LiveFusion

    _logging(verbose)
    fusion_config = _load_config(config)
    live = LiveFusion(broker, prefix, data_dir, fusion_config) if fusion_enabled else None
    try:
        if live is not None:
            live.start()
        settings = ApiSettings(broker_url=broker, prefix=prefix, data_dir=data_dir)
        server = uvicorn.Server(uvicorn.Config(create_app(settings), host=host, port=port,
                                               log_level="warning", lifespan="on"))
        typer.echo(f"Sargas API and console on http://{host}:{port}/", err=True)
        server.run()
        if not server.started:
            fail(f"could not serve HTTP on {host}:{port} (is the port in use?)")
    except ConnectionError as exc:
        fail(str(exc))
    finally:
        if live is not None:
            live.stop()


@app.command()
def fusion(
    broker: BrokerOpt = DEFAULT_BROKER,
    prefix: PrefixOpt = DEFAULT_PREFIX,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Run only the fusion service: detections in, tracks and alerts out over MQTT."""
    from fusion.service import LiveFusion

    _logging(verbose)
    stop = _stop_event()
    live = LiveFusion(broker, prefix, data_dir, _load_config(config))
    try:
        live.start()
    except ConnectionError as exc:
        fail(str(exc))
    stop.wait()
    live.stop()


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
        _check_prefix(prefix)
    started = time.perf_counter()
    try:
        summary = fuse_recording(recording, output, _load_config(config), prefix)
    except OSError as exc:
        fail(f"{exc.filename or recording}: {exc.strerror or exc}", EXIT_USAGE)
    elapsed = time.perf_counter() - started
    for error in summary.first_errors:
        typer.echo(f"skipped {error}", err=True)
    detections = summary.stats.get("detections", 0)
    rejected = sum(v for k, v in summary.stats.items() if k.startswith("rejected"))
    typer.echo(f"read {summary.lines} messages ({summary.bad_lines} bad lines, {rejected} rejected, "
               f"{detections} detections) and wrote {summary.written} to {output} in {elapsed:.2f} s", err=True)


@app.command()
def record(
    output: Annotated[Path, typer.Option("-o", "--output", help="Recording to write (.jsonl or .jsonl.gz).")],
    broker: BrokerOpt = DEFAULT_BROKER,
    prefix: PrefixOpt = DEFAULT_PREFIX,
    verbose: VerboseOpt = False,
) -> None:
    """Record every message under the prefix into a recording, flushed every second."""
    from simulators.record import record_feed

    _logging(verbose)
    stop = _stop_event()
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

    _logging(verbose)
    if not recording.is_file():
        fail(f"{recording}: no such file", EXIT_USAGE)
    if prefix is not None:
        _check_prefix(prefix)
    stop = _stop_event()
    try:
        count = replay_recording(recording, broker, _parse_speed(speed), stop, prefix)
    except ConnectionError as exc:
        fail(str(exc))
    typer.echo(f"replayed {count} messages from {recording}", err=True)


@app.command()
def broker(
    host: HostOpt = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="MQTT listen port.")] = 1883,
) -> None:
    """Run the embedded MQTT broker (amqtt) in the foreground; for demos, not for load."""
    from api.broker import run_broker

    _logging(False)
    try:
        run_broker(host, port)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


def main() -> None:
    """Console entry point."""
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
