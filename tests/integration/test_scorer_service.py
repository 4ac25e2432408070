"""The scorer process on the real broker and Redis."""

from __future__ import annotations

import subprocess
import time

import redis

from harness.emulator_process import running_emulator
from harness.kafka import TopicReader
from harness.processes import free_port
from schemas.completion import CompletionProduced
from schemas.dead_letter import DeadLetter
from schemas.parts import Answer, AttemptSummary, Citation
from schemas.query import QueryOptions, QueryRequested
from schemas.response import AnalysisResponded
from services.classifier.handler import classify
from services.common.redis_keys import RedisKeys

OUTAGE_S = 3.0


def _completion(query_id: str) -> CompletionProduced:
    classified = classify(
        QueryRequested(query_id=query_id, query="latest polls in Arizona this week")
    )
    answer = Answer(
        provider="perplexity",
        model="sonar",
        text="Gallego leads by 4 in the AZ poll",
        citations=[Citation(url="https://azsos.gov/a"), Citation(url="https://apnews.com/b")],
        input_tokens=30,
        output_tokens=120,
        cost_usd=0.00515,
        latency_ms=700,
        emulated=True,
    )
    return CompletionProduced(
        query=classified.query,
        classification=classified.classification,
        route=classified.route,
        status="succeeded",
        answer=answer,
        attempts=[
            AttemptSummary(
                provider="perplexity",
                model="sonar",
                outcome="success",
                latency_ms=700,
                cost_usd=0.00515,
            )
        ],
    )


def test_scores_completions_stores_results_and_survives_poison(
    topics, producer, start_service, kafka_bootstrap, redis_url
) -> None:
    # Cross-checks are off by default; no provider is reachable, and none is needed.
    start_service("scorer", EMULATOR_URL=f"http://127.0.0.1:{free_port()}")
    producer.send_raw(topics.completions, "poison", b'{"status": "succeeded"}').result(10)
    producer.send_and_wait(topics.completions, "a1", _completion("a1"), 10)

    responses = TopicReader(kafka_bootstrap, topics.responses, AnalysisResponded)
    dead = TopicReader(kafka_bootstrap, topics.dead_letters, DeadLetter)
    try:
        answered = responses.poll_until(lambda e: len(e) >= 2, 30)
        [letter] = dead.poll_until(lambda e: len(e) >= 1, 30)
    finally:
        responses.close()
        dead.close()

    by_id = {r.analysis_id: r for r in answered}
    response = by_id["a1"]
    assert response.status == "completed"
    assert by_id["poison"].status == "failed"  # the poison's caller is not left waiting
    assert response.routing.provider == "perplexity" and response.routing.emulated
    assert 0.0 < response.confidence.score < 1.0
    assert {"source_quality", "historical_accuracy", "route_fit"} <= set(
        response.confidence.components
    )
    assert letter.key_bytes() == b"poison" and letter.service == "scorer"

    stored = redis.Redis.from_url(redis_url).get(RedisKeys(topics.namespace).result("a1"))
    assert AnalysisResponded.from_bytes(stored) == response


def test_a_redis_outage_delays_the_answer_but_never_loses_it(
    topics, producer, start_service, kafka_bootstrap, tmp_path
) -> None:
    """The scorer used to log and swallow a failed result write, commit, and the answer was
    gone for callers of the async API. Now the write is retried until Redis is back."""
    port = free_port()
    start_service(
        "scorer",
        EMULATOR_URL=f"http://127.0.0.1:{free_port()}",
        REDIS_URL=f"redis://127.0.0.1:{port}/0",
    )
    producer.send_and_wait(topics.completions, "a2", _completion("a2"), 10)
    time.sleep(OUTAGE_S)  # the scorer is retrying the write meanwhile
    server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
    )
    responses = TopicReader(kafka_bootstrap, topics.responses, AnalysisResponded)
    try:
        [response] = responses.poll_until(lambda e: len(e) >= 1, 60)
        stored = redis.Redis(port=port).get(RedisKeys(topics.namespace).result("a2"))
    finally:
        responses.close()
        server.terminate()
        server.wait(10)
    assert response.analysis_id == "a2" and response.status == "completed"
    assert stored is not None and AnalysisResponded.from_bytes(stored) == response


def test_cross_validation_asked_by_the_caller_is_scored_and_paid_once(
    topics, producer, start_service, kafka_bootstrap
) -> None:
    """`options.cross_validate` used to crash the scorer (the catalogue field is
    `model_id`), dead-lettering the answer. A redelivered completion is not checked twice."""
    with running_emulator() as emulator:
        start_service("scorer", EMULATOR_URL=emulator.base_url)
        completion = _completion("a3")
        asked = completion.model_copy(
            update={
                "query": completion.query.model_copy(
                    update={"options": QueryOptions(cross_validate=True)}
                )
            }
        )
        producer.send_and_wait(topics.completions, "a3", asked, 10)
        producer.send_and_wait(topics.completions, "a3", asked, 10)  # redelivered copy
        responses = TopicReader(kafka_bootstrap, topics.responses, AnalysisResponded)
        try:
            answered = responses.poll_until(lambda e: len(e) >= 2, 60)
        finally:
            responses.close()
        gemini_calls = emulator.state()["gemini"]["by_endpoint"]
    assert all(r.analysis_id == "a3" and r.status == "completed" for r in answered)
    component = answered[0].confidence.components["cross_validation"]
    assert 0.0 <= component.value <= 1.0 and "second model" in component.detail
    # Both copies carry the cost of the one second call; the emulator saw one call.
    assert answered[0].routing.cost_usd == answered[1].routing.cost_usd > 0.00515
    assert sum(count for endpoint, count in gemini_calls.items() if "generate" in endpoint) == 1
