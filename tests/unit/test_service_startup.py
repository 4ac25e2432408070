"""The start-up every service shares (services/common/startup.py), without a broker."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from schemas.query import QueryRequested
from services.common import startup
from services.common.producer import EventProducer
from services.common.settings import InfraSettings
from services.common.startup import ServiceRun, run_service, service_worker
from services.common.worker import Outgoing


async def _nothing(_query: QueryRequested) -> Sequence[Outgoing]:
    return []


def test_a_service_worker_reads_in_its_group_and_dead_letters_to_the_namespace() -> None:
    infra = InfraSettings(topic_namespace="ns", service_instance_id="host-1")
    worker = service_worker(
        infra,
        service="classifier",
        topic=infra.topics.queries,
        event_type=QueryRequested,
        handle=_nothing,
        producer=EventProducer(config={}),
        max_in_flight=3,
    )
    assert worker.service == "classifier" and worker.topic == "ns.queries.v1"
    assert worker._consumer_config["group.id"] == "ns.classifier"
    assert worker._consumer_config["group.instance.id"] == "ns.classifier-host-1"
    assert worker._dead_letters._dead_letter_topic == infra.topics.dead_letters
    assert worker._max_in_flight == 3


def test_a_run_closes_what_it_opened_in_reverse_even_when_it_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`run_service` configures, ensures topics, runs `main`, then closes: the producer
    last, whatever `main` registered first in reverse order, also after a failure."""
    steps: list[str] = []
    monkeypatch.setattr(startup, "ensure_topics_when_reachable", lambda _i: steps.append("topics"))
    monkeypatch.setattr(startup, "serve_metrics", lambda *_a, **_k: None)
    monkeypatch.setattr(
        EventProducer, "close", lambda self, timeout_s=0.0: steps.append("producer")
    )

    async def main(service: ServiceRun) -> None:
        assert not service.stop.is_set()
        service.on_exit(lambda: steps.append("first"))

        async def closing() -> None:
            steps.append("second")

        service.on_exit_async(closing)
        await asyncio.sleep(0)
        raise RuntimeError("a worker crashed")

    with pytest.raises(RuntimeError, match="crashed"):
        run_service("svc", InfraSettings(), main)
    assert steps == ["topics", "second", "first", "producer"]
