"""A strategist's question as it enters the pipeline (topic: queries)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, JsonValue

from schemas.base import EventModel, Frozen, ProviderName, utc_now

MAX_QUERY_CHARS = 20_000
MAX_CONTEXT_CHARS = 50_000


class QueryOptions(Frozen):
    """Optional hints a caller may give the router; all default to "decide for me"."""

    prefer: Literal["balanced", "quality", "cost"] = "balanced"
    live_data: bool | None = Field(
        default=None, description="Force (true) or forbid (false) live web data; null = infer."
    )
    providers: list[ProviderName] | None = Field(
        default=None, min_length=1, description="Only route to these providers."
    )
    cross_validate: bool = Field(
        default=False, description="Ask a second model and score agreement (costs more)."
    )
    max_output_tokens: int | None = Field(default=None, ge=16, le=8192)


class QueryRequested(EventModel):
    """Published by the Flask app; keyed by `query_id`."""

    query_id: str = Field(min_length=1, max_length=64)
    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    analysis_type: str | None = Field(default=None, max_length=64)
    campaign_id: str | None = Field(default=None, max_length=128)
    context: str | dict[str, JsonValue] | None = None
    options: QueryOptions = Field(default_factory=QueryOptions)
    submitted_at: datetime = Field(default_factory=utc_now)
