"""``sargas record``: every message under a prefix into a recording, flushed once a second."""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt

from fusion.mqttlink import connect, new_client
from fusion.protocol import ProtocolError, RecordingWriter, Topics, load_json

log = logging.getLogger(__name__)

#: At most this much of a recording is lost if the recorder crashes.
FLUSH_PERIOD_S = 1.0


def record_feed(broker_url: str, prefix: str, path: Path, stop: threading.Event) -> int:
    """Record until ``stop`` is set; return how many messages were written.

    Each line's ``t`` is the receipt time. A payload that is not a JSON object cannot be
    represented in the recording format: it is counted and logged, not written.
    """
    inbox: queue.SimpleQueue[tuple[float, str, bytes]] = queue.SimpleQueue()
    client = new_client()

    def on_connect(c: mqtt.Client, *_: object) -> None:
        c.subscribe(Topics(prefix).everything, qos=1)

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        inbox.put((time.time(), msg.topic, msg.payload))

    client.on_connect = on_connect
    client.on_message = on_message
    skipped = 0
    with RecordingWriter(path) as writer:
        connect(client, broker_url)
        last_flush = time.monotonic()
        try:
            while not (stop.is_set() and inbox.empty()):
                try:
                    t, topic, payload = inbox.get(timeout=0.2)
                    load_json(payload, max_bytes=1 << 30)
                    writer.write(t, topic, payload)
                except queue.Empty:
                    pass
                except ProtocolError as exc:
                    skipped += 1
                    log.warning("not recorded: %s on %s is not a JSON object (%s)", len(payload), topic, exc.detail)
                if time.monotonic() - last_flush >= FLUSH_PERIOD_S:
                    writer.flush()
                    last_flush = time.monotonic()
        finally:
            client.disconnect()
            client.loop_stop()
    if skipped:
        log.warning("%d messages were not JSON objects and were not recorded", skipped)
    return writer.count
