"""A provider's status (topic: provider health, compacted, keyed by provider)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from schemas.base import EventModel, ProviderName

ProviderState = Literal["healthy", "degraded", "down"]


class ProviderStatus(EventModel):
    """Published by the health service on every change and as a heartbeat."""

    provider: ProviderName
    state: ProviderState
    reason: str
    error_rate: float = Field(ge=0.0, le=1.0)
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    sample_size: int = Field(ge=0, default=0)
    consecutive_probe_failures: int = Field(ge=0, default=0)
    last_error: str | None = None
    last_probe_at: datetime | None = None
    heartbeat: bool = False
    publisher: str | None = Field(
        default=None,
        description="The health instance that published it (HEALTH_INSTANCE_ID). Each "
        "provider has one publisher at a time: the instance that owns the provider's "
        "partition of the attempts topic.",
    )
