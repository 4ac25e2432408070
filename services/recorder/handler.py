"""Events to idempotent row upserts (pure: builds statements, runs nothing).

An event becomes `Upsert`s: a statement and the event's values as its parameters. The
statements are built once per kind of row (and set of columns) and reused, so the
writer runs the same statement objects every time and SQLAlchemy compiles each once;
building and compiling a statement per event cost the recorder about 30 ms of CPU per
query (docs/performance.md, "Recorder").

Every statement is an `INSERT ... ON CONFLICT (identity) DO UPDATE` whose update
keeps, column group by column group, the values of a deterministically chosen event:
the earliest by (time, event id), and for attempts a finished outcome before a
`started` one. The chosen event does not depend on the order in which events arrive,
so a redelivered event, a second copy published by a redelivered step, two writers at
once and a replay from the beginning all leave the same rows.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, case, func, or_, tuple_
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.sql.elements import ColumnElement

from schemas.attempt import ProviderAttempt
from schemas.base import EventModel
from schemas.classified import QueryClassified
from schemas.feedback import FeedbackGiven
from schemas.health import ProviderStatus
from schemas.query import QueryRequested
from schemas.response import AnalysisResponded
from services.recorder.models import (
    Analysis,
    ConfidenceScore,
    Feedback,
    ProviderAttemptRecord,
    ProviderStatusChange,
    RoutingDecision,
)

Columns = Any
"""`table.c` or an insert's `excluded`: both give columns by name."""
OrderKey = Callable[[Columns], Sequence[ColumnElement[Any]]]


@dataclass(frozen=True, slots=True)
class Upsert:
    """One row write: a shared, reusable `statement` and this event's `params` for it.

    `lock_order` (table, identity) is the order a batch writes its rows in, so that
    transactions touching the same rows take their locks in the same order.
    """

    statement: Insert
    params: dict[str, Any]
    lock_order: tuple[str, str]

    def as_statement(self) -> Insert:
        """The statement with the values bound in (to read or print; the writer uses params)."""
        return self.statement.values(**self.params)


def _earliest_wins(
    table: Table,
    key: str,
    columns: Sequence[str],
    order: OrderKey,
    *,
    present: str,
    merged: Mapping[str, Callable[[Columns, Columns], ColumnElement[Any]]] | None = None,
) -> Insert:
    """Upsert `columns`; on conflict, take them only where `order` ranks them before the row's.

    `present` is a column that is null while the row has no values of this group yet (a
    row created by another topic's half). `merged` columns combine both sides instead.
    The statement has no values: it is executed with each event's as parameters.
    """
    stmt = insert(table)
    new, old = stmt.excluded, table.c
    wins = or_(old[present].is_(None), tuple_(*order(new)) < tuple_(*order(old)))
    combine = dict(merged or {})
    update: dict[str, ColumnElement[Any]] = {
        name: combine[name](new, old) if name in combine else case((wins, new[name]),
                                                                    else_=old[name])
        for name in columns
        if name != key
    }
    return stmt.on_conflict_do_update(index_elements=[key], set_=update)


def _insert_once(table: Table, key: str, columns: Sequence[str]) -> Insert:
    """Insert a row identified by `key`; a copy of it changes nothing."""
    del columns  # every column comes from the one event that has the key
    return insert(table).on_conflict_do_nothing(index_elements=[key])


def _by_time(time_column: str, id_column: str) -> OrderKey:
    return lambda c: (c[time_column], c[id_column])


def _pending(c: Columns) -> ColumnElement[int]:
    """0 for a finished outcome, 1 for `started`: finished records rank first."""
    return case((c["outcome"] == "started", 1), else_=0)


StatementBuilder = Callable[[Sequence[str]], Insert]
_BUILDERS: dict[str, StatementBuilder] = {
    "query": lambda columns: _earliest_wins(
        Analysis.__table__, "analysis_id", columns,  # type: ignore[arg-type]
        _by_time("query_recorded_at", "query_event_id"), present="query_event_id"),
    "classified": lambda columns: _earliest_wins(
        RoutingDecision.__table__, "analysis_id", columns,  # type: ignore[arg-type]
        _by_time("decided_at", "event_id"), present="event_id"),
    "attempt": lambda columns: _earliest_wins(
        ProviderAttemptRecord.__table__, "attempt_id", columns,  # type: ignore[arg-type]
        lambda c: (_pending(c), c["recorded_at"], c["event_id"]),
        present="event_id",
        # LEAST ignores nulls: the earliest `started` time whichever record came first.
        merged={"started_at": lambda new, old: func.least(old["started_at"], new["started_at"])},
    ),
    "response": lambda columns: _earliest_wins(
        Analysis.__table__, "analysis_id", columns,  # type: ignore[arg-type]
        _by_time("responded_at", "response_event_id"), present="response_event_id",
        # The query's campaign is the record; the response's only fills a row without one
        # (a direct-path answer), so the value does not depend on which topic came first.
        merged={"campaign_id": lambda new, old: func.coalesce(old["campaign_id"],
                                                              new["campaign_id"])},
    ),
    "confidence": lambda columns: _earliest_wins(
        ConfidenceScore.__table__, "analysis_id", columns,  # type: ignore[arg-type]
        _by_time("scored_at", "event_id"), present="event_id"),
    "feedback": lambda columns: _insert_once(
        Feedback.__table__, "event_id", columns),  # type: ignore[arg-type]
    "status": lambda columns: _insert_once(
        ProviderStatusChange.__table__, "event_id", columns),  # type: ignore[arg-type]
}
"""How each kind of row is written, given the columns an event fills."""


@functools.cache
def statement_for(kind: str, columns: tuple[str, ...]) -> Insert:
    """The statement for `kind` rows with `columns`, built on first use and then reused
    (`statement_for.cache_info().misses` counts the statements ever built)."""
    return _BUILDERS[kind](columns)


def _upsert(kind: str, key: str, values: dict[str, Any]) -> Upsert:
    statement = statement_for(kind, tuple(values))
    return Upsert(statement, values, (statement.table.name, str(values[key])))  # type: ignore[attr-defined]


def on_query(event: QueryRequested) -> list[Upsert]:
    """The question as asked: the query half of its `analyses` row."""
    values = {
        "analysis_id": event.query_id,
        "campaign_id": event.campaign_id,
        "query": event.query,
        "requested_analysis_type": event.analysis_type,
        "options": event.options.model_dump(mode="json"),
        "submitted_at": event.submitted_at,
        "query_event_id": event.event_id,
        "query_recorded_at": event.occurred_at,
    }
    return [_upsert("query", "analysis_id", values)]


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
    return [_upsert("classified", "analysis_id", values)]


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
    return [_upsert("attempt", "attempt_id", values)]


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
    statements = [_upsert("response", "analysis_id", values)]
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
        statements.append(_upsert("confidence", "analysis_id", scores))
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
    return [_upsert("feedback", "event_id", values)]


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
    return [_upsert("status", "event_id", values)]


def upserts(event: EventModel) -> list[Insert]:
    """The statements that record `event`, values bound in (to read them; the recorder
    runs `records`); raises TypeError for an event not recorded."""
    return [record.as_statement() for record in records(event)]


def records(event: EventModel) -> list[Upsert]:
    """The row writes that record `event`; raises TypeError for an event not recorded."""
    match event:
        case QueryRequested():
            return on_query(event)
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
