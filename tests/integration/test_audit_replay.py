"""`audit replay` and `audit show` over a real run of the pipeline, moving no group's offsets."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from confluent_kafka import ConsumerGroupTopicPartitions
from confluent_kafka.admin import AdminClient

from harness.emulator_process import EmulatorControl, running_emulator
from harness.kafka import TopicReader
from harness.processes import free_port, infra_env
from schemas.query import QueryRequested
from schemas.response import AnalysisResponded
from strategist.analysis.ids import new_analysis_id

ANSWER_TIMEOUT_S = 60.0
AUDIT_TIMEOUT_S = 120.0
ADMIN_TIMEOUT_S = 15.0
EDGE_S = 1.5
"""Gap between the run before the window and the window, larger than clock resolution."""


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorControl]:
    with running_emulator(latency_scale=0.0) as control:
        yield control


def audit(namespace: str, bootstrap: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "audit", *args],
        env=infra_env(namespace, KAFKA_BOOTSTRAP_SERVERS=bootstrap),
        capture_output=True,
        text=True,
        timeout=AUDIT_TIMEOUT_S,
    )


def group_offsets(bootstrap: str, namespace: str) -> dict[str, dict[tuple[str, int], int]]:
    """The consumer groups that read this test's topics (or are named after its namespace),
    with their committed offsets: other runs on a shared broker move their own groups."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    listed = admin.list_consumer_groups().result(timeout=ADMIN_TIMEOUT_S).valid
    offsets: dict[str, dict[tuple[str, int], int]] = {}
    for group in listed:
        [future] = admin.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(group.group_id)]
        ).values()
        result = future.result(timeout=ADMIN_TIMEOUT_S)
        committed = {
            (tp.topic, tp.partition): tp.offset for tp in result.topic_partitions or []
        }
        ours = any(topic.startswith(f"{namespace}.") for topic, _ in committed)
        if ours or group.group_id.startswith(namespace) or "audit" in group.group_id:
            offsets[group.group_id] = committed
    return offsets


def test_replay_finds_the_runs_analyses_by_time_and_campaign_and_moves_no_offsets(
    topics, producer, start_service, kafka_bootstrap, emulator
) -> None:
    emulator.reset()
    env = {
        "EMULATOR_URL": emulator.base_url,
        "LOCAL_MODEL_URL": f"http://127.0.0.1:{free_port()}/v1",
    }
    for name in ("classifier", "dispatcher", "scorer"):
        start_service(name, **env)

    def ask(text: str, campaign: str) -> str:
        query = QueryRequested(query_id=new_analysis_id(), query=text, campaign_id=campaign)
        producer.send_and_wait(topics.queries, query.query_id, query, 10)
        return query.query_id

    responses = TopicReader(kafka_bootstrap, topics.responses, AnalysisResponded)
    try:
        before = ask("Draft a short thank-you note to volunteers", "az")
        responses.poll_until(lambda e: len(e) >= 1, ANSWER_TIMEOUT_S)
        time.sleep(EDGE_S)
        since = time.time()
        az = [
            ask("Compare our turnout model with the county's 2022 results", "az"),
            ask("Draft a short thank-you note to donors", "az"),
        ]
        nv = ask("Summarise the strengths of our field plan", "nv")
        answered = responses.poll_until(
            lambda e: {r.analysis_id for r in e} >= {*az, nv}, ANSWER_TIMEOUT_S
        )
    finally:
        responses.close()
    assert {r.analysis_id for r in answered} >= {before, *az, nv}
    time.sleep(2.0)  # every service has committed what it processed
    groups_before = group_offsets(kafka_bootstrap, topics.namespace)

    in_az = audit(
        topics.namespace, kafka_bootstrap,
        "replay", "--since", f"{since:.6f}", "--campaign", "az", "--format", "json",
    )
    everything = audit(
        topics.namespace, kafka_bootstrap, "replay", "--since", f"{since:.6f}", "--format", "json"
    )
    shown = audit(topics.namespace, kafka_bootstrap, "show", az[0])

    groups_after = group_offsets(kafka_bootstrap, topics.namespace)
    assert in_az.returncode == 0, in_az.stderr
    document = json.loads(in_az.stdout)
    rows = {row["analysis_id"]: row for row in document["analyses"]}
    assert set(rows) == set(az)
    assert all(row["campaign"] == "az" and row["status"] == "completed" for row in rows.values())
    assert all(row["answered_by"] and row["confidence"] is not None for row in rows.values())
    assert document["totals"]["analyses"] == 2
    assert {r["analysis_id"] for r in json.loads(everything.stdout)["analyses"]} == {*az, nv}
    assert shown.returncode == 0, shown.stderr
    for section in ("QUERY", "CLASSIFICATION", "ROUTE", "ATTEMPTS", "ANSWER", "CONFIDENCE"):
        assert section in shown.stdout
    assert "Compare our turnout model" in shown.stdout
    # Reading joined no group and moved no group's offsets.
    assert groups_after == groups_before
    assert not [g for g in groups_after if "audit" in g]
