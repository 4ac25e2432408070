"""A campaign's spend limit under load: the dispatcher process, the real broker and Redis,
the provider emulator, and hundreds of queries in flight at once."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from confluent_kafka import Consumer

from core.attempt import completion_request
from harness.emulator_process import EmulatorControl, running_emulator
from harness.kafka import TopicReader
from providers.catalogue import DEFAULT_CATALOGUE, GEMINI_FLASH, SONAR
from schemas.attempt import ProviderAttempt
from schemas.classified import QueryClassified
from schemas.completion import CompletionProduced
from schemas.parts import Classification, RouteStep
from schemas.query import QueryRequested
from services.common.spend import read_usage, set_monthly_limit
from services.common.spend_rules import BUDGET_EXHAUSTED
from services.common.spend_rules import max_call_cost_usd as max_cost_usd
from tests.support.fake_local_model import REFUSE_MARKER, fake_local_model

CAMPAIGN = "campaign-load"
QUERIES = 300
COVERED = 100
"""The limit covers this many calls at their maximum cost."""
QUESTION = "Draft a 3-point rebuttal to the opponent's ad on rural broadband, with sources"
COMPLETIONS_TIMEOUT_S = 240.0
ATTEMPTS_IDLE_S = 3.0
ROUTE = [
    RouteStep(provider="gemini", model=GEMINI_FLASH, reason="standard tier"),
    RouteStep(provider="perplexity", model=SONAR, reason="fallback"),
]


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorControl]:
    """About half a second per call: hundreds of paid calls are in flight at once."""
    with running_emulator(latency_scale=0.5) as control:
        yield control


def _classified(number: int) -> QueryClassified:
    refuse = f" {REFUSE_MARKER}" if number % 3 == 0 else ""
    return QueryClassified(
        query=QueryRequested(
            query_id=f"q{number}", query=f"{QUESTION} (#{number}){refuse}", campaign_id=CAMPAIGN
        ),
        classification=Classification(
            complexity=0.4, needs_live_data=False, analysis_type="messaging", cost_sensitive=False
        ),
        route=ROUTE,
    )


def _finished_attempts(bootstrap: str, topic: str) -> list[ProviderAttempt]:
    """Every finished attempt on the topic, read until it stays quiet for a while."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-attempts-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    found: list[ProviderAttempt] = []
    quiet_since = time.monotonic()
    try:
        while time.monotonic() - quiet_since < ATTEMPTS_IDLE_S:
            message = consumer.poll(0.2)
            if message is None or message.error() is not None:
                continue
            quiet_since = time.monotonic()
            event = ProviderAttempt.from_bytes(message.value() or b"")
            if event.outcome != "started":
                found.append(event)
    finally:
        consumer.close()
    return found


def test_300_queries_in_flight_never_spend_more_than_the_campaigns_limit(
    emulator, topics, producer, start_service, kafka_bootstrap, redis_url
) -> None:
    emulator.reset()
    spec = DEFAULT_CATALOGUE.get("gemini", GEMINI_FLASH)
    per_call_max = max_cost_usd(spec, completion_request(_classified(1).query, spec, timeout_s=4.5))
    limit = round(COVERED * per_call_max, 6)
    books = redis.Redis.from_url(redis_url)
    set_monthly_limit(books, topics.namespace, CAMPAIGN, limit)
    with fake_local_model() as local_url:
        start_service(
            "dispatcher",
            EMULATOR_URL=emulator.base_url,
            LOCAL_MODEL_URL=local_url,
            LOCAL_MODEL_PROMPT_FORMAT="chat",
        )
        for number in range(QUERIES):
            producer.send(topics.classified, f"q{number}", _classified(number))
        reader = TopicReader(kafka_bootstrap, topics.completions, CompletionProduced)
        try:
            completions = reader.poll_until(
                lambda events: len({e.query.query_id for e in events}) >= QUERIES,
                COMPLETIONS_TIMEOUT_S,
            )
        finally:
            reader.close()
    by_query = {c.query.query_id: c for c in completions}
    assert len(by_query) == QUERIES, f"only {len(by_query)} of {QUERIES} queries ended"

    attempts = _finished_attempts(kafka_bootstrap, topics.provider_attempts)
    topic_spend = sum(a.cost_usd for a in attempts)
    usage = read_usage(books, topics.namespace, CAMPAIGN)
    books.close()
    paid = [c for c in by_query.values() if c.answer and c.answer.provider != "local"]
    local = [c for c in by_query.values() if c.answer and c.answer.provider == "local"]
    failed = [c for c in by_query.values() if c.status == "failed"]
    print(
        f"\nlimit ${limit:.6f} (max ${per_call_max:.6f} a call); spend on the attempts topic "
        f"${topic_spend:.6f}, in Redis ${usage.spent_usd:.6f} (reserved ${usage.reserved_usd}); "
        f"answered by paid models {len(paid)}, locally {len(local)}, "
        f"{BUDGET_EXHAUSTED} {len(failed)}"
    )
    assert topic_spend <= usage.spent_usd + 1e-9 <= limit + 1e-9
    assert usage.reserved_usd == 0.0  # every reservation settled
    assert all(c.error and c.error.startswith(BUDGET_EXHAUSTED) for c in failed)
    assert len(paid) + len(local) + len(failed) == QUERIES
    assert paid and local and failed
    assert all(c.budget_remaining_usd is not None for c in by_query.values())
