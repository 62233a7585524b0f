"""Parse, validate and serialise wire messages: the only code that reads or writes wire JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import orjson
from pydantic import ValidationError

from fusion.protocol.models import MODELS, Message, Model
from fusion.protocol.topics import TopicKind, Topics

#: Default size limit of one message, bytes.
DEFAULT_MAX_BYTES = 256 * 1024

#: The schema each topic kind carries.
TOPIC_SCHEMA: dict[TopicKind, str] = {
    "detections": "sargas.detections/1",
    "status": "sargas.sensor_status/1",
    "truth": "sargas.truth/1",
    "tracks": "sargas.tracks/1",
    "alerts": "sargas.alerts/1",
    "rejected": "sargas.rejected/1",
}


class ProtocolError(ValueError):
    """A message that must be rejected; ``reason`` is a stable code, ``detail`` says why."""

    def __init__(self, reason: str, detail: str, sensor_id: str | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail[:1000]
        self.sensor_id = sensor_id


def _has_non_finite(payload: bytes) -> bool:
    """True if ``payload`` parses only because of NaN/Infinity tokens or overflowing numbers."""

    def refuse(_: str) -> float:
        raise OverflowError

    def checked_float(text: str) -> float:
        value = float(text)
        if value in (float("inf"), float("-inf")):
            raise OverflowError
        return value

    try:
        json.loads(payload, parse_constant=refuse, parse_float=checked_float)
    except OverflowError:
        return True
    except ValueError:
        return False
    return False


def load_json(payload: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, Any]:
    """Decode one payload into a JSON object, enforcing size, syntax and finiteness."""
    if len(payload) > max_bytes:
        raise ProtocolError("too_large", f"{len(payload)} bytes exceeds the limit of {max_bytes}")
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        if _has_non_finite(payload):
            raise ProtocolError("non_finite", "NaN or Infinity is not a JSON number") from None
        raise ProtocolError("malformed_json", str(exc)) from None
    if not isinstance(obj, dict):
        raise ProtocolError("not_an_object", f"payload is a JSON {type(obj).__name__}, not an object")
    return obj


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "message"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def validate(obj: dict[str, Any], expected_schema: str | None = None) -> Message:
    """Validate a decoded JSON object into its model, by its ``schema`` field."""
    schema = obj.get("schema")
    sensor_id = obj.get("sensor_id") if isinstance(obj.get("sensor_id"), str) else None
    model = MODELS.get(schema) if isinstance(schema, str) else None
    if model is None:
        raise ProtocolError("unknown_schema", f"schema {schema!r} is not a known message type", sensor_id)
    if expected_schema is not None and schema != expected_schema:
        raise ProtocolError("wrong_topic", f"a {schema} message on a topic for {expected_schema}", sensor_id)
    try:
        # Strict: the wire's types are JSON's, so "2410.5" or true is not a number (lax mode coerces).
        return model.model_validate(obj, strict=True)  # type: ignore[return-value]
    except ValidationError as exc:
        raise ProtocolError("invalid", _describe(exc), sensor_id) from None


def decode(topic: str, payload: bytes, topics: Topics, max_bytes: int = DEFAULT_MAX_BYTES) -> Message:
    """Parse and validate the payload received on ``topic``; raise ProtocolError if rejected."""
    kind = topics.classify(topic)
    if kind is None:
        raise ProtocolError("wrong_topic", f"{topic!r} is not a protocol v1 topic under {topics.prefix!r}")
    obj = load_json(payload, max_bytes)
    message = validate(obj, TOPIC_SCHEMA[kind[0]])
    sensor_id = getattr(message, "sensor_id", None)
    if kind[1] is not None and sensor_id != kind[1]:
        raise ProtocolError("wrong_topic", f"sensor_id {sensor_id!r} published on the topic of {kind[1]!r}", sensor_id)
    return message


def to_dict(message: Model) -> dict[str, Any]:
    """The wire form of a model as a dict: absent optionals omitted, protocol nulls kept."""
    data = message.model_dump(by_alias=True, exclude_none=True)
    for name in type(message).nullable_fields:
        data.setdefault(name, None)
    for name in type(message).omit_empty_fields:
        if not data.get(name):
            data.pop(name, None)
    if isinstance(data.get("threat"), dict):
        data["threat"].setdefault("zone", None)
    for track in data.get("tracks", ()):
        track["threat"].setdefault("zone", None)
    return data


def encode(message: Model) -> bytes:
    """Serialise a model to compact, deterministic wire JSON."""
    return orjson.dumps(to_dict(message))


def dumps(obj: Any) -> bytes:
    """Serialise plain data (already in wire form) deterministically."""
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def encode_tracks(time: float, tracks: list[dict[str, Any]], ended: list[str], strobes: Sequence[Model]) -> bytes:
    """Fast path of ``encode(TracksMessage(...))`` with the same bytes, for tracks already in wire form.

    ``tracks`` are dicts with the fields of ``Track`` in model order (``threat.zone`` present, null
    when none), built by the fusion core from values it keeps within the protocol's ranges; the
    per-track pydantic validation and dump this skips cost more than the whole tracker step.
    """
    data: dict[str, Any] = {"schema": "sargas.tracks/1", "time": time, "tracks": tracks, "ended": ended}
    if strobes:
        data["strobes"] = [to_dict(strobe) for strobe in strobes]
    return orjson.dumps(data)
