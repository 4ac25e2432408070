"""The health monitor as a real process, probing the provider emulator, on the real broker.

The emulator turns a provider off through its control API; the monitor must
publish `down` for it within 5 s (the dispatcher then skips it), and `healthy`
again once it is back. The local model is pointed at a port nobody listens on,
so it is reported down: that is the monitor telling the truth, not a failure.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
import redis

from harness.emulator_process import EmulatorControl, running_emulator
from harness.kafka import TopicReader
from harness.processes import ManagedProcess, free_port
from schemas.attempt import ProviderAttempt
from schemas.classified import QueryClassified
from schemas.completion import CompletionProduced
from schemas.dead_letter import DeadLetter
from schemas.health import ProviderStatus
from schemas.query import QueryRequested
from services.classifier.handler import classify
from services.common.redis_keys import RedisKeys

DETECTION_DEADLINE_S = 5.0
STARTUP_TIMEOUT_S = 30.0
RECOVERY_TIMEOUT_S = 15.0
COMPLEX = "Build a 3-phase persuasion strategy from these crosstabs, with trade-offs"


@pytest.fixture(scope="module")
def emulator_process() -> Iterator[EmulatorControl]:
    """Realistic latencies, so probes take as long as they would (Perplexity's ~0.4 s)."""
    with running_emulator(latency_scale=1.0) as control:
        yield control


@pytest.fixture
def emulator(emulator_process: EmulatorControl) -> EmulatorControl:
    emulator_process.reset()
    return emulator_process


@pytest.fixture
def health(start_service, emulator: EmulatorControl) -> ManagedProcess:
    return start_service("health", **provider_env(emulator))


def provider_env(emulator: EmulatorControl) -> dict[str, str]:
    # No local model server here: the local provider is refused, and reported down.
    return {"EMULATOR_URL": emulator.base_url,
            "LOCAL_MODEL_URL": f"http://127.0.0.1:{free_port()}/v1"}


@pytest.fixture
def statuses(topics, kafka_bootstrap: str) -> Iterator[StatusWatch]:
    watch = StatusWatch(TopicReader(kafka_bootstrap, topics.provider_health, ProviderStatus))
    yield watch
    watch.reader.close()


@pytest.fixture
def status_hash(topics, redis_url: str) -> Iterator[Callable[[], dict[str, ProviderStatus]]]:
    client = redis.Redis.from_url(redis_url)
    key = RedisKeys(topics.namespace).provider_status()

    def read() -> dict[str, ProviderStatus]:
        return {(field.decode() if isinstance(field, bytes) else field):
                ProviderStatus.model_validate_json(value)
                for field, value in client.hgetall(key).items()}

    yield read
    client.delete(key)
    client.close()


class StatusWatch:
    """Reads the health topic and times how long a wanted status takes to appear."""

    def __init__(self, reader: TopicReader) -> None:
        self.reader = reader

    def wait_for(self, predicate: Callable[[ProviderStatus], bool], timeout_s: float,
                 *, after: int = 0, since: float | None = None) -> tuple[ProviderStatus, float]:
        """The first status at index >= `after` matching `predicate`, and the seconds from
        `since` (a time.monotonic() reading; default: now) until it was read."""
        started = time.monotonic() if since is None else since
        matches: list[ProviderStatus] = []

        def first_match(events: list[ProviderStatus]) -> bool:
            # called right after each event is read, so the time taken below is the
            # moment the status was readable on the topic
            for event in events[after:]:
                if predicate(event):
                    matches.append(event)
                    return True
            return False

        self.reader.poll_until(first_match, timeout_s)
        elapsed = time.monotonic() - started
        if not matches:
            seen = [(e.provider, e.state, e.reason) for e in self.reader.events[after:]][-10:]
            raise AssertionError(f"no matching status within {timeout_s}s; last seen: {seen}")
        return matches[0], elapsed

    @property
    def count(self) -> int:
        return len(self.reader.events)


def is_(provider: str, state: str, *, since: datetime | None = None
        ) -> Callable[[ProviderStatus], bool]:
    """Matches `provider` in `state`, published at or after `since` (so a status
    from before a fault was injected never counts as its effect)."""
    return lambda s: (s.provider == provider and s.state == state
                      and (since is None or s.occurred_at >= since))


@pytest.mark.integration
def test_outages_are_published_within_5s_and_recovery_follows(
    health, emulator, statuses, status_hash
) -> None:
    for provider in ("gemini", "perplexity"):
        status, _ = statuses.wait_for(is_(provider, "healthy"), STARTUP_TIMEOUT_S)
        assert status.last_probe_at is not None
        assert status.latency_p50_ms is not None  # from probes: there is no traffic
    local, _ = statuses.wait_for(lambda s: s.provider == "local" and s.state != "healthy",
                                 STARTUP_TIMEOUT_S)
    assert local.last_error

    wait_until(lambda: {"gemini", "perplexity", "local"} <= set(status_hash()), 5.0)
    stored = status_hash()
    assert stored["gemini"].state == "healthy" and stored["perplexity"].state == "healthy"
    assert stored["local"].state != "healthy"

    detection: dict[str, float] = {}
    for mode in ("down", "error", "hang"):
        mark = statuses.count
        put_at, put_clock = datetime.now(UTC), time.monotonic()
        emulator.set_mode("gemini", mode)
        down, elapsed = statuses.wait_for(is_("gemini", "down", since=put_at),
                                          DETECTION_DEADLINE_S + 5, after=mark, since=put_clock)
        published_after = (down.occurred_at - put_at).total_seconds()
        detection[mode] = elapsed
        print(f"gemini mode={mode}: down read from the topic {elapsed:.2f}s after the PUT "
              f"(published {published_after:.2f}s after); reason: {down.reason}; "
              f"last_error: {down.last_error}")
        assert elapsed < DETECTION_DEADLINE_S, f"{mode}: down after {elapsed:.2f}s"
        assert down.consecutive_probe_failures >= 2 and down.last_error
        assert not down.heartbeat

        mark, ok_at = statuses.count, datetime.now(UTC)
        emulator.set_mode("gemini", "ok")
        healthy, recovered = statuses.wait_for(is_("gemini", "healthy", since=ok_at),
                                               RECOVERY_TIMEOUT_S, after=mark)
        print(f"gemini mode=ok after {mode}: healthy after {recovered:.2f}s")
        assert healthy.consecutive_probe_failures == 0

    # a 429 means reachable but throttling: degraded, not down
    mark, limited_at = statuses.count, datetime.now(UTC)
    emulator.set_mode("gemini", "rate_limit")
    limited, _ = statuses.wait_for(is_("gemini", "degraded", since=limited_at),
                                   DETECTION_DEADLINE_S, after=mark)
    assert "rate limited" in limited.reason
    statuses.reader.poll_until(lambda _: False, 3.0)  # keep reading for three more probes
    assert not [s for s in statuses.reader.events[mark:] if is_("gemini", "down")(s)]
    mark, ok_at = statuses.count, datetime.now(UTC)
    emulator.set_mode("gemini", "ok")
    statuses.wait_for(is_("gemini", "healthy", since=ok_at), RECOVERY_TIMEOUT_S, after=mark)

    # perplexity was never touched: no down status for it at any point
    assert not [s for s in statuses.reader.events if is_("perplexity", "down")(s)]
    wait_until(lambda: status_hash()["gemini"].state == "healthy", 5.0)
    print("detection times (s):", json.dumps({k: round(v, 2) for k, v in detection.items()}))


@pytest.mark.integration
def test_attempt_events_drive_status_and_poison_is_dead_lettered(
    health, emulator, statuses, producer, topics, kafka_bootstrap
) -> None:
    statuses.wait_for(is_("perplexity", "healthy"), STARTUP_TIMEOUT_S)
    producer.send_raw(topics.provider_attempts, "poison", b"{not an attempt").result(10)
    producer.send_raw(topics.provider_attempts, "wrong-shape",
                      b'{"query_id": "q", "provider": "openai"}').result(10)
    mark, sent_at = statuses.count, datetime.now(UTC)
    for i in range(6):  # real traffic failing while the probes still pass
        producer.send_and_wait(topics.provider_attempts, f"q{i}", ProviderAttempt(
            query_id=f"q{i}", provider="perplexity", model="sonar", attempt_number=1,
            outcome="error", error_kind="unavailable", error_message="503 upstream",
            latency_ms=120.0), 10)

    down, _ = statuses.wait_for(is_("perplexity", "down", since=sent_at), 20.0, after=mark)
    assert "error rate 100%" in down.reason
    assert down.sample_size >= 5 and down.error_rate == 1.0
    assert down.last_error == "unavailable: 503 upstream"

    dead = TopicReader(kafka_bootstrap, topics.dead_letters, DeadLetter)
    try:
        letters = dead.poll_until(lambda e: len(e) >= 2, 20)
    finally:
        dead.close()
    assert {letter.key_bytes() for letter in letters} == {b"poison", b"wrong-shape"}
    assert all(letter.service == "health" for letter in letters)
    assert health.alive()


@pytest.mark.integration
def test_dispatcher_stops_calling_a_provider_within_5s_of_it_going_down(
    emulator, start_service, statuses, producer, topics, kafka_bootstrap
) -> None:
    env = provider_env(emulator)
    start_service("health", **env)
    start_service("dispatcher", **env)
    statuses.wait_for(is_("gemini", "healthy"), STARTUP_TIMEOUT_S)
    producer.send_and_wait(topics.classified, "before", gemini_first("before"), 10)
    completions = TopicReader(kafka_bootstrap, topics.completions, CompletionProduced)
    try:
        [before] = completions.poll_until(lambda e: len(e) >= 1, 30)
        assert before.answer is not None and before.answer.provider == "gemini"

        sent_at: dict[str, float] = {}
        put_clock = time.monotonic()
        emulator.set_mode("gemini", "down")
        calls_at_deadline = None
        while (offset := time.monotonic() - put_clock) < DETECTION_DEADLINE_S + 2:
            if calls_at_deadline is None and offset >= DETECTION_DEADLINE_S:
                calls_at_deadline = gemini_generate_calls(emulator)
            query_id = f"q{len(sent_at)}"
            producer.send_and_wait(topics.classified, query_id, gemini_first(query_id), 10)
            sent_at[query_id] = offset
            time.sleep(0.2)
        done = completions.poll_until(lambda e: len(e) >= 1 + len(sent_at), 60)
    finally:
        completions.close()

    called = {c.query.query_id: c.attempts[0].outcome != "skipped"
              for c in done if c.query.query_id in sent_at}
    assert set(called) == set(sent_at)
    last_called = max((sent_at[q] for q, was in called.items() if was), default=0.0)
    first_skipped = min(sent_at[q] for q, was in called.items() if not was)
    print(f"dispatcher: last query that still called gemini was sent {last_called:.2f}s "
          f"after the PUT; first one that skipped it {first_skipped:.2f}s after")
    assert last_called < DETECTION_DEADLINE_S
    late = [q for q, offset in sent_at.items() if offset >= DETECTION_DEADLINE_S]
    assert late and not any(called[q] for q in late)
    assert all(c.status == "succeeded" and c.answer.provider != "gemini"
               for c in done if c.query.query_id in late)
    assert gemini_generate_calls(emulator) == calls_at_deadline

    # and back: once the monitor reports gemini healthy, the dispatcher uses it again
    mark, ok_at = statuses.count, datetime.now(UTC)
    emulator.set_mode("gemini", "ok")
    _, recovered = statuses.wait_for(is_("gemini", "healthy", since=ok_at), RECOVERY_TIMEOUT_S,
                                     after=mark)
    print(f"gemini healthy again {recovered:.2f}s after mode ok, despite the failed calls "
          "the dispatcher made before it saw the outage")
    time.sleep(0.5)  # the dispatcher's health view polls the topic
    producer.send_and_wait(topics.classified, "after", gemini_first("after"), 10)
    reader = TopicReader(kafka_bootstrap, topics.completions, CompletionProduced)
    try:
        after = reader.poll_until(
            lambda e: any(c.query.query_id == "after" for c in e), 30)
    finally:
        reader.close()
    [final] = [c for c in after if c.query.query_id == "after"]
    assert final.answer is not None and final.answer.provider == "gemini"


def gemini_first(query_id: str) -> QueryClassified:
    classified = classify(QueryRequested(query_id=query_id, query=COMPLEX))
    assert classified.route[0].provider == "gemini"
    return classified


def gemini_generate_calls(emulator: EmulatorControl) -> int:
    """Completions the emulator served or failed for gemini (probes are counted apart)."""
    return int(emulator.state()["gemini"]["by_endpoint"].get("generate", 0))


def wait_until(condition: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"condition not met within {timeout_s}s")
