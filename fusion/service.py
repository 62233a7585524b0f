"""Runs the FusionEngine against the world: live on MQTT, or offline on a recording.

Thin by design: every tracking and threat decision is in ``FusionEngine``; this module
only moves bytes between it and a broker or a file, so live and offline fusion are the
same computation.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import paho.mqtt.client as mqtt

from fusion.config import FusionConfig
from fusion.mqttlink import connect, new_client
from fusion.pipeline import FusionEngine, Outgoing
from fusion.protocol import (
    DEFAULT_PREFIX,
    Alert,
    ProtocolError,
    RecordingError,
    RecordingWriter,
    Topics,
    load_json,
    read_recording,
    validate,
)
from fusion.protocol.topics import split_prefix
from fusion.store import AlertStore

log = logging.getLogger(__name__)

#: Wall-clock seconds without input after which buffered detections are processed anyway.
IDLE_FLUSH_S = 1.0
#: Received messages waiting for the worker. Far more than a site sends while one step runs;
#: reached only if fusion falls behind for good, when dropping new input (counted) beats memory exhaustion.
INBOX_LIMIT = 100_000


@dataclass
class FuseSummary:
    """What ``sargas fuse`` read and wrote."""

    lines: int = 0
    bad_lines: int = 0
    written: int = 0
    stats: dict[str, int] = field(default_factory=dict)
    first_errors: list[str] = field(default_factory=list)


def fuse_recording(source: str | Path, target: str | Path, config: FusionConfig | None = None,
                   prefix: str | None = None) -> FuseSummary:
    """Offline fusion: feed a recording through the engine and record its tracks and alerts.

    Driven by the messages' own times, never the clock: the same input and configuration
    give byte-identical output. Each output message is stamped with the ``t`` of the input
    line whose processing produced it, i.e. when the live service would have published it.
    The topic prefix is taken from ``prefix`` or else from the first line's topic (``split_prefix``).
    """
    summary = FuseSummary()
    engine: FusionEngine | None = None
    t_last = 0.0
    with RecordingWriter(target) as out:
        def write(items: list[Outgoing], t: float) -> None:
            for item in items:
                if item.topic in (topics.tracks, topics.alerts):
                    out.write(t, item.topic, item.payload)
                    summary.written += 1

        for entry in read_recording(source):
            if isinstance(entry, RecordingError):
                summary.bad_lines += 1
                if len(summary.first_errors) < 10:
                    summary.first_errors.append(str(entry))
                continue
            summary.lines += 1
            if engine is None:
                topics = Topics(prefix or split_prefix(entry.topic)[0] or DEFAULT_PREFIX)
                engine = FusionEngine(config, prefix=topics.prefix)
            kind = topics.classify(entry.topic)
            if kind is None or kind[0] not in ("detections", "status"):
                continue
            t_last = entry.t
            write(engine.handle(entry.topic, entry.payload, entry.t), entry.t)
        if engine is not None:
            write(engine.flush(), t_last)
            summary.stats = dict(engine.stats)
    return summary


class LiveFusion:
    """The live fusion service: MQTT detections in, tracks and alerts out.

    The network thread only enqueues (into a bounded inbox); one worker thread owns the
    engine, so the engine needs no locks and a slow step never blocks the MQTT keep-alive.
    ``errors`` counts what went wrong without stopping the service: ``engine`` (a step
    that raised), ``store`` and ``publish`` (an output that failed), ``inbox_full``.
    """

    def __init__(self, broker_url: str, prefix: str, data_dir: Path, config: FusionConfig | None = None) -> None:
        self.broker_url = broker_url
        self.topics = Topics(prefix)
        data_dir.mkdir(parents=True, exist_ok=True)
        self.store = AlertStore(data_dir / "alerts.sqlite")
        self.engine = FusionEngine(config, prefix=prefix, first_alert_number=self.store.max_number() + 1)
        self.engine.threat.remember_sensor_alerts(self.store.sensor_offline_times())
        self.inbox: queue.Queue[tuple[str, bytes, float]] = queue.Queue(INBOX_LIMIT)
        self.errors: Counter[str] = Counter()
        # MQTT 3.1.1 brokers need accept only 23 characters: a short hash tells prefixes apart.
        self.client = new_client(client_id=f"sargas-fusion-{hashlib.sha1(prefix.encode()).hexdigest()[:8]}")
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._work, name="fusion-worker", daemon=True)

    def _on_connect(self, client: mqtt.Client, *_: object) -> None:
        client.subscribe([(self.topics.all_detections, 1), (self.topics.all_status, 1)])

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        try:
            self.inbox.put_nowait((msg.topic, bytes(msg.payload), time.time()))
        except queue.Full:
            self.errors["inbox_full"] += 1
            if self.errors["inbox_full"] in (1, 10) or self.errors["inbox_full"] % 10_000 == 0:
                log.error("fusion is %d messages behind; dropped %d received messages so far",
                          INBOX_LIMIT, self.errors["inbox_full"])

    def start(self) -> None:
        """Connect to the broker and start processing; raises ConnectionError if unreachable."""
        self._worker.start()
        connect(self.client, self.broker_url)
        log.info("fusion service subscribed to %s on %s", self.topics.all_detections, self.broker_url)

    def stop(self) -> None:
        """Process what is queued, publish the last state and disconnect."""
        self._stop.set()
        self._worker.join(timeout=10)
        self.client.disconnect()
        self.client.loop_stop()
        self.store.close()

    def _work(self) -> None:
        pending = False
        while not (self._stop.is_set() and self.inbox.empty()):
            try:
                topic, payload, received_at = self.inbox.get(timeout=IDLE_FLUSH_S)
            except queue.Empty:
                if pending:
                    self._publish(self._guarded(self.engine.flush))
                    pending = False
                continue
            self._publish(self._guarded(partial(self.engine.handle, topic, payload, received_at)))
            pending = True
        self._publish(self._guarded(self.engine.flush))

    def _guarded(self, step: Callable[[], list[Outgoing]]) -> list[Outgoing]:
        """Run one engine step; a bug triggered by one message is logged and counted, never fatal."""
        try:
            return step()
        except Exception:
            self.errors["engine"] += 1
            log.exception("fusion step failed; the message is dropped and the service goes on")
            return []

    def _publish(self, items: list[Outgoing]) -> None:
        """Store each alert (before it goes out, so that its id is never reused), then publish;
        a failure of one item is logged and counted and never stops the worker."""
        for item in items:
            if item.topic == self.topics.alerts:
                self._store_alert(item.payload)
            try:
                self.client.publish(item.topic, item.payload, qos=item.qos, retain=item.retain)
            except (ValueError, OSError):
                self.errors["publish"] += 1
                log.exception("could not publish on %s", item.topic)

    def _store_alert(self, payload: bytes) -> None:
        try:
            alert = validate(load_json(payload), "sargas.alerts/1")
        except ProtocolError:
            self.errors["engine"] += 1
            log.exception("the engine produced an invalid alert")
            return
        assert isinstance(alert, Alert)
        try:
            self.store.add(alert, payload)
        except sqlite3.Error:
            self.errors["store"] += 1
            log.exception("could not store alert %s; it is published all the same", alert.alert_id)
