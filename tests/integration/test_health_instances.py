"""Health as several instances on the real broker: one publisher per provider, and takeover.

Attempt events are keyed by provider, so librdkafka's default partitioner puts each
provider on partition CRC32(name) % partitions, and the instance of the health group
that owns that partition answers for the provider. The attempts topic here has two
partitions, so two instances each own one (gemini and local on 0, perplexity on 1)
and both have providers to answer for; the count is read from the broker.
"""

from __future__ import annotations

import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import replace

import pytest
from confluent_kafka import Producer

from harness.emulator_process import EmulatorControl, running_emulator
from harness.kafka import TopicReader, delete_namespace
from harness.processes import ManagedProcess, unique_namespace
from schemas.health import ProviderStatus
from schemas.topics import TopicNames, TopicSpec
from services.common.admin import create_topics
from services.common.kafka_security import KafkaSecurity
from services.common.producer import producer_config
from tests.integration.test_health_service import provider_env

ATTEMPT_PARTITIONS = 2
PROVIDERS = {"gemini", "perplexity", "local"}
HEARTBEAT_S = 1.0
STARTUP_TIMEOUT_S = 60.0
SETTLE_TIMEOUT_S = 30.0
OBSERVE_S = 4.0
TAKEOVER_TIMEOUT_S = 30.0
"""Only to catch a hang: the group notices a killed member after its session timeout."""
DELIVERY_TIMEOUT_S = 10.0


@pytest.fixture
def topics(
    kafka_bootstrap: str, kafka_security: KafkaSecurity, redis_url: str
) -> Iterator[TopicNames]:
    """This test's namespace, with a two-partition attempts topic."""
    names = TopicNames(unique_namespace())
    specs = [replace(s, partitions=ATTEMPT_PARTITIONS) if s.name == names.provider_attempts
             else s for s in names.specs()]
    create_topics(kafka_bootstrap, specs, security=kafka_security)
    yield names
    delete_namespace(kafka_bootstrap, redis_url, names.namespace)


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorControl]:
    with running_emulator() as control:
        yield control


@pytest.fixture
def statuses(topics: TopicNames, kafka_bootstrap: str) -> Iterator[TopicReader]:
    reader = TopicReader(kafka_bootstrap, topics.provider_health, ProviderStatus)
    yield reader
    reader.close()


def publishers_since(reader: TopicReader, mark: int) -> dict[str, set[str | None]]:
    seen: dict[str, set[str | None]] = {}
    for status in reader.events[mark:]:
        seen.setdefault(status.provider, set()).add(status.publisher)
    return seen


def settle(reader: TopicReader) -> dict[str, str]:
    """Wait until every provider has had one publisher for a whole observation window
    (the group has finished rebalancing); returns provider -> publisher."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    seen: dict[str, set[str | None]] = {}
    while time.monotonic() < deadline:
        mark = len(reader.events)
        reader.poll_until(lambda _: False, OBSERVE_S)
        seen = publishers_since(reader, mark)
        if set(seen) == PROVIDERS and all(len(p) == 1 for p in seen.values()):
            return {provider: str(next(iter(p))) for provider, p in seen.items()}
    raise AssertionError(f"publishers never settled to one per provider: {seen}")


@pytest.mark.integration
def test_default_partitioner_is_crc32_of_the_key(
    kafka_bootstrap: str, kafka_security: KafkaSecurity
) -> None:
    """What ownership relies on: the producer config the dispatcher uses puts key K on
    partition zlib.crc32(K) % partitions."""
    partitions = 7
    topic = f"{unique_namespace()}.partitioner.v1"
    create_topics(kafka_bootstrap, [TopicSpec(topic, partitions)], security=kafka_security)
    try:
        producer = Producer(
            producer_config(kafka_bootstrap, client_id="partitioner-test", security=kafka_security)
        )
        keys = sorted(PROVIDERS) + [uuid.uuid4().hex for _ in range(40)]
        landed: dict[str, int] = {}

        def delivered(err: object, message: object) -> None:
            assert err is None, err
            landed[message.key().decode()] = message.partition()  # type: ignore[attr-defined]

        for key in keys:
            producer.produce(topic, key=key.encode(), value=b"{}", on_delivery=delivered)
        assert producer.flush(DELIVERY_TIMEOUT_S) == 0
        assert landed == {k: zlib.crc32(k.encode()) % partitions for k in keys}
    finally:
        delete_namespace(kafka_bootstrap, None, topic.split(".")[0])


@pytest.mark.integration
def test_two_instances_share_providers_and_one_takes_over_when_the_other_dies(
    start_service, emulator: EmulatorControl, statuses: TopicReader
) -> None:
    env = {**provider_env(emulator), "HEALTH_HEARTBEAT_S": str(HEARTBEAT_S)}
    instances: dict[str, ManagedProcess] = {
        "health-a": start_service("health", HEALTH_INSTANCE_ID="health-a", **env),
        "health-b": start_service("health", HEALTH_INSTANCE_ID="health-b", **env),
    }

    owners = settle(statuses)
    print(f"owners with two instances: {owners}")
    # one partition each: gemini and local share partition 0, perplexity is on 1
    assert owners["gemini"] == owners["local"] != owners["perplexity"]
    assert set(owners.values()) == set(instances)

    victim = owners["perplexity"]
    survivor = owners["gemini"]
    mark = len(statuses.events)
    killed_at = time.monotonic()
    instances[victim].kill()

    def taken_over(events: list[ProviderStatus]) -> bool:
        return any(s.provider == "perplexity" and s.publisher == survivor
                   for s in events[mark:])

    statuses.poll_until(taken_over, TAKEOVER_TIMEOUT_S)
    took = time.monotonic() - killed_at
    assert taken_over(statuses.events), (
        f"{survivor} did not take perplexity over within {TAKEOVER_TIMEOUT_S}s; "
        f"seen: {publishers_since(statuses, mark)}")
    print(f"{survivor} published perplexity {took:.1f}s after {victim} was killed")
    first = next(s for s in statuses.events[mark:]
                 if s.provider == "perplexity" and s.publisher == survivor)
    assert first.state == "healthy" and not first.heartbeat  # a fresh state, not a leftover

    assert settle(statuses) == dict.fromkeys(PROVIDERS, survivor)
    assert instances[survivor].alive()
