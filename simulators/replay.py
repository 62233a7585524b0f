"""``sargas replay``: republish a recording with its original relative timing, or faster.

Payloads are published as recorded, byte for byte, unless ``rebase_time`` asks for their
``time`` to be moved to now, which goes through ``fusion.protocol`` (decode, copy with the
new time, encode) like any message Sargas writes.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fusion.mqttlink import Outbox, connect, new_client
from fusion.protocol import (
    ProtocolError,
    RecordingError,
    RecordLine,
    encode,
    load_json,
    read_recording,
    validate,
)
from fusion.protocol.topics import split_prefix

log = logging.getLogger(__name__)

#: With ``loop`` and ``rebase_time``, each pass's times start at least this long after the previous pass's.
PASS_GAP_S = 1.0


@dataclass(frozen=True)
class Window:
    """Which part of a recording to play: seconds from its first line (None: from the start, to the end)."""

    start_s: float | None = None
    end_s: float | None = None

    def lines(self, path: Path, skipped: list[RecordingError]) -> Iterator[RecordLine]:
        """The good lines inside the window, in file order; bad lines are appended to ``skipped``."""
        first_t: float | None = None
        for entry in read_recording(path):
            if isinstance(entry, RecordingError):
                skipped.append(entry)
                log.warning("skipped %s", entry)
                continue
            first_t = entry.t if first_t is None else first_t
            offset = entry.t - first_t
            if self.start_s is not None and offset < self.start_s:
                continue
            if self.end_s is not None and offset > self.end_s:
                break
            yield entry


@dataclass
class ReplayStats:
    """What a replay did: messages sent, wall time, recording time covered, and how late each message left."""

    sent: int = 0
    passes: int = 0
    wall_s: float = 0.0
    span_s: float = 0.0
    lateness_s: list[float] = field(default_factory=list)
    skipped: list[RecordingError] = field(default_factory=list)
    not_rebased: int = 0

    def lateness_ms(self, percentile: float) -> float:
        """A percentile of how late messages were published against their schedule, ms (NaN at ``max``)."""
        return float(np.percentile(self.lateness_s, percentile) * 1000.0) if self.lateness_s else math.nan

    def summary(self) -> str:
        """One line: messages, duration, effective speed, timing error."""
        speed = self.span_s / self.wall_s if self.wall_s > 0 else math.inf
        timing = (f"timing error p50 {self.lateness_ms(50):.1f} ms, p99 {self.lateness_ms(99):.1f} ms"
                  if self.lateness_s else "no pacing (as fast as possible)")
        extra = f", {len(self.skipped)} bad lines skipped" if self.skipped else ""
        extra += f", {self.not_rebased} messages not rebased (invalid)" if self.not_rebased else ""
        return (f"replayed {self.sent} messages ({self.passes} pass{'es' if self.passes != 1 else ''}) "
                f"in {self.wall_s:.1f} s covering {self.span_s:.1f} s of recording: {speed:.1f}× real time, "
                f"{timing}{extra}")


def rebase(payload: bytes, shift_s: float) -> bytes:
    """The message with its ``time`` moved by ``shift_s``, decoded and re-encoded by ``fusion.protocol``.

    Raises ProtocolError if the payload is not a valid protocol message.
    """
    message = validate(load_json(payload))
    return encode(message.model_copy(update={"time": round(message.time + shift_s, 6)}))


def replay_recording(path: Path, broker_url: str, speed: float, stop: threading.Event,
                     prefix: str | None = None, *, loop: bool = False, window: Window = Window(),
                     rebase_time: bool = False, progress: Callable[[float], None] | None = None) -> ReplayStats:
    """Publish the lines of ``path`` at QoS 1, paced by their ``t`` divided by ``speed``; return statistics.

    ``speed`` may be ``math.inf`` (as fast as possible). ``prefix`` replaces the topic
    prefix the recording was made under, when given. ``window`` selects a part of the
    recording; ``loop`` plays it again until ``stop``. With ``rebase_time`` every message's
    ``time`` is shifted so that the window's first line is now (each further pass later
    still, so that times never go back); otherwise payloads are sent byte for byte.
    ``progress`` is called after each message with the seconds of recording covered so far.
    """
    client = new_client()
    connect(client, broker_url)
    outbox = Outbox(client)
    stats = ReplayStats()
    started = time.monotonic()
    shift, pass_span = -math.inf, 0.0
    try:
        while not stop.is_set():
            start_wall, first_t, last_t = 0.0, None, None
            for entry in window.lines(path, stats.skipped if stats.passes == 0 else []):
                if first_t is None:  # the schedule starts once the first line is read, not before
                    start_wall, first_t = time.monotonic(), entry.t
                    shift = max(time.time() - first_t, shift + pass_span + PASS_GAP_S)
                due = start_wall + (entry.t - first_t) / speed if math.isfinite(speed) else -math.inf
                if due > time.monotonic() and stop.wait(due - time.monotonic()) or stop.is_set():
                    break
                _publish(outbox, entry, prefix, shift if rebase_time else None, stats)
                if math.isfinite(due):
                    stats.lateness_s.append(time.monotonic() - due)
                last_t = entry.t
                if progress is not None:
                    progress(entry.t - first_t)
            pass_span = 0.0 if first_t is None or last_t is None else last_t - first_t
            stats.span_s += pass_span
            stats.passes += 1
            if not loop or stats.sent == 0:
                break
    finally:
        if not outbox.wait():
            log.warning("the broker did not acknowledge every message before the replay ended")
        client.disconnect()
        client.loop_stop()
        stats.wall_s = time.monotonic() - started
    return stats


def _publish(outbox: Outbox, entry: RecordLine, prefix: str | None, shift: float | None, stats: ReplayStats) -> None:
    """Publish one line at QoS 1, not retained: under ``prefix`` if given, its time moved by ``shift`` if given.

    QoS 1 for every topic is at least what the protocol asks of each; statuses are not retained
    because a replay has no last will to clear them when it ends.
    """
    payload = entry.payload
    if shift is not None:
        try:
            payload = rebase(payload, shift)
        except ProtocolError:
            stats.not_rebased += 1
    outbox.publish(entry.topic if prefix is None else f"{prefix}/{split_prefix(entry.topic)[1]}", payload, qos=1)
    stats.sent += 1


def recording_span(path: Path, window: Window = Window()) -> float:
    """Seconds of recording inside ``window`` (one read of the file): the length of a progress bar."""
    first = last = None
    for entry in window.lines(path, []):
        first = entry.t if first is None else first
        last = entry.t
    return 0.0 if first is None or last is None else last - first
