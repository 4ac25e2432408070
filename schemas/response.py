"""The scored answer the app returns (topic: responses)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from schemas.base import EventModel, Frozen, ProviderName
from schemas.parts import AttemptSummary, Citation, Classification, Confidence, RouteStep


class Routing(Frozen):
    """How the answer was routed: the auditable part of every response."""

    path: Literal["intelligent", "direct"]
    provider: ProviderName | None
    model: str | None
    route: list[RouteStep] = Field(default_factory=list)
    failed_attempts: list[AttemptSummary] = Field(default_factory=list)
    skipped: list[AttemptSummary] = Field(default_factory=list)
    classification: Classification | None = None
    cost_usd: float = Field(ge=0.0)
    baseline_cost_usd: float = Field(
        ge=0.0,
        default=0.0,
        description="Estimated cost of the same question on Gemini 2.5 Pro (the same input "
        "tokens; the answer's output tokens scaled to Pro's answer length plus Pro's thinking "
        "tokens; Pro's list price, no request fee): the all-Pro baseline of the savings "
        "(core.economics, docs/routing.md).",
    )
    latency_ms: float = Field(ge=0.0)
    provider_latency_ms: float = Field(ge=0.0, default=0.0)
    provider_service_ms: float | None = Field(
        default=None,
        ge=0.0,
        description="The providers' own service time summed over the calls that stated it "
        "(response headers); None when none did. Unlike `provider_latency_ms` it holds none "
        "of our queueing: `latency_ms` minus this is the pipeline's overhead.",
    )
    explanation: str
    emulated: bool = False
    budget_remaining_usd: float | None = Field(
        default=None,
        description="What the campaign's monthly spend limit has left after this answer "
        "(absent when the campaign has no limit).",
    )
    escalated_from: list[AttemptSummary] = Field(
        default_factory=list,
        description="Answers set aside because their confidence was below the escalation "
        "threshold or they failed the pre-release check (a local answer); the answer "
        "returned is the next model's.",
    )
    escalation_reason: str | None = None
    input_tokens: int | None = Field(
        default=None, ge=0, description="Input tokens of the answering call (provider-reported)."
    )
    output_tokens: int | None = Field(
        default=None, ge=0, description="Output tokens of the answering call (provider-reported)."
    )
    finish_reason: str | None = Field(
        default=None, description="Why the answering model stopped (the provider's own word)."
    )


class AnalysisResponded(EventModel):
    """Published by the scorer (or written by the direct path); keyed by `analysis_id`."""

    analysis_id: str
    analysis_type: str
    status: Literal["completed", "failed"]
    result: str | None
    citations: list[Citation] = Field(default_factory=list)
    created_at: datetime
    completed_at: datetime
    campaign_id: str | None = None
    routing: Routing
    confidence: Confidence | None
    error: str | None = None
