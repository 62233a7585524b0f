"""The API's MQTT subscriber: tracks, alerts and sensor statuses in, live state and frames out.

Runs in paho's network thread. Every message is decoded and validated by ``fusion.protocol``
once; an accepted one is passed on (to the store and the WebSocket clients) as the bytes it
arrived as, never re-encoded; a rejected one is counted and logged and never stops the feed. Alerts go to the ``AlertStore`` (where the
fusion service may have put them already) before they are acknowledged to the broker, over a
persistent session, so that alerts published while the API was down arrive when it comes back.
Each accepted message is handed to ``deliver`` as a ``Frame`` (the app passes a thread-safe hop
onto the event loop).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from api.hub import Frame
from api.settings import ApiSettings
from fusion.mqttlink import BrokerAddress, new_client
from fusion.protocol import (
    Alert,
    ProtocolError,
    SensorStatus,
    Topics,
    TracksMessage,
    decode,
    to_dict,
)
from fusion.store import AlertStore

log = logging.getLogger(__name__)

#: How many alert ids the feed remembers to suppress MQTT redeliveries.
RECENT_ALERTS = 10_000

Health = Literal["online", "degraded", "offline", "stale"]
LiveMessage = TracksMessage | SensorStatus | Alert


def to_frame(message: LiveMessage, wire: bytes) -> Frame:
    """The WebSocket frame of a message: tracks and statuses are superseded, alerts never."""
    text = wire.decode()
    if isinstance(message, TracksMessage):
        return Frame(text, key="tracks")
    if isinstance(message, SensorStatus):
        return Frame(text, key=f"status/{message.sensor_id}")
    return Frame(text, alert_id=message.alert_id)


@dataclass(frozen=True)
class SensorView:
    """The latest status of one sensor and when it was last heard from (epoch seconds)."""

    status: SensorStatus
    wire: bytes
    last_seen: float

    def health(self, now: float, stale_after_s: float) -> Health:
        """Its reported state, or ``stale`` when it has been silent too long (unless offline)."""
        if self.status.state != "offline" and now - self.last_seen > stale_after_s:
            return "stale"
        return self.status.state

    def to_dict(self, now: float, stale_after_s: float) -> dict[str, Any]:
        return {"sensor_id": self.status.sensor_id, "health": self.health(now, stale_after_s),
                "last_seen": self.last_seen, "age_s": round(max(0.0, now - self.last_seen), 3),
                "status": to_dict(self.status)}


#: Ended tracks whose history is still kept, oldest forgotten first.
ENDED_HISTORIES = 1000


class LiveState:
    """The latest tracks message, a bounded history per track, the latest status per sensor and
    message counts; thread-safe."""

    def __init__(self, history_points: int = 300) -> None:
        self._lock = threading.Lock()
        self._history_points = history_points
        self._history: dict[str, deque[dict[str, Any]]] = {}
        self._ended: deque[str] = deque()
        self._tracks: tuple[TracksMessage, bytes] | None = None
        self._sensors: dict[str, SensorView] = {}
        self._received = 0
        self._rejected: Counter[str] = Counter()

    def count_accepted(self) -> None:
        with self._lock:
            self._received += 1

    def count_rejected(self, reason: str) -> int:
        """Count one received and rejected message; how many were rejected for ``reason`` so far."""
        with self._lock:
            self._received += 1
            self._rejected[reason] += 1
            return self._rejected[reason]

    def counts(self) -> tuple[int, dict[str, int]]:
        """Messages received so far, and those rejected by reason (sorted)."""
        with self._lock:
            return self._received, dict(sorted(self._rejected.items()))

    def set_tracks(self, message: TracksMessage, wire: bytes) -> None:
        """Keep the message as the latest and add each track's position to its history."""
        with self._lock:
            self._tracks = (message, wire)
            for track in message.tracks:
                points = self._history.setdefault(track.track_id, deque(maxlen=self._history_points))
                if not points or points[-1]["time"] < message.time:
                    points.append({"time": message.time, "lat": track.lat, "lon": track.lon, "alt_m": track.alt_m,
                                   "status": track.status, "threat": track.threat.level, "sensors": track.sensors})
            for track_id in message.ended:
                if track_id in self._history:
                    self._ended.append(track_id)
            while len(self._ended) > ENDED_HISTORIES:
                self._history.pop(self._ended.popleft(), None)

    def track(self, track_id: str) -> dict[str, Any] | None:
        """A track's latest state (None once ended) and its recent history, or None if never seen."""
        with self._lock:
            history = self._history.get(track_id)
            if history is None:
                return None
            latest = self._tracks[0] if self._tracks else None
            current = next((t for t in latest.tracks if t.track_id == track_id), None) if latest else None
            return {"track_id": track_id, "track": to_dict(current) if current else None,
                    "ended": current is None, "history": list(history)}

    def set_status(self, view: SensorView) -> None:
        with self._lock:
            self._sensors[view.status.sensor_id] = view

    @property
    def tracks(self) -> tuple[TracksMessage, bytes] | None:
        with self._lock:
            return self._tracks

    def sensors(self) -> list[SensorView]:
        """Every known sensor, by id."""
        with self._lock:
            return [self._sensors[k] for k in sorted(self._sensors)]

    def frames(self) -> list[Frame]:
        """The latest tracks message, then every sensor status: the live part of a snapshot."""
        tracks = self.tracks
        head = [to_frame(*tracks)] if tracks else []
        return head + [to_frame(view.status, view.wire) for view in self.sensors()]


def _worth_logging(count: int) -> bool:
    return count <= 10 or count % 1000 == 0


class Feed:
    """Subscribes to tracks, alerts and statuses; keeps ``LiveState`` and the ``AlertStore`` current."""

    def __init__(self, settings: ApiSettings, store: AlertStore, state: LiveState,
                 deliver: Callable[[Frame], None]) -> None:
        self.settings = settings
        self.topics = Topics(settings.prefix)
        self.address = BrokerAddress.parse(settings.broker_url)
        self.store = store
        self.state = state
        self.deliver = deliver
        self._connected = threading.Event()
        self._client: mqtt.Client | None = None
        self._recent_alerts: deque[str] = deque(maxlen=RECENT_ALERTS)
        self._recent_alert_set: set[str] = set()

    @property
    def connected(self) -> bool:
        """Connected to the broker and subscribed."""
        return self._connected.is_set()

    def handle(self, topic: str, payload: bytes, retained: bool = False, received_at: float | None = None) -> None:
        """Decode one message, update the state or the store, and deliver its frame."""
        now = time.time() if received_at is None else received_at
        try:
            message = decode(topic, payload, self.topics)
        except ProtocolError as exc:
            if _worth_logging(self.state.count_rejected(exc.reason)):
                log.warning("rejected a message on %s: %s", topic, exc)
            return
        self.state.count_accepted()
        wire = payload  # validated whole by ``decode``: passed on as received, not encoded again
        if isinstance(message, TracksMessage):
            self.state.set_tracks(message, wire)
        elif isinstance(message, SensorStatus):
            last_seen = min(now, message.time) if retained else now
            self.state.set_status(SensorView(message, wire, last_seen))
        elif isinstance(message, Alert):
            self.store.add(message, wire)
            if not self._first_delivery(message.alert_id):
                return
        else:
            return
        self.deliver(to_frame(message, wire))

    def _first_delivery(self, alert_id: str) -> bool:
        """False for an alert delivered recently (an MQTT redelivery), else remember it.

        The store cannot tell: the fusion service stores each alert before it publishes it.
        """
        if alert_id in self._recent_alert_set:
            return False
        if len(self._recent_alerts) == RECENT_ALERTS:
            self._recent_alert_set.discard(self._recent_alerts[0])
        self._recent_alerts.append(alert_id)
        self._recent_alert_set.add(alert_id)
        return True

    def start(self) -> None:
        """Connect in the background; paho reconnects on its own whenever the link drops."""
        client = new_client(client_id=self.settings.client_id, clean_session=False)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.connect_async(self.address.host, self.address.port, keepalive=30)
        client.loop_start()
        self._client = client

    def stop(self) -> None:
        """Disconnect, leaving the broker session (and the alerts it queues) in place."""
        client, self._client = self._client, None
        if client is None:
            return
        client.disconnect()
        client.loop_stop()
        self._connected.clear()

    def _on_connect(self, client: mqtt.Client, _userdata: object, _flags: object,
                    reason: ReasonCode, _props: object) -> None:
        if reason.is_failure:
            log.warning("the MQTT broker at %s refused the API: %s", self.address.url, reason)
            return
        client.subscribe([(self.topics.tracks, 0), (self.topics.alerts, 1), (self.topics.all_status, 1)])
        log.info("API feed connected to %s", self.address.url)

    def _on_subscribe(self, _client: mqtt.Client, _userdata: object, _mid: int,
                      reasons: list[ReasonCode], _props: object) -> None:
        if any(reason.is_failure for reason in reasons):
            log.error("the MQTT broker at %s refused a subscription: %s", self.address.url, reasons)
        self._connected.set()

    def _on_disconnect(self, _client: mqtt.Client, _userdata: object, _flags: object,
                       reason: ReasonCode, _props: object) -> None:
        was_connected = self._connected.is_set()
        self._connected.clear()
        if self._client is not None and was_connected:
            log.warning("API feed lost the MQTT broker at %s (%s); reconnecting", self.address.url, reason)

    def _on_message(self, _client: mqtt.Client, _userdata: object, msg: mqtt.MQTTMessage) -> None:
        try:
            self.handle(msg.topic, bytes(msg.payload), bool(msg.retain))
        except Exception:
            log.exception("API feed failed on a message on %s", msg.topic)
