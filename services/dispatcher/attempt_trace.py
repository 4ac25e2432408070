"""The span of one paid attempt: a GenAI CLIENT span under the dispatch's consumer span.

Every attempt is its own span, so a failover shows as sibling attempts under one
dispatch; a failed attempt has error status and `error.type` (the error kind). No prompt
or answer text unless `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind

from core.attempt import AttemptResult
from providers.catalogue import ModelSpec
from schemas.classified import QueryClassified
from services.common import genai
from services.common.tracing import (
    ANALYSIS_ID,
    PREFIX,
    capture_content,
    mark_failed,
    tracer,
    tracing_enabled,
)


class TracedAttempt:
    """Writes the outcome of the attempt onto its span."""

    def __init__(self, span: Span) -> None:
        self.span = span

    def result(self, result: AttemptResult) -> None:
        span, summary, answer = self.span, result.summary, result.answer
        if not span.is_recording():
            return
        span.set_attribute(f"{PREFIX}cost_usd", summary.cost_usd)
        span.set_attribute(f"{PREFIX}attempt.outcome", summary.outcome)
        if answer is not None:
            span.set_attribute(genai.RESPONSE_MODEL, answer.model)
            span.set_attribute(genai.USAGE_INPUT_TOKENS, answer.input_tokens)
            span.set_attribute(genai.USAGE_OUTPUT_TOKENS, answer.output_tokens)
            if answer.finish_reason:
                span.set_attribute(genai.RESPONSE_FINISH_REASONS, [answer.finish_reason])
            if capture_content():
                span.set_attribute(
                    genai.OUTPUT_MESSAGES, genai.text_messages("assistant", answer.text)
                )
        if result.error is not None:
            mark_failed(
                span, summary.error_kind or type(result.error).__name__, summary.error_message
            )


@contextlib.contextmanager
def attempt_span(
    classified: QueryClassified, spec: ModelSpec, number: int
) -> Iterator[TracedAttempt]:
    """The span of attempt `number` of `classified` on `spec` (non-recording when off)."""
    if not tracing_enabled():
        yield TracedAttempt(trace.INVALID_SPAN)
        return
    query, classification = classified.query, classified.classification
    attributes: dict[str, Any] = {
        genai.OPERATION_NAME: genai.CHAT,
        genai.PROVIDER_NAME: genai.provider_name(spec.provider),
        genai.REQUEST_MODEL: spec.model_id,
        ANALYSIS_ID: query.analysis_id,
        f"{PREFIX}attempt.number": number,
        f"{PREFIX}route": [f"{step.provider}/{step.model}" for step in classified.route],
    }
    if query.campaign_id:
        attributes[f"{PREFIX}campaign.id"] = query.campaign_id
    if classification.tier is not None:
        attributes[f"{PREFIX}tier"] = str(classification.tier)
        probability = classification.tier_probabilities.get(str(classification.tier))
        if probability is not None:
            attributes[f"{PREFIX}tier.probability"] = probability
    if capture_content():
        attributes[genai.INPUT_MESSAGES] = genai.text_messages("user", query.query)
    with tracer().start_as_current_span(
        genai.span_name(spec.model_id), kind=SpanKind.CLIENT, attributes=attributes,
        record_exception=False, set_status_on_exception=True,
    ) as span:  # fmt: skip
        yield TracedAttempt(span)
