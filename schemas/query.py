"""A strategist's question as it enters the pipeline (topic: queries).

Two ids, two meanings (the JSON field names are contracts and stay as they are):

- `query_id` names one query *event*: one round through classifier, dispatcher and
  scorer. It keys the message on the topics, the dispatcher's per-query cache and the
  attempt ids (`<query_id>:<n>`). The caller's query is the first round; an escalated
  round (the scorer asking the next model on the route) travels under a `query_id` of
  its own, derived from the analysis id and the round.
- `analysis_id` names the *analysis* the caller waits on: the id the app returns, the
  key of the final response and of the results store. The app makes it and sends the
  first round under it, so on a caller's query the two are equal; on an escalated round
  `escalation.analysis_id` carries it. `QueryRequested.analysis_id` reads it either way.

The class docstrings below are the JSON Schema's descriptions (`schemas/json/`); the
attribute docstrings are not (`use_attribute_docstrings` is off), so the ids are
explained here and under each field without changing the event contract.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, JsonValue

from schemas.base import EventModel, Frozen, ProviderName, utc_now
from schemas.parts import Answer, AttemptSummary, Confidence, RouteStep

MAX_QUERY_CHARS = 20_000
MAX_CONTEXT_CHARS = 50_000
MAX_MODEL_ID_CHARS = 128

StreamMode = Literal["auto", "live", "buffered"]
"""How a streaming caller reads the answer (docs/streaming.md):
`live` as it is written; `buffered` only once an attempt has succeeded (a failover stays
invisible); `auto` live where the model that would take over first can continue a cut
answer, buffered otherwise."""


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
    stream_mode: StreamMode | None = Field(
        default=None,
        description="How a streaming caller reads the answer: `auto`, `live` or `buffered`; "
        "null = the app's default (STRATEGIST_STREAM_MODE). The app sets it on the event; "
        "the dispatcher reads null as `buffered`.",
    )


class Escalation(Frozen):
    """Why a query is asked again of the next models on its route, and what was set aside.

    The scorer publishes the query back to the dispatcher's input under a derived
    `query_id` (so the dispatcher's per-query cache does not hand back the first
    completion); `analysis_id` is the id the caller waits on, under which the final
    response is published. The record rides through the dispatcher untouched.
    """

    analysis_id: str = Field(min_length=1, max_length=64)
    """The analysis the caller waits on (the first round's `query_id`), under which the
    final response is published whichever round answers."""
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
    """The id of this query event (one round): the message key, the dispatcher's cache key
    and the stem of the attempt ids. Equal to the analysis id on the caller's query; an
    escalated round's is derived (`services.scorer.escalation.escalated_query_id`)."""
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
        """The id the caller waits on: `query_id` on the caller's query (the app sends the
        first round under the analysis id), `escalation.analysis_id` on an escalated round
        (which travels under a derived `query_id`). Read this, not `query_id`, wherever
        the analysis is meant: the response, the results store, the caller's wait."""
        return self.escalation.analysis_id if self.escalation else self.query_id
