"""One call to a provider, success or failure (topic: provider attempts)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.base import EventModel, ProviderName

AttemptOutcome = Literal["success", "error", "timeout"]


class ProviderAttempt(EventModel):
    """Published by the dispatcher for every provider call; keyed by `query_id`.

    The health service reads these as real-traffic signals alongside its probes.
    """

    query_id: str
    provider: ProviderName
    model: str
    attempt_number: int = Field(ge=1)
    outcome: AttemptOutcome
    error_kind: str | None = None
    error_message: str | None = None
    latency_ms: float = Field(ge=0.0)
    input_tokens: int = Field(ge=0, default=0)
    output_tokens: int = Field(ge=0, default=0)
    cost_usd: float = Field(ge=0.0, default=0.0)
