"""The scorer's spans: scoring one completion, and an escalation (its own span, so an
escalated analysis shows where and why it went on to the next model)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

from opentelemetry.trace import Span

from schemas.classified import QueryClassified
from schemas.completion import CompletionProduced
from schemas.parts import Confidence
from services.common.tracing import ANALYSIS_ID, PREFIX, step_span, tracer, tracing_enabled


class StepTrace:
    """Writes what a scorer step found onto its span (nothing when tracing is off)."""

    def __init__(self, span: Span) -> None:
        self.span = span

    def confidence(self, confidence: Confidence | None) -> None:
        if confidence is not None and self.span.is_recording():
            self.span.set_attribute(f"{PREFIX}confidence", confidence.score)

    def escalated(self, escalated: QueryClassified | None) -> None:
        if not self.span.is_recording():
            return
        self.span.set_attribute(f"{PREFIX}escalated", escalated is not None)
        escalation = escalated.query.escalation if escalated is not None else None
        if escalation is not None:
            self.span.set_attribute(f"{PREFIX}escalation.reason", escalation.reason)
            self.span.set_attribute(f"{PREFIX}escalation.query_id", escalated.query.query_id)  # type: ignore[union-attr]


def _attributes(completion: CompletionProduced) -> dict[str, Any]:
    attributes: dict[str, Any] = {ANALYSIS_ID: completion.query.analysis_id}
    if completion.answer is not None:
        attributes[f"{PREFIX}cost_usd"] = completion.answer.cost_usd
    return attributes


@contextlib.contextmanager
def score_span(completion: CompletionProduced) -> Iterator[StepTrace]:
    """The span of scoring `completion`'s answer."""
    with step_span("score", _attributes(completion)) as span:
        yield StepTrace(span)


class EscalationTrace:
    """The escalation's span, made once the decision is known and only when it escalates
    (most answers do not: a span per answer would cost CPU for nothing to see); it covers
    the decision's time."""

    def __init__(self, completion: CompletionProduced) -> None:
        self._completion = completion
        self._started_ns = time.time_ns()

    def escalated(self, escalated: QueryClassified | None) -> None:
        if escalated is None or not tracing_enabled():
            return
        span = tracer().start_span(
            "escalation", attributes=_attributes(self._completion), start_time=self._started_ns
        )
        StepTrace(span).escalated(escalated)
        span.end()


@contextlib.contextmanager
def escalation_span(completion: CompletionProduced) -> Iterator[EscalationTrace]:
    """The span of deciding that `completion`'s answer escalates to the next model."""
    yield EscalationTrace(completion)
