"""``FusionEngine``: protocol bytes in, protocol bytes out, no I/O and no clock.

The same object runs live (``fusion.service.LiveFusion``) and offline (``sargas fuse``):

1. decode and validate (``fusion.protocol.decode``); a rejected input becomes a message on
   ``{prefix}/rejected`` and a ``rejected.<reason>`` count, and affects nothing else;
2. sensor statuses are kept; detections go into a reorder buffer keyed by message time and
   are processed once the newest time seen is ``reorder_window_s`` past them; a message
   older than the fusion time is late: counted and rejected as ``out_of_order``;
3. each message is one ``Tracker.step``; threat assessment follows and alerts are emitted
   as they happen (QoS 1);
4. a tracks message (QoS 0) is published on a fixed grid of fusion time every
   ``publish_period_s``, with the tracks predicted to that time and the ids deleted since
   the previous one.

Fusion time only ever comes from the messages, so the same input gives the same bytes.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fusion.config import FusionConfig
from fusion.geo import LocalFrame
from fusion.ingest import UNKNOWN_ALTITUDE_M, enu_rotations, ingest
from fusion.protocol import (
    DEFAULT_PREFIX,
    Alert,
    DetectionsMessage,
    ProtocolError,
    Rejected,
    SensorStatus,
    Threat,
    Topics,
    Track,
    TracksMessage,
    Velocity,
    decode,
    encode,
)
from fusion.threat import LEVELS, AlertEvent, AlertLog, Assessment, TrackGeo, assess
from fusion.tracking import STATUS_NAMES, Ended, Tracker, track_id
from fusion.tracking.classify import DRONE, LABELS, best_label

Array = NDArray[np.float64]

#: Protocol limits that a diverging estimate must not break when published.
_MAX_SPEED = 1000.0
_MIN_ALT, _MAX_ALT = -1000.0, 100_000.0
#: Protocol times must be positive; a rejection stamped with a bogus receipt time still goes out.
_MIN_TIME = 1e-3
#: Only this many characters of a topic are echoed in a rejection.
_MAX_TOPIC_ECHO = 1024


@dataclass(frozen=True)
class Outgoing:
    """One message to publish."""

    topic: str
    payload: bytes
    qos: int
    retain: bool = False


@dataclass(frozen=True)
class _Receipt:
    """How a buffered message arrived, to describe it if it is rejected later."""

    topic: str
    size: int
    received_at: float


@dataclass(frozen=True)
class _Geo:
    """Geodetic view of some track states: position and velocity in the local ENU at each track."""

    lat: Array
    lon: Array
    alt: Array
    velocity: Array

    def for_alerts(self) -> TrackGeo:
        heading = np.degrees(np.arctan2(self.velocity[:, 0], self.velocity[:, 1])) % 360.0
        return TrackGeo(self.lat, self.lon, heading, np.hypot(self.velocity[:, 0], self.velocity[:, 1]))


class FusionEngine:
    """Bytes in, bytes out: decode, reorder, track, assess, publish. Not thread-safe: one owner.

    ``stats`` counts: ``received`` inputs, ``rejected.<reason>``, ``status`` messages,
    ``scans`` (detections messages fused), ``detections`` fused, ``late`` (dropped as
    out of order), ``out_of_order`` (detections that matched a track newer than their
    scan), ``tracks`` started, ``confirmed``, ``tracks_messages``, ``alerts``, ``ignored``
    (valid messages of other types) and ``truncated`` (tracks messages cut to the size limit).
    """

    def __init__(self, config: FusionConfig | None = None, prefix: str = DEFAULT_PREFIX,
                 first_alert_number: int = 1) -> None:
        self.config = config or FusionConfig()
        self.topics = Topics(prefix)
        self.tracker = Tracker(self.config.tracker_params())
        self.threat_params = self.config.threat_params()
        self.alert_log = AlertLog(first_alert_number)
        origin = self.config.site_origin
        self.site: LocalFrame | None = None if origin is None else LocalFrame(origin.lat, origin.lon, origin.alt_m)
        self.stats: dict[str, int] = dict.fromkeys(
            ("received", "status", "scans", "detections", "late", "out_of_order", "tracks", "confirmed",
             "tracks_messages", "alerts", "ignored", "truncated"), 0)
        self._statuses: dict[str, SensorStatus] = {}
        self._buffer: list[tuple[float, int, DetectionsMessage, _Receipt]] = []
        self._arrivals = 0
        self._newest: float | None = None
        self._fusion_time: float | None = None
        self._next_k: int | None = None
        self._ended: list[str] = []
        self._last_scan_time: dict[str, float] = {}
        self._latest_tracks: TracksMessage | None = None

    # ------------------------------------------------------------------ inputs

    def handle(self, topic: str, payload: bytes, received_at: float) -> list[Outgoing]:
        """Take one received message; return what to publish because of it."""
        self.stats["received"] += 1
        try:
            msg = decode(topic, payload, self.topics, self.config.max_message_bytes)
        except ProtocolError as exc:
            return [self._reject(topic, len(payload), received_at, exc.reason, exc.detail, exc.sensor_id)]
        if isinstance(msg, SensorStatus):
            self._on_status(msg)
            return []
        if not isinstance(msg, DetectionsMessage):
            self.stats["ignored"] += 1
            return []
        if self._fusion_time is not None and msg.time < self._fusion_time:
            self.stats["late"] += 1
            return [self._reject(topic, len(payload), received_at, "out_of_order",
                                 f"message time {msg.time} is older than the fusion time {self._fusion_time}",
                                 msg.sensor_id)]
        self._adopt_site(msg)
        heapq.heappush(self._buffer, (msg.time, self._arrivals, msg, _Receipt(topic, len(payload), received_at)))
        self._arrivals += 1
        self._newest = msg.time if self._newest is None else max(self._newest, msg.time)
        cutoff = self._newest - self.config.reorder_window_s
        return self._drain(cutoff, cutoff)

    def flush(self) -> list[Outgoing]:
        """Process everything buffered and publish the tracks at the latest fusion time."""
        out = self._drain(math.inf, self._newest if self._newest is not None else -math.inf)
        if self._fusion_time is not None and (self._latest_tracks is None
                                              or self._latest_tracks.time < self._fusion_time):
            out += self._publish(self._fusion_time)
        return out

    # ----------------------------------------------------------------- queries

    @property
    def latest_tracks(self) -> TracksMessage | None:
        """The last tracks message published, if any."""
        return self._latest_tracks

    def sensor_statuses(self) -> list[SensorStatus]:
        """The latest status of every sensor, by sensor id."""
        return [self._statuses[k] for k in sorted(self._statuses)]

    # -------------------------------------------------------------- processing

    def _on_status(self, msg: SensorStatus) -> None:
        self.stats["status"] += 1
        known = self._statuses.get(msg.sensor_id)
        if known is None or msg.time >= known.time:
            self._statuses[msg.sensor_id] = msg
        if self.site is None and msg.origin is not None:
            self.site = LocalFrame(msg.origin.lat, msg.origin.lon, msg.origin.alt_m)

    def _adopt_site(self, msg: DetectionsMessage) -> None:
        """Without a configured origin, the site frame is at the first sensor (or Remote ID) position seen."""
        if self.site is not None:
            return
        places = [msg.origin] if msg.origin is not None else [d.position for d in msg.detections if d.position]
        if places:
            place = places[0]
            alt = place.alt_m if place.alt_m != UNKNOWN_ALTITUDE_M else 0.0
            self.site = LocalFrame(place.lat, place.lon, alt)

    def _drain(self, cutoff: float, publish_limit: float) -> list[Outgoing]:
        """Process buffered messages up to ``cutoff`` in time order, publishing tracks on the way."""
        out: list[Outgoing] = []
        while self._buffer and self._buffer[0][0] <= cutoff:
            t, _, msg, receipt = heapq.heappop(self._buffer)
            out += self._publish_due(t, inclusive=False)
            out += self._process(msg, receipt)
        out += self._publish_due(publish_limit, inclusive=True)
        return out

    def _process(self, msg: DetectionsMessage, receipt: _Receipt) -> list[Outgoing]:
        """One tracker step for one detections message, and the alerts it causes."""
        last = self._last_scan_time.get(msg.sensor_id)
        if last is not None and msg.time <= last:
            self.stats["late"] += 1
            return [self._reject(receipt.topic, receipt.size, receipt.received_at, "out_of_order",
                                 f"a scan at {msg.time} is not newer than this sensor's last one at {last}",
                                 msg.sensor_id)]
        self._last_scan_time[msg.sensor_id] = msg.time
        if self.site is None:
            return []
        if self._next_k is None:
            self._next_k = math.ceil(msg.time / self.config.publish_period_s)
        result = self.tracker.step(ingest(msg, self.site, self.config))
        self._fusion_time = msg.time if self._fusion_time is None else max(self._fusion_time, msg.time)
        self.stats["scans"] += 1
        self.stats["detections"] += len(msg.detections)
        self.stats["out_of_order"] += result.out_of_order
        self.stats["tracks"] += len(result.started)
        self.stats["confirmed"] += len(result.confirmed)
        return self._on_ended(result.ended) + self._new_threats(msg.time)

    def _on_ended(self, ended: Ended) -> list[Outgoing]:
        """Remember deleted tracks for the next tracks message; alert on lost threats."""
        self._ended.extend(ended.ids)
        if len(ended.numbers) == 0:
            return []
        geo = self._geo(ended.x)
        return self._alerts(self.alert_log.lost(ended.time, ended.numbers, geo.for_alerts()))

    def _new_threats(self, t: float) -> list[Outgoing]:
        tab = self.tracker.table
        rows = self.alert_log.pending_new_threats(tab.number, tab.status, self._assess())
        if len(rows) == 0:
            return []
        x, _ = self.tracker.predicted(t)
        return self._alerts(self.alert_log.new_threats(t, tab.number[rows], self._geo(x[rows]).for_alerts()))

    def _assess(self) -> Assessment:
        logp = self.tracker.table.label_logp
        label, label_p = best_label(logp)
        return assess(self.tracker.table.status, label, label_p, np.exp(logp[:, DRONE]), self.threat_params)

    # --------------------------------------------------------------- publishing

    def _publish_due(self, limit: float, inclusive: bool) -> list[Outgoing]:
        """Publish every grid time up to ``limit``; an idle stretch is skipped to its last grid time."""
        if self._next_k is None:
            return []
        period = self.config.publish_period_s
        last_k = math.floor(limit / period) if math.isfinite(limit) else self._next_k - 1
        if not inclusive and last_k * period >= limit:
            last_k -= 1
        idle = len(self.tracker.table) == 0 and not self._ended and (
            self._latest_tracks is not None and not self._latest_tracks.tracks)
        if idle and last_k > self._next_k:
            self._next_k = last_k
        out: list[Outgoing] = []
        while self._next_k <= last_k:
            out += self._publish(self._next_k * period)
            self._next_k += 1
        return out

    def _publish(self, t: float) -> list[Outgoing]:
        """Track management at ``t``, then the tracks message of time ``t``."""
        out = self._on_ended(self.tracker.maintain(t))
        self._fusion_time = t if self._fusion_time is None else max(self._fusion_time, t)
        tracks = self._tracks_at(t)
        message = TracksMessage(time=round(t, 6), tracks=tracks, ended=self._ended)
        payload = encode(message)
        if len(payload) > self.config.max_message_bytes:
            message, payload = self._shrink(message, len(payload))
        self._ended = []
        self._latest_tracks = message
        self.stats["tracks_messages"] += 1
        return [*out, Outgoing(self.topics.tracks, payload, qos=0)]

    def _shrink(self, message: TracksMessage, size: int) -> tuple[TracksMessage, bytes]:
        """Cut a too large tracks message: established tracks first, then by track number."""
        self.stats["truncated"] += 1
        ranked = sorted(message.tracks, key=lambda tr: (tr.status == "tentative", int(tr.track_id[2:])))
        keep = len(ranked) * self.config.max_message_bytes * 9 // (10 * size)
        while True:
            kept = sorted(ranked[:keep], key=lambda tr: int(tr.track_id[2:]))
            smaller = message.model_copy(update={"tracks": kept})
            payload = encode(smaller)
            if len(payload) <= self.config.max_message_bytes or keep == 0:
                return smaller, payload
            keep = keep * 9 // 10

    def _tracks_at(self, t: float) -> list[Track]:
        """Every track predicted to ``t`` as protocol models, in track-number order."""
        tab = self.tracker.table
        if len(tab) == 0:
            return []
        x, p = self.tracker.predicted(t)
        geo = self._geo(x)
        sigma = np.sqrt(np.trace(p[:, :3, :3], axis1=1, axis2=2))
        label, label_p = best_label(tab.label_logp)
        threat = self._assess()
        velocity = np.clip(geo.velocity, -_MAX_SPEED, _MAX_SPEED)
        alt = np.clip(geo.alt, _MIN_ALT, _MAX_ALT)
        recent = self.tracker.params.sensor_recent_s
        return [
            Track(
                track_id=track_id(tab.number[i]), status=STATUS_NAMES[tab.status[i]],
                lat=round(float(geo.lat[i]), 7), lon=round(float(geo.lon[i]), 7), alt_m=round(float(alt[i]), 1),
                velocity=Velocity(east_mps=round(float(velocity[i, 0]), 2), north_mps=round(float(velocity[i, 1]), 2),
                                  up_mps=round(float(velocity[i, 2]), 2)),
                position_sigma_m=round(float(min(sigma[i], 1e8)), 1),
                label=LABELS[label[i]], label_p=round(float(label_p[i]), 3),
                sensors=tab.recent_sensors(i, t, recent),
                threat=Threat(level=LEVELS[threat.level[i]], score=round(float(threat.score[i]), 3)),
                first_seen=round(float(tab.first_seen[i]), 6), last_update=round(float(tab.t[i]), 6),
            )
            for i in range(len(tab))
        ]

    def _geo(self, x: Array) -> _Geo:
        """Geodetic position and local-ENU velocity of site-ENU states (k, 6), exactly rotated at each track."""
        assert self.site is not None
        lat, lon, alt = self.site.to_geodetic(x[:, :3])
        ecef_v = x[:, 3:] @ self.site.rotation
        velocity = np.einsum("nij,nj->ni", enu_rotations(lat, lon), ecef_v)
        return _Geo(lat, lon, alt, velocity)

    def _alerts(self, events: list[AlertEvent]) -> list[Outgoing]:
        self.stats["alerts"] += len(events)
        return [Outgoing(self.topics.alerts, encode(Alert(
            alert_id=e.alert_id, time=round(e.time, 6), kind=e.kind, level=e.level, track_id=e.track_id,
            lat=round(e.lat, 7), lon=round(e.lon, 7), message=e.message)), qos=1) for e in events]

    def _reject(self, topic: str, size: int, received_at: float, reason: str, detail: str,
                sensor_id: str | None) -> Outgoing:
        """A ``rejected`` message for an input, counted under ``rejected.<reason>``."""
        key = f"rejected.{reason}"
        self.stats[key] = self.stats.get(key, 0) + 1
        fields = {"time": max(received_at, _MIN_TIME), "topic": topic[:_MAX_TOPIC_ECHO], "reason": reason,
                  "detail": detail[:1000], "size_bytes": size}
        try:
            message = Rejected.model_validate({**fields, "sensor_id": sensor_id})
        except ValueError:  # a sensor id that is not a valid identifier is not echoed
            message = Rejected.model_validate(fields)
        return Outgoing(self.topics.rejected, encode(message), qos=0)
