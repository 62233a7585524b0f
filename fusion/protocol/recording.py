"""Recordings: JSON Lines of ``{"t", "topic", "payload"}``, gzip when the name ends in ``.gz``."""

from __future__ import annotations

import gzip
import io
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
            return gzip.GzipFile(filename="", mode="wb", compresslevel=6, fileobj=open(path, "wb"), mtime=0)
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, mode + "b")


def read_recording(path: str | Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[RecordLine | RecordingError]:
    """Yield each line of a recording in file order; a bad line is yielded as a RecordingError.

    The payload is re-serialised compactly so that it can be handled exactly like an
    MQTT payload (size limit, validation) by the same code.
    """
    path = Path(path)
    with _open(path, "r") as raw:
        for line_no, line in enumerate(io.BufferedReader(raw), start=1):  # type: ignore[arg-type]
            if not line.strip():
                continue
            try:
                obj = load_json(line, max_bytes + 4096)
            except ProtocolError as exc:
                yield RecordingError(str(path), line_no, exc.detail)
                continue
            t, topic, payload = obj.get("t"), obj.get("topic"), obj.get("payload")
            if isinstance(t, bool) or not isinstance(t, (int, float)) or not isinstance(topic, str):
                yield RecordingError(str(path), line_no, "needs a numeric 't' and a string 'topic'")
                continue
            if not isinstance(payload, dict):
                yield RecordingError(str(path), line_no, "'payload' must be a JSON object")
                continue
            yield RecordLine(float(t), topic, orjson.dumps(payload))


class RecordingWriter:
    """Appends messages to a recording; ``flush`` makes them durable."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = _open(self.path, "w")
        self.count = 0

    def write(self, t: float, topic: str, payload: bytes | dict[str, Any]) -> None:
        """Write one message; ``payload`` is wire JSON bytes (one object) or a dict."""
        body = orjson.dumps(payload) if isinstance(payload, dict) else payload
        if b"\n" in body or b"\r" in body:
            body = orjson.dumps(orjson.loads(body))
        self._file.write(b'{"t":' + orjson.dumps(round(t, 6)) + b',"topic":' + orjson.dumps(topic)
                         + b',"payload":' + body + b"}\n")
        self.count += 1

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
