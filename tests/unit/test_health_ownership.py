"""Several health instances: each answers only for the providers whose partition it owns."""

from __future__ import annotations

import asyncio
import concurrent.futures
import zlib
from datetime import UTC, datetime

import pytest

from schemas.base import PROVIDER_NAMES, ProviderName
from schemas.health import ProviderStatus
from services.health.handler import HealthMonitor, ProbeResult, Thresholds
from services.health.ownership import ProviderOwnership, attempt_partition
from services.health.prober import Prober
from services.health.publisher import StatusPublisher

PROVIDERS = PROVIDER_NAMES
T0 = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(("key", "partitions", "expected"), [
    # zlib.crc32 is librdkafka's rd_crc32 (checked against the broker in
    # tests/integration/test_health_instances.py); these pin today's layout.
    ("gemini", 3, 0), ("perplexity", 3, 0), ("local", 3, 1),
    ("gemini", 1, 0), ("local", 7, zlib.crc32(b"local") % 7),
])
def test_attempt_partition_is_crc32_of_the_provider_modulo_partitions(
    key: str, partitions: int, expected: int
) -> None:
    assert attempt_partition(key, partitions) == expected


def test_attempt_partition_needs_a_partition() -> None:
    with pytest.raises(ValueError):
        attempt_partition("gemini", 0)


def test_ownership_follows_the_assigned_partitions() -> None:
    ownership = ProviderOwnership(PROVIDERS)
    assert ownership.owned == frozenset()  # nothing before the first assignment
    first = ownership.assign(frozenset({0}), 3)
    assert (first.gained, first.lost) == ({"gemini", "perplexity"}, set())
    second = ownership.assign(frozenset({1, 2}), 3)
    assert (second.gained, second.lost) == ({"local"}, {"gemini", "perplexity"})
    assert ownership.owns("local") and not ownership.owns("gemini")
    same = ownership.assign(frozenset({1, 2}), 3)
    assert (same.gained, same.lost) == (set(), set())
    assert ownership.assign(frozenset(), 3).lost == {"local"}


def test_wait_owned_returns_when_the_provider_is_assigned_or_on_stop() -> None:
    async def scenario() -> None:
        ownership = ProviderOwnership(PROVIDERS)
        stop = asyncio.Event()
        waiting = asyncio.create_task(ownership.wait_owned("local", stop))
        await asyncio.sleep(0.01)
        ownership.assign(frozenset({0}), 3)  # gemini and perplexity: still waiting
        await asyncio.sleep(0.01)
        assert not waiting.done()
        ownership.assign(frozenset({1}), 3)
        await asyncio.wait_for(waiting, 1.0)
        stopped = asyncio.create_task(ownership.wait_owned("gemini", stop))
        stop.set()
        await asyncio.wait_for(stopped, 1.0)

    asyncio.run(scenario())


class RecordingProducer:
    """Collects what would be sent to Kafka (the publisher's only use of the producer)."""

    def __init__(self) -> None:
        self.sent: list[ProviderStatus] = []

    def send(self, topic: str, key: str | None,
             event: ProviderStatus) -> concurrent.futures.Future[None]:
        self.sent.append(event)
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        future.set_result(None)
        return future


class ProbeDouble:
    emulated = True

    def __init__(self) -> None:
        self.probes = 0

    async def probe(self, timeout_s: float) -> None:
        self.probes += 1


def test_only_owned_providers_are_probed_and_published() -> None:
    Probes = dict[ProviderName, int]

    async def scenario() -> tuple[Probes, list[ProviderStatus], Probes]:
        ownership = ProviderOwnership(PROVIDERS)
        monitor = HealthMonitor(PROVIDERS, Thresholds(), publisher="health-a")
        producer = RecordingProducer()
        publisher = StatusPublisher(producer=producer, topic="t", redis=None,  # type: ignore[arg-type]
                                    redis_key="k", owns=ownership.owns)
        doubles = {p: ProbeDouble() for p in PROVIDERS}
        prober = Prober(providers=doubles, monitor=monitor, publisher=publisher,  # type: ignore[arg-type]
                        intervals_s=dict.fromkeys(PROVIDERS, 0.01), timeout_s=0.5,
                        heartbeat_s=0.02, ownership=ownership)
        stop = asyncio.Event()
        running = asyncio.create_task(prober.run(stop))
        await asyncio.sleep(0.1)
        before = {p: d.probes for p, d in doubles.items()}
        ownership.assign(frozenset({1}), 3)  # local only
        await asyncio.sleep(0.1)
        during = {p: d.probes for p, d in doubles.items()}
        # a status for a provider owned elsewhere is dropped, whoever makes it
        await publisher.publish(monitor.on_probe("gemini", ProbeResult.ok(T0, 5.0)))
        stop.set()
        await asyncio.wait_for(running, 2.0)
        return before, producer.sent, during

    before, sent, during = asyncio.run(scenario())
    assert before == dict.fromkeys(PROVIDERS, 0)  # owns nothing before the first assignment
    assert during["local"] > 0 and during["gemini"] == during["perplexity"] == 0
    assert sent and {s.provider for s in sent} == {"local"}
    assert {s.publisher for s in sent} == {"health-a"}
    assert any(s.heartbeat for s in sent)
