"""The classifier's verdict and the ordered route (topic: classified queries)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.base import EventModel, Frozen, ProviderName
from schemas.query import QueryRequested

AnalysisType = Literal[
    "polling", "strategy", "messaging", "opposition_research", "editing", "general"
]
Tier = Literal["simple", "standard", "complex", "live"]
"""simple: routine text work (local model); standard: moderate, general knowledge (Gemini
2.5 Flash); complex: deep multi-step reasoning (Gemini 2.5 Pro); live: needs information
newer than the models' training (Perplexity)."""


class Classification(Frozen):
    """What the classifier inferred about a query, with the evidence.

    `tier`, `tier_probabilities` and `router_version` record the learned router's
    decision, so a replay of the topic can evaluate another policy on the same traffic;
    they are empty in events classified before the router existed.
    """

    complexity: float = Field(
        ge=0.0, le=1.0, description="How much deep reasoning the query asks for (0..1)."
    )
    needs_live_data: bool
    analysis_type: str
    cost_sensitive: bool
    features: dict[str, float] = Field(default_factory=dict)
    reasons: list[str] = Field(default_factory=list)
    tier: Tier | None = Field(
        default=None,
        description="The work tier the route is built from (after the caller's live_data "
        "and the safety rules; the caller's prefer moves the route, not this field).",
    )
    tier_probabilities: dict[str, float] = Field(
        default_factory=dict, description="The router's probability for each tier."
    )
    router_version: str | None = Field(
        default=None, description="The router artifact that decided, e.g. tier-router-1-<sha8>."
    )
    deep_analysis: bool = Field(
        default=False,
        description="A live question that also asks for deep analysis (Sonar Pro).",
    )


class RouteStep(Frozen):
    """One candidate model in the route, with why it is at this position."""

    provider: ProviderName
    model: str
    reason: str


class QueryClassified(EventModel):
    """Published by the classifier; keyed by `query.query_id`."""

    query: QueryRequested
    classification: Classification
    route: list[RouteStep] = Field(min_length=1)
