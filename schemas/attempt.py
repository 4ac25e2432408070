"""One call to a provider, before and after (topic: provider attempts)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from schemas.base import EventModel, ProviderName

AttemptOutcome = Literal["started", "success", "error", "timeout"]
"""`started` is published (and acknowledged) before the call; one of the others after it.
A `started` without a later event for the same `attempt_id` is a call whose outcome was
never recorded (the dispatcher died during it): count it as possibly paid."""


def attempt_id_for(query_id: str, attempt_number: int) -> str:
    """Deterministic, so a redelivered query's steps reuse their ids."""
    return f"{query_id}:{attempt_number}"


class ProviderAttempt(EventModel):
    """Published by the dispatcher around every provider call; keyed by `provider`.

    Keyed by provider so that each provider's attempts share one partition: one health
    instance of the group owns a provider's whole attempt stream. The health service
    reads the finished outcomes as real-traffic signals alongside its probes and ignores
    `started`.
    """

    schema_version: int = 2
    query_id: str
    attempt_id: str = Field(
        default="",
        description="`<query_id>:<attempt_number>`: pairs a `started` event with its outcome; "
        "derived from those two when absent (events of schema version 1).",
    )
    analysis_id: str | None = Field(
        default=None,
        description="The analysis this call served: the query id, except for an escalated "
        "round (derived query id); absent on events before escalation existed.",
    )
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
    provider_service_ms: float | None = Field(
        default=None,
        ge=0.0,
        description="The provider's own service time for this call, as it states it "
        "(`openai-processing-ms`, the emulator's `x-emulator-service-ms`); None when it "
        "states none. `latency_ms` minus this is time spent on our side and the network.",
    )

    first_token_ms: float | None = Field(
        default=None,
        ge=0.0,
        description="Time from the call to the first answer token (streamed calls); None "
        "on `started`, on a call that failed before any token, and on events before it existed.",
    )

    @model_validator(mode="before")
    @classmethod
    def _derive_attempt_id(cls, data: Any) -> Any:
        """Version 1 events carry no attempt id; it is derivable, so derive it."""
        if isinstance(data, dict) and not data.get("attempt_id"):
            query_id, number = data.get("query_id"), data.get("attempt_number")
            if isinstance(query_id, str) and isinstance(number, int):
                return {**data, "attempt_id": attempt_id_for(query_id, number)}
        return data

    @property
    def served_analysis_id(self) -> str:
        """`analysis_id`, or the query id on events that do not carry it."""
        return self.analysis_id or self.query_id
