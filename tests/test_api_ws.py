"""The WebSocket /ws over a real server: snapshot, live, resume, slow clients; the hub's policy."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import pytest
from test_api_support import (
    T0,
    TOPICS,
    ApiServer,
    make_alert,
    make_status,
    make_tracks,
    publish,
    wait_until,
)
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.sync.connection import Connection

from api.hub import CLOSE_TOO_SLOW, Frame, FrameQueue, Hub
from fusion.protocol import encode
from fusion.store import AlertStore

pytest_plugins = ["test_api_support"]
Serve = Callable[..., ApiServer]


def receive(ws: Connection, quiet_s: float = 0.3, timeout_s: float = 10.0) -> list[str]:
    """Every text frame until none arrives for ``quiet_s``."""
    frames: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            frames.append(str(ws.recv(timeout=quiet_s)))
        except TimeoutError:
            return frames
    return frames


def alert_ids(frames: list[str]) -> list[str]:
    return [m["alert_id"] for m in map(orjson.loads, frames) if m["schema"] == "sargas.alerts/1"]


def stored_count(api: ApiServer) -> int:
    return len(api.http.get("/api/alerts", params={"limit": 10_000}).json()["alerts"])


def test_snapshot_then_live_frames_are_exact_wire_json(serve: Serve, publisher: mqtt.Client) -> None:
    api = serve()
    status, tracks = make_status("radar-north"), make_tracks(T0, "T-17")
    publish(publisher, TOPICS.status("radar-north"), status)
    publish(publisher, TOPICS.tracks, tracks)
    for n in (1, 2):
        publish(publisher, TOPICS.alerts, make_alert(n))
    wait_until(lambda: stored_count(api) == 2 and api.http.get("/api/health").json()["tracks"] == 1)

    with connect(api.ws_url()) as ws:
        snapshot = receive(ws)
        assert snapshot == [encode(m).decode() for m in (tracks, status, make_alert(1), make_alert(2))]
        assert api.http.get("/api/health").json()["ws_clients"] == 1
        live_tracks = make_tracks(T0 + 1, "T-17", "T-18")
        publish(publisher, TOPICS.alerts, make_alert(3))
        publish(publisher, TOPICS.tracks, live_tracks)
        live = [ws.recv(timeout=5), ws.recv(timeout=5)]
        assert sorted(live) == sorted([encode(make_alert(3)).decode(), encode(live_tracks).decode()])
    wait_until(lambda: api.http.get("/api/health").json()["ws_clients"] == 0)


def test_resume_with_since_gets_exactly_the_missed_alerts(serve: Serve, publisher: mqtt.Client) -> None:
    api = serve()
    for n in (1, 2):
        publish(publisher, TOPICS.alerts, make_alert(n))
    wait_until(lambda: stored_count(api) == 2)
    with connect(api.ws_url()) as ws:
        seen = alert_ids(receive(ws))
    assert seen == ["A-000001", "A-000002"]

    for n in (3, 4, 5):
        publish(publisher, TOPICS.alerts, make_alert(n))
    wait_until(lambda: stored_count(api) == 5)
    with connect(api.ws_url(since=seen[-1])) as ws:
        assert alert_ids(receive(ws)) == ["A-000003", "A-000004", "A-000005"]
        publish(publisher, TOPICS.alerts, make_alert(6))
        assert alert_ids([str(ws.recv(timeout=5))]) == ["A-000006"]


def stalled_client(port: int) -> socket.socket:
    """A WebSocket client that completes the handshake and then never reads."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    return sock


class Reader:
    """Reads a WebSocket in a thread, keeping the alert ids in arrival order."""

    def __init__(self, ws: Connection) -> None:
        self.alerts: list[str] = []
        self._thread = threading.Thread(target=self._run, args=(ws,), daemon=True)
        self._thread.start()

    def _run(self, ws: Connection) -> None:
        with contextlib.suppress(ConnectionClosed):
            for frame in ws:
                self.alerts += alert_ids([str(frame)])


def received_all(reader: Reader, count: int) -> bool:
    return len(reader.alerts) == count


def test_a_client_that_never_reads_neither_delays_others_nor_loses_them_alerts(
        serve: Serve, publisher: mqtt.Client) -> None:
    api = serve(send_buffer=8192, client_queue_size=8, client_alert_backlog=100)
    stalled = stalled_client(api.port)
    try:
        with connect(api.ws_url()) as ws:
            wait_until(lambda: api.http.get("/api/health").json()["ws_clients"] == 2)
            reader = Reader(ws)
            published = 0
            while not api.http.get("/api/health").json()["ws_disconnected_slow"]:
                assert published < 2000, "the stalled client was never disconnected"
                for n in range(published + 1, published + 101):
                    publisher.publish(TOPICS.alerts, encode(make_alert(n)), qos=1)
                published = n
                wait_until(partial(received_all, reader, published), timeout=5)
            assert reader.alerts == [f"A-{n:06d}" for n in range(1, published + 1)]
            assert api.http.get("/api/health").json()["ws_clients"] == 1
    finally:
        stalled.close()


def test_frame_queue_drops_superseded_frames_but_never_alerts() -> None:
    async def scenario() -> list[Frame]:
        queue = FrameQueue(max_frames=3)
        for frame in [Frame("t1", key="tracks"), Frame("a1", alert_id="A-1"), Frame("s1", key="status/r"),
                      Frame("t2", key="tracks"), Frame("a2", alert_id="A-2"), Frame("a3", alert_id="A-3"),
                      Frame("a4", alert_id="A-4"), Frame("t3", key="tracks")]:
            queue.put(frame)
        assert (queue.alerts, queue.keyed, queue.dropped) == (4, 1, 3)
        frames = [await queue.get() for _ in range(len(queue))]
        assert (queue.alerts, queue.keyed) == (0, 0)
        return frames

    assert [f.text for f in asyncio.run(scenario())] == ["a1", "a2", "a3", "a4", "t3"]


class StalledSocket:
    """Enough of a Starlette WebSocket for the hub: sends hang forever, close is recorded."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed: tuple[int, str] | None = None

    async def send_text(self, text: str) -> None:
        self.sent.append(text)
        await asyncio.Event().wait()

    async def receive(self) -> dict[str, Any]:
        await asyncio.Event().wait()
        return {"type": "websocket.disconnect"}

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


def test_hub_disconnects_a_client_whose_alert_backlog_overflows() -> None:
    async def scenario() -> StalledSocket:
        hub = Hub(max_frames=4, max_alert_backlog=5)
        socket_ = StalledSocket()
        serving = asyncio.create_task(hub.serve(socket_, lambda: [Frame("a0", alert_id="A-0")]))  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
        for n in range(1, 8):
            hub.publish(Frame(f"a{n}", alert_id=f"A-{n}"))
        hub.publish(Frame("a0", alert_id="A-0"))
        await asyncio.wait_for(serving, 5)
        assert hub.client_count == 0 and hub.disconnected_slow == 1
        return socket_

    socket_ = asyncio.run(scenario())
    assert socket_.sent == ["a0"]
    assert socket_.closed is not None and socket_.closed[0] == CLOSE_TOO_SLOW
    assert "since" in socket_.closed[1]


@pytest.mark.parametrize("since", ["A-000002", "unknown"])
def test_since_is_also_accepted_when_unknown(serve: Serve, publisher: mqtt.Client, since: str) -> None:
    api = serve()
    for n in (1, 2, 3):
        publish(publisher, TOPICS.alerts, make_alert(n))
    wait_until(lambda: stored_count(api) == 3)
    with connect(api.ws_url(since=since)) as ws:
        expected = ["A-000003"] if since == "A-000002" else ["A-000001", "A-000002", "A-000003"]
        assert alert_ids(receive(ws)) == expected


def test_alerts_stored_by_fusion_first_are_still_delivered_once(serve: Serve, publisher: mqtt.Client) -> None:
    api = serve()
    with AlertStore(api.settings.alerts_path) as fusion_store, connect(api.ws_url()) as ws:
        receive(ws)
        fusion_store.add(make_alert(7))
        publish(publisher, TOPICS.alerts, make_alert(7))
        publish(publisher, TOPICS.alerts, make_alert(7))
        publish(publisher, TOPICS.alerts, make_alert(8))
        assert alert_ids(receive(ws)) == ["A-000007", "A-000008"]
