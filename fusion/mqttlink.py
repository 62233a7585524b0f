"""Broker URLs and paho-mqtt clients, configured one way for every Sargas part.

MQTT 3.1.1 everywhere: the embedded demo broker (amqtt) refuses MQTT 5, and nothing in
protocol v1 needs it.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt

DEFAULT_BROKER = "mqtt://127.0.0.1:1883"

log = logging.getLogger(__name__)

#: At most this many unacknowledged messages per client. MQTT numbers in-flight QoS ≥ 1
#: messages with 16-bit ids and paho silently refuses a publish whose id is still in use,
#: which a fast publisher (a replay at full speed) reaches past 65,535 unacknowledged.
MAX_UNACKNOWLEDGED = 20_000


@dataclass(frozen=True)
class BrokerAddress:
    """Host and port of an MQTT broker, parsed from ``mqtt://host:port``."""

    host: str
    port: int

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """Parse ``mqtt://host[:port]``; raise ValueError with a readable message otherwise."""
        parts = urlsplit(url if "://" in url else f"mqtt://{url}")
        if parts.scheme != "mqtt":
            raise ValueError(f"broker URL {url!r}: only mqtt://host:port is supported")
        try:
            port = parts.port or 1883
        except ValueError:
            raise ValueError(f"broker URL {url!r}: the port is not a number from 1 to 65535") from None
        if not parts.hostname:
            raise ValueError(f"broker URL {url!r}: no host")
        if parts.path not in ("", "/"):
            raise ValueError(f"broker URL {url!r}: unexpected path {parts.path!r}")
        return cls(parts.hostname, port)

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


def new_client(client_id: str = "", clean_session: bool = True) -> mqtt.Client:
    """A paho 2.x client speaking MQTT 3.1.1 with unbounded in-flight and queued messages."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv311, clean_session=clean_session)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.reconnect_delay_set(min_delay=1, max_delay=5)
    return client


def connect(client: mqtt.Client, url: str, timeout: float = 10.0, keepalive: int = 30) -> None:
    """Connect and start the network loop; wait until the broker has accepted the session and the client's own
    ``on_connect`` (if any) has run, so that what it publishes goes out before anything published after this returns.

    Raises ConnectionError if the broker cannot be reached or refuses within ``timeout`` (which includes that
    callback). Later disconnections are retried by paho's loop on its own.
    """
    address = BrokerAddress.parse(url)
    accepted = threading.Event()
    previous = client.on_connect

    def on_connect(c: mqtt.Client, userdata: object, flags: object, reason: object, props: object) -> None:
        """The caller's own callback first (e.g. a sensor's first status), so that it has run when ``connect``
        returns and nothing the caller publishes next can overtake it."""
        _no_delay(c)
        try:
            if previous is not None:
                previous(c, userdata, flags, reason, props)
        except Exception:
            log.exception("the on_connect callback failed after connecting to %s", address.url)
            raise
        finally:
            if not getattr(reason, "is_failure", False):
                accepted.set()

    client.on_connect = on_connect
    try:
        client.connect(address.host, address.port, keepalive=keepalive)
    except OSError as exc:
        raise ConnectionError(f"cannot reach the MQTT broker at {address.url}: {exc}") from None
    client.loop_start()
    if not accepted.wait(timeout):
        client.loop_stop()
        raise ConnectionError(f"the MQTT broker at {address.url} did not accept the connection in {timeout:g} s")


def _no_delay(client: mqtt.Client) -> None:
    """Send each message at once (TCP_NODELAY): Nagle's algorithm would hold a message published
    right after another until the first is acknowledged, up to the peer's 40 ms delayed ACK."""
    sock = client.socket()
    if isinstance(sock, socket.socket):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Outbox:
    """Publishes through a client and remembers unacknowledged QoS ≥ 1 messages, so that a
    sender can wait until the broker has them all before it disconnects; ``publish`` blocks
    while ``MAX_UNACKNOWLEDGED`` messages await acknowledgement (back-pressure)."""

    def __init__(self, client: mqtt.Client) -> None:
        self.client = client
        self._pending: deque[mqtt.MQTTMessageInfo] = deque()

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if qos:
            self._pending.append(info)
        while self._pending and self._pending[0].is_published():
            self._pending.popleft()
        while len(self._pending) > MAX_UNACKNOWLEDGED:
            self._pending[0].wait_for_publish(1.0)
            if self._pending[0].is_published():
                self._pending.popleft()

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until every message is acknowledged (True) or ``timeout`` passes (False)."""
        deadline = time.monotonic() + timeout
        while self._pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                self._pending[0].wait_for_publish(min(remaining, 1.0))
            except (RuntimeError, ValueError):
                time.sleep(0.05)
            if self._pending[0].is_published():
                self._pending.popleft()
        return True
