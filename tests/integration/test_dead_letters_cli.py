"""`python -m services.common.dead_letters`: list and re-publish dead letters after a fix."""

from __future__ import annotations

import subprocess
import sys

from confluent_kafka import Consumer

from harness.kafka import TopicReader
from harness.processes import REPO_ROOT, infra_env
from schemas.dead_letter import DeadLetter

POISON = b'{"query_id": "p1", "query": 42}\xff'


def _cli(namespace: str, bootstrap: str, redis_url: str, *args: str) -> str:
    env = infra_env(namespace, KAFKA_BOOTSTRAP_SERVERS=bootstrap, REDIS_URL=redis_url)
    done = subprocess.run(
        [sys.executable, "-m", "services.common.dead_letters", *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def _source_values(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes | None, list]]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"{topic}-check",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    found = []
    try:
        for _ in range(60):
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                found.append((message.key(), message.value(), message.headers() or []))
            elif found and message is None:
                break
    finally:
        consumer.close()
    return found


def test_a_dead_letter_goes_back_to_its_topic_byte_for_byte_once(
    topics, producer, start_service, kafka_bootstrap, redis_url
) -> None:
    classifier = start_service("classifier")
    producer.send_raw(topics.queries, "p1", POISON, [("trace", b"abc")]).result(10)
    dead = TopicReader(kafka_bootstrap, topics.dead_letters, DeadLetter)
    try:
        dead.poll_until(lambda e: len(e) >= 1, 30)
    finally:
        dead.close()
    classifier.stop()  # the fix is not deployed yet: the copy must stay on the topic

    listing = _cli(topics.namespace, kafka_bootstrap, redis_url, "list")
    assert "classifier" in listing and topics.queries in listing

    _cli(topics.namespace, kafka_bootstrap, redis_url, "republish")
    second = _cli(topics.namespace, kafka_bootstrap, redis_url, "republish", "--format", "json")
    assert second.strip() == "[]", "a letter was re-published twice"

    copies = [v for v in _source_values(kafka_bootstrap, topics.queries) if v[1] == POISON]
    assert len(copies) == 2  # the original and one re-published copy
    key, _value, headers = copies[1]
    assert key == b"p1"
    assert ("trace", b"abc") in headers
    assert any(name == "x-republished-from" for name, _ in headers)
