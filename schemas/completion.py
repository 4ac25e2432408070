"""The dispatcher's outcome for one query (topic: completions)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.base import EventModel, Frozen, ProviderName
from schemas.classified import Classification, RouteStep
from schemas.query import QueryRequested


class Citation(Frozen):
    """A source the provider cited (Perplexity returns these)."""

    url: str
    title: str | None = None
    date: str | None = None


class Answer(Frozen):
    """The answer that succeeded, with what it cost and the raw certainty signals."""

    provider: ProviderName
    model: str
    text: str
    citations: list[Citation] = Field(default_factory=list)
    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)
    cost_usd: float = Field(ge=0.0)
    latency_ms: float = Field(ge=0.0)
    finish_reason: str | None = None
    avg_logprob: float | None = None
    emulated: bool = False


class AttemptSummary(Frozen):
    """One step of the route as it happened: called, failed, or skipped."""

    provider: ProviderName
    model: str
    outcome: Literal["success", "error", "timeout", "skipped"]
    error_kind: str | None = None
    error_message: str | None = None
    latency_ms: float = 0.0
    cost_usd: float = 0.0
    provider_service_ms: float | None = Field(
        default=None,
        ge=0.0,
        description="The provider's own service time for this call, as it stated it in a "
        "response header (x-emulator-service-ms, openai-processing-ms); None when it did "
        "not. `latency_ms` minus this is the time spent on our side of the call.",
    )


class CompletionProduced(EventModel):
    """Published by the dispatcher; keyed by `query.query_id`."""

    query: QueryRequested
    classification: Classification
    route: list[RouteStep]
    status: Literal["succeeded", "failed"]
    answer: Answer | None = None
    attempts: list[AttemptSummary] = Field(default_factory=list)
    error: str | None = None
    dispatch_latency_ms: float = Field(ge=0.0, default=0.0)
    budget_remaining_usd: float | None = Field(
        default=None,
        ge=0.0,
        description="What the campaign's monthly spend limit leaves after this dispatch "
        "(money held for other queries in flight deducted); None when it has no limit.",
    )
