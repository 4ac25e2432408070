"""An answer as it is written: one event per change (topic: answer deltas).

The dispatcher publishes, keyed by analysis id, so that one analysis's events share a
partition and are read in the order they happened: a `routing` event when a walk starts
(the classification and the route), then per attempt `started`, its `text` deltas as they
arrive from the provider, and `succeeded` or `failed`, and `skipped` for a route step not
tried. The completions and responses topics still carry the whole answer; this topic is
for callers reading live (the app's event streams) and is kept a short while only
(`DELTA_RETENTION_MS`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.base import EventModel
from schemas.parts import Classification, RouteStep

DeltaPart = Literal["routing", "started", "text", "succeeded", "failed", "skipped"]

Release = Literal["live", "attempt", "final"]
"""When an attempt's text may be shown, decided by the dispatcher before its first delta:
`live` as it arrives; `attempt` once the attempt has `succeeded` (a failover before that
stays invisible); `final` only with the analysis's final answer (an answer the scorer may
still replace: never shown as final and then swapped)."""


class AnswerDelta(EventModel):
    """One step of an answer being written; keyed by `analysis_id`.

    `sequence` orders an attempt's events (0 `started`, then 1, 2... its deltas, then its
    end); `offset` is the number of characters of the answer before `text` (of the attempt's
    own text, plus the continued text when `continues_attempt_id` is set), so
    a reader can tell a gap or a repeat. A `routing` or `skipped` event has no attempt:
    `attempt_id` is empty and `attempt_number` 0.
    """

    analysis_id: str
    query_id: str = Field(
        description="The query dispatched: the analysis id, or an escalated round's derived id."
    )
    part: DeltaPart
    attempt_id: str = ""
    attempt_number: int = Field(default=0, ge=0)
    provider: str = ""
    model: str = ""
    sequence: int = Field(default=0, ge=0)
    offset: int = Field(default=0, ge=0)
    text: str = ""
    classification: Classification | None = Field(
        default=None, description="On `routing`: what the classifier inferred."
    )
    route: list[RouteStep] = Field(default_factory=list, description="On `routing`.")
    escalation_round: int = Field(
        default=0, ge=0, description="On `routing`: 0, or the scorer's escalation round."
    )
    error_kind: str | None = Field(default=None, description="On `failed` and `skipped`.")
    error_message: str | None = None
    first_token_ms: float | None = Field(
        default=None, ge=0.0, description="On `succeeded`/`failed`: time to the first delta."
    )
    release: Release = Field(
        default="live",
        description="On `started`: when this attempt's text may be shown (see `Release`).",
    )
    continues_attempt_id: str = Field(
        default="",
        description="On `started`: the attempt whose delivered text this one continues "
        "(sent to its model as an assistant prefill); its `text` offsets then count from "
        "the start of the whole answer, so they begin at the length of that text. Empty: "
        "a fresh answer, offsets from 0.",
    )
