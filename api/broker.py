"""The embedded MQTT broker of ``sargas up``: amqtt, bound to loopback by default.

amqtt sustains about a thousand messages a second, plenty for the demo scenario; for
load, point every command at Mosquitto with ``--broker``.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from amqtt.broker import Broker, BrokerConfig, ListenerConfig

log = logging.getLogger(__name__)


def broker_config(host: str, port: int) -> BrokerConfig:
    """An anonymous TCP listener on ``host:port``, without $SYS chatter or packet logging."""
    return BrokerConfig(
        listeners={"default": ListenerConfig(bind=f"{host}:{port}")},
        plugins={"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    )


async def serve_broker(host: str, port: int, stop: asyncio.Event) -> None:
    """Run the broker until ``stop`` is set."""
    broker = Broker(broker_config(host, port))
    await broker.start()
    log.info("embedded MQTT broker listening on mqtt://%s:%d", host, port)
    try:
        await stop.wait()
    finally:
        await broker.shutdown()


def run_broker(host: str, port: int) -> None:
    """Run the broker in the foreground until SIGINT or SIGTERM."""
    for noisy in ("amqtt", "transitions"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve_broker(host, port, stop)

    asyncio.run(main())
