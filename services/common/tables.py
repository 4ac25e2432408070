"""The tables of the shared PostgreSQL database (SQLAlchemy 2 typed declarative).

One `MetaData` for both owners, because one set of migrations creates it
(`services/common/migrations/`): the decision records the recorder copies from the
topics, and the app's API keys (`ApiKey`, read and written by `strategist.auth.keys`).

Every decision-record row has a deterministic identity taken from the events (the
analysis id for per-analysis rows, the attempt id for attempts, the event id for
feedback and status changes), and keeps the id and time of the event it was written
from, so a row can always be traced back to its record on the topic. Change these only
by adding: the migrations are additive (tests/unit/test_recorder_migrations.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Float, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ID_LENGTH = 64
TRACE_ID_LENGTH = 32
"""A W3C trace id: 32 hex digits."""
NAME_LENGTH = 128
API_KEYS_TABLE = "api_keys"
KEPT_ON_REBUILD = frozenset({API_KEYS_TABLE})
"""Tables that are not copies of the topics: a rebuild must not drop them."""


class Base(DeclarativeBase):
    """Declarative base of the shared tables; `Base.metadata` is what migrations create."""

    type_annotation_map = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSONB,
        list[Any]: JSONB,
    }


class Analysis(Base):
    """One analysis: the query as asked (topic queries) and the answer given (responses).

    The two halves come from different topics and are merged independently; when an
    analysis was answered more than once, the earliest response is the one kept (the
    same answer the app's first-answer-wins store returns).
    """

    __tablename__ = "analyses"

    analysis_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    campaign_id: Mapped[str | None] = mapped_column(String(NAME_LENGTH), index=True)
    query: Mapped[str | None] = mapped_column(Text)
    requested_analysis_type: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    options: Mapped[dict[str, Any] | None]
    submitted_at: Mapped[datetime | None] = mapped_column(index=True)
    query_event_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    query_recorded_at: Mapped[datetime | None]
    trace_id: Mapped[str | None] = mapped_column(String(TRACE_ID_LENGTH))
    """The trace in the query event's `traceparent` header (null: published untraced)."""
    status: Mapped[str | None] = mapped_column(String(16))
    analysis_type: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    path: Mapped[str | None] = mapped_column(String(16))
    provider: Mapped[str | None] = mapped_column(String(32))
    model: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    result: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    cost_usd: Mapped[float | None] = mapped_column(Float)
    baseline_cost_usd: Mapped[float | None] = mapped_column(Float)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    provider_latency_ms: Mapped[float | None] = mapped_column(Float)
    emulated: Mapped[bool | None]
    created_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None] = mapped_column(index=True)
    response_event_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    responded_at: Mapped[datetime | None]


class RoutingDecision(Base):
    """The classifier's verdict for one analysis: tier, probabilities, router, route."""

    __tablename__ = "routing_decisions"

    analysis_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    tier: Mapped[str | None] = mapped_column(String(32))
    tier_probabilities: Mapped[dict[str, Any] | None]
    router_version: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    route: Mapped[list[Any]]
    analysis_type: Mapped[str] = mapped_column(String(ID_LENGTH))
    complexity: Mapped[float] = mapped_column(Float)
    needs_live_data: Mapped[bool]
    cost_sensitive: Mapped[bool]
    features: Mapped[dict[str, Any]]
    reasons: Mapped[list[Any]]
    event_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    decided_at: Mapped[datetime]


class ProviderAttemptRecord(Base):
    """One provider call: its `started` record merged with its outcome, by attempt id.

    A finished outcome replaces `started`; of two finished records for one attempt (a
    redelivered step that called again), the earliest is kept. `started_at` is the
    earliest `started` record's time; a row still `started` is a call whose outcome was
    never recorded (count it as possibly paid).
    """

    __tablename__ = "provider_attempts"

    attempt_id: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    analysis_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(NAME_LENGTH))
    attempt_number: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))
    error_class: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    error_message: Mapped[str | None] = mapped_column(Text)
    latency_ms: Mapped[float] = mapped_column(Float)
    input_tokens: Mapped[int] = mapped_column(Integer)
    output_tokens: Mapped[int] = mapped_column(Integer)
    cost_usd: Mapped[float] = mapped_column(Float)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    event_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    recorded_at: Mapped[datetime]


class ConfidenceScore(Base):
    """The confidence of the answer kept in `analyses`, with every component it came from."""

    __tablename__ = "confidence_scores"

    analysis_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    score: Mapped[float] = mapped_column(Float)
    raw_score: Mapped[float] = mapped_column(Float)
    calibration_version: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    components: Mapped[dict[str, Any]]
    provider: Mapped[str | None] = mapped_column(String(32))
    model: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    analysis_type: Mapped[str] = mapped_column(String(ID_LENGTH))
    event_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    scored_at: Mapped[datetime]


class Feedback(Base):
    """One grade of one analysis; several grades of one analysis are several rows."""

    __tablename__ = "feedback"
    __table_args__ = (Index("ix_feedback_analysis_id", "analysis_id"),)

    event_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    analysis_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    rating: Mapped[str] = mapped_column(String(32))
    comment: Mapped[str | None] = mapped_column(Text)
    grader: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    provider: Mapped[str | None] = mapped_column(String(32))
    model: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    analysis_type: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    campaign_id: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    given_at: Mapped[datetime]


class ProviderStatusChange(Base):
    """A provider status the health service published on a change (heartbeats are not kept)."""

    __tablename__ = "provider_status_changes"
    __table_args__ = (Index("ix_provider_status_changes_provider_changed_at",
                            "provider", "changed_at"),)

    event_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    error_rate: Mapped[float] = mapped_column(Float)
    latency_p50_ms: Mapped[float | None] = mapped_column(Float)
    latency_p95_ms: Mapped[float | None] = mapped_column(Float)
    sample_size: Mapped[int] = mapped_column(Integer)
    consecutive_probe_failures: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_probe_at: Mapped[datetime | None]
    publisher: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    changed_at: Mapped[datetime]


class ApiKey(Base):
    """One API key of the strategist app: only the SHA-256 of the key is kept, never the key.

    Not a copy of any topic: a rebuild keeps this table (it is not in `TABLES`). `key_id`
    is the public handle (`keys list`, `keys revoke`); `key_hash` is what a request's
    bearer token is looked up by.
    """

    __tablename__ = API_KEYS_TABLE

    key_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(ID_LENGTH), unique=True)
    campaign_id: Mapped[str] = mapped_column(String(NAME_LENGTH), index=True)
    role: Mapped[str] = mapped_column(String(16))
    rate_per_minute: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


TABLES = tuple(t for t in Base.metadata.sorted_tables if t.name not in KEPT_ON_REBUILD)
"""Every recorder table that copies the topics, in creation order (a rebuild drops and
refills these)."""
