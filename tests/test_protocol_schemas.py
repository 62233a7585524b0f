"""The shipped JSON Schemas: current with the models, and in agreement with the decoder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

import jsonschema
import pytest
from test_protocol import ALL_VALID, BAD, RECORDING_EXAMPLE, TOPICS

from fusion.protocol import decode, to_dict
from fusion.protocol.schema_export import MODELS, SCHEMA_DIR, generate, load, main, render, stale, write

#: Wire ``schema`` value → shipped schema name.
BY_SCHEMA: dict[str, str] = {
    str(get_args(model.model_fields["schema_"].annotation)[0]): name
    for name, model in MODELS.items() if "schema_" in model.model_fields
}

#: Cases the JSON Schemas cannot catch: a sum over class_probs is beyond JSON Schema.
NOT_EXPRESSIBLE = {"probs_over_1"}


def validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(load(name))


def schema_errors(name: str, instance: Any) -> list[str]:
    return [e.message for e in validator(name).iter_errors(instance)]


def test_shipped_schemas_equal_fresh_generation() -> None:
    assert stale() == [], "run: python -m fusion.protocol.schema_export"
    assert sorted(p.stem for p in SCHEMA_DIR.glob("*.json")) == sorted(MODELS)


def test_every_message_type_has_a_schema() -> None:
    assert sorted(BY_SCHEMA) == ["sargas.alerts/1", "sargas.detections/1", "sargas.rejected/1",
                                 "sargas.sensor_status/1", "sargas.tracks/1", "sargas.truth/1"]
    assert set(MODELS) == set(BY_SCHEMA.values()) | {"recording"}


@pytest.mark.parametrize("name", MODELS)
def test_schema_is_valid_draft_2020_12(name: str) -> None:
    schema = load(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema == generate(name)


@pytest.mark.parametrize("name", [n for n in MODELS if n != "recording"])
def test_message_schemas_require_schema_field(name: str) -> None:
    schema = load(name)
    assert "schema" in schema["required"]
    assert "const" in schema["properties"]["schema"]


@pytest.mark.parametrize("sample", ALL_VALID)
def test_valid_samples_pass_models_and_schemas(sample: str) -> None:
    topic, text = ALL_VALID[sample]
    data = json.loads(text)
    name = BY_SCHEMA[data["schema"]]
    assert schema_errors(name, data) == []
    message = decode(topic, text.encode(), TOPICS)
    assert schema_errors(name, to_dict(message)) == []


@pytest.mark.parametrize("case", [c for c, (_, _, reason) in BAD.items() if reason in ("invalid", "unknown_schema")])
def test_schemas_reject_what_the_decoder_rejects(case: str) -> None:
    topic, payload, _ = BAD[case]
    data = json.loads(payload)
    kind = TOPICS.classify(topic)
    assert kind is not None
    name = {"status": "sensor_status"}.get(kind[0], kind[0])
    errors = schema_errors(name, data)
    if case in NOT_EXPRESSIBLE:
        assert errors == []
    else:
        assert errors, f"{case}: the JSON Schema accepts what the decoder rejects"


def test_recording_line_schema() -> None:
    assert schema_errors("recording", json.loads(RECORDING_EXAMPLE)) == []
    for bad in ({"t": "soon", "topic": "x", "payload": {}}, {"t": 1.0, "payload": {}},
                {"t": 1.0, "topic": "x", "payload": [1]}, {"t": True, "topic": "x", "payload": {}}):
        assert schema_errors("recording", bad), bad


def test_schema_export_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check"]) == 0
    assert main(["--check", "--dir", str(tmp_path)]) == 1
    assert main(["--dir", str(tmp_path)]) == 0
    assert main(["--check", "--dir", str(tmp_path)]) == 0
    (tmp_path / "alerts.json").write_text("{}\n")
    assert stale(tmp_path) == ["alerts"]
    assert "stale" in capsys.readouterr().out
    assert [p.name for p in write(tmp_path)] == [f"{n}.json" for n in MODELS]
    assert (tmp_path / "alerts.json").read_text() == render(generate("alerts"))
