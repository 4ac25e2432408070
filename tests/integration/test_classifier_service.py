"""The classifier process on the real broker: consumes queries, produces routes, survives poison."""

from __future__ import annotations

from schemas.classified import QueryClassified
from schemas.dead_letter import DeadLetter
from schemas.query import QueryRequested
from tests.support.kafka import TopicReader


def test_classifies_queries_and_dead_letters_poison_without_stopping(
    topics, producer, start_service, kafka_bootstrap
) -> None:
    start_service("classifier")
    producer.send_and_wait(
        topics.queries,
        "q1",
        QueryRequested(query_id="q1", query="latest polls in Arizona this week"),
        10,
    )
    producer.send_raw(topics.queries, "poison", b"{definitely not json").result(10)
    producer.send_raw(topics.queries, "wrong-shape", b'{"query_id": "x"}').result(10)
    producer.send_and_wait(
        topics.queries,
        "q2",
        QueryRequested(query_id="q2", query="fix the spelling of this tweet: canidate"),
        10,
    )

    classified = TopicReader(kafka_bootstrap, topics.classified, QueryClassified)
    dead = TopicReader(kafka_bootstrap, topics.dead_letters, DeadLetter)
    try:
        events = classified.poll_until(lambda e: len(e) >= 2, 30)
        letters = dead.poll_until(lambda e: len(e) >= 2, 30)
    finally:
        classified.close()
        dead.close()

    routes = {e.query.query_id: e.route[0].provider for e in events}
    assert routes == {"q1": "perplexity", "q2": "local"}
    assert {letter.key for letter in letters} == {"poison", "wrong-shape"}
    assert all(
        letter.service == "classifier" and letter.error_type == "ValidationError"
        for letter in letters
    )
    assert letters[0].payload in ("{definitely not json", '{"query_id": "x"}')
    assert all(b'"query_id"' in raw for raw in classified.raw)  # readable JSON on the wire
