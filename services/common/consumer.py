"""Consumer configuration shared by every service."""

from __future__ import annotations

from typing import Any

SESSION_TIMEOUT_MS = 10_000
MAX_POLL_INTERVAL_MS = 300_000


def consumer_config(
    bootstrap_servers: str, *, group_id: str, client_id: str, auto_offset_reset: str = "earliest"
) -> dict[str, Any]:
    """Manual commits only: an offset is committed after the message's outputs are delivered."""
    return {
        "bootstrap.servers": bootstrap_servers,
        "group.id": group_id,
        "client.id": client_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": auto_offset_reset,
        "session.timeout.ms": SESSION_TIMEOUT_MS,
        "max.poll.interval.ms": MAX_POLL_INTERVAL_MS,
        "partition.assignment.strategy": "cooperative-sticky",
    }
