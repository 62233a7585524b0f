"""Recordings: JSON Lines of ``{"t", "topic", "payload"}``, gzip when the name ends in ``.gz``."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from fusion.protocol.codec import DEFAULT_MAX_BYTES, ProtocolError, load_json


@dataclass(frozen=True, slots=True)
class RecordLine:
    """One recorded message: publication time, topic and the raw JSON payload."""

    t: float
    topic: str
    payload: bytes


class RecordingError(ValueError):
    """A recording line that is not ``{"t": number, "topic": string, "payload": object}``."""

    def __init__(self, path: str, line_no: int, detail: str) -> None:
        super().__init__(f"{path}:{line_no}: {detail}")
        self.line_no = line_no


def _open(path: Path, mode: str) -> IO[bytes]:
    if path.suffix == ".gz":
        if mode == "w":
            # mtime=0: the same messages give the same bytes, whenever they are written.
            return _GzipWriter(path)  # type: ignore[return-value]
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, mode + "b")


class _GzipWriter(gzip.GzipFile):
    """A gzip file without a name or time in its header, which also closes the file under it."""

    def __init__(self, path: Path) -> None:
        self._raw = open(path, "wb")
        super().__init__(filename="", mode="wb", compresslevel=6, fileobj=self._raw, mtime=0)

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._raw.close()


#: How a line written by ``RecordingWriter`` starts, and what separates its fields.
_HEAD, _TOPIC, _PAYLOAD = b'{"t":', b',"topic":', b',"payload":'


def _split_canonical(line: bytes) -> RecordLine | None:
    """A line exactly as ``RecordingWriter`` writes it, split without re-serialising; None if it is not one.

    The payload is the line's own bytes, so that a recording can be replayed (and recorded
    again) byte for byte. Every part is still parsed, so a bad line is never let through.
    """
    body = line.rstrip(b"\r\n")
    if not body.startswith(_HEAD) or not body.endswith(b"}"):
        return None
    t_end = body.find(_TOPIC)
    p_start = body.find(_PAYLOAD, t_end + 1) if t_end > 0 else -1
    if p_start < 0:
        return None
    try:
        t = orjson.loads(body[len(_HEAD):t_end])
        topic_text = body[t_end + len(_TOPIC):p_start]
        topic = orjson.loads(topic_text)
        payload = body[p_start + len(_PAYLOAD):-1]
        parsed = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if (isinstance(t, bool) or not isinstance(t, (int, float)) or not isinstance(topic, str)
            or orjson.dumps(topic) != topic_text or not isinstance(parsed, dict)):
        return None
    return RecordLine(float(t), topic, payload)


def read_recording(path: str | Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[RecordLine | RecordingError]:
    """Yield each line of a recording in file order; a bad line is yielded as a RecordingError.

    A line as ``RecordingWriter`` writes it keeps its payload's exact bytes; any other valid
    line has its payload re-serialised compactly, so that either can be handled exactly like
    an MQTT payload (size limit, validation) by the same code. A gzip file cut short (a
    recorder that crashed) yields its complete lines, then an error for the truncation.
    """
    path = Path(path)
    line_no = 0
    with _open(path, "r") as raw:
        try:
            for line_no, line in enumerate(_lines(raw), start=1):
                if line.strip():
                    yield _parse_line(str(path), line_no, line, max_bytes)
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            yield RecordingError(str(path), line_no + 1, f"the file is cut short or corrupt ({exc})")


def _lines(raw: IO[bytes], chunk: int = 1 << 20) -> Iterator[bytes]:
    """The lines of a file, read in chunks, so that every complete line before a truncated gzip end comes out.

    (A buffered ``readline`` over gzip loses the lines it had buffered when the end is missing.)
    """
    rest = b""
    while True:
        data = raw.read1(chunk) if hasattr(raw, "read1") else raw.read(chunk)
        if not data:
            break
        lines = (rest + data).split(b"\n")
        rest = lines.pop()
        yield from lines
    if rest:
        yield rest


def _parse_line(path: str, line_no: int, line: bytes, max_bytes: int) -> RecordLine | RecordingError:
    """One non-blank line: the canonical fast path, else a full parse."""
    limit = max_bytes + 4096
    if len(line) <= limit:
        canonical = _split_canonical(line)
        if canonical is not None:
            return canonical
    try:
        obj = load_json(line, limit)
    except ProtocolError as exc:
        return RecordingError(path, line_no, exc.detail)
    t, topic, payload = obj.get("t"), obj.get("topic"), obj.get("payload")
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not isinstance(topic, str):
        return RecordingError(path, line_no, "needs a numeric 't' and a string 'topic'")
    if not isinstance(payload, dict):
        return RecordingError(path, line_no, "'payload' must be a JSON object")
    return RecordLine(float(t), topic, orjson.dumps(payload))


class RecordingWriter:
    """Appends messages to a recording; ``flush`` makes them durable."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = _open(self.path, "w")
        self.count = 0
        self.size = 0  # bytes of JSON Lines written (before any compression)

    def write(self, t: float, topic: str, payload: bytes | dict[str, Any]) -> None:
        """Write one message; ``payload`` is wire JSON bytes (one object) or a dict."""
        body = orjson.dumps(payload) if isinstance(payload, dict) else payload
        if b"\n" in body or b"\r" in body:
            body = orjson.dumps(orjson.loads(body))
        line = _HEAD + orjson.dumps(round(t, 6)) + _TOPIC + orjson.dumps(topic) + _PAYLOAD + body + b"}\n"
        self._file.write(line)
        self.count += 1
        self.size += len(line)

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
