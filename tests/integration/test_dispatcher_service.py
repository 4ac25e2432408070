"""The dispatcher process against the real broker, Redis and the provider emulator."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer

from harness.emulator_process import EmulatorControl, running_emulator
from harness.kafka import TopicReader
from harness.processes import free_port
from providers.catalogue import DEFAULT_CATALOGUE, Catalogue
from schemas.attempt import ProviderAttempt
from schemas.classified import QueryClassified
from schemas.completion import CompletionProduced
from schemas.health import ProviderStatus
from schemas.query import QueryRequested
from services.classifier.handler import classify

COMPLEX = "Build a 3-phase persuasion strategy from these crosstabs, with trade-offs"
FAILOVER_BUDGET_MS = 5000


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorControl]:
    with running_emulator(latency_scale=0.0) as control:
        yield control


@pytest.fixture(scope="module")
def slow_emulator() -> Iterator[EmulatorControl]:
    """Real-world-ish latencies (about a second per call)."""
    with running_emulator(latency_scale=1.0) as control:
        yield control


@pytest.fixture
def dispatcher_env(emulator: EmulatorControl) -> dict[str, str]:
    emulator.reset()
    # No local model server in these tests: the local provider fails fast (connection refused).
    return {
        "EMULATOR_URL": emulator.base_url,
        "LOCAL_MODEL_URL": f"http://127.0.0.1:{free_port()}/v1",
    }


def _classified(query_id: str, text: str = COMPLEX) -> QueryClassified:
    return classify(QueryRequested(query_id=query_id, query=text))


def _completions(
    kafka_bootstrap, topics, count: int, timeout_s: float = 60
) -> list[CompletionProduced]:
    reader = TopicReader(kafka_bootstrap, topics.completions, CompletionProduced)
    try:
        return reader.poll_until(
            lambda events: len({e.query.query_id for e in events}) >= count, timeout_s
        )
    finally:
        reader.close()


def _keyed_attempts(
    kafka_bootstrap: str, topic: str, done, timeout_s: float = 30
) -> list[tuple[str, ProviderAttempt]]:
    """(key, event) of every attempt event until `done(events)` holds or time runs out."""
    consumer = Consumer({
        "bootstrap.servers": kafka_bootstrap,
        "group.id": f"test-attempts-{uuid.uuid4().hex}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    consumer.subscribe([topic])
    found: list[tuple[str, ProviderAttempt]] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and not done([e for _, e in found]):
            message = consumer.poll(0.2)
            if message is None or message.error() is not None:
                continue
            found.append(
                (message.key().decode(), ProviderAttempt.from_bytes(message.value()))
            )
    finally:
        consumer.close()
    return found


def test_answers_from_primary_and_publishes_one_attempt_per_call(
    topics, producer, start_service, kafka_bootstrap, dispatcher_env
) -> None:
    start_service("dispatcher", **dispatcher_env)
    producer.send_and_wait(topics.classified, "q1", _classified("q1"), 10)
    [completion] = _completions(kafka_bootstrap, topics, 1)
    assert completion.status == "succeeded"
    assert (completion.answer.provider, completion.answer.model) == ("gemini", "gemini-2.5-pro")
    assert completion.answer.emulated and completion.answer.output_tokens > 0
    assert completion.answer.cost_usd > 0
    keyed = _keyed_attempts(kafka_bootstrap, topics.provider_attempts, lambda e: len(e) >= 2)
    assert [(key, a.provider, a.outcome, a.attempt_id) for key, a in keyed] == [
        ("gemini", "gemini", "started", "q1:1"),
        ("gemini", "gemini", "success", "q1:1"),
    ]


@pytest.mark.parametrize("mode", ["error", "down", "rate_limit", "hang"])
def test_falls_back_within_5s_when_the_primary_fails(
    mode, emulator, topics, producer, start_service, kafka_bootstrap, dispatcher_env
) -> None:
    emulator.set_mode("gemini", mode)
    start_service("dispatcher", **dispatcher_env)
    producer.send_and_wait(topics.classified, "q1", _classified("q1"), 10)
    [completion] = _completions(kafka_bootstrap, topics, 1)
    assert completion.status == "succeeded"
    assert completion.answer.provider == "perplexity"
    failed = completion.attempts[0]
    assert failed.provider == "gemini" and failed.outcome in ("error", "timeout")
    assert failed.latency_ms < FAILOVER_BUDGET_MS, f"failover took {failed.latency_ms:.0f} ms"
    # A hang (no response headers) is left at the model's short header limit, not at its
    # long first-token limit: slow thinking is not failed, silence is.


def test_provider_marked_down_by_health_stream_is_never_called(
    emulator, topics, producer, start_service, kafka_bootstrap, dispatcher_env
) -> None:
    producer.send_and_wait(
        topics.provider_health,
        "gemini",
        ProviderStatus(
            provider="gemini", state="down", reason="test: probes failing", error_rate=1.0
        ),
        10,
    )
    start_service("dispatcher", **dispatcher_env)
    time.sleep(1.0)  # the health view reads the compacted topic from the beginning
    producer.send_and_wait(topics.classified, "q1", _classified("q1"), 10)
    [completion] = _completions(kafka_bootstrap, topics, 1)
    assert completion.attempts[0].outcome == "skipped"
    assert completion.answer.provider == "perplexity"
    assert emulator.state()["gemini"]["requests"] == 0


def test_keeps_over_100_provider_calls_in_flight(
    slow_emulator, topics, producer, start_service, kafka_bootstrap
) -> None:
    count = 150
    start_service(
        "dispatcher",
        EMULATOR_URL=slow_emulator.base_url,
        LOCAL_MODEL_URL=f"http://127.0.0.1:{free_port()}/v1",
    )
    for i in range(count):
        producer.send(topics.classified, f"q{i}", _classified(f"q{i}"))
    started = time.monotonic()
    completions = _completions(kafka_bootstrap, topics, count, timeout_s=90)
    elapsed = time.monotonic() - started
    assert len({c.query.query_id for c in completions}) == count
    per_call_s = min(c.answer.latency_ms for c in completions) / 1000.0
    # One at a time would take count * per_call_s; concurrency keeps it near a few calls.
    assert elapsed < count * per_call_s / 10, (
        f"{count} calls of >= {per_call_s:.2f}s took {elapsed:.1f}s: not concurrent"
    )


def test_killed_mid_stream_and_restarted_loses_no_query(
    slow_emulator, topics, producer, start_service, kafka_bootstrap
) -> None:
    count = 60
    env = {
        "EMULATOR_URL": slow_emulator.base_url,
        "LOCAL_MODEL_URL": f"http://127.0.0.1:{free_port()}/v1",
        "DISPATCHER_MAX_IN_FLIGHT": "8",
    }
    first = start_service("dispatcher", **env)
    for i in range(count):
        producer.send(topics.classified, f"q{i}", _classified(f"q{i}"))
    producer.send_and_wait(topics.classified, "last", _classified("last"), 10)
    _completions(kafka_bootstrap, topics, 5, timeout_s=60)
    first.kill()  # SIGKILL: no drain, no final commit
    start_service("dispatcher", **env)
    completions = _completions(kafka_bootstrap, topics, count + 1, timeout_s=120)
    ids = {c.query.query_id for c in completions}
    assert ids == {f"q{i}" for i in range(count)} | {"last"}


def test_two_deliveries_of_one_query_at_once_pay_one_provider_call(
    slow_emulator, topics, producer, start_service, kafka_bootstrap
) -> None:
    slow_emulator.reset()
    start_service(
        "dispatcher",
        EMULATOR_URL=slow_emulator.base_url,
        LOCAL_MODEL_URL=f"http://127.0.0.1:{free_port()}/v1",
    )
    classified = _classified("twice")
    producer.send(topics.classified, "twice", classified)  # a redelivery racing the first
    producer.send_and_wait(topics.classified, "twice", classified, 10)
    reader = TopicReader(kafka_bootstrap, topics.completions, CompletionProduced)
    completions = reader.poll_until(lambda events: len(events) >= 2, 60)
    reader.close()
    assert len(completions) == 2
    assert completions[0].answer == completions[1].answer
    keyed = _keyed_attempts(
        kafka_bootstrap, topics.provider_attempts,
        lambda events: any(a.outcome == "success" for a in events), timeout_s=20,
    )
    time.sleep(1.0)  # let a second paid call, if any, reach the topic
    keyed += _keyed_attempts(kafka_bootstrap, topics.provider_attempts, lambda e: False, 3)
    succeeded = {a.event_id for _key, a in keyed if a.outcome == "success"}
    assert len(succeeded) == 1, f"{len(succeeded)} paid calls for one query"
    assert slow_emulator.state()["gemini"]["by_endpoint"].get("generate", 0) == 1


def test_a_call_cut_short_by_sigkill_is_on_record_and_redone_as_the_next_attempt(
    emulator, topics, producer, start_service, kafka_bootstrap, dispatcher_env, tmp_path
) -> None:
    emulator.set_mode("gemini", "hang")
    # No header limit: the hung call must still be in flight when the process is killed.
    no_header_limit = Catalogue(
        models=[spec.model_copy(update={"headers_timeout_s": None})
                for spec in DEFAULT_CATALOGUE.models]
    )
    catalogue = tmp_path / "catalogue.json"
    catalogue.write_text(json.dumps(no_header_limit.model_dump(mode="json")))
    env = {**dispatcher_env, "DISPATCHER_ROUTE_BUDGET_S": "8", "DISPATCHER_LEASE_TTL_S": "2",
           "CATALOGUE_PATH": str(catalogue)}
    first = start_service("dispatcher", **env)
    producer.send_and_wait(topics.classified, "q1", _classified("q1"), 10)
    before = _keyed_attempts(kafka_bootstrap, topics.provider_attempts, lambda e: len(e) >= 1)
    assert [(a.attempt_id, a.outcome) for _k, a in before] == [("q1:1", "started")]
    first.kill()  # SIGKILL mid-call: the call's outcome is never published
    emulator.set_mode("gemini", "ok")
    start_service("dispatcher", **env)  # redelivered; waits out the dead holder's lease
    [completion] = _completions(kafka_bootstrap, topics, 1, timeout_s=90)
    assert completion.status == "succeeded"
    keyed = _keyed_attempts(
        kafka_bootstrap, topics.provider_attempts,
        lambda e: any(a.attempt_id == "q1:2" and a.outcome != "started" for a in e),
        timeout_s=20,
    )
    calls = [(a.attempt_id, a.outcome) for _k, a in keyed]
    # The call cut short: on record, its outcome never published.
    assert [outcome for aid, outcome in calls if aid == "q1:1"] == ["started"]
    # The redelivered step is the next attempt (numbered after the dead delivery's, which
    # it read back from the answer-deltas topic), so no attempt id names two calls; it
    # succeeds, or on a loaded machine times out and the fallback's own attempt follows.
    assert ("q1:2", "started") in calls
    assert ("q1:2", "success") in calls or ("q1:2", "timeout") in calls
