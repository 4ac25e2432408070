"""The value objects several events carry: tiers, the route, the classification, answers,
attempts and confidence.

They live here, in a leaf that imports only `schemas.base`, because the events embed one
another in a loop of meaning (the scorer's escalated query carries the answer, attempts
and confidence of the round before): with the shared parts below them, every event module
imports down to this one and never sideways, so the import graph has no cycle.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field

from schemas.base import Frozen, ProviderName

AnalysisType = Literal[
    "polling", "strategy", "messaging", "opposition_research", "editing", "general"
]
Tier = Literal["simple", "standard", "complex", "live"]
"""simple: routine text work (local model); standard: moderate, general knowledge (Gemini
2.5 Flash); complex: deep multi-step reasoning (Gemini 2.5 Pro); live: needs information
newer than the models' training (Perplexity)."""
TIERS: tuple[Tier, ...] = get_args(Tier)
"""Every tier, in the order of `Tier` (the tier router's class order depends on it)."""
RoutineKind = Literal[
    "rewrite", "shorten", "fix_grammar", "proofread", "translate", "summarise",
    "sentiment", "extract", "list", "count", "capitalise", "subject_lines", "slogan",
    "hashtags", "thank_you", "bio", "decline", "reminder",
]  # fmt: skip
"""The kinds of routine task the routine set grades (data/routine/) and the classifier
recognises (core/routine_kind.py), so the route can follow the local model's measured
usable rate per kind."""
ROUTINE_KINDS: tuple[RoutineKind, ...] = get_args(RoutineKind)


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
    routine_kind: RoutineKind | None = Field(
        default=None,
        description="The kind of routine task recognised in the query (rewrite, translate, "
        "...), whatever the tier; None when none was recognised.",
    )


class RouteStep(Frozen):
    """One candidate model in the route, with why it is at this position."""

    provider: ProviderName
    model: str
    reason: str


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
    continued_chars: int = Field(
        default=0,
        ge=0,
        description="How many characters at the start of `text` another attempt wrote and a "
        "live caller had read before this model continued them (an assistant prefill); 0: "
        "the model's own answer. A continued answer is never escalated: the caller has read "
        "it as it was written.",
    )


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


class ConfidenceComponent(Frozen):
    """One factor of the confidence score; `weight` is its share after renormalising."""

    value: float = Field(ge=0.0, le=1.0)
    weight: float = Field(ge=0.0, le=1.0)
    detail: str


class Confidence(Frozen):
    """The aggregated score in [0, 1] and the factors it came from."""

    score: float = Field(ge=0.0, le=1.0)
    components: dict[str, ConfidenceComponent]
    raw_score: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="The combined signal before calibration; `score` is its calibrated value.",
    )
    calibration_version: str | None = Field(
        default=None,
        description="The calibration that mapped `raw_score` to `score` ('identity' when "
        "too few graded outcomes exist to fit one).",
    )
