"""The recorder builds each upsert statement once and reuses it for every event.

Building and compiling a statement per event was most of the recorder's CPU
(docs/performance.md, "Recorder"); the writer relies on one statement object per kind
of row so that SQLAlchemy's compiled cache and executemany apply.
"""

from __future__ import annotations

from bench.recorded_events import query_events
from schemas.feedback import FeedbackGiven
from services.recorder.handler import records
from services.recorder.statements import statement_for
from services.recorder.writer import in_lock_order

EVENTS = [event for n in range(100) for topic in query_events(n) for event in topic]


def test_a_hundred_queries_reuse_the_statements_of_the_first() -> None:
    first = [record.statement for event in EVENTS[:5] for record in records(event)]
    built = statement_for.cache_info().misses

    later = {id(record.statement) for event in EVENTS[5:] for record in records(event)}

    assert statement_for.cache_info().misses == built
    assert later == {id(statement) for statement in first}
    assert len(later) == 5  # query, classified, attempt, response, confidence


def test_the_parameters_are_the_events_own() -> None:
    attempt = EVENTS[2]
    (record,) = records(attempt)
    assert record.params["attempt_id"] == f"{attempt.query_id}:1"  # type: ignore[attr-defined]
    assert record.params["event_id"] == attempt.event_id
    assert record.lock_order == ("provider_attempts", record.params["attempt_id"])


def test_a_batch_runs_one_executemany_per_statement_rows_in_identity_order() -> None:
    grades = [FeedbackGiven(analysis_id="a", rating="correct", event_id=name)
              for name in ("c", "a", "b")]
    batch = [r for event in [*grades, *EVENTS[:5]] for r in records(event)]

    runs = in_lock_order(batch)

    assert [statement.table.name for statement, _ in runs] == [  # type: ignore[attr-defined]
        "analyses", "analyses", "confidence_scores", "feedback", "provider_attempts",
        "routing_decisions"]
    feedback = next(params for statement, params in runs
                    if statement.table.name == "feedback")  # type: ignore[attr-defined]
    assert [p["event_id"] for p in feedback] == ["a", "b", "c"]
    attempts = next(params for statement, params in runs
                    if statement.table.name == "provider_attempts")  # type: ignore[attr-defined]
    assert [p["outcome"] for p in attempts] == ["started", "success"]  # one row, two records
