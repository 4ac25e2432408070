"""Events to idempotent row upserts (pure: chooses the values, runs nothing).

An event becomes `Upsert`s: a statement shared by every event of its kind
(`statements.py`) and this event's values as its parameters. Which event's values a
row keeps does not depend on the order in which events arrive, so a redelivered event,
a second copy published by a redelivered step, two writers at once and a replay from
the beginning all leave the same rows.

The trace id of an analysis is not in any event's body: the caller of `records` reads it
from the query event's `traceparent` Kafka header (the live recorder and the rebuild
alike), so the rebuilt row has it too.
"""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import Insert

from schemas.attempt import ProviderAttempt
from schemas.base import EventModel
from schemas.classified import QueryClassified
from schemas.feedback import FeedbackGiven
from schemas.health import ProviderStatus
from schemas.query import QueryRequested
from schemas.response import AnalysisResponded
from services.recorder.statements import Upsert, upsert

__all__ = ["Upsert", "records", "upserts"]


def on_query(event: QueryRequested, trace_id: str | None = None) -> list[Upsert]:
    """The question as asked: the query half of its `analyses` row, with the trace its
    event's headers carried."""
    values = {
        "analysis_id": event.query_id,
        "campaign_id": event.campaign_id,
        "query": event.query,
        "requested_analysis_type": event.analysis_type,
        "options": event.options.model_dump(mode="json"),
        "submitted_at": event.submitted_at,
        "query_event_id": event.event_id,
        "query_recorded_at": event.occurred_at,
        "trace_id": trace_id,
    }
    return [upsert("query", "analysis_id", values)]


def on_classified(event: QueryClassified) -> list[Upsert]:
    """The routing decision. An escalated round (the scorer re-dispatching the rest of the
    route) is not a new decision: the analysis keeps its first, and the round's calls are
    recorded as its attempts."""
    if event.query.escalation is not None:
        return []
    verdict = event.classification
    probabilities = verdict.tier_probabilities
    values = {
        "analysis_id": event.query.query_id,
        "tier": verdict.tier,
        "tier_probabilities": dict(probabilities) if probabilities is not None else None,
        "router_version": verdict.router_version,
        "route": [step.model_dump(mode="json") for step in event.route],
        "analysis_type": verdict.analysis_type,
        "complexity": verdict.complexity,
        "needs_live_data": verdict.needs_live_data,
        "cost_sensitive": verdict.cost_sensitive,
        "features": dict(verdict.features),
        "reasons": list(verdict.reasons),
        "event_id": event.event_id,
        "decided_at": event.occurred_at,
    }
    return [upsert("classified", "analysis_id", values)]


def on_attempt(event: ProviderAttempt) -> list[Upsert]:
    """One provider call: `started` and the outcome merge into one row per attempt id."""
    started = event.outcome == "started"
    values = {
        "attempt_id": event.attempt_id,
        "analysis_id": event.served_analysis_id,
        "provider": event.provider,
        "model": event.model,
        "attempt_number": event.attempt_number,
        "outcome": event.outcome,
        "error_class": event.error_kind,
        "error_message": event.error_message,
        "latency_ms": event.latency_ms,
        "input_tokens": event.input_tokens,
        "output_tokens": event.output_tokens,
        "cost_usd": event.cost_usd,
        "started_at": event.occurred_at if started else None,
        "finished_at": None if started else event.occurred_at,
        "event_id": event.event_id,
        "recorded_at": event.occurred_at,
    }
    return [upsert("attempt", "attempt_id", values)]


def on_response(event: AnalysisResponded) -> list[Upsert]:
    """The answer half of `analyses`, and its confidence when it has one."""
    routing = event.routing
    values = {
        "analysis_id": event.analysis_id,
        "status": event.status,
        "analysis_type": event.analysis_type,
        "path": routing.path,
        "provider": routing.provider,
        "model": routing.model,
        "result": event.result,
        "error": event.error,
        "cost_usd": routing.cost_usd,
        "baseline_cost_usd": routing.baseline_cost_usd,
        "latency_ms": routing.latency_ms,
        "provider_latency_ms": routing.provider_latency_ms,
        "emulated": routing.emulated,
        "created_at": event.created_at,
        "completed_at": event.completed_at,
        "response_event_id": event.event_id,
        "responded_at": event.occurred_at,
    }
    if event.campaign_id is not None:
        values["campaign_id"] = event.campaign_id
    statements = [upsert("response", "analysis_id", values)]
    confidence = event.confidence
    if confidence is not None:
        scores = {
            "analysis_id": event.analysis_id,
            "score": confidence.score,
            # Before calibration the score is the raw combined signal itself.
            "raw_score": confidence.score if confidence.raw_score is None else confidence.raw_score,
            "calibration_version": confidence.calibration_version,
            "components": {name: part.model_dump(mode="json")
                           for name, part in confidence.components.items()},
            "provider": routing.provider,
            "model": routing.model,
            "analysis_type": event.analysis_type,
            "event_id": event.event_id,
            "scored_at": event.occurred_at,
        }
        statements.append(upsert("confidence", "analysis_id", scores))
    return statements


def on_feedback(event: FeedbackGiven) -> list[Upsert]:
    """A grade, keyed by its event id: a copy of the same event changes nothing."""
    values = {
        "event_id": event.event_id,
        "analysis_id": event.analysis_id,
        "rating": event.rating,
        "comment": event.comment,
        "grader": event.grader,
        "provider": event.provider,
        "model": event.model,
        "analysis_type": event.analysis_type,
        "campaign_id": event.campaign_id,
        "given_at": event.occurred_at,
    }
    return [upsert("feedback", "event_id", values)]


def on_status(event: ProviderStatus) -> list[Upsert]:
    """A status change; heartbeats repeat the current state and are not recorded."""
    if event.heartbeat:
        return []
    values = {
        "event_id": event.event_id,
        "provider": event.provider,
        "state": event.state,
        "reason": event.reason,
        "error_rate": event.error_rate,
        "latency_p50_ms": event.latency_p50_ms,
        "latency_p95_ms": event.latency_p95_ms,
        "sample_size": event.sample_size,
        "consecutive_probe_failures": event.consecutive_probe_failures,
        "last_error": event.last_error,
        "last_probe_at": event.last_probe_at,
        "publisher": event.publisher,
        "changed_at": event.occurred_at,
    }
    return [upsert("status", "event_id", values)]


def upserts(event: EventModel, trace_id: str | None = None) -> list[Insert]:
    """The statements that record `event`, values bound in (to read them; the recorder
    runs `records`); raises TypeError for an event not recorded."""
    return [record.as_statement() for record in records(event, trace_id)]


def records(event: EventModel, trace_id: str | None = None) -> list[Upsert]:
    """The row writes that record `event`, whose message carried `trace_id` in its
    `traceparent` header (kept for a query); raises TypeError for an event not recorded."""
    match event:
        case QueryRequested():
            return on_query(event, trace_id)
        case QueryClassified():
            return on_classified(event)
        case ProviderAttempt():
            return on_attempt(event)
        case AnalysisResponded():
            return on_response(event)
        case FeedbackGiven():
            return on_feedback(event)
        case ProviderStatus():
            return on_status(event)
    raise TypeError(f"the recorder does not record {type(event).__name__}")
