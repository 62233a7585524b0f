"""What every subcommand shares: the typer app, option types, errors, logging and signals."""

from __future__ import annotations

import logging
import math
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from fusion.mqttlink import BrokerAddress

if TYPE_CHECKING:
    from fusion.config import FusionConfig
    from simulators.scenario import Scenario

app = typer.Typer(
    name="sargas",
    help="Sargas: early-warning sensor fusion against small drones.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_FAILURE = 1
EXIT_USAGE = 2


def check_broker(url: str) -> str:
    try:
        return BrokerAddress.parse(url).url
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def check_prefix(prefix: str) -> str:
    from fusion.protocol import Topics

    try:
        return Topics(prefix).prefix
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def parse_speed(value: str) -> float:
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
    callback=check_broker)]
PrefixOpt = Annotated[str, typer.Option("--prefix", help="Topic prefix.", callback=check_prefix)]
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


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("amqtt", "transitions", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def stop_event() -> threading.Event:
    """An event set by SIGINT or SIGTERM, so that every part can stop cleanly."""
    stop = threading.Event()

    def handler(_sig: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def load_config(path: Path | None) -> FusionConfig | None:
    """The fusion configuration in ``path`` (None: the defaults); a bad file is a usage error."""
    from fusion.config import FusionConfig

    if path is None:
        return None
    try:
        return FusionConfig.from_file(path)
    except (OSError, ValueError) as exc:
        fail(f"{path}: {exc}", EXIT_USAGE)


ConfigOpt = Annotated[Path | None, typer.Option("--config", help="Fusion configuration (YAML).")]


def check_scenario(name: str) -> Scenario:
    """The scenario of a shipped name or a YAML file; an unknown or bad one is a usage error."""
    from simulators import load_scenario
    from simulators.scenario import ScenarioError

    try:
        return load_scenario(name)
    except ScenarioError as exc:
        fail(str(exc), EXIT_USAGE)
