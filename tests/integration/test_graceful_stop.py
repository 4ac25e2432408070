"""SIGTERM under load: the dispatcher drains, commits, and its successor finishes the rest.

No query lost, none answered twice, none paid twice: the drain (8 s) fits inside the
scripts' 15 s kill grace, in-flight calls finish and are committed, and whatever was
not finished is redelivered to the next instance, which neither repeats a paid call nor
publishes a second, different completion.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator

import pytest

from harness.emulator_process import EmulatorControl, running_emulator
from harness.kafka import TopicReader
from harness.processes import STOP_TIMEOUT_S, free_port
from schemas.attempt import ProviderAttempt
from schemas.completion import CompletionProduced
from schemas.query import QueryRequested
from services.classifier.handler import classify
from services.common.worker import DRAIN_TIMEOUT_S

QUERIES = 80
LOAD_BEFORE_STOP_S = 0.5
EMULATOR_LATENCY_SCALE = 3.0
"""About three seconds a call: calls are surely in flight at the stop, and finish well
inside the 8 s drain."""
SCRIPTS_KILL_GRACE_S = 15.0


@pytest.fixture(scope="module")
def slow_emulator() -> Iterator[EmulatorControl]:
    with running_emulator(latency_scale=EMULATOR_LATENCY_SCALE) as control:
        yield control


def test_sigterm_under_load_loses_nothing_and_pays_nothing_twice(
    slow_emulator, topics, producer, start_service, kafka_bootstrap
) -> None:
    env = {
        "EMULATOR_URL": slow_emulator.base_url,
        "LOCAL_MODEL_URL": f"http://127.0.0.1:{free_port()}/v1",
    }
    first = start_service("dispatcher", **env)
    sent = []
    for i in range(QUERIES):
        query = QueryRequested(query_id=f"g{i}", query="What drives turnout among young voters?")
        sent.append(producer.send(topics.classified, query.query_id, classify(query)))
    for future in sent:
        future.result(10)
    time.sleep(LOAD_BEFORE_STOP_S)  # calls in flight now

    stop_started = time.monotonic()
    first.stop()  # SIGTERM: drain, commit, exit
    stop_took_s = time.monotonic() - stop_started
    assert DRAIN_TIMEOUT_S < SCRIPTS_KILL_GRACE_S <= STOP_TIMEOUT_S
    assert stop_took_s < SCRIPTS_KILL_GRACE_S, "the drain outlasted the kill grace"
    log = first.log_tail(200)
    assert "draining" in log and "drained in" in log, log

    start_service("dispatcher", **env)
    completions_reader = TopicReader(kafka_bootstrap, topics.completions, CompletionProduced)
    attempts_reader = TopicReader(kafka_bootstrap, topics.provider_attempts, ProviderAttempt)
    try:
        completions = completions_reader.poll_until(
            lambda events: len({e.query.query_id for e in events}) >= QUERIES, 90
        )
        attempts = attempts_reader.poll_until(
            lambda events: len({e.query_id for e in events if e.outcome == "success"})
            >= QUERIES,
            30,
        )
    finally:
        completions_reader.close()
        attempts_reader.close()

    by_query: dict[str, set[str]] = defaultdict(set)
    for completion in completions:
        by_query[completion.query.query_id].add(completion.event_id)
    assert len(by_query) == QUERIES, "a query was lost across the stop"
    twice = {q: ids for q, ids in by_query.items() if len(ids) > 1}
    assert not twice, f"answered twice (different completions): {twice}"

    paid: dict[str, set[str]] = defaultdict(set)
    for attempt in attempts:
        if attempt.outcome == "success":
            paid[attempt.query_id].add(attempt.attempt_id or attempt.event_id)
    assert not {q: ids for q, ids in paid.items() if len(ids) > 1}, "a call paid twice"
