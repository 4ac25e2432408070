"""Confidence in [0, 1] as a weighted mean of the signals we actually have.

Each factor is a component with a value in [0, 1]. Factors with no signal for
this answer (no log-probabilities, no sources, no second model) are left out and
the remaining weights renormalised, so a missing signal neither inflates nor
deflates the score; the response lists exactly which factors counted.

That weighted mean is the `raw_score`. The `score` is its calibrated value: the
probability that the answer is right, read from a calibration fitted on graded
answers (`python -m audit calibrate`, schemas/calibration.py). Until one is fitted
the calibration is the identity and `calibration_version` says "identity".
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

from core.sources import domain_of, source_score
from providers.catalogue import ModelSpec
from schemas.calibration import IDENTITY, CalibrationPublished
from schemas.parts import Answer, Citation, Confidence, ConfidenceComponent, RouteStep

BASE_WEIGHTS = {
    "model_certainty": 0.25,
    "source_quality": 0.25,
    "cross_validation": 0.2,
    "historical_accuracy": 0.15,
    "route_fit": 0.15,
}
PRIOR_CORRECT = 1
PRIOR_TOTAL = 2
"""Beta(1, 1) prior: with no history, historical accuracy is a neutral 0.5."""
TRUNCATION_REASONS = frozenset({"length", "MAX_TOKENS", "max_tokens"})
"""Finish reasons that mean the answer was cut at the token limit (per provider)."""
SOURCES_FOR_FULL_CORROBORATION = 3
MISSING_SOURCES_SCORE = 0.2
TRUNCATED_PENALTY = 0.7


@dataclass(frozen=True)
class History:
    """Graded past answers for this provider, model and analysis type."""

    correct: int = 0
    total: int = 0


@dataclass(frozen=True)
class ConfidenceSignals:
    """Everything the score may use for one answer."""

    avg_logprob: float | None
    citations: Sequence[Citation]
    needs_live_data: bool
    answered_with_live_search: bool
    fallback_position: int
    """0 when the primary answered, 1 for the first fallback, ..."""
    truncated: bool
    agreement: float | None
    history: History


def model_certainty(avg_logprob: float) -> float:
    """Mean per-token probability: exp of the average log-probability."""
    return max(0.0, min(1.0, math.exp(avg_logprob)))


def source_quality(citations: Sequence[Citation]) -> tuple[float, str]:
    """Mean trust of distinct domains, scaled down when there are few of them."""
    domains = {domain_of(c.url): c.url for c in citations if domain_of(c.url)}
    if not domains:
        return 0.0, "no usable sources"
    mean = sum(source_score(url) for url in domains.values()) / len(domains)
    corroboration = min(len(domains) / SOURCES_FOR_FULL_CORROBORATION, 1.0)
    value = mean * (0.6 + 0.4 * corroboration)
    return value, f"{len(domains)} distinct domains, mean trust {mean:.2f}"


def historical_accuracy(history: History) -> float:
    return (history.correct + PRIOR_CORRECT) / (history.total + PRIOR_TOTAL)


def route_fit(signals: ConfidenceSignals) -> tuple[float, str]:
    """Penalise answers that lack a capability the question needed, or came late in the route."""
    if signals.needs_live_data and not signals.answered_with_live_search:
        return 0.3, "live data needed but the answering model had no web search"
    value = 1.0 - 0.1 * signals.fallback_position
    if signals.truncated:
        value *= TRUNCATED_PENALTY
    detail = (
        "primary model answered"
        if signals.fallback_position == 0
        else (f"answered by fallback #{signals.fallback_position}")
    )
    if signals.truncated:
        detail += "; answer truncated at the token limit"
    return max(value, 0.0), detail


def aggregate(signals: ConfidenceSignals) -> Confidence:
    """The confidence score and its components (weights renormalised over present ones)."""
    raw: dict[str, tuple[float, str]] = {}
    if signals.avg_logprob is not None:
        raw["model_certainty"] = (
            model_certainty(signals.avg_logprob),
            f"mean token probability from avg logprob {signals.avg_logprob:.3f}",
        )
    if signals.citations:
        raw["source_quality"] = source_quality(signals.citations)
    elif signals.needs_live_data:
        raw["source_quality"] = (MISSING_SOURCES_SCORE, "live data needed but no sources cited")
    if signals.agreement is not None:
        raw["cross_validation"] = (
            signals.agreement,
            f"agreement with a second model {signals.agreement:.2f}",
        )
    history = signals.history
    raw["historical_accuracy"] = (
        historical_accuracy(history),
        f"{history.correct}/{history.total} graded correct, Beta(1,1) prior",
    )
    raw["route_fit"] = route_fit(signals)

    total_weight = sum(BASE_WEIGHTS[name] for name in raw)
    components = {
        name: ConfidenceComponent(
            value=round(value, 4),
            weight=round(BASE_WEIGHTS[name] / total_weight, 4),
            detail=detail,
        )
        for name, (value, detail) in raw.items()
    }
    score = sum(BASE_WEIGHTS[name] / total_weight * value for name, (value, _) in raw.items())
    return Confidence(score=round(max(0.0, min(1.0, score)), 4), components=components)


def calibrated(raw_score: float, calibration: CalibrationPublished) -> float:
    """The probability that an answer with `raw_score` is right, under `calibration`.

    Isotonic: linear between the fitted points, flat beyond the ends (no extrapolation);
    Platt: the fitted sigmoid. Always within [0, 1].
    """
    raw = max(0.0, min(1.0, raw_score))
    if calibration.method == "isotonic":
        xs, ys = calibration.xs, calibration.ys
        if raw <= xs[0]:
            value = ys[0]
        elif raw >= xs[-1]:
            value = ys[-1]
        else:
            i = bisect.bisect_right(xs, raw)
            x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
            value = y0 if x1 == x0 else y0 + (y1 - y0) * (raw - x0) / (x1 - x0)
    elif calibration.method == "platt":
        assert calibration.slope is not None and calibration.intercept is not None
        z = calibration.slope * raw + calibration.intercept
        value = 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
    else:
        value = raw
    return max(0.0, min(1.0, value))


def apply_calibration(confidence: Confidence, calibration: CalibrationPublished) -> Confidence:
    """`confidence` with its weighted mean kept as `raw_score` and `score` calibrated."""
    raw = confidence.raw_score if confidence.raw_score is not None else confidence.score
    return confidence.model_copy(
        update={
            "score": round(calibrated(raw, calibration), 4),
            "raw_score": raw,
            "calibration_version": calibration.version,
        }
    )


def score_answer(
    *,
    answer: Answer,
    spec: ModelSpec,
    route: Sequence[RouteStep],
    needs_live_data: bool,
    agreement: float | None,
    history: History,
    calibration: CalibrationPublished = IDENTITY,
) -> Confidence:
    """The confidence of `answer` from `spec` (the model that gave it) on this route.

    One place builds the signals, so the scorer and the app's direct path score alike;
    `calibration` maps the weighted mean to the probability of being right.
    """
    position = next(
        (
            i
            for i, step in enumerate(route)
            if (step.provider, step.model) == (answer.provider, answer.model)
        ),
        0,
    )
    confidence = aggregate(
        ConfidenceSignals(
            avg_logprob=answer.avg_logprob,
            citations=answer.citations,
            needs_live_data=needs_live_data,
            answered_with_live_search=spec.capabilities.live_web_search,
            fallback_position=position,
            truncated=answer.finish_reason in TRUNCATION_REASONS,
            agreement=agreement,
            history=history,
        )
    )
    return apply_calibration(confidence, calibration)
