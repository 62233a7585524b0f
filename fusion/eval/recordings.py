"""Recordings → evaluation arrays, through ``fusion.protocol`` only.

A scenario recording gives the truth (``sargas.truth/1``), the sensors' coverage
(``sargas.sensor_status/1``), the detections and, from them, when each object was first
detected. A tracks recording (``sargas.tracks/1``, e.g. from ``sargas fuse``) gives the
estimates: confirmed and coasting tracks, never tentative ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fusion.eval.data import Coverage, Detected, EstimateFrame, Estimates, Truth
from fusion.geo import LocalFrame
from fusion.protocol import (
    DetectionsMessage,
    Message,
    ProtocolError,
    RecordingError,
    SensorStatus,
    TracksMessage,
    TruthMessage,
    load_json,
    read_recording,
    validate,
)

#: Track statuses that count as the tracker's estimate (tentative tracks are not shown to operators).
ESTABLISHED = ("confirmed", "coasting")


@dataclass(frozen=True)
class ScenarioRecording:
    """Everything an evaluation needs from a scenario recording."""

    truth: Truth
    coverage: Coverage
    detected: Detected
    detections: list[DetectionsMessage]
    statuses: dict[str, SensorStatus]


def messages(path: str | Path) -> Iterator[Message]:
    """Every valid protocol message of a recording, in file order; bad lines are skipped."""
    for entry in read_recording(path):
        if isinstance(entry, RecordingError):
            continue
        try:
            yield validate(load_json(entry.payload))
        except ProtocolError:
            continue


def _frame(statuses: dict[str, SensorStatus], detections: list[DetectionsMessage],
           truths: list[TruthMessage]) -> LocalFrame:
    """The site frame as Sargas picks it: the first sensor origin seen, else the first truth object."""
    for origin in [s.origin for s in statuses.values()] + [d.origin for d in detections]:
        if origin is not None:
            return LocalFrame(origin.lat, origin.lon, origin.alt_m)
    for msg in truths:
        for obj in msg.objects:
            return LocalFrame(obj.lat, obj.lon, obj.alt_m)
    return LocalFrame(0.0, 0.0, 0.0)


def truth_arrays(truths: list[TruthMessage], frame: LocalFrame) -> Truth:
    """Truth messages as a (time, object, xyz) array in ``frame``, NaN where an object is absent."""
    truths = sorted(truths, key=lambda m: m.time)
    ids: dict[str, int] = {}
    labels: list[str] = []
    for msg in truths:
        for obj in msg.objects:
            if obj.id not in ids:
                ids[obj.id] = len(ids)
                labels.append(obj.label)
    pos = np.full((len(truths), len(ids), 3), np.nan)
    for k, msg in enumerate(truths):
        if msg.objects:
            cols = [ids[o.id] for o in msg.objects]
            pos[k, cols] = frame.from_geodetic([o.lat for o in msg.objects], [o.lon for o in msg.objects],
                                               [o.alt_m for o in msg.objects])
    return Truth(frame, tuple(ids), tuple(labels), np.array([m.time for m in truths]), pos)


def coverage_of(statuses: dict[str, SensorStatus], frame: LocalFrame) -> Coverage:
    """The coverage volumes the sensors announce (a sensor without origin or range is left out)."""
    origins, ranges, az_min, az_max = [], [], [], []
    for _, status in sorted(statuses.items()):
        origin, cov = status.origin, status.coverage
        if origin is None or cov is None or cov.max_range_m is None:
            continue
        origins.append(frame.from_geodetic(origin.lat, origin.lon, origin.alt_m))
        ranges.append(cov.max_range_m)
        az_min.append(cov.azimuth_min_deg or 0.0)
        az_max.append(360.0 if cov.azimuth_max_deg is None else cov.azimuth_max_deg)
    return Coverage(np.array(origins).reshape(-1, 3), np.array(ranges), np.array(az_min), np.array(az_max))


def first_detections(detections: list[DetectionsMessage], truth: Truth, coverage: Coverage) -> Detected:
    """When each object was first detected (exact with ``truth_id``) and first seen by a second sensor.

    Without ``truth_id`` on any detection, the first truth time inside any sensor's coverage
    stands in for the first detection, and the two-sensor times are unknown.
    """
    seen: dict[str, dict[str, float]] = {}
    for msg in sorted(detections, key=lambda m: m.time):
        for det in msg.detections:
            if det.truth_id is not None:
                seen.setdefault(det.truth_id, {}).setdefault(msg.sensor_id, msg.time)
    if seen:
        result = Detected("truth_id")
        for ident, by_sensor in seen.items():
            times = sorted(by_sensor.values())
            result.first[ident] = times[0]
            if len(times) > 1:
                result.second_sensor[ident] = times[1]
        return result
    result = Detected("coverage")
    for i, ident in enumerate(truth.ids):
        present = ~np.isnan(truth.pos[:, i, 0])
        inside = np.zeros(len(truth.times), dtype=bool)
        inside[present] = coverage.contains(truth.pos[present, i])
        if inside.any():
            result.first[ident] = float(truth.times[np.argmax(inside)])
    return result


def read_scenario(path: str | Path) -> ScenarioRecording:
    """Truth, coverage, detections and first-detection times of a scenario recording."""
    truths: list[TruthMessage] = []
    detections: list[DetectionsMessage] = []
    statuses: dict[str, SensorStatus] = {}
    for msg in messages(path):
        if isinstance(msg, TruthMessage):
            truths.append(msg)
        elif isinstance(msg, DetectionsMessage):
            detections.append(msg)
        elif isinstance(msg, SensorStatus) and msg.sensor_id not in statuses:
            statuses[msg.sensor_id] = msg
    frame = _frame(statuses, detections, truths)
    truth = truth_arrays(truths, frame)
    coverage = coverage_of(statuses, frame)
    return ScenarioRecording(truth, coverage, first_detections(detections, truth, coverage), detections, statuses)


def estimates_of(tracks: list[TracksMessage], frame: LocalFrame) -> Estimates:
    """Tracks messages as estimate frames in ``frame``: established tracks only, in time order."""
    frames = []
    for msg in sorted(tracks, key=lambda m: m.time):
        kept = [t for t in msg.tracks if t.status in ESTABLISHED]
        pos = frame.from_geodetic([t.lat for t in kept], [t.lon for t in kept], [t.alt_m for t in kept])
        frames.append(EstimateFrame(msg.time, tuple(t.track_id for t in kept), np.asarray(pos).reshape(-1, 3),
                                    tuple(t.label for t in kept)))
    return Estimates(frames)


def read_tracks(path: str | Path, frame: LocalFrame) -> Estimates:
    """The estimates in a recording of ``sargas.tracks/1`` messages (other messages are ignored)."""
    return estimates_of([m for m in messages(path) if isinstance(m, TracksMessage)], frame)
