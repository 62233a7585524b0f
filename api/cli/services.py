"""Long-running services: everything at once (up), fusion with the API (serve), fusion alone, the broker."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError

from api.cli.common import (
    DEFAULT_DATA_DIR,
    EXIT_USAGE,
    BrokerOpt,
    ConfigOpt,
    DataDirOpt,
    HostOpt,
    PortOpt,
    PrefixOpt,
    SpeedOpt,
    VerboseOpt,
    app,
    check_broker,
    check_scenario,
    fail,
    load_config,
    parse_speed,
    setup_logging,
    stop_event,
)
from fusion.mqttlink import DEFAULT_BROKER
from fusion.protocol import DEFAULT_PREFIX

if TYPE_CHECKING:
    from fusion.config import FusionConfig
    from fusion.service import LiveFusion

ZonesOpt = Annotated[Path | None, typer.Option(
    "--zones", help="Zones of the site: a GeoJSON FeatureCollection (overrides the configuration's zones_file).")]


def live_fusion(broker: str, prefix: str, data_dir: Path, config: FusionConfig | None) -> LiveFusion:
    """The fusion service with its alert store under ``data_dir``; a data directory that cannot be used is a usage error."""
    from fusion.service import LiveFusion

    try:
        return LiveFusion(broker, prefix, data_dir, config)
    except (OSError, sqlite3.Error) as exc:
        fail(f"{data_dir}: cannot keep the alert store there: {exc}", EXIT_USAGE)


def fusion_config(config: Path | None, zones: Path | None) -> FusionConfig | None:
    """The fusion configuration of ``--config`` with ``--zones`` applied; a bad file is a usage error."""
    from fusion.config import FusionConfig

    loaded = load_config(config)
    if zones is None:
        return loaded
    try:
        return FusionConfig.model_validate({**(loaded or FusionConfig()).model_dump(), "zones_file": zones})
    except ValidationError as exc:
        fail(str(exc.errors()[0]["msg"]).removeprefix("Value error, "), EXIT_USAGE)


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
        broker = check_broker(broker)
    parse_speed(speed)
    check_scenario(scenario)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"{data_dir}: cannot keep state there: {exc.strerror or exc}", EXIT_USAGE)
    supervisor = Supervisor(broker=broker, prefix=prefix, host=host, port=port, data_dir=data_dir,
                            scenario=scenario, speed=speed, broker_port=broker_port, open_browser=open_browser)
    raise typer.Exit(supervisor.run())


@app.command()
def serve(
    broker: BrokerOpt = DEFAULT_BROKER,
    prefix: PrefixOpt = DEFAULT_PREFIX,
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8000,
    data_dir: DataDirOpt = DEFAULT_DATA_DIR,
    config: ConfigOpt = None,
    zones: ZonesOpt = None,
    fusion_enabled: Annotated[bool, typer.Option("--fusion/--no-fusion", help="Run the fusion service in this process.")] = True,
    verbose: VerboseOpt = False,
) -> None:
    """Run the fusion service and the API (REST, WebSocket, console) against a broker."""
    import uvicorn

    from api.app import create_app
    from api.settings import ApiSettings

    setup_logging(verbose)
    fusion_cfg = fusion_config(config, zones)
    live = live_fusion(broker, prefix, data_dir, fusion_cfg) if fusion_enabled else None
    try:
        if live is not None:
            live.start()
        settings = ApiSettings(broker_url=broker, prefix=prefix, data_dir=data_dir,
                               zones_file=fusion_cfg.zones_file if fusion_cfg is not None else None)
        server = uvicorn.Server(uvicorn.Config(create_app(settings), host=host, port=port,
                                               log_level="warning", lifespan="on"))
        typer.echo(f"Sargas API and console on http://{host}:{port}/", err=True)
        try:
            server.run()
        except SystemExit:  # uvicorn exits when it cannot bind, after logging why
            pass
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
    zones: ZonesOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Run only the fusion service: detections in, tracks and alerts out over MQTT."""
    setup_logging(verbose)
    stop = stop_event()
    live = live_fusion(broker, prefix, data_dir, fusion_config(config, zones))
    try:
        live.start()
        stop.wait()
    except ConnectionError as exc:
        fail(str(exc))
    finally:
        live.stop()


@app.command()
def broker(
    host: HostOpt = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="MQTT listen port.")] = 1883,
) -> None:
    """Run the embedded MQTT broker (amqtt) in the foreground; for demos, not for load."""
    from amqtt.errors import BrokerError

    from api.broker import run_broker
    from api.supervisor import port_is_free

    setup_logging(False)
    if not port_is_free(host, port):  # checked first: amqtt logs a traceback of its own when it cannot bind
        fail(f"cannot listen on {host}:{port}: the address is in use or not available")
    try:
        run_broker(host, port)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    except BrokerError as exc:  # amqtt wraps the OSError of a port in use
        cause = exc.__cause__
        fail(f"cannot listen on {host}:{port}: {getattr(cause, 'strerror', None) or cause or exc}")
