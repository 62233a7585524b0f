"""WebSocket fan-out: every client gets its own bounded queue and its own sender task.

A slow client never slows the feed or the other clients. When a client's queue is full,
frames that a later frame supersedes (the latest tracks message, the latest status of a
sensor) are dropped; alerts are never dropped, and a client that owes more alerts than
its bound is disconnected with code 1013 and a reason, to resume with ``?since=``.

The hub knows frames, not the protocol: a frame with a ``key`` may be superseded, a frame
with an ``alert_id`` must be delivered. All methods run on the event loop's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from starlette.websockets import WebSocket

log = logging.getLogger(__name__)

#: RFC 6455 "Try Again Later": the client fell behind and should reconnect with ``?since=``.
CLOSE_TOO_SLOW = 1013
CLOSE_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Frame:
    """One text frame; ``key`` names what a later frame supersedes, ``alert_id`` one never dropped."""

    text: str
    key: str | None = None
    alert_id: str | None = None


class FrameQueue:
    """A bounded queue that makes room by dropping superseded frames, never alerts (a queue of
    nothing but alerts grows, and the client's alert bound decides when it has to go)."""

    def __init__(self, max_frames: int) -> None:
        self.max_frames = max_frames
        self.alerts = 0
        self.keyed = 0
        self.dropped = 0
        self._frames: deque[Frame] = deque()
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._frames)

    def put(self, frame: Frame) -> None:
        """Enqueue ``frame``; when full, first drop a pending frame of the same key, else the oldest keyed one."""
        if len(self._frames) >= self.max_frames and self.keyed:
            dropped = frame.key is not None and self._drop_first(lambda f: f.key == frame.key)
            if not dropped:
                self._drop_first(lambda f: f.key is not None)
        self._frames.append(frame)
        self.alerts += frame.alert_id is not None
        self.keyed += frame.key is not None
        self._ready.set()

    async def get(self) -> Frame:
        while not self._frames:
            self._ready.clear()
            await self._ready.wait()
        frame = self._frames.popleft()
        self.alerts -= frame.alert_id is not None
        self.keyed -= frame.key is not None
        return frame

    def _drop_first(self, match: Callable[[Frame], bool]) -> bool:
        for i, frame in enumerate(self._frames):
            if match(frame):
                del self._frames[i]
                self.dropped += 1
                self.keyed -= 1
                return True
        return False


class Client:
    """One WebSocket connection: the snapshot first, then live frames from its queue."""

    def __init__(self, websocket: WebSocket, max_frames: int, max_alert_backlog: int) -> None:
        self.websocket = websocket
        self.queue = FrameQueue(max_frames)
        self.max_alert_backlog = max_alert_backlog
        self.close_reason: str | None = None
        self._initial: Sequence[Frame] = ()
        self._snapshot_alerts: set[str] = set()
        self._sender: asyncio.Task[None] | None = None

    def prime(self, snapshot: Sequence[Frame]) -> None:
        """Frames to send before anything queued; a live alert already among them is skipped."""
        self._initial = snapshot
        self._snapshot_alerts = {f.alert_id for f in snapshot if f.alert_id is not None}

    def offer(self, frame: Frame) -> bool:
        """Queue a live frame without waiting; False once the client owes too many alerts and must go."""
        if self.close_reason is not None:
            return False
        if frame.alert_id in self._snapshot_alerts:
            return True
        self.queue.put(frame)
        if self.queue.alerts <= self.max_alert_backlog:
            return True
        self.close_reason = f"too slow: more than {self.max_alert_backlog} alerts unsent; reconnect with ?since="
        log.warning("disconnecting a WebSocket client: %s", self.close_reason)
        if self._sender is not None:
            self._sender.cancel()
        return False

    async def run(self) -> None:
        """Send until the client leaves, a send fails, or it falls too far behind."""
        self._sender = asyncio.create_task(self._send())
        receiver = asyncio.create_task(self._receive())
        done, pending = await asyncio.wait({self._sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        for outcome in await asyncio.gather(*pending, *done, return_exceptions=True):
            if isinstance(outcome, Exception):
                log.debug("WebSocket client ended: %r", outcome)
        if self.close_reason is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.websocket.close(CLOSE_TOO_SLOW, self.close_reason), CLOSE_TIMEOUT_S)

    async def _send(self) -> None:
        for frame in self._initial:
            await self.websocket.send_text(frame.text)
        self._initial = ()
        while True:
            frame = await self.queue.get()
            await self.websocket.send_text(frame.text)

    async def _receive(self) -> None:
        while (await self.websocket.receive())["type"] != "websocket.disconnect":
            pass


class Hub:
    """The set of connected clients and the fan-out of live frames to them."""

    def __init__(self, max_frames: int = 64, max_alert_backlog: int = 1000) -> None:
        self.max_frames = max_frames
        self.max_alert_backlog = max_alert_backlog
        self.disconnected_slow = 0
        self._dropped_by_gone = 0
        self._clients: dict[int, Client] = {}
        self._next_id = 0

    @property
    def client_count(self) -> int:
        return len(self._clients)

    @property
    def frames_dropped(self) -> int:
        """Superseded frames dropped for slow clients, connected or gone."""
        return self._dropped_by_gone + sum(c.queue.dropped for c in self._clients.values())

    def publish(self, frame: Frame) -> None:
        """Offer a live frame to every client, in the order they connected; never waits.

        A client that falls too far behind leaves the hub at once; its connection closes in the background.
        """
        for client_id, client in list(self._clients.items()):
            if not client.offer(frame):
                del self._clients[client_id]
                self.disconnected_slow += 1

    async def serve(self, websocket: WebSocket, snapshot: Callable[[], Sequence[Frame]]) -> None:
        """Serve one accepted WebSocket until it ends.

        The client is registered before ``snapshot()`` is taken, with no await in between,
        so that no live frame falls between the snapshot and the live stream.
        """
        client = Client(websocket, self.max_frames, self.max_alert_backlog)
        client_id, self._next_id = self._next_id, self._next_id + 1
        self._clients[client_id] = client
        try:
            client.prime(snapshot())
            await client.run()
        finally:
            self._clients.pop(client_id, None)
            self._dropped_by_gone += client.queue.dropped
