"""``sargas replay``: republish a recording with its original relative timing, or faster."""

from __future__ import annotations

import logging
import math
import threading
import time
from pathlib import Path

from fusion.mqttlink import Outbox, connect, new_client
from fusion.protocol import RecordingError, read_recording

log = logging.getLogger(__name__)


def replay_recording(path: Path, broker_url: str, speed: float, stop: threading.Event,
                     prefix: str | None = None) -> int:
    """Publish every line of ``path`` at QoS 1, paced by its ``t`` divided by ``speed``.

    ``speed`` may be ``math.inf`` (as fast as possible). ``prefix`` replaces the topic
    prefix the recording was made under, when given. Returns how many messages were sent.
    """
    client = new_client()
    connect(client, broker_url)
    outbox = Outbox(client)
    sent = 0
    start_wall = time.monotonic()
    start_t: float | None = None
    try:
        for entry in read_recording(path):
            if stop.is_set():
                break
            if isinstance(entry, RecordingError):
                log.warning("skipped %s", entry)
                continue
            if start_t is None:
                start_t = entry.t
            if not math.isinf(speed):
                delay = start_wall + (entry.t - start_t) / speed - time.monotonic()
                if delay > 0 and stop.wait(delay):
                    break
            topic = entry.topic if prefix is None else _with_prefix(entry.topic, prefix)
            outbox.publish(topic, entry.payload, qos=1)
            sent += 1
    finally:
        if not outbox.wait():
            log.warning("the broker did not acknowledge every message before the replay ended")
        client.disconnect()
        client.loop_stop()
    return sent


def _with_prefix(topic: str, prefix: str) -> str:
    """Swap the prefix of a protocol topic (the part before ``/sensors/`` or the last level)."""
    head, sep, tail = topic.partition("/sensors/")
    if sep:
        return f"{prefix}/sensors/{tail}"
    return f"{prefix}/{topic.rsplit('/', 1)[-1]}"
