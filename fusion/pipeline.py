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
   the previous one, and at once, at the message's time, when a message off the grid confirms
   a track or raises an alert about one (after the other messages of that time, one tracks
   message per time): operators see a new confirmed track, and the track that an alert names
   in the state the alert gives, at once, not up to a period later.

Fusion time only ever comes from the messages, so the same input gives the same bytes.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from fusion.config import FusionConfig
from fusion.geo import LocalFrame
from fusion.ingest import UNKNOWN_ALTITUDE_M, enu_rotations, ingest
from fusion.protocol import (
    DEFAULT_PREFIX,
    Alert,
    DetectionsMessage,
    Position,
    ProtocolError,
    Rejected,
    SensorStatus,
    Strobe,
    Topics,
    TracksMessage,
    decode,
    encode,
    encode_tracks,
    load_json,
    validate,
)
from fusion.threat import LEVELS, AlertEvent, ThreatMonitor, TrackGeo
from fusion.tracking import STATUS_NAMES, Ended, Tracker
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


class _Receipt(NamedTuple):
    """How a buffered message arrived, to describe it if it is rejected later (a tuple: one per message, and a
    frozen dataclass costs more to build)."""

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
        self.threat = ThreatMonitor(self.config.threat_params(), self.config.zones(), first_alert_number)
        origin = self.config.site_origin
        self.site: LocalFrame | None = None if origin is None else LocalFrame(origin.lat, origin.lon, origin.alt_m)
        self.stats: dict[str, int] = dict.fromkeys(
            ("received", "status", "scans", "detections", "late", "duplicate", "out_of_order", "tracks", "confirmed",
             "tracks_messages", "alerts", "ignored", "truncated"), 0)
        self._statuses: dict[str, SensorStatus] = {}
        #: Each sensor's last stated scan period (a later status without one, say its last will, keeps it).
        self._periods: dict[str, float] = {}
        self._buffer: list[tuple[float, int, DetectionsMessage, _Receipt]] = []
        self._arrivals = 0
        self._newest: float | None = None
        self._fusion_time: float | None = None
        self._next_k: int | None = None
        self._ended: list[str] = []
        self._last_scan: dict[str, tuple[float, int]] = {}  # sensor → (time, seq) of its last scan
        #: Time, track count and payload of the last tracks message published.
        self._latest_tracks: tuple[float, int, bytes] | None = None
        #: Fusion time of a message off the grid that confirmed a track or raised an alert about one, whose tracks
        #: message waits until every message of that time is processed (``_show``).
        self._show_at: float | None = None

    # ------------------------------------------------------------------ inputs

    def handle(self, topic: str, payload: bytes, received_at: float) -> list[Outgoing]:
        """Take one received message; return what to publish because of it."""
        self.stats["received"] += 1
        try:
            msg = decode(topic, payload, self.topics, self.config.max_message_bytes)
        except ProtocolError as exc:
            return [self._reject(topic, len(payload), received_at, exc.reason, exc.detail, exc.sensor_id)]
        if isinstance(msg, SensorStatus):
            return self._on_status(msg)
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
                                              or self._latest_tracks[0] < self._fusion_time):
            out += self._publish(self._fusion_time)
        return out

    # ----------------------------------------------------------------- queries

    @property
    def latest_tracks(self) -> TracksMessage | None:
        """The last tracks message published, if any (validated from its bytes on demand)."""
        if self._latest_tracks is None:
            return None
        message = validate(load_json(self._latest_tracks[2], len(self._latest_tracks[2])), "sargas.tracks/1")
        assert isinstance(message, TracksMessage)
        return message

    def sensor_statuses(self) -> list[SensorStatus]:
        """The latest status of every sensor, by sensor id."""
        return [self._statuses[k] for k in sorted(self._statuses)]

    # -------------------------------------------------------------- processing

    def _on_status(self, msg: SensorStatus) -> list[Outgoing]:
        """Keep the newest status of each sensor; a last will (offline) raises ``sensor_offline``."""
        self.stats["status"] += 1
        if self.site is None and msg.origin is not None:
            self.site = LocalFrame(msg.origin.lat, msg.origin.lon, msg.origin.alt_m)
        known = self._statuses.get(msg.sensor_id)
        # A last will is composed when the sensor connects, so its time is older than the
        # heartbeats before it: an offline status counts whatever its time.
        if known is not None and msg.time < known.time and msg.state != "offline":
            return []
        self._statuses[msg.sensor_id] = msg
        if msg.scan_period_s is not None:
            self._periods[msg.sensor_id] = msg.scan_period_s
        when = msg.time if known is None else max(msg.time, known.time)
        place = None if msg.origin is None else (msg.origin.lat, msg.origin.lon)
        return self._alerts(self.threat.sensor_status(msg.sensor_id, msg.state, when, place))

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
            if t != self._show_at:
                out += self._show()
            out += self._publish_due(t, inclusive=False)
            out += self._process(msg, receipt)
        out += self._show()
        out += self._publish_due(publish_limit, inclusive=True)
        return out

    def _process(self, msg: DetectionsMessage, receipt: _Receipt) -> list[Outgoing]:
        """One tracker step for one detections message, and the alerts it causes."""
        last, last_seq = self._last_scan.get(msg.sensor_id, (None, None))
        if last is not None and msg.time == last and msg.seq == last_seq:
            self.stats["duplicate"] += 1  # an MQTT QoS 1 redelivery: already used
            return []
        if last is not None and msg.time < last:
            self.stats["late"] += 1
            return [self._reject(receipt.topic, receipt.size, receipt.received_at, "out_of_order",
                                 f"a scan at {msg.time} is older than this sensor's last one at {last}",
                                 msg.sensor_id)]
        self._last_scan[msg.sensor_id] = (msg.time, msg.seq)
        if self.site is None:
            return []
        if self._next_k is None:
            self._next_k = math.ceil(msg.time / self.config.publish_period_s)
        status = self._statuses.get(msg.sensor_id)
        coverage = None if status is None else status.coverage
        max_range = math.inf if coverage is None or coverage.max_range_m is None else coverage.max_range_m
        result = self.tracker.step(ingest(msg, self.site, self.config, max_range, self._periods.get(msg.sensor_id)))
        self._fusion_time = msg.time if self._fusion_time is None else max(self._fusion_time, msg.time)
        self.stats["scans"] += 1
        self.stats["detections"] += len(msg.detections)
        self.stats["out_of_order"] += result.out_of_order
        self.stats["tracks"] += len(result.started)
        self.stats["confirmed"] += len(result.confirmed)
        events = self._on_ended(result.ended) + self._threat_step(msg.time)
        # On a grid time the grid's own message follows in this drain (``_drain`` publishes up to the scan's time).
        on_grid = msg.time == self._next_k * self.config.publish_period_s
        if (result.confirmed or any(e.track_id is not None for e in events)) and not on_grid:
            self._show_at = msg.time
        return self._alerts(events)

    def _on_ended(self, ended: Ended) -> list[AlertEvent]:
        """Remember ended tracks for the next tracks message; the alerts on lost threats. A track merged into
        another was a duplicate: its target lives on in the survivor, which inherits its alerts."""
        if len(ended.numbers) == 0:
            return []
        self._ended.extend(ended.ids)
        merged = ended.merged_into > 0
        if merged.any():
            self.threat.merged(ended.numbers[merged], ended.merged_into[merged])
        lost = np.flatnonzero(~merged)
        return self.threat.lost(ended.time, ended.numbers[lost],
                                lambda rows: self._geo(ended.x[lost[rows]]).for_alerts())

    def _threat_step(self, t: float) -> list[AlertEvent]:
        """Threat assessment of every track at fusion time ``t``, and missed sensor heartbeats: their alerts.

        States are carried to ``t`` at constant velocity (scoring needs positions, not covariances:
        a full filter prediction of every track at every scan cost more than the scoring itself).
        """
        tab = self.tracker.table
        events = self.threat.heartbeats(t)
        if len(tab) and self.site is not None:
            x = tab.x.copy()
            x[:, :3] += tab.x[:, 3:] * (t - tab.t)[:, None]
            events += self.threat.assess(t, self.site, tab.number, tab.status, np.exp(tab.shown_logp[:, DRONE]), x,
                                         lambda rows: self._geo(x[rows]).for_alerts())
        return events

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
            self._latest_tracks is not None and not self._latest_tracks[1])
        if idle and last_k > self._next_k:
            self._next_k = last_k
        out: list[Outgoing] = []
        while self._next_k <= last_k:
            out += self._publish(self._next_k * period)
            self._next_k += 1
        return out

    def _publish(self, t: float) -> list[Outgoing]:
        """Track management at ``t``, then the tracks message of time ``t``."""
        out = self._alerts(self._on_ended(self.tracker.maintain(t)) + self._threat_step(t))
        self._fusion_time = t if self._fusion_time is None else max(self._fusion_time, t)
        return out + self._tracks_message(t)

    def _show(self) -> list[Outgoing]:
        """The tracks message of ``_show_at``, once the messages of that time are processed: one message per time,
        none if a tracks message of that time went out already. A scan fused after its time's message (stamped with
        a grid time and arriving after that message, or released late by the reorder window, or after an idle
        ``flush``) shows what it changed in the next tracks message, at most a period later; its alerts go out at
        once all the same."""
        t, self._show_at = self._show_at, None
        if t is None or (self._latest_tracks is not None and self._latest_tracks[0] >= t):
            return []
        return self._tracks_message(t)

    def _tracks_message(self, t: float) -> list[Outgoing]:
        """The tracks message of fusion time ``t`` (tracks managed and assessed at ``t`` already)."""
        tracks, strobes = self._tracks_at(t), self._strobes_at(t)
        payload = encode_tracks(round(t, 6), tracks, self._ended, strobes)
        if len(payload) > self.config.max_message_bytes:
            tracks, payload = self._shrink(round(t, 6), tracks, strobes, len(payload))
        self._ended = []
        self._latest_tracks = (t, len(tracks), payload)
        self.stats["tracks_messages"] += 1
        return [Outgoing(self.topics.tracks, payload, qos=0)]

    def _shrink(self, time: float, tracks: list[dict[str, Any]], strobes: list[Strobe],
                size: int) -> tuple[list[dict[str, Any]], bytes]:
        """Cut a too large tracks message: established tracks first, then by track number."""
        self.stats["truncated"] += 1
        ranked = sorted(tracks, key=lambda tr: (tr["status"] == "tentative", int(tr["track_id"][2:])))
        keep = len(ranked) * self.config.max_message_bytes * 9 // (10 * size)
        while True:
            kept = sorted(ranked[:keep], key=lambda tr: int(tr["track_id"][2:]))
            payload = encode_tracks(time, kept, self._ended, strobes)
            if len(payload) <= self.config.max_message_bytes or keep == 0:
                return kept, payload
            keep = keep * 9 // 10

    def _tracks_at(self, t: float) -> list[dict[str, Any]]:
        """Every track predicted to ``t`` in wire form (``Track`` fields in model order), in track-number order.

        Built column-wise from the arrays (rounded with numpy, kept inside the protocol's ranges
        by clipping) and encoded by ``encode_tracks``, because validating a pydantic ``Track``
        per row cost more than the tracking itself.
        """
        tab = self.tracker.table
        if len(tab) == 0:
            return []
        x, position_var = self.tracker.predicted_position_spread(t)
        geo = self._geo(x)
        sigma = np.minimum(np.sqrt(position_var), 1e8)
        label, label_p = best_label(tab.shown_logp)
        threat = self.threat.current(tab.number)
        zone_names = (*threat.zone_names, None)  # zone -1 (none) is the last, None
        # ndarray.round and np.minimum(np.maximum(...)) are np.round and np.clip without their Python wrappers.
        east, north, up = np.minimum(np.maximum(geo.velocity, -_MAX_SPEED), _MAX_SPEED).round(2).T.tolist()
        columns = zip(
            tab.ids, tab.status.tolist(), geo.lat.round(7).tolist(),
            geo.lon.round(7).tolist(), np.minimum(np.maximum(geo.alt, _MIN_ALT), _MAX_ALT).round(1).tolist(),
            east, north, up, sigma.round(1).tolist(), label.tolist(), label_p.round(3).tolist(),
            tab.recent_sensor_lists(t, self.tracker.params.sensor_recent_s), threat.level.tolist(),
            threat.score.round(3).tolist(), threat.zone.tolist(), tab.first_seen.round(6).tolist(),
            tab.t.round(6).tolist(), strict=True)
        return [
            {"track_id": ident, "status": STATUS_NAMES[status], "lat": lat, "lon": lon, "alt_m": alt,
             "velocity": {"east_mps": ve, "north_mps": vn, "up_mps": vu}, "position_sigma_m": sig,
             "label": LABELS[lab], "label_p": lab_p, "sensors": sensors,
             "threat": {"level": LEVELS[level], "score": score, "zone": zone_names[zone]},
             "first_seen": first, "last_update": last}
            for (ident, status, lat, lon, alt, ve, vn, vu, sig, lab, lab_p, sensors, level, score, zone, first, last)
            in columns
        ]

    def _strobes_at(self, t: float) -> list[Strobe]:
        """The tracker's current strobes (bearings that cross nothing) as protocol models."""
        view = self.tracker.strobes(t)
        if len(view.time) == 0:
            return []
        assert self.site is not None
        lat, lon, alt = self.site.to_geodetic(view.origin)
        label, label_p = best_label(view.label_logp)
        names = self.tracker.table.sensor_ids
        return [
            Strobe(sensor_id=names[view.sensor[i]], time=round(float(view.time[i]), 6),
                   origin=Position(lat=round(float(lat[i]), 7), lon=round(float(lon[i]), 7),
                                   alt_m=round(float(alt[i]), 1)),
                   azimuth_deg=round(float(np.degrees(view.az[i])) % 360.0, 3) % 360.0,
                   elevation_deg=round(float(np.degrees(view.el[i])), 3) if view.has_el[i] else None,
                   sigma_deg=round(float(np.degrees(view.sigma_az[i])), 3),
                   label=LABELS[label[i]], label_p=round(float(label_p[i]), 3))
            for i in range(len(view.time))
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
            sensor_id=e.sensor_id, zone=e.zone, lat=None if e.lat is None else round(e.lat, 7),
            lon=None if e.lon is None else round(e.lon, 7), message=e.message)), qos=1) for e in events]

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
