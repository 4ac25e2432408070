"""`audit verify` on the real broker: a query whose response was deleted is reported."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient

from core.response import build_response
from harness.processes import infra_env
from schemas.query import QueryRequested
from strategist.analysis.ids import new_analysis_id

AUDIT_TIMEOUT_S = 120.0
ADMIN_TIMEOUT_S = 15.0
SEND_TIMEOUT_S = 10.0


def verify(namespace: str, bootstrap: str, since: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable, "-m", "audit", "verify",
            "--since", f"{since:.3f}", "--grace", "0", "--format", "json",
        ],
        env=infra_env(namespace, KAFKA_BOOTSTRAP_SERVERS=bootstrap),
        capture_output=True,
        text=True,
        timeout=AUDIT_TIMEOUT_S,
    )


def answer(query: QueryRequested):
    return build_response(
        query=query, path="intelligent", classification=None, route=[], attempts=[],
        answer=None, confidence=None, error="every provider failed",
    )


def test_verify_reports_a_query_whose_response_was_deleted(
    topics, producer, kafka_bootstrap
) -> None:
    since = time.time() - 1
    queries = [QueryRequested(query_id=new_analysis_id(), query=f"q{n}") for n in range(3)]
    victim, *kept = queries
    for query in queries:
        producer.send_and_wait(topics.queries, query.query_id, query, SEND_TIMEOUT_S)
    # The victim's answer first, so deleting its partition's records up to it deletes it alone.
    producer.send_and_wait(topics.responses, victim.query_id, answer(victim), SEND_TIMEOUT_S)
    for query in kept:
        producer.send_and_wait(topics.responses, query.query_id, answer(query), SEND_TIMEOUT_S)

    clean = verify(topics.namespace, kafka_bootstrap, since)
    assert clean.returncode == 0, clean.stdout + clean.stderr

    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    metadata = admin.list_topics(topics.responses, timeout=ADMIN_TIMEOUT_S)
    partitions = sorted(metadata.topics[topics.responses].partitions)
    victim_partition = _partition_of(kafka_bootstrap, topics.responses, victim.query_id, partitions)
    [future] = admin.delete_records(
        [TopicPartition(topics.responses, victim_partition, 1)]
    ).values()
    future.result(timeout=ADMIN_TIMEOUT_S)

    gaps = verify(topics.namespace, kafka_bootstrap, since)

    assert gaps.returncode == 1, gaps.stdout + gaps.stderr
    findings = json.loads(gaps.stdout)["findings"]
    assert [(f["kind"], f["analysis_id"]) for f in findings] == [
        ("query without response", victim.query_id)
    ]


def _partition_of(bootstrap: str, topic: str, key: str, partitions: list[int]) -> int:
    """The partition whose first record is the victim's (read back, not computed)."""
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused-never-joined"})
    try:
        for partition in partitions:
            consumer.assign([TopicPartition(topic, partition, 0)])
            message = consumer.poll(5.0)
            if message is not None and message.error() is None and message.key() == key.encode():
                return partition
    finally:
        consumer.close()
    raise AssertionError(f"{key} is not the first record of any partition of {topic}")
