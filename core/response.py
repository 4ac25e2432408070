"""Assemble the response a strategist sees, with a plain-language routing explanation.

Used by the scorer for the routed path and by the app's direct path, so
both return the same shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from schemas.base import utc_now
from schemas.parts import Answer, AttemptSummary, Classification, Confidence, RouteStep
from schemas.query import QueryRequested
from schemas.response import AnalysisResponded, Routing


def explain(
    *,
    path: Literal["intelligent", "direct"],
    classification: Classification | None,
    route: Sequence[RouteStep],
    attempts: Sequence[AttemptSummary],
    answer: Answer | None,
    direct_reason: str | None = None,
    escalation_reason: str | None = None,
) -> str:
    """One paragraph: why this route, what failed or was skipped, who answered."""
    parts: list[str] = []
    if path == "direct":
        target = f"{attempts[0].provider}/{attempts[0].model}" if attempts else "Gemini"
        why = direct_reason or "Intelligent routing is off for this campaign"
        parts.append(f"{why}: sent directly to {target}.")
    elif classification is not None:
        parts.append(
            f"Classified as {classification.analysis_type} "
            f"(complexity {classification.complexity:.2f}"
            f"{', needs live data' if classification.needs_live_data else ''}"
            f"{', cost-sensitive' if classification.cost_sensitive else ''}): "
            + "; ".join(classification.reasons)
            + "."
        )
        if route:
            parts.append(f"Primary {route[0].provider}/{route[0].model}: {route[0].reason}.")
    for attempt in attempts:
        if attempt.outcome == "skipped":
            parts.append(f"Skipped {attempt.provider}/{attempt.model}: {attempt.error_message}.")
        elif attempt.outcome != "success":
            next_step = (
                "failed over" if path == "intelligent" else "the direct path has no fallback"
            )
            parts.append(
                f"{attempt.provider}/{attempt.model} failed ({attempt.error_kind}) after "
                f"{attempt.latency_ms:.0f} ms; {next_step}."
            )
    if escalation_reason is not None:
        parts.append(f"Escalated: {escalation_reason}.")
    if answer is not None:
        parts.append(
            f"Answered by {answer.provider}/{answer.model}"
            f"{' (provider emulator)' if answer.emulated else ''}."
        )
    else:
        parts.append("No provider could answer.")
    return " ".join(parts)


def provider_service_ms(attempts: Sequence[AttemptSummary]) -> float | None:
    """The providers' stated service time over all calls, None when no call stated one."""
    stated = [a.provider_service_ms for a in attempts if a.provider_service_ms is not None]
    return round(sum(stated), 3) if stated else None


def build_response(
    *,
    query: QueryRequested,
    path: Literal["intelligent", "direct"],
    classification: Classification | None,
    route: Sequence[RouteStep],
    attempts: Sequence[AttemptSummary],
    answer: Answer | None,
    confidence: Confidence | None,
    error: str | None = None,
    extra_cost_usd: float = 0.0,
    direct_reason: str | None = None,
    baseline_cost_usd: float = 0.0,
    escalated_from: Sequence[AttemptSummary] = (),
    escalation_reason: str | None = None,
    budget_remaining_usd: float | None = None,
) -> AnalysisResponded:
    """The final response event for `query`.

    `extra_cost_usd` is spend outside the route, e.g. a cross-validation call;
    `direct_reason` says why the direct path was taken; `baseline_cost_usd` is the
    all-Gemini-2.5-Pro estimate for the answer (`core.economics`); `escalated_from`
    lists the answers set aside for low confidence (their calls are in `attempts` too,
    so their cost counts) and `escalation_reason` says why; `budget_remaining_usd` is
    what the campaign's monthly limit has left (None without a limit).
    """
    completed_at = utc_now()
    latency_ms = max((completed_at - query.submitted_at).total_seconds() * 1000.0, 0.0)
    analysis_type = (
        query.analysis_type
        or (classification.analysis_type if classification else None)
        or "general"
    )
    routing = Routing(
        path=path,
        provider=answer.provider if answer else None,
        model=answer.model if answer else None,
        route=list(route),
        failed_attempts=[a for a in attempts if a.outcome in ("error", "timeout")],
        skipped=[a for a in attempts if a.outcome == "skipped"],
        classification=classification,
        cost_usd=round(sum(a.cost_usd for a in attempts) + extra_cost_usd, 8),
        baseline_cost_usd=baseline_cost_usd,
        latency_ms=round(latency_ms, 1),
        provider_latency_ms=round(sum(a.latency_ms for a in attempts if a.outcome != "skipped"), 1),
        provider_service_ms=provider_service_ms(attempts),
        explanation=explain(
            path=path,
            classification=classification,
            route=route,
            attempts=attempts,
            answer=answer,
            direct_reason=direct_reason,
            escalation_reason=escalation_reason,
        ),
        emulated=bool(answer and answer.emulated),
        escalated_from=list(escalated_from),
        escalation_reason=escalation_reason,
        budget_remaining_usd=budget_remaining_usd,
        input_tokens=answer.input_tokens if answer else None,
        output_tokens=answer.output_tokens if answer else None,
        finish_reason=answer.finish_reason if answer else None,
    )
    return AnalysisResponded(
        analysis_id=query.query_id,
        analysis_type=analysis_type,
        status="completed" if answer is not None else "failed",
        result=answer.text if answer else None,
        citations=list(answer.citations) if answer else [],
        created_at=query.submitted_at,
        completed_at=completed_at,
        campaign_id=query.campaign_id,
        routing=routing,
        confidence=confidence,
        error=error if answer is None else None,
    )


def set_aside_response(
    *, analysis_id: str, stage: str, reason: str, query: QueryRequested | None
) -> AnalysisResponded:
    """The failed response for a query the pipeline had to set aside (dead-lettered).

    The caller gets a final answer at once instead of "pending" until the TTL; the
    explanation says where it stopped. `query` is None when even it was unreadable.
    """
    explanation = (
        f"The {stage} could not process this query ({reason}); it was set aside on the "
        "dead-letter topic for the operators to inspect and re-publish."
    )
    now = utc_now()
    created_at = query.submitted_at if query is not None else now
    return AnalysisResponded(
        analysis_id=analysis_id,
        analysis_type=(query.analysis_type if query else None) or "general",
        status="failed",
        result=None,
        created_at=created_at,
        completed_at=now,
        campaign_id=query.campaign_id if query else None,
        routing=Routing(
            path="intelligent",
            provider=None,
            model=None,
            cost_usd=0.0,
            latency_ms=round(max((now - created_at).total_seconds() * 1000.0, 0.0), 1),
            explanation=explanation,
        ),
        confidence=None,
        error=f"set aside by the {stage}: {reason}",
    )
