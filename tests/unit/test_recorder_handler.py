"""The recorder's pure parts: which rows an event becomes, keyed by what, and its settings."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import Insert

from schemas.attempt import ProviderAttempt
from schemas.classified import QueryClassified
from schemas.feedback import FeedbackGiven
from schemas.health import ProviderStatus
from schemas.parts import (
    Answer,
    AttemptSummary,
    Classification,
    Confidence,
    ConfidenceComponent,
    RouteStep,
)
from schemas.query import Escalation, QueryRequested
from schemas.response import AnalysisResponded, Routing
from services.recorder.handler import upserts
from services.recorder.settings import RecorderSettings

QUERY = QueryRequested(query_id="q1", query="Who leads in Ohio?", campaign_id="ohio")


def compiled(statement: Insert) -> tuple[str, dict[str, Any]]:
    done = statement.compile(dialect=postgresql.dialect())
    return str(done), dict(done.params)


def table_and_key(statement: Insert) -> tuple[str, str]:
    sql, _ = compiled(statement)
    conflict = sql.split("ON CONFLICT (", 1)[1].split(")", 1)[0]
    return statement.table.name, conflict  # type: ignore[attr-defined]


def _response(confidence: Confidence | None) -> AnalysisResponded:
    return AnalysisResponded(
        analysis_id="q1", analysis_type="polling", status="completed", result="Smith by 3",
        created_at=QUERY.submitted_at, completed_at=QUERY.submitted_at,
        routing=Routing(path="intelligent", provider="perplexity", model="sonar",
                        cost_usd=0.006, latency_ms=900.0, explanation="live data"),
        confidence=confidence)


def test_each_event_becomes_upserts_keyed_by_its_deterministic_identity() -> None:
    classified = QueryClassified(
        query=QUERY,
        classification=Classification(complexity=0.2, needs_live_data=True,
                                      analysis_type="polling", cost_sensitive=False),
        route=[RouteStep(provider="perplexity", model="sonar", reason="live data")])
    attempt = ProviderAttempt(query_id="q1", provider="perplexity", model="sonar",
                              attempt_number=2, outcome="started", latency_ms=0.0)
    confidence = Confidence(score=0.7, components={
        "source_quality": ConfidenceComponent(value=0.7, weight=1.0, detail="3 sources")})
    feedback = FeedbackGiven(analysis_id="q1", rating="correct")
    change = ProviderStatus(provider="gemini", state="down", reason="probes failing",
                            error_rate=1.0)

    assert [table_and_key(s) for s in upserts(QUERY)] == [("analyses", "analysis_id")]
    assert [table_and_key(s) for s in upserts(classified)] == [
        ("routing_decisions", "analysis_id")]
    assert [table_and_key(s) for s in upserts(attempt)] == [("provider_attempts", "attempt_id")]
    assert compiled(upserts(attempt)[0])[1]["attempt_id"] == "q1:2"
    assert [table_and_key(s) for s in upserts(_response(confidence))] == [
        ("analyses", "analysis_id"), ("confidence_scores", "analysis_id")]
    assert [table_and_key(s) for s in upserts(feedback)] == [("feedback", "event_id")]
    assert "DO NOTHING" in compiled(upserts(feedback)[0])[0]
    assert [table_and_key(s) for s in upserts(change)] == [
        ("provider_status_changes", "event_id")]


def test_heartbeats_are_not_status_changes() -> None:
    beat = ProviderStatus(provider="gemini", state="healthy", reason="ok", error_rate=0.0,
                          heartbeat=True)
    assert upserts(beat) == []


def test_a_failed_answer_has_no_confidence_row() -> None:
    assert [s.table.name for s in upserts(_response(None))] == ["analyses"]  # type: ignore[attr-defined]


def test_raw_score_is_the_score_until_calibration_records_one() -> None:
    confidence = Confidence(score=0.42, components={
        "route_fit": ConfidenceComponent(value=0.42, weight=1.0, detail="primary")})
    _, params = compiled(upserts(_response(confidence))[1])
    assert params["raw_score"] == 0.42 and params["score"] == 0.42
    assert params["calibration_version"] is None or isinstance(params["calibration_version"], str)


def test_the_learned_router_fields_are_recorded() -> None:
    verdict = Classification(complexity=0.9, needs_live_data=False, analysis_type="strategy",
                             cost_sensitive=False)
    # model_copy sets the fields whether or not this checkout's schema declares them yet.
    verdict = verdict.model_copy(update={"tier": "deep", "router_version": "tier-router-1-ab",
                                         "tier_probabilities": {"deep": 0.8, "fast": 0.2}})
    event = QueryClassified(query=QUERY, classification=verdict,
                            route=[RouteStep(provider="gemini", model="pro", reason="deep")])
    _, params = compiled(upserts(event)[0])
    assert params["tier"] == "deep" and params["router_version"] == "tier-router-1-ab"
    assert params["tier_probabilities"] == {"deep": 0.8, "fast": 0.2}


def test_settings_accept_a_plain_postgres_url_and_have_no_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db:5432/strategist")
    assert RecorderSettings().database_url.get_secret_value() == (  # type: ignore[call-arg]
        "postgresql+psycopg://u:p@db:5432/strategist")
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.delenv("RECORDER_DATABASE_URL", raising=False)
    with pytest.raises(ValidationError, match="database_url|DATABASE_URL"):
        RecorderSettings()  # type: ignore[call-arg]


def test_a_calibrated_score_records_its_raw_score_and_version() -> None:
    confidence = Confidence(score=0.61, raw_score=0.48, calibration_version="platt-7",
                            components={})
    _, params = compiled(upserts(_response(confidence))[1])
    assert (params["score"], params["raw_score"]) == (0.61, 0.48)
    assert params["calibration_version"] == "platt-7"


def test_an_escalated_round_adds_attempts_to_its_analysis_not_a_new_decision() -> None:
    escalated = QUERY.model_copy(update={"query_id": "derived-1", "escalation": Escalation(
        analysis_id="q1", reason="unsure",
        set_aside=AttemptSummary(provider="gemini", model="flash", outcome="success"),
        answer=Answer(provider="gemini", model="flash", text="guess", input_tokens=1,
                      output_tokens=1, cost_usd=0.0, latency_ms=1.0),
        confidence=Confidence(score=0.2, components={}))})
    verdict = Classification(complexity=0.2, needs_live_data=False, analysis_type="polling",
                             cost_sensitive=False)
    round_ = QueryClassified(query=escalated, classification=verdict,
                             route=[RouteStep(provider="perplexity", model="sonar", reason="next")])
    assert upserts(round_) == []  # the analysis keeps its first routing decision
    attempt = ProviderAttempt(query_id="derived-1", analysis_id="q1", attempt_id="derived-1:1",
                              provider="perplexity", model="sonar", attempt_number=1,
                              outcome="success", latency_ms=5.0)
    _, params = compiled(upserts(attempt)[0])
    assert params["analysis_id"] == "q1" and params["attempt_id"] == "derived-1:1"
