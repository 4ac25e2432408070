"""The recorder's upserts on a real PostgreSQL: the same rows whatever the arrival order.

The live recorder handles several events of a topic at once and a rebuild reads the
topics in another interleaving, so which copy of a row wins must not depend on order:
an attempt's finished outcome beats its `started` record, the earliest response of an
analysis is the one kept, and a copy of an event (same id) changes nothing.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql

from schemas.attempt import AttemptOutcome, ProviderAttempt
from schemas.base import EventModel
from schemas.feedback import FeedbackGiven
from schemas.parts import Confidence, ConfidenceComponent
from schemas.query import QueryRequested
from schemas.response import AnalysisResponded, Routing
from services.common.database import make_engine, sqlalchemy_url, upgrade
from services.common.tables import TABLES
from services.recorder.handler import upserts
from services.recorder.writer import RecordWriter

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
ANALYSIS = "a" * 32


@pytest.fixture
def writer(database_url: str) -> Iterator[tuple[RecordWriter, str]]:
    name = f"test_upserts_{uuid.uuid4().hex[:10]}"
    admin = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = f"{admin.rpartition('/')[0]}/{name}"
    engine = make_engine(sqlalchemy_url(url))
    upgrade(engine)
    yield RecordWriter(engine=engine), url
    engine.dispose()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                           .format(sql.Identifier(name)))


def _attempt(outcome: AttemptOutcome, at: timedelta, **fields: Any) -> ProviderAttempt:
    return ProviderAttempt(query_id=ANALYSIS, provider="gemini", model="gemini-2.5-flash",
                           attempt_number=1, outcome=outcome, latency_ms=fields.pop("ms", 0.0),
                           occurred_at=T0 + at, **fields)


def _response(answer: str, at: timedelta, score: float) -> AnalysisResponded:
    return AnalysisResponded(
        analysis_id=ANALYSIS, analysis_type="general", status="completed", result=answer,
        created_at=T0, completed_at=T0 + at, occurred_at=T0 + at, campaign_id=None,
        routing=Routing(path="intelligent", provider="gemini", model="gemini-2.5-flash",
                        cost_usd=0.001, latency_ms=100.0, explanation="test"),
        confidence=Confidence(score=score, components={
            "route_fit": ConfidenceComponent(value=score, weight=1.0, detail="test")}),
    )


EVENTS: list[EventModel] = [
    QueryRequested(query_id=ANALYSIS, query="Who leads in Ohio?", campaign_id="ohio",
                   occurred_at=T0),
    _attempt("started", timedelta(seconds=1)),
    _attempt("success", timedelta(seconds=2), ms=900.0, input_tokens=10, output_tokens=20,
             cost_usd=0.002),
    # The same attempt finished again later by a redelivered step: the first outcome stays.
    _attempt("error", timedelta(seconds=9), ms=50.0, error_kind="ProviderUnavailable"),
    _response("the first answer", timedelta(seconds=3), 0.8),
    _response("a later, different answer", timedelta(seconds=8), 0.3),
    FeedbackGiven(analysis_id=ANALYSIS, rating="incorrect", occurred_at=T0 + timedelta(hours=1)),
]


def _dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(url) as connection:
        return {t.name: [tuple(r) for r in connection.execute(
            f'SELECT * FROM "{t.name}" ORDER BY 1').fetchall()]  # type: ignore[arg-type]
            for t in TABLES}


def _reset(url: str) -> None:
    with psycopg.connect(url) as connection:
        for table in TABLES:
            connection.execute(f'DELETE FROM "{table.name}"')  # type: ignore[arg-type]


def test_every_arrival_order_and_every_copy_leave_the_same_rows(
    writer: tuple[RecordWriter, str],
) -> None:
    record, url = writer
    for event in EVENTS:
        record.write(upserts(event))
    expected = _dump(url)

    with psycopg.connect(url) as connection:
        attempt = connection.execute(
            "SELECT outcome, latency_ms, cost_usd, started_at, finished_at"
            " FROM provider_attempts").fetchall()
        analysis = connection.execute(
            "SELECT query, campaign_id, result FROM analyses").fetchall()
        score = connection.execute("SELECT score, raw_score FROM confidence_scores").fetchall()
    assert attempt == [("success", 900.0, 0.002, T0 + timedelta(seconds=1),
                        T0 + timedelta(seconds=2))]
    assert analysis == [("Who leads in Ohio?", "ohio", "the first answer")]
    assert score == [(0.8, 0.8)]

    orders = list(itertools.permutations(EVENTS))[::251]  # a spread of the 5,040 orders
    orders.append(tuple(reversed(EVENTS)))
    for order in orders:
        _reset(url)
        for event in order:
            record.write(upserts(event))
            record.write(upserts(event))  # a redelivered copy
        assert _dump(url) == expected, [type(e).__name__ for e in order]


def test_the_trace_of_a_query_stays_whatever_the_order_even_past_a_copy_without_headers(
    writer: tuple[RecordWriter, str],
) -> None:
    record, url = writer
    trace_id = uuid.uuid4().hex
    # The query, a copy of it republished without its headers, the answer.
    arrivals = [(EVENTS[0], trace_id), (EVENTS[0], None), (EVENTS[4], None)]
    for order in itertools.permutations(arrivals):
        _reset(url)
        for event, carried in order:
            record.write(upserts(event, carried))
        with psycopg.connect(url) as connection:
            rows = connection.execute("SELECT trace_id, query, result FROM analyses").fetchall()
        assert rows == [(trace_id, "Who leads in Ohio?", "the first answer")], order
