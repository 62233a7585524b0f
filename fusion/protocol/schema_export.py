"""Generate the JSON Schemas shipped in ``fusion/protocol/schemas/`` from the pydantic models.

``python -m fusion.protocol.schema_export`` rewrites them; ``--check`` only reports drift
(exit status 1). The models stay the single source of truth: each schema is the model's
validation-mode JSON Schema by alias, plus two rules pydantic cannot express on its own —
``schema`` is always required on the wire, and the per-kind rules of detections. The only
model rule left out is that ``class_probs`` sum to at most 1 (not expressible in JSON Schema).
"""

from __future__ import annotations

import argparse
import json
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from fusion.protocol.models import (
    Alert,
    DetectionsMessage,
    Rejected,
    SensorStatus,
    TracksMessage,
    TruthMessage,
)

JSONSCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_DIR = Path(__file__).with_name("schemas")


class RecordingLine(BaseModel):
    """One line of a recording (JSON Lines, gzip when the name ends in ``.gz``)."""

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)

    t: Annotated[float, Field(description="UNIX epoch seconds at which the message was published")]
    topic: Annotated[str, Field(min_length=1, description="MQTT topic the message was published on")]
    payload: Annotated[dict[str, Any], Field(description="the message itself, a protocol JSON object")]


#: Shipped file stem → model. The first six are wire messages; ``recording`` is a file line.
MODELS: dict[str, type[BaseModel]] = {
    "detections": DetectionsMessage,
    "sensor_status": SensorStatus,
    "truth": TruthMessage,
    "tracks": TracksMessage,
    "alerts": Alert,
    "rejected": Rejected,
    "recording": RecordingLine,
}


def _present(field: str, json_type: str) -> dict[str, Any]:
    """Schema fragment: ``field`` is present and not null."""
    return {"required": [field], "properties": {field: {"type": json_type}}}


def _each_detection(rule: dict[str, Any]) -> dict[str, Any]:
    return {"properties": {"detections": {"items": rule}}}


def _when_kind(kind: str, *rules: dict[str, Any]) -> dict[str, Any]:
    return {"if": {"required": ["kind"], "properties": {"kind": {"const": kind}}}, "then": {"allOf": list(rules)}}


#: The kind rules of ``DetectionsMessage._kind_rules``, in JSON Schema.
DETECTION_KIND_RULES: list[dict[str, Any]] = [
    _when_kind("radar", _present("origin", "object"),
               _each_detection({"allOf": [_present("range_m", "number"), _present("azimuth_deg", "number")]})),
    _when_kind("acoustic", _present("origin", "object"), _each_detection(_present("azimuth_deg", "number"))),
    _when_kind("rf",
               _each_detection({"anyOf": [_present("azimuth_deg", "number"), _present("position", "object")]}),
               {"if": {"properties": {"detections": {"contains": _present("azimuth_deg", "number")}}},
                "then": _present("origin", "object")}),
]


def generate(name: str) -> dict[str, Any]:
    """The JSON Schema of one shipped message type (a key of ``MODELS``)."""
    model = MODELS[name]
    body = model.model_json_schema(by_alias=True, mode="validation")
    schema: dict[str, Any] = {"$schema": JSONSCHEMA_DIALECT, **body}
    if "schema" in schema["properties"] and "schema" not in schema["required"]:
        schema["required"] = ["schema", *schema["required"]]
        schema["properties"]["schema"].pop("default", None)
    if model is DetectionsMessage:
        schema["allOf"] = DETECTION_KIND_RULES
    return schema


def render(schema: dict[str, Any]) -> str:
    """The text of a shipped schema file: stable, indented, newline-terminated."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def load(name: str) -> dict[str, Any]:
    """A shipped schema, read from the installed package data."""
    text = resources.files("fusion.protocol").joinpath("schemas", f"{name}.json").read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


def stale(directory: Path = SCHEMA_DIR) -> list[str]:
    """Names whose file in ``directory`` is missing or differs from a fresh generation."""
    out = []
    for name in MODELS:
        path = directory / f"{name}.json"
        if not path.is_file() or path.read_text(encoding="utf-8") != render(generate(name)):
            out.append(name)
    return out


def write(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write every schema to ``directory``; return the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in MODELS:
        path = directory / f"{name}.json"
        path.write_text(render(generate(name)), encoding="utf-8")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    """Command line: regenerate the shipped schemas, or ``--check`` that they are current."""
    parser = argparse.ArgumentParser(prog="python -m fusion.protocol.schema_export", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report schemas that differ; exit 1 if any")
    parser.add_argument("--dir", type=Path, default=SCHEMA_DIR, help="output directory (default: the package's)")
    args = parser.parse_args(argv)
    if args.check:
        names = stale(args.dir)
        for name in names:
            print(f"stale: {args.dir / name}.json")
        return 1 if names else 0
    for path in write(args.dir):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
