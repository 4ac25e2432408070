"""The classifier process on the real broker: consumes queries, produces routes, survives poison."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from harness.kafka import TopicReader
from schemas.classified import QueryClassified
from schemas.dead_letter import DeadLetter
from schemas.query import QueryRequested
from schemas.response import AnalysisResponded
from services.classifier.handler import shipped_router
from services.classifier.tier_model import DEFAULT_ARTIFACT, checksum_path
from services.common.redis_keys import RedisKeys

START_FAILURE_TIMEOUT_S = 60.0
"""The process loads the artifact before touching the broker: it should exit in seconds."""


def test_classifies_queries_and_dead_letters_poison_without_stopping(
    topics, producer, start_service, kafka_bootstrap, redis_url
) -> None:
    start_service("classifier")
    producer.send_and_wait(
        topics.queries,
        "q1",
        QueryRequested(query_id="q1", query="latest polls in Arizona this week"),
        10,
    )
    poison = b"{definitely not json \xff\x00" + b"x" * 150_000  # not text, and long
    producer.send_raw(topics.queries, "poison", poison, [("trace", b"t-1")]).result(10)
    producer.send_raw(topics.queries, "wrong-shape", b'{"query_id": "x"}').result(10)
    producer.send_and_wait(
        topics.queries,
        "q2",
        QueryRequested(query_id="q2", query="fix the spelling of this tweet: canidate"),
        10,
    )

    classified = TopicReader(kafka_bootstrap, topics.classified, QueryClassified)
    dead = TopicReader(kafka_bootstrap, topics.dead_letters, DeadLetter)
    answers = TopicReader(kafka_bootstrap, topics.responses, AnalysisResponded)
    try:
        events = classified.poll_until(lambda e: len(e) >= 2, 30)
        letters = dead.poll_until(lambda e: len(e) >= 2, 30)
        failed = answers.poll_until(lambda e: len(e) >= 2, 30)
    finally:
        classified.close()
        dead.close()
        answers.close()

    routes = {e.query.query_id: e.route[0].provider for e in events}
    # q2 is routine, but SmolLM2-135M fixes 1 spelling in 10 usably (capability.json):
    # the capability policy sends it to the cheapest hosted model and says why.
    assert routes == {"q1": "perplexity", "q2": "gemini"}
    fix = next(e for e in events if e.query.query_id == "q2")
    assert fix.classification.routine_kind == "fix_grammar"
    assert "local model not used for grammar and spelling fixes" in fix.route[0].reason
    # The learned router's decision travels with the event, for replays and audits.
    tiers = {e.query.query_id: e.classification.tier for e in events}
    assert tiers == {"q1": "live", "q2": "simple"}
    for event in events:
        probabilities = event.classification.tier_probabilities
        assert set(probabilities) == {"simple", "standard", "complex", "live"}
        assert max(probabilities, key=lambda t: probabilities[t]) == event.classification.tier
        assert event.classification.router_version == shipped_router().version
    by_key = {letter.key_bytes(): letter for letter in letters}
    assert set(by_key) == {b"poison", b"wrong-shape"}
    assert all(
        letter.service == "classifier" and letter.error_type == "ValidationError"
        for letter in letters
    )
    # The original message exactly: every byte, its headers, where it came from.
    assert by_key[b"poison"].payload_bytes() == poison
    assert by_key[b"poison"].header_pairs() == [("trace", b"t-1")]
    assert by_key[b"poison"].source_topic == topics.queries
    assert by_key[b"poison"].timestamp_ms is not None
    assert by_key[b"wrong-shape"].payload_bytes() == b'{"query_id": "x"}'

    # Each dead-lettered query is answered as failed at once, on the topic and in Redis.
    assert {a.analysis_id for a in failed} == {"poison", "wrong-shape"}
    assert all(a.status == "failed" and "set aside" in (a.error or "") for a in failed)
    stored = redis.Redis.from_url(redis_url).get(RedisKeys(topics.namespace).result("poison"))
    assert stored is not None
    assert AnalysisResponded.from_bytes(stored).status == "failed"
    assert all(b'"query_id"' in raw for raw in classified.raw)  # readable JSON on the wire


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_refuses_to_start_with_a_missing_or_corrupt_router(
    damage: str, start_service, tmp_path: Path
) -> None:
    artifact = tmp_path / "router.json"
    if damage == "corrupt":
        artifact.write_bytes(DEFAULT_ARTIFACT.read_bytes()[:-100])
        checksum_path(artifact).write_text(checksum_path(DEFAULT_ARTIFACT).read_text())
    process = start_service("classifier", wait=False, CLASSIFIER_ROUTER_PATH=str(artifact))
    assert process.proc is not None
    assert process.proc.wait(timeout=START_FAILURE_TIMEOUT_S) != 0
    log = process.log_tail()
    assert "cannot start" in log and str(artifact) in log
    assert ("checksum mismatch" if damage == "corrupt" else "cannot read") in log
