"""A strategist's question as it enters the pipeline (topic: queries)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import Field, JsonValue

from schemas.base import EventModel, Frozen, ProviderName, utc_now

if TYPE_CHECKING:  # resolved by schemas/__init__.py: these modules embed QueryRequested
    from schemas.classified import RouteStep
    from schemas.completion import Answer, AttemptSummary
    from schemas.response import Confidence

MAX_QUERY_CHARS = 20_000
MAX_CONTEXT_CHARS = 50_000
MAX_MODEL_ID_CHARS = 128


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
    model: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_MODEL_ID_CHARS,
        description="A catalogued model id the caller named (the OpenAI-compatible "
        "endpoint's `model`): it is tried first, exactly as named, then its fallbacks; "
        "null = the learned router decides.",
    )


class Escalation(Frozen):
    """Why a query is asked again of the next models on its route, and what was set aside.

    The scorer publishes the query back to the dispatcher's input under a derived
    `query_id` (so the dispatcher's per-query cache does not hand back the first
    completion); `analysis_id` is the id the caller waits on, under which the final
    response is published. The record rides through the dispatcher untouched.
    """

    analysis_id: str = Field(min_length=1, max_length=64)
    reason: str
    set_aside: AttemptSummary
    """The call whose answer was set aside (success; its cost and latency count)."""
    answer: Answer
    """The set-aside answer, returned after all if no later model answers."""
    confidence: Confidence
    """Its calibrated confidence (with raw score and calibration version)."""
    earlier_attempts: list[AttemptSummary] = Field(default_factory=list)
    """Every call of the rounds before, the set-aside one included (for cost and audit)."""
    route: list[RouteStep] = Field(default_factory=list)
    """The analysis's whole route (the escalated query carries only the steps left)."""
    extra_cost_usd: float = Field(default=0.0, ge=0.0)
    """Spend outside the route in earlier rounds (a cross-check)."""
    escalations: int = Field(default=1, ge=1)
    """How many times this analysis has been escalated, this one included."""


class QueryRequested(EventModel):
    """Published by the Flask app; keyed by `query_id`."""

    query_id: str = Field(min_length=1, max_length=64)
    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    analysis_type: str | None = Field(default=None, max_length=64)
    campaign_id: str | None = Field(default=None, max_length=128)
    context: str | dict[str, JsonValue] | None = None
    options: QueryOptions = Field(default_factory=QueryOptions)
    submitted_at: datetime = Field(default_factory=utc_now)
    escalation: Escalation | None = Field(
        default=None,
        description="Set by the scorer when it asks the next model on the route because "
        "the first answer's confidence was too low; absent on a caller's query.",
    )

    @property
    def analysis_id(self) -> str:
        """The id the caller waits on: the query id, or for an escalated round (which
        travels under a derived query id) the analysis it belongs to."""
        return self.escalation.analysis_id if self.escalation else self.query_id
