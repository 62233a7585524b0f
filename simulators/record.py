"""``sargas record``: every message under a prefix into a recording, flushed once a second, optionally rotated."""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt

from fusion.mqttlink import connect, new_client
from fusion.protocol import ProtocolError, RecordingWriter, Topics, load_json

log = logging.getLogger(__name__)

#: At most this much of a recording is lost if the recorder crashes.
FLUSH_PERIOD_S = 1.0
#: Extensions kept at the end of a rotated file's name, longest first.
_EXTENSIONS = (".jsonl.gz", ".json.gz", ".jsonl", ".json", ".gz")


def part_path(path: Path, number: int) -> Path:
    """The name of the ``number``-th file of a rotated recording: ``capture.jsonl.gz`` → ``capture.0001.jsonl.gz``."""
    name = path.name
    ext = next((e for e in _EXTENSIONS if name.endswith(e) and len(name) > len(e)), "")
    return path.with_name(f"{name[:len(name) - len(ext)]}.{number:04d}{ext}")


@dataclass(frozen=True)
class Rotation:
    """When to start a new file: after ``max_bytes`` of JSON Lines or ``max_seconds`` of messages (None: never)."""

    max_bytes: int | None = None
    max_seconds: float | None = None

    @property
    def enabled(self) -> bool:
        return self.max_bytes is not None or self.max_seconds is not None


class RotatingWriter:
    """A recording split over numbered files by size or duration; one plain file when rotation is off."""

    def __init__(self, path: Path, rotation: Rotation = Rotation(), start_t: float = 0.0) -> None:
        self.path = path
        self.rotation = rotation
        self.paths: list[Path] = []
        self.count = 0
        self._writer = self._open(start_t)

    def _open(self, t: float) -> RecordingWriter:
        """Start the next file; ``t`` is when its duration starts counting."""
        path = part_path(self.path, len(self.paths) + 1) if self.rotation.enabled else self.path
        self.paths.append(path)
        self._opened_at = t
        log.info("recording to %s", path)
        return RecordingWriter(path)

    def _current(self, t: float) -> RecordingWriter:
        """The file to write a message of time ``t`` to, rotating first if the current one is full."""
        writer, rotation = self._writer, self.rotation
        full = writer.count > 0 and (
            (rotation.max_bytes is not None and writer.size >= rotation.max_bytes)
            or (rotation.max_seconds is not None and t - self._opened_at >= rotation.max_seconds))
        if full:
            writer.close()
            writer = self._writer = self._open(t)
        return writer

    def write(self, t: float, topic: str, payload: bytes) -> None:
        self._current(t).write(t, topic, payload)
        self.count += 1

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


def record_feed(broker_url: str, prefix: str, path: Path, stop: threading.Event,
                rotation: Rotation = Rotation()) -> RotatingWriter:
    """Record until ``stop`` is set; return the writer (``count`` messages, in ``paths``).

    Each line's ``t`` is the receipt time (never less than the previous line's, so that the
    recording is ordered by ``t`` even if the wall clock steps back), and its payload the bytes
    received. A payload that is not a JSON object cannot be represented in the recording
    format: it is counted and logged, not written. The file is flushed at least every
    ``FLUSH_PERIOD_S``. The inbox is unbounded on purpose: a recorder exists not to lose
    messages, and appending a line costs far less than receiving it.
    Raises ConnectionError if the broker is unreachable, OSError if the file cannot be written.
    """
    inbox: queue.SimpleQueue[tuple[float, str, bytes]] = queue.SimpleQueue()
    client = new_client()

    def on_connect(c: mqtt.Client, *_: object) -> None:
        c.subscribe(Topics(prefix).everything, qos=1)

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        inbox.put((time.time(), msg.topic, bytes(msg.payload)))

    client.on_connect = on_connect
    client.on_message = on_message
    skipped = 0
    last_t = -math.inf
    connect(client, broker_url)
    try:
        writer = RotatingWriter(path, rotation, time.time())
    except BaseException:
        client.disconnect()
        client.loop_stop()
        raise
    try:
        last_flush = time.monotonic()
        while not (stop.is_set() and inbox.empty()):
            try:
                t, topic, payload = inbox.get(timeout=0.2)
                load_json(payload, max_bytes=1 << 30)
                last_t = max(t, last_t)
                writer.write(last_t, topic, payload)
            except queue.Empty:
                pass
            except ProtocolError as exc:
                skipped += 1
                log.warning("not recorded: %d bytes on %s are not a JSON object (%s)", len(payload), topic, exc.detail)
            if time.monotonic() - last_flush >= FLUSH_PERIOD_S:
                writer.flush()
                last_flush = time.monotonic()
    finally:
        client.disconnect()
        client.loop_stop()
        writer.close()
    if skipped:
        log.warning("%d messages were not JSON objects and were not recorded", skipped)
    return writer
