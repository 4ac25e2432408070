"""The dispatcher's outcome for one query (topic: completions)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.base import EventModel
from schemas.parts import Answer, AttemptSummary, Classification, RouteStep
from schemas.query import QueryRequested


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
