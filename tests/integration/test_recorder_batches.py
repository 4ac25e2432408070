"""The recorder's batched writes on a real PostgreSQL: same rows, statements compiled once,
and no event reported written unless its own transaction committed.

The workers' handler (`record_handler`) writes the events in flight at once in one
transaction with reused statements; these tests feed it concurrently, as the workers do.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import Engine, event

from bench.recorded_events import query_events
from schemas.attempt import ProviderAttempt
from schemas.base import EventModel
from schemas.feedback import FeedbackGiven
from schemas.health import ProviderStatus
from schemas.query import QueryRequested
from services.common.database import make_engine, sqlalchemy_url, upgrade
from services.common.failures import TransientHandlerError
from services.common.tables import TABLES
from services.common.worker import Handler
from services.recorder.group_commit import GroupCommit
from services.recorder.handler import records as rows_of
from services.recorder.handler import upserts
from services.recorder.statements import statement_for
from services.recorder.worker import record_handler
from services.recorder.writer import RecordWriter

QUERIES = 100
IN_FLIGHT = 16
"""The recorder's default RECORDER_MAX_IN_FLIGHT."""


@pytest.fixture
def scratch(database_url: str) -> Iterator[Any]:
    """A factory of throwaway databases, each migrated: returns (engine, psycopg url)."""
    admin = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    made: list[tuple[str, Engine]] = []

    def make() -> tuple[Engine, str]:
        name = f"test_batches_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        url = f"{admin.rpartition('/')[0]}/{name}"
        engine = make_engine(sqlalchemy_url(url))
        made.append((name, engine))
        upgrade(engine)
        return engine, url

    yield make
    for name, engine in made:
        engine.dispose()
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                               .format(sql.Identifier(name)))


def _traffic(queries: int) -> list[list[EventModel]]:
    """Per topic: realistic queries, a later second outcome and answer for each, feedback,
    status changes, heartbeats; every record twice (redelivered), in a shuffled order."""
    topics: list[list[EventModel]] = [[], [], [], [], []]
    for n in range(queries):
        for index, records in enumerate(query_events(n, campaign=f"c{n % 3}")):
            topics[index].extend(records)
        query, response = topics[0][-1], topics[3][-1]
        assert isinstance(query, QueryRequested)
        at = query.occurred_at
        topics[2].append(ProviderAttempt(
            query_id=query.query_id, provider="gemini", model="gemini-2.5-flash",
            attempt_number=1, outcome="error", latency_ms=5.0, error_kind="ProviderUnavailable",
            event_id=f"late-outcome-{n}", occurred_at=at + timedelta(seconds=5)))
        topics[3].append(response.model_copy(update={
            "event_id": f"late-answer-{n}", "result": "a later answer", "campaign_id": None,
            "occurred_at": response.occurred_at + timedelta(seconds=3)}))
        topics[4].append(FeedbackGiven(analysis_id=query.query_id, rating="correct",
                                       event_id=f"feedback-{n}", occurred_at=at))
        topics[4].append(ProviderStatus(provider="gemini", state="degraded", reason="slow",
                                        error_rate=0.1, heartbeat=n % 2 == 0,
                                        event_id=f"status-{n}", occurred_at=at))
    shuffle = random.Random(7)
    for events in topics:
        events.extend(list(events))
        shuffle.shuffle(events)
    return topics


async def _feed(handle: Handler[EventModel], topics: Sequence[Sequence[EventModel]]
                ) -> list[BaseException | None]:
    """Every topic's events through `handle`, IN_FLIGHT at once per topic, as the workers
    run them; what each call raised (None: returned)."""
    outcomes: list[BaseException | None] = []

    async def topic(events: Sequence[EventModel]) -> None:
        slots = asyncio.Semaphore(IN_FLIGHT)

        async def one(event: EventModel) -> None:
            async with slots:
                try:
                    await handle(event)
                except Exception as err:
                    outcomes.append(err)
                else:
                    outcomes.append(None)
        await asyncio.gather(*(one(e) for e in events))

    await asyncio.gather(*(topic(events) for events in topics))
    return outcomes


def _dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(url) as connection:
        return {t.name: [tuple(r) for r in connection.execute(
            sql.SQL("SELECT * FROM {} ORDER BY 1").format(sql.Identifier(t.name))).fetchall()]
            for t in TABLES}


def _compilations(engine: Engine) -> list[tuple[str, bool]]:
    """Every statement SQLAlchemy compiles from now on (not found in its compiled cache),
    with whether it was compiled for executemany (a second form of the same statement)."""
    compiled: list[tuple[str, bool]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _count(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
               executemany: bool) -> None:
        if context is not None and context.cache_hit is not context.cache_hit.CACHE_HIT:
            compiled.append((statement, executemany))
    return compiled


def test_batches_leave_the_rows_one_transaction_per_event_leaves(scratch: Any) -> None:
    batched_engine, batched_url = scratch()
    single_engine, single_url = scratch()
    topics = _traffic(QUERIES)
    handle = record_handler(RecordWriter(engine=batched_engine))

    outcomes = asyncio.run(_feed(handle, topics))

    assert outcomes == [None] * sum(len(events) for events in topics)
    single = RecordWriter(engine=single_engine)
    for events in topics:
        for one in events:
            single.write(upserts(one))
    batched = _dump(batched_url)
    assert batched == _dump(single_url)
    assert {name: len(rows) for name, rows in batched.items()} == {
        "analyses": QUERIES, "routing_decisions": QUERIES, "provider_attempts": QUERIES,
        "confidence_scores": QUERIES, "feedback": QUERIES,
        "provider_status_changes": QUERIES // 2}
    with psycopg.connect(batched_url) as connection:
        kept = connection.execute(
            "SELECT DISTINCT a.result, a.campaign_id IS NOT NULL, p.outcome FROM analyses a"
            " JOIN provider_attempts p USING (analysis_id)").fetchall()
    assert [(r[:40], campaign, outcome) for r, campaign, outcome in kept] == [
        ("Cost of living, schools and public safet", True, "success")]


def test_statements_are_built_and_compiled_once_not_per_event(scratch: Any) -> None:
    engine, _ = scratch()
    handle = record_handler(RecordWriter(engine=engine))
    compiled = _compilations(engine)
    asyncio.run(_feed(handle, _traffic(5)))
    built = statement_for.cache_info().misses
    first = len(compiled)

    traffic = _traffic(QUERIES)
    asyncio.run(_feed(handle, traffic))

    assert statement_for.cache_info().misses == built
    assert len(set(compiled)) == len(compiled), "a statement was compiled twice"
    # at most once more per statement: its single-row form or its executemany form
    assert len(compiled) - first <= statement_for.cache_info().currsize
    assert sum(len(events) for events in traffic) > 10 * len(compiled)


def test_a_row_the_database_refuses_fails_its_own_event_not_its_batch(scratch: Any) -> None:
    engine, url = scratch()
    handle = record_handler(RecordWriter(engine=engine))
    refused = FeedbackGiven(analysis_id="a1", rating="correct", comment="NUL \x00 in text",
                            event_id="refused")
    good = [FeedbackGiven(analysis_id="a1", rating="correct", event_id=f"good-{n}")
            for n in range(IN_FLIGHT)]

    outcomes = asyncio.run(_feed(handle, [[*good[:8], refused, *good[8:]]]))

    failed = [o for o in outcomes if o is not None]
    assert len(failed) == 1 and not isinstance(failed[0], TransientHandlerError)
    with psycopg.connect(url) as connection:
        written = connection.execute("SELECT event_id FROM feedback ORDER BY 1").fetchall()
    assert sorted(e for (e,) in written) == sorted(g.event_id for g in good)


def test_a_batch_that_does_not_commit_reports_every_event_unwritten(scratch: Any) -> None:
    """At least once: a handler returns only when its rows committed, so the worker keeps
    every event of a failed transaction in flight (retried, its offset not committed)."""
    engine, url = scratch()
    handle = record_handler(RecordWriter(engine=engine))
    with psycopg.connect(url) as connection:
        connection.execute("DROP TABLE feedback")  # as during `audit rebuild`
    feedback = [FeedbackGiven(analysis_id="a1", rating="correct", event_id=f"fb-{n}")
                for n in range(IN_FLIGHT)]
    queries = [records[0] for n in range(IN_FLIGHT) for records in query_events(n)[:1]]

    outcomes = asyncio.run(_feed(handle, [feedback, queries]))

    assert len(outcomes) == 2 * IN_FLIGHT
    assert all(isinstance(o, TransientHandlerError) for o in outcomes), outcomes
    with psycopg.connect(url) as connection:
        analyses = connection.execute("SELECT count(*) FROM analyses").fetchone()
    assert analyses == (0,)  # the queries shared the failed transaction: none half-written


def test_a_linger_lets_events_arriving_one_by_one_share_a_transaction(scratch: Any) -> None:
    """At a low rate the events come one at a time; without the linger each pays a
    transaction of its own (the recorder's biggest CPU cost per query in the bench)."""
    engine, _ = scratch()
    events = [e for topic in _traffic(3) for e in topic if rows_of(e)][:6]

    async def arriving_one_by_one(linger_s: float, enough_events: int = 100) -> int:
        commit = GroupCommit(
            writer=RecordWriter(engine=engine), linger_s=linger_s, enough_events=enough_events
        )

        async def arrive(index: int, one: EventModel) -> None:
            await asyncio.sleep(0.02 * index)
            await commit.write(rows_of(one))

        await asyncio.gather(*(arrive(i, one) for i, one in enumerate(events)))
        return commit.batches

    assert len(events) == 6
    assert asyncio.run(arriving_one_by_one(0.0)) > 1
    assert asyncio.run(arriving_one_by_one(0.5)) == 1
    started = time.monotonic()
    assert asyncio.run(arriving_one_by_one(10.0, enough_events=len(events))) == 1
    assert time.monotonic() - started < 5.0, "the sixth event ends the 10 s linger"
