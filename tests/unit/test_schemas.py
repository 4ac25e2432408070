"""Schema round trips and the exported JSON Schema files."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from pydantic import ValidationError

from schemas import (
    AnalysisResponded,
    DeadLetter,
    ProviderAttempt,
    ProviderStatus,
    QueryRequested,
    TopicNames,
)
from schemas.export import SCHEMA_DIR, main, render_schemas
from schemas.topics import TOPIC_MODELS
from services.classifier.handler import classify


def test_query_round_trips_through_bytes() -> None:
    query = QueryRequested(
        query_id="q1",
        query="latest polls",
        campaign_id="az-sen",
        context={"state": "AZ", "weeks": 3},
    )
    assert QueryRequested.from_bytes(query.to_bytes()) == query


def test_classified_round_trip_and_json_schema_validates_the_wire_form() -> None:
    classified = classify(QueryRequested(query_id="q1", query="latest polls in Arizona"))
    wire = classified.to_bytes()
    assert type(classified).from_bytes(wire) == classified
    schema = json.loads((SCHEMA_DIR / "queries.classified.v1.schema.json").read_text())
    jsonschema.validate(json.loads(wire), schema)


@pytest.mark.parametrize(
    "payload",
    [
        b"{not json",
        b"{}",
        b'{"query_id": "q", "query": ""}',
        b'{"query_id": "q", "query": "x", "surprise": 1}',
    ],
)
def test_bad_payloads_are_validation_errors(payload: bytes) -> None:
    with pytest.raises(ValidationError):
        QueryRequested.from_bytes(payload)


def test_events_are_frozen() -> None:
    query = QueryRequested(query_id="q1", query="x")
    with pytest.raises(ValidationError):
        query.query = "y"  # type: ignore[misc]


def test_every_topic_has_one_model_and_a_current_schema_file() -> None:
    rendered = render_schemas()
    assert len(rendered) == len(TOPIC_MODELS)
    for name, text in rendered.items():
        path = SCHEMA_DIR / name
        assert path.exists(), f"run `python -m schemas.export`: {name} missing"
        assert path.read_text() == text, f"run `python -m schemas.export`: {name} is stale"


def test_export_writes_the_committed_schema_files_byte_for_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m schemas.export` run into an empty folder writes exactly the files in
    schemas/json/, byte for byte: the event contracts did not move."""
    monkeypatch.setattr("schemas.export.SCHEMA_DIR", tmp_path)
    assert main() == 0
    capsys.readouterr()
    written = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    committed = {path.name: path.read_bytes() for path in SCHEMA_DIR.glob("*.json")}
    assert sorted(written) == sorted(committed)
    for name, data in written.items():
        assert data == committed[name], f"run `python -m schemas.export`: {name} differs"


def test_topic_specs_meet_the_contract() -> None:
    topics = TopicNames("ns")
    specs = {spec.name: spec for spec in topics.specs()}
    assert topics.queries == "ns.queries.v1"
    assert specs[topics.queries].partitions >= 3
    assert specs[topics.classified].partitions >= 3
    assert specs[topics.provider_health].config["cleanup.policy"] == "compact"
    assert len(specs) == len(TOPIC_MODELS)
    assert {AnalysisResponded, DeadLetter, ProviderAttempt, ProviderStatus} <= set(
        TOPIC_MODELS.values()
    )
