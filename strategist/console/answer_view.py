"""What the answer panel shows of a finished analysis: pure functions over the response.

Kept apart from the routes so the wording (route, fallbacks and why, cost against the
all-Gemini-2.5-Pro estimate, confidence and its components) is tested without a server.
Everything here is data: the templates escape it, nothing is marked safe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from schemas.response import AnalysisResponded

LINK_SCHEMES = ("http", "https")


@dataclass(frozen=True)
class AnswerView:
    analysis_id: str
    status: str
    text: str
    error: str | None
    tier: str | None
    tier_probability: float | None
    provider: str | None
    model: str | None
    path: str
    explanation: str
    fallbacks: list[dict[str, str]] = field(default_factory=list)
    cost_usd: float = 0.0
    baseline_cost_usd: float = 0.0
    saving_percent: float | None = None
    latency_ms: float = 0.0
    confidence: float | None = None
    raw_confidence: float | None = None
    calibration_version: str | None = None
    components: list[dict[str, Any]] = field(default_factory=list)
    citations: list[dict[str, str]] = field(default_factory=list)
    emulated: bool = False
    local: bool = False
    """Written by the self-hosted local model: the panel says how weak the shipped one is."""


def _reason(kind: str | None, message: str | None, outcome: str) -> str:
    if kind and message:
        return f"{kind}: {message}"
    return kind or message or outcome


def _link(url: str) -> bool:
    """Only http(s) links become links (never javascript: or data:)."""
    return urlsplit(url).scheme.lower() in LINK_SCHEMES


def answer_view(response: AnalysisResponded, *, show_errors: bool) -> AnswerView:
    """`show_errors`: raw provider error texts (admins only, as in the API)."""
    routing = response.routing
    classification = routing.classification
    tier = classification.tier if classification else None
    probability = (
        classification.tier_probabilities.get(tier) if classification and tier else None
    )
    fallbacks = [
        {
            "provider": a.provider,
            "model": a.model,
            "outcome": a.outcome,
            "why": _reason(a.error_kind, a.error_message if show_errors else None, a.outcome),
        }
        for a in [*routing.skipped, *routing.failed_attempts, *routing.escalated_from]
    ]
    baseline = routing.baseline_cost_usd
    saving = (baseline - routing.cost_usd) / baseline * 100 if baseline > 0 else None
    confidence = response.confidence
    components = []
    if confidence is not None:
        components = [
            {"name": name, "value": c.value, "weight": c.weight, "detail": c.detail}
            for name, c in sorted(confidence.components.items())
        ]
    return AnswerView(
        analysis_id=response.analysis_id,
        status=response.status,
        text=response.result or "",
        error=response.error,
        tier=tier,
        tier_probability=probability,
        provider=routing.provider,
        model=routing.model,
        path=routing.path,
        explanation=routing.explanation,
        fallbacks=fallbacks,
        cost_usd=routing.cost_usd,
        baseline_cost_usd=baseline,
        saving_percent=saving,
        latency_ms=routing.latency_ms,
        confidence=confidence.score if confidence else None,
        raw_confidence=confidence.raw_score if confidence else None,
        calibration_version=confidence.calibration_version if confidence else None,
        components=components,
        citations=[
            {"url": c.url, "title": c.title or c.url}
            for c in response.citations
            if _link(c.url)
        ],
        emulated=routing.emulated,
        local=routing.provider == "local" and response.status == "completed",
    )


def stages(records: dict[str, Any] | None) -> list[str]:
    """The steps recorded so far of an analysis still running (the recorder's rows)."""
    if not records:
        return []
    shown = []
    decision = records.get("decision")
    if decision:
        tier = decision.get("tier") or decision.get("analysis_type")
        probability = (decision.get("tier_probabilities") or {}).get(decision.get("tier"))
        odds = f" ({probability:.0%})" if isinstance(probability, float) else ""
        shown.append(f"Classified: {tier}{odds}")
    for attempt in records.get("attempts") or []:
        name = f"{attempt['provider']}/{attempt['model']}"
        if attempt["outcome"] == "started":
            shown.append(f"Calling {name}")
        elif attempt["outcome"] == "success":
            shown.append(f"{name} answered in {attempt['latency_ms']:.0f} ms")
        else:
            shown.append(f"{name}: {attempt['outcome']} ({attempt.get('error_class') or '-'})")
    return shown
