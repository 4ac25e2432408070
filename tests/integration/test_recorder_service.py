"""The recorder against the real broker, Redis and PostgreSQL, fed by a real run.

The classifier, dispatcher, scorer and health service run as processes on the provider
emulator; the recorder writes the tables. Then every audit topic is published a second
time, byte for byte (what a redelivered step does: the same event ids again), and the
tables must not change; then `rebuild` drops them and replays the topics, and the tables
must come back identical.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from psycopg import sql

from harness.emulator_process import EmulatorControl, running_emulator
from harness.processes import free_port
from schemas.feedback import FeedbackGiven
from schemas.query import QueryRequested
from schemas.topics import TopicNames
from services.common.producer import EventProducer
from services.common.settings import InfraSettings
from services.common.tables import TABLES
from services.recorder.rebuild import rebuild
from services.recorder.settings import RecorderSettings
from services.recorder.worker import SERVICE, recorded_topics
from tests.integration.conftest import ServiceFactory

RUN_TIMEOUT_S = 90.0
CAUGHT_UP_TIMEOUT_S = 60.0
POLL_S = 0.3
CAMPAIGN = "recorder-test"
QUERIES = [
    "Draft a short thank-you note to our volunteers",
    "Build a 3-phase persuasion strategy from these crosstabs, with trade-offs",
    "What are the latest polls in the Ohio senate race this week?",
]
Dump = dict[str, list[tuple[Any, ...]]]


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture
def recorder_db(database_url: str) -> Iterator[str]:
    """A fresh database on the test server, dropped at the end."""
    name = f"test_recorder_{uuid.uuid4().hex[:10]}"
    admin = _plain(database_url)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base, _, _ = admin.rpartition("/")
    yield f"{base}/{name}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                           .format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorControl]:
    with running_emulator(latency_scale=0.0) as control:
        yield control


def dump(url: str) -> Dump:
    """Every row of every recorder table, ordered by primary key."""
    rows: Dump = {}
    with psycopg.connect(url) as connection:
        for table in TABLES:
            key = ", ".join(c.name for c in table.primary_key.columns)
            rows[table.name] = [tuple(r) for r in connection.execute(
                f'SELECT * FROM "{table.name}" ORDER BY {key}').fetchall()]  # type: ignore[arg-type]
    return rows


def wait_for(check: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except psycopg.errors.UndefinedTable:
            last = None  # the recorder has not migrated yet
        if last:
            return last
        time.sleep(POLL_S)
    raise TimeoutError(f"{what} within {timeout_s}s (last: {last!r})")


def recorder_caught_up(bootstrap: str, topics: TopicNames) -> bool:
    """Every recorder group has committed up to the end of its topic."""
    for topic in recorded_topics(topics):
        group = f"{topics.namespace}.{SERVICE}.{topic.name.removeprefix(topics.namespace + '.')}"
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                             "enable.auto.commit": False})
        try:
            metadata = consumer.list_topics(topic.name, timeout=10)
            partitions = [TopicPartition(topic.name, p)
                          for p in metadata.topics[topic.name].partitions]
            committed = {tp.partition: tp.offset for tp in consumer.committed(partitions, 10)}
            for tp in partitions:
                _low, high = consumer.get_watermark_offsets(tp, timeout=10)
                if high > 0 and committed[tp.partition] < high:
                    return False
        finally:
            consumer.close()
    return True


def republish_everything(bootstrap: str, topics: TopicNames) -> int:
    """Publish every record of every audit topic again, same key, same bytes."""
    copies = 0
    for topic in recorded_topics(topics):
        consumer = Consumer({"bootstrap.servers": bootstrap,
                             "group.id": f"test-copy-{uuid.uuid4().hex}",
                             "enable.auto.commit": False, "enable.partition.eof": True})
        try:
            partitions = consumer.list_topics(topic.name, timeout=10).topics[topic.name].partitions
            ends = {p: consumer.get_watermark_offsets(TopicPartition(topic.name, p), timeout=10)
                    for p in partitions}
            records = []
            consumer.assign([TopicPartition(topic.name, p, low) for p, (low, high) in ends.items()
                             if high > low])
            remaining = {p for p, (low, high) in ends.items() if high > low}
            deadline = time.monotonic() + CAUGHT_UP_TIMEOUT_S
            while remaining and time.monotonic() < deadline:
                message = consumer.poll(POLL_S)
                if message is None:
                    continue
                if message.error() is not None:
                    remaining.discard(message.partition())
                    continue
                partition, offset = message.partition() or 0, message.offset() or 0
                if offset < ends[partition][1]:
                    records.append((message.key(), message.value()))
                if offset + 1 >= ends[partition][1]:
                    remaining.discard(partition)
        finally:
            consumer.close()
        raw = Producer({"bootstrap.servers": bootstrap})  # bytes as read, not re-serialised
        for key, value in records:
            raw.produce(topic.name, key=key, value=value)
        assert raw.flush(10) == 0, f"{topic.name}: copies not delivered"
        copies += len(records)
    return copies


def test_recorder_writes_every_table_ignores_copies_and_rebuilds_identically(
    topics: TopicNames, kafka_bootstrap: str, producer: EventProducer, emulator: EmulatorControl,
    start_service: ServiceFactory, recorder_db: str,
) -> None:
    emulator.reset()
    providers = {"EMULATOR_URL": emulator.base_url,
                 "LOCAL_MODEL_URL": f"http://127.0.0.1:{free_port()}/v1"}
    start_service("recorder", DATABASE_URL=recorder_db)
    start_service("health", wait=False, **providers)
    for name in ("classifier", "dispatcher", "scorer"):
        start_service(name, **providers)

    ids = [uuid.uuid4().hex for _ in QUERIES]
    for query_id, text in zip(ids, QUERIES, strict=True):
        producer.send(topics.queries, query_id,
                      QueryRequested(query_id=query_id, query=text, campaign_id=CAMPAIGN))
    feedback = FeedbackGiven(analysis_id=ids[0], rating="correct", comment="spot on",
                             grader="tests", campaign_id=CAMPAIGN)
    producer.send(topics.feedback, ids[0], feedback)

    def answered() -> bool:
        with psycopg.connect(recorder_db) as connection:
            done = connection.execute(
                "SELECT count(*) FROM analyses WHERE status IS NOT NULL AND campaign_id = %s",
                (CAMPAIGN,)).fetchone()
            statuses = connection.execute(
                "SELECT count(*) FROM provider_status_changes").fetchone()
        return bool(done and done[0] == len(ids) and statuses and statuses[0] > 0)

    wait_for(answered, RUN_TIMEOUT_S, "every analysis answered and a provider status recorded")
    wait_for(lambda: recorder_caught_up(kafka_bootstrap, topics), CAUGHT_UP_TIMEOUT_S,
             "the recorder caught up")
    live = dump(recorder_db)

    # Every table has rows from the run, and they say what happened.
    assert all(live[table.name] for table in TABLES), {k: len(v) for k, v in live.items()}
    with psycopg.connect(recorder_db) as connection:
        analyses = connection.execute(
            "SELECT a.analysis_id, a.query, a.status, a.provider, a.cost_usd, r.route, c.score,"
            " c.components FROM analyses a JOIN routing_decisions r USING (analysis_id)"
            " LEFT JOIN confidence_scores c USING (analysis_id) ORDER BY a.analysis_id"
        ).fetchall()
        attempts = connection.execute(
            "SELECT analysis_id, outcome, count(*) FROM provider_attempts GROUP BY 1, 2"
        ).fetchall()
        graded = connection.execute("SELECT analysis_id, rating, comment FROM feedback"
                                    ).fetchall()
        decisions = connection.execute(
            "SELECT tier, tier_probabilities, router_version FROM routing_decisions").fetchall()
    assert sorted(a[0] for a in analyses) == sorted(ids)
    assert {a[1] for a in analyses} == set(QUERIES)
    for _id, _query, status, provider, cost, route, score, components in analyses:
        assert route, "routing decision without a route"
        if status == "completed":
            assert provider is not None and cost is not None
            assert score is not None and components
    assert {row[0] for row in attempts} == set(ids)
    assert all(outcome != "started" for _id, outcome, _n in attempts), attempts
    assert graded == [(ids[0], "correct", "spot on")]
    for tier, probabilities, router_version in decisions:  # the learned router's verdict
        assert tier in probabilities and router_version, (tier, probabilities, router_version)

    # A second copy of every event (same ids, as a redelivered step publishes) changes nothing.
    copies = republish_everything(kafka_bootstrap, topics)
    assert copies >= len(live["analyses"])
    wait_for(lambda: recorder_caught_up(kafka_bootstrap, topics), CAUGHT_UP_TIMEOUT_S,
             "the recorder read the copies")
    assert dump(recorder_db) == live

    # Dropped and rebuilt from the topics, the tables are identical.
    progress: list[tuple[str, int, int]] = []
    counts = rebuild(
        RecorderSettings(database_url=recorder_db,  # type: ignore[arg-type]
                         infra=InfraSettings(kafka_bootstrap_servers=kafka_bootstrap,
                                             topic_namespace=topics.namespace)),
        progress=lambda topic, done, total: progress.append((topic, done, total)),
    )
    rebuilt = dump(recorder_db)
    assert counts == {name: len(rows) for name, rows in live.items()}
    assert rebuilt == live
    finals = {topic: (done, total) for topic, done, total in progress}
    assert set(finals) == {t.name for t in recorded_topics(topics)}
    assert all(done == total for done, total in finals.values()), finals
