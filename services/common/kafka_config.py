"""Every Kafka client's librdkafka configuration is merged here, security last.

The consumer, producer, follower and admin builders (`consumer.py`, `producer.py`,
`follower.py`, `admin_config` below) all go through `kafka_config`, so no client can be
built without the security settings, and no builder can turn them off. The security is
an argument (`KafkaSecurity`, from the caller's settings: `InfraSettings.kafka_security`,
built once in each process's `__main__` or `create_app` and passed down); nothing here
reads the environment.
"""

from __future__ import annotations

from typing import Any

from services.common.kafka_security import KafkaSecurity

LATENCY_DEFAULTS: dict[str, Any] = {"socket.nagle.disable": True}


def kafka_config(
    bootstrap_servers: str, settings: dict[str, Any], *, security: KafkaSecurity
) -> dict[str, Any]:
    """A client's librdkafka configuration: servers, latency defaults, its own settings, then
    `security` (which wins: no builder can turn it off).

    Nagle's algorithm is off: with `linger.ms` 0 each event is its own small request, and
    Nagle would hold one back until the broker acknowledged the one before it."""
    return {
        "bootstrap.servers": bootstrap_servers,
        **LATENCY_DEFAULTS,
        **settings,
        **security.librdkafka(),
    }


def admin_config(bootstrap_servers: str, *, security: KafkaSecurity) -> dict[str, Any]:
    """For an AdminClient (topic creation, partition counts, metadata probes)."""
    return kafka_config(bootstrap_servers, {}, security=security)
