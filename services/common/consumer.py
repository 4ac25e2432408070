"""Consumer configuration shared by every service.

A consumer killed with SIGKILL leaves its partitions stalled until the group
notices it is gone. Two things keep that short:

- a short session timeout (6 s, the broker's default minimum for the classic
  protocol), with a 1 s heartbeat;
- static membership when the process has a stable instance id (`SERVICE_INSTANCE_ID`,
  set by the scripts and docker-compose): a restarted instance takes its partitions
  back at once, without a rebalance and without waiting for the session to expire.

Kafka 4's new group protocol (`group.protocol=consumer`, KIP-848) was measured
too; its session timeout is a broker setting with a 45 s default, so with a
broker we do not configure it stalls far longer (see docs/architecture.md).
"""

from __future__ import annotations

from typing import Any

from services.common.kafka_config import kafka_config
from services.common.kafka_security import KafkaSecurity

SESSION_TIMEOUT_MS = 6_000
HEARTBEAT_INTERVAL_MS = 1_000
MAX_POLL_INTERVAL_MS = 300_000


def consumer_config(
    bootstrap_servers: str,
    *,
    group_id: str,
    client_id: str,
    auto_offset_reset: str = "earliest",
    instance_id: str | None = None,
    security: KafkaSecurity,
) -> dict[str, Any]:
    """Manual commits only: an offset is committed after the message's outputs are delivered.

    With the Kafka security settings (`security`) merged in."""
    config: dict[str, Any] = {
        "group.id": group_id,
        "client.id": client_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": auto_offset_reset,
        "session.timeout.ms": SESSION_TIMEOUT_MS,
        "heartbeat.interval.ms": HEARTBEAT_INTERVAL_MS,
        "max.poll.interval.ms": MAX_POLL_INTERVAL_MS,
        "partition.assignment.strategy": "cooperative-sticky",
    }
    if instance_id:
        config["group.instance.id"] = instance_id
    return kafka_config(bootstrap_servers, config, security=security)
