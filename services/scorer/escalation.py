"""Escalation: ask the next model on the route when an answer is too unsure, or when a
local answer fails the pre-release check.

The pre-release check (`core/answer_checks.py`, `EscalationPolicy.check_reason`) runs on
every answer of a checked provider (the local model) before it is released, whatever
its confidence or calibration: an answer that echoes the prompt, misses a count, length
or language the question asked for, or brings numbers or names the question does not
have, goes to the next model with the failed checks as the reason.

When the calibrated confidence of an answer from a cheap model (the local model or
Gemini Flash, `SCORER_ESCALATION_MODELS`) is below the threshold (per campaign, or the
default), the scorer does not publish that answer. It publishes the query back to the
dispatcher's input (the classified topic) with the steps of the route after the model
that answered, under a derived query id (the dispatcher's lease and completion cache
are keyed by query id, so the original id would hand back the first completion). The
query carries an `Escalation` record (schemas/query.py): why, the set-aside answer with
its attempt and confidence, the earlier attempts and the whole route. It flows through
the dispatcher untouched; when the escalated completion comes back, the scorer answers
under the original analysis id, with both answers' attempts and why it escalated.

Bounds: at most `max_escalations` per analysis; never without a remaining step; and the
decision for one completion is taken once (`Once` in Redis, keyed by its query id), so a
redelivered completion repeats the first decision instead of deciding again.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from core.answer_checks import check_answer
from core.escalation_scope import EscalationScope
from core.routine_kind import routine_kind
from schemas.calibration import IDENTITY_VERSION
from schemas.classified import QueryClassified
from schemas.completion import CompletionProduced
from schemas.parts import Answer, AttemptSummary, Confidence, RouteStep
from schemas.query import Escalation, QueryRequested

ESCALATION_ID_NAMESPACE = uuid.UUID("5b0e6f1e-4c1a-4f5e-9a57-0d3c2a9e1f6b")
"""Fixed, so the derived query id of an escalation is the same on every delivery."""


def escalated_query_id(analysis_id: str, round_: int) -> str:
    """The query id of the `round_`-th escalation of `analysis_id` (deterministic)."""
    return uuid.uuid5(ESCALATION_ID_NAMESPACE, f"{analysis_id}/escalation/{round_}").hex


def original_query(query: QueryRequested) -> QueryRequested:
    """The caller's query as it was: original id, no escalation record."""
    if query.escalation is None:
        return query
    return query.model_copy(update={"query_id": query.escalation.analysis_id, "escalation": None})


@dataclass(frozen=True)
class EscalationPolicy(EscalationScope):
    """When to ask the next model: which answers may escalate is `EscalationScope`'s (shared
    with the dispatcher, core/escalation_scope.py); whether one does, this class's."""

    requires_calibration: bool = True
    """Escalate only under a fitted calibration: the identity's score is a weighted mean,
    not a probability, so a probability threshold means nothing against it."""

    def remaining_steps(self, completion: CompletionProduced) -> list[RouteStep]:
        """The route after the model that answered, when its answer may escalate at all
        (`EscalationScope.steps_after`). Empty otherwise."""
        answer = completion.answer
        if answer is None or answer.continued_chars:
            return []  # a live caller read it as it was written: never swapped
        return self.steps_after(completion.query, completion.route, answer.provider, answer.model)

    def check_reason(
        self, completion: CompletionProduced, remaining: Sequence[RouteStep]
    ) -> str | None:
        """Why this answer goes to `remaining[0]` because it failed a pre-release check
        (the prompt echoed, a count, length or language asked for not met, a fact not in
        the question); None when it passes or is not checked. Pure."""
        answer = completion.answer
        if answer is None or not remaining or answer.provider not in self.checked_providers:
            return None
        query = completion.query.query
        kind = completion.classification.routine_kind or routine_kind(query)
        failed = check_answer(query, answer.text, kind)
        if not failed:
            return None
        nxt = remaining[0]
        return (
            f"the {answer.provider}/{answer.model} answer failed the pre-release check "
            f"({'; '.join(str(f) for f in failed)}); asked {nxt.provider}/{nxt.model} next"
        )

    def reason(
        self, completion: CompletionProduced, confidence: Confidence, remaining: Sequence[RouteStep]
    ) -> str | None:
        """Why this answer goes to `remaining[0]`; None when it is sure enough (or no
        calibration is fitted and one is required). Pure."""
        answer = completion.answer
        if answer is None or not remaining:
            return None
        if self.requires_calibration and confidence.calibration_version in (
            None,
            IDENTITY_VERSION,
        ):
            return None
        threshold = self.threshold_for(completion.query.campaign_id)
        if confidence.score >= threshold:
            return None
        nxt = remaining[0]
        return (
            f"confidence {confidence.score:.2f} of {answer.provider}/{answer.model} is below the "
            f"escalation threshold {threshold:.2f} (calibration {confidence.calibration_version}); "
            f"asked {nxt.provider}/{nxt.model} next"
        )


def escalate(
    completion: CompletionProduced,
    *,
    answer: Answer,
    confidence: Confidence,
    remaining: Sequence[RouteStep],
    reason: str,
    extra_cost_usd: float,
) -> QueryClassified:
    """The query to publish on the classified topic: the remaining steps, a derived id."""
    query = completion.query
    earlier = query.escalation
    analysis_id = query.analysis_id
    round_ = (earlier.escalations if earlier else 0) + 1
    set_aside = next(
        (
            a
            for a in reversed(completion.attempts)
            if a.outcome == "success" and (a.provider, a.model) == (answer.provider, answer.model)
        ),
        AttemptSummary(
            provider=answer.provider,
            model=answer.model,
            outcome="success",
            latency_ms=answer.latency_ms,
            cost_usd=answer.cost_usd,
        ),
    )
    record = Escalation(
        analysis_id=analysis_id,
        reason=reason,
        set_aside=set_aside,
        answer=answer,
        confidence=confidence,
        earlier_attempts=[*(earlier.earlier_attempts if earlier else []), *completion.attempts],
        route=list(earlier.route if earlier else completion.route),
        extra_cost_usd=round((earlier.extra_cost_usd if earlier else 0.0) + extra_cost_usd, 8),
        escalations=round_,
    )
    return QueryClassified(
        query=query.model_copy(
            update={"query_id": escalated_query_id(analysis_id, round_), "escalation": record}
        ),
        classification=completion.classification,
        route=list(remaining),
    )


def set_aside_answers(escalation: Escalation | None) -> list[AttemptSummary]:
    """The attempts whose answers were set aside, oldest first."""
    if escalation is None:
        return []
    return [a for a in escalation.earlier_attempts if a.outcome == "success"]
