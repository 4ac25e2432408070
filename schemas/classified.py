"""The classifier's verdict and the ordered route (topic: classified queries)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.base import EventModel, Frozen, ProviderName
from schemas.query import QueryRequested

AnalysisType = Literal[
    "polling", "strategy", "messaging", "opposition_research", "editing", "general"
]


class Classification(Frozen):
    """What the classifier inferred about a query, with the evidence."""

    complexity: float = Field(ge=0.0, le=1.0)
    needs_live_data: bool
    analysis_type: str
    cost_sensitive: bool
    features: dict[str, float] = Field(default_factory=dict)
    reasons: list[str] = Field(default_factory=list)


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
