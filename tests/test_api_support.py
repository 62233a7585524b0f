"""Helpers for the API and console tests: a real uvicorn server, protocol messages, a publisher."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
import uvicorn
from conftest import Broker, mqtt_client

from api.app import create_app
from api.settings import ApiSettings
from fusion.protocol import (
    Alert,
    Position,
    SensorStatus,
    Threat,
    Topics,
    Track,
    TracksMessage,
    Velocity,
    encode,
)
from fusion.protocol.models import Coverage, Model

T0 = 1795766400.0
SITE = Position(lat=54.3161, lon=23.3415, alt_m=180.0)
TOPICS = Topics()


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout} s")


class ApiServer:
    """The app served by uvicorn on a free port in a background thread.

    ``send_buffer`` shrinks the kernel send buffer of every connection (a slow network),
    so that a client that stops reading blocks the server's writes after kilobytes, not megabytes.
    """

    def __init__(self, settings: ApiSettings, send_buffer: int | None = None, port: int = 0) -> None:
        self.settings = settings
        self.socket = socket.socket()
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if send_buffer is not None:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
        self.socket.bind(("127.0.0.1", port))
        self.port = int(self.socket.getsockname()[1])
        config = uvicorn.Config(create_app(settings), log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]},
                                       name=f"uvicorn-{self.port}", daemon=True)
        self.http = httpx.Client(base_url=self.url, timeout=10.0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, since: str | None = None) -> str:
        return f"ws://127.0.0.1:{self.port}/ws" + (f"?since={since}" if since else "")

    def start(self) -> ApiServer:
        """Start serving; return once the feed is subscribed to the broker."""
        self.thread.start()
        wait_until(lambda: self.server.started)
        wait_until(lambda: self.http.get("/api/health").json()["broker_connected"])
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.http.close()


@pytest.fixture
def serve(mosquitto: Broker, tmp_path: Path) -> Iterator[Callable[..., ApiServer]]:
    """Factory: ``serve(send_buffer=None, port=0, **settings)`` starts an API on the test broker
    (data in tmp_path/data; ``port`` 0 is any free port)."""
    servers: list[ApiServer] = []

    def make(send_buffer: int | None = None, port: int = 0, **overrides: Any) -> ApiServer:
        options: dict[str, Any] = {"broker_url": mosquitto.url, "data_dir": tmp_path / "data", **overrides}
        server = ApiServer(ApiSettings(**options), send_buffer, port).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def publisher(mosquitto: Broker) -> Iterator[mqtt.Client]:
    """A connected paho client on the test broker."""
    client = mqtt_client(mosquitto.port)
    yield client
    client.disconnect()
    client.loop_stop()


def publish(client: mqtt.Client, topic: str, message: Model | bytes, qos: int = 1, retain: bool = False) -> None:
    """Publish a protocol model (encoded by the protocol module) or raw bytes, and wait until sent."""
    payload = message if isinstance(message, bytes) else encode(message)
    client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(10)


def make_track(track_id: str, t: float, level: str = "high", east: float = 0.0) -> Track:
    return Track(track_id=track_id, status="confirmed", lat=SITE.lat + 0.01, lon=SITE.lon + 0.01 + east * 1e-5,
                 alt_m=250.0, velocity=Velocity(east_mps=11.7, north_mps=-2.8, up_mps=0.1), position_sigma_m=9.5,
                 label="drone", label_p=0.93, sensors=["radar-north"],
                 threat=Threat(level=level, score=0.8, zone="border-strip"), first_seen=T0, last_update=t)


def make_tracks(t: float, *track_ids: str, ended: tuple[str, ...] = ()) -> TracksMessage:
    return TracksMessage(time=t, tracks=[make_track(i, t) for i in track_ids], ended=list(ended))


def make_alert(number: int, level: str = "critical") -> Alert:
    return Alert(alert_id=f"A-{number:06d}", time=T0 + number, kind="zone_entry", level=level, track_id="T-17",
                 zone="border-strip", lat=SITE.lat, lon=SITE.lon, message=f"Drone T-17 entered border-strip ({number})")


def make_status(sensor_id: str = "radar-north", state: str = "online", t: float = T0) -> SensorStatus:
    return SensorStatus(schema="sargas.sensor_status/1", sensor_id=sensor_id, kind="radar", time=t, state=state,
                        origin=SITE, coverage=Coverage(max_range_m=5000, azimuth_min_deg=0, azimuth_max_deg=360),
                        scan_period_s=1.0)
