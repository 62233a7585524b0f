"""Shared fixtures: a real Mosquitto broker on a free loopback port, free ports, MQTT helpers."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"

#: No silent drops: Mosquitto's default ``max_queued_messages 1000`` discards messages for a
#: subscriber that falls behind, at QoS 0 and 1 alike.
MOSQUITTO_CONF = """\
listener {port} 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 0
max_queued_bytes 0
max_inflight_messages 0
set_tcp_nodelay true
queue_qos0_messages true
log_dest stdout
log_type error
log_type warning
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    """Block until something accepts connections on ``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


@dataclass
class Broker:
    """A running Mosquitto broker."""

    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Broker]:
    """Debian's mosquitto on a free loopback port, with a temporary config; stopped after."""
    if not Path(MOSQUITTO).exists():
        pytest.fail("mosquitto is not installed: run the README's test command (it installs it)")
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(MOSQUITTO_CONF.format(port=port))
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port)
        yield Broker(port, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Collector:
    """An MQTT client that keeps every message it receives, for assertions."""

    client: mqtt.Client
    messages: list[tuple[str, bytes, bool]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_topic(self, topic: str) -> list[bytes]:
        with self.lock:
            return [p for t, p, _ in self.messages if t == topic]

    def wait_for(self, predicate, timeout: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                snapshot = list(self.messages)
            if predicate(snapshot):
                return True
            time.sleep(0.05)
        return False


def mqtt_client(port: int, client_id: str = "") -> mqtt.Client:
    """A connected paho client running its network loop in a thread."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    connected = threading.Event()
    client.on_connect = lambda *a: connected.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    if not connected.wait(10):
        raise TimeoutError("could not connect to the test broker")
    return client


@pytest.fixture
def collect(mosquitto: Broker) -> Iterator[callable]:  # type: ignore[valid-type]
    """Factory: ``collect("sargas/v1/#")`` returns a Collector subscribed to that filter."""
    clients: list[mqtt.Client] = []

    def make(topic_filter: str, qos: int = 1) -> Collector:
        client = mqtt_client(mosquitto.port)
        collector = Collector(client)

        def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
            with collector.lock:
                collector.messages.append((msg.topic, msg.payload, bool(msg.retain)))

        client.on_message = on_message
        subscribed = threading.Event()
        client.on_subscribe = lambda *a: subscribed.set()
        client.subscribe(topic_filter, qos)
        subscribed.wait(10)
        clients.append(client)
        return collector

    yield make
    for c in clients:
        c.loop_stop()
        c.disconnect()


def sargas_command() -> list[str]:
    """The ``sargas`` console script of the running interpreter's environment."""
    script = Path(sys.executable).with_name("sargas")
    return [str(script)] if script.exists() else [sys.executable, "-m", "api.cli"]


@pytest.fixture
def sargas() -> Iterator[callable]:  # type: ignore[valid-type]
    """Factory: ``sargas("serve", "--port", ...)`` starts a subprocess; all are stopped after."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(*args: str, **kwargs: object) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([*sargas_command(), *args], **kwargs)  # type: ignore[call-overload]
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_http(url: str, timeout: float = 30.0) -> None:
    """Block until ``url`` answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1.0) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer 200 within {timeout} s")


class WsCollector:
    """Reads every frame of a WebSocket in a thread and keeps the decoded JSON."""

    def __init__(self, url: str) -> None:
        from websockets.sync.client import connect

        self.messages: list[dict] = []  # type: ignore[type-arg]
        self.lock = threading.Lock()
        self._ws = connect(url, max_size=2**24)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            for frame in self._ws:
                with self.lock:
                    self.messages.append(json.loads(frame))
        except ConnectionClosed:
            pass

    def of_schema(self, schema: str) -> list[dict]:  # type: ignore[type-arg]
        with self.lock:
            return [m for m in self.messages if m.get("schema") == schema]

    def wait_for(self, predicate, timeout: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            time.sleep(0.1)
        return False

    def close(self) -> None:
        self._ws.close()
        self._thread.join(timeout=5)
