"""Score a completion and turn it into the response. I/O arrives through protocols."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from core.confidence import History, score_answer
from core.economics import baseline_cost_usd
from core.response import build_response
from providers.catalogue import Catalogue
from schemas.calibration import IDENTITY, CalibrationPublished
from schemas.classified import QueryClassified
from schemas.completion import CompletionProduced
from schemas.parts import Answer, Confidence
from schemas.response import AnalysisResponded
from schemas.topics import TopicNames
from services.common.worker import Outgoing, derived_outputs
from services.scorer.cross_check import COMPONENT as CROSS_CHECK
from services.scorer.cross_check import CrossCheckOutcome
from services.scorer.escalation import (
    EscalationPolicy,
    escalate,
    original_query,
    set_aside_answers,
)
from services.scorer.score_trace import escalation_span, score_span

logger = logging.getLogger(__name__)


class HistoryStore(Protocol):
    async def get(self, provider: str, model: str, analysis_type: str) -> History: ...


class ResultWriter(Protocol):
    """The result store, first answer wins (services/common/results.py)."""

    async def save(self, response: AnalysisResponded) -> bool: ...

    async def current(self, analysis_id: str) -> AnalysisResponded | None: ...


class CrossCheck(Protocol):
    """Asks a second model the same question: its agreement and cost, why it was skipped
    (e.g. the campaign's budget cannot cover it), or None when no check was wanted."""

    async def outcome(self, completion: CompletionProduced) -> CrossCheckOutcome | None: ...


class EscalationDecisions(Protocol):
    """Takes the escalate-or-answer decision once per completion (stores.py)."""

    async def decide(self, query_id: str, reason: str | None) -> str | None:
        """`reason` (None: answer, no escalation) the first time for this query id; the
        first delivery's decision on every later one."""
        ...


class CalibrationSource(Protocol):
    """The calibration in force (calibration.py follows the calibrations topic)."""

    def current(self) -> CalibrationPublished: ...


class _Identity:
    def current(self) -> CalibrationPublished:
        return IDENTITY


@dataclass(frozen=True)
class Scored:
    """One completion's answer with its confidence, before deciding what to publish."""

    completion: CompletionProduced
    answer: Answer | None
    confidence: Confidence | None
    extra_cost_usd: float


class Scorer:
    def __init__(
        self,
        *,
        catalogue: Catalogue,
        history: HistoryStore,
        results: ResultWriter,
        cross_check: CrossCheck,
        topics: TopicNames,
        calibration: CalibrationSource | None = None,
        escalation: EscalationPolicy | None = None,
        decisions: EscalationDecisions | None = None,
    ) -> None:
        """Without `escalation` and `decisions` the scorer never escalates."""
        self._catalogue = catalogue
        self._history = history
        self._results = results
        self._cross_check = cross_check
        self._topics = topics
        self._calibration = calibration or _Identity()
        self._escalation = escalation
        self._decisions = decisions

    async def handle(self, completion: CompletionProduced) -> Sequence[Outgoing]:
        """The scored response on the responses topic (also stored for GET by id), or the
        query sent on to the next model when this answer is too unsure (escalation.py).

        The stored copy carries the id the worker gives the published one (derived from
        the completion's), so the topic and the store hold the same event.
        """
        with score_span(completion) as traced:
            scored = await self._scored(completion)
            traced.confidence(scored.confidence)
        with escalation_span(completion) as traced:
            escalated = await self._escalation_of(scored)
            traced.escalated(escalated)
        if escalated is not None:
            logger.info(
                "analysis=%s escalated as query=%s: %s",
                completion.query.analysis_id,
                escalated.query.query_id,
                escalated.query.escalation.reason if escalated.query.escalation else "",
            )
            return [Outgoing(self._topics.classified, escalated.query.query_id, escalated)]
        response = self._response(scored)
        [outgoing] = derived_outputs(
            completion.event_id,
            [Outgoing(self._topics.responses, response.analysis_id, response)],
        )
        stamped = outgoing.event
        assert isinstance(stamped, AnalysisResponded)
        if not await self._results.save(stamped):
            kept = await self._results.current(stamped.analysis_id)
            if kept is not None and kept.event_id != stamped.event_id:
                # Another answer came first (e.g. the app's direct path): the caller has
                # it, so a second, different answer must not appear on the topic.
                logger.info(
                    "analysis=%s already answered (%s); not publishing another answer",
                    stamped.analysis_id,
                    kept.routing.path,
                )
                return []
        return [outgoing]

    async def score(self, completion: CompletionProduced) -> AnalysisResponded:
        """The response for `completion` as it is (no escalation decision)."""
        return self._response(await self._scored(completion))

    async def _scored(self, completion: CompletionProduced) -> Scored:
        answer = completion.answer
        confidence = None
        extra_cost = 0.0
        if answer is not None:
            checked = await self._cross_check.outcome(completion)
            agreement = None
            if checked is not None:
                agreement, extra_cost = checked.agreement, checked.cost_usd
            escalation = completion.query.escalation
            confidence = score_answer(
                answer=answer,
                spec=self._catalogue.get(answer.provider, answer.model),
                route=escalation.route if escalation and escalation.route else completion.route,
                needs_live_data=completion.classification.needs_live_data,
                agreement=agreement,
                history=await self._history.get(
                    answer.provider, answer.model, completion.classification.analysis_type
                ),
                calibration=self._calibration.current(),
            )
            skipped = checked.skipped_component() if checked is not None else None
            if skipped is not None:  # wanted, not run (budget): say so in the breakdown
                confidence = confidence.model_copy(
                    update={"components": {**confidence.components, CROSS_CHECK: skipped}}
                )
        return Scored(completion, answer, confidence, extra_cost)

    async def _escalation_of(self, scored: Scored) -> QueryClassified | None:
        """The query for the next model, when this answer escalates (decided once)."""
        policy, decisions = self._escalation, self._decisions
        if policy is None or decisions is None:
            return None
        if scored.answer is None or scored.confidence is None:
            return None
        remaining = policy.remaining_steps(scored.completion)
        if not remaining:
            return None
        why = policy.check_reason(scored.completion, remaining) or policy.reason(
            scored.completion, scored.confidence, remaining
        )
        reason = await decisions.decide(scored.completion.query.query_id, why)
        if reason is None:
            return None
        return escalate(
            scored.completion,
            answer=scored.answer,
            confidence=scored.confidence,
            remaining=remaining,
            reason=reason,
            extra_cost_usd=scored.extra_cost_usd,
        )

    def _response(self, scored: Scored) -> AnalysisResponded:
        completion = scored.completion
        escalation = completion.query.escalation
        answer, confidence = scored.answer, scored.confidence
        attempts = list(completion.attempts)
        extra_cost = scored.extra_cost_usd
        route = completion.route
        escalated_from = []
        reason = None
        if escalation is not None:
            attempts = [*escalation.earlier_attempts, *attempts]
            extra_cost += escalation.extra_cost_usd
            route = escalation.route or route
            reason = escalation.reason
            if answer is None:  # no later model answered: the set-aside answer after all
                answer, confidence = escalation.answer, escalation.confidence
                reason += "; no later model answered, so the set-aside answer is returned"
            else:
                escalated_from = set_aside_answers(escalation)
        return build_response(
            query=original_query(completion.query),
            path="intelligent",
            classification=completion.classification,
            route=route,
            attempts=attempts,
            answer=answer,
            confidence=confidence,
            error=completion.error,
            extra_cost_usd=extra_cost,
            baseline_cost_usd=baseline_cost_usd(self._catalogue, answer),
            escalated_from=escalated_from,
            escalation_reason=reason,
            budget_remaining_usd=completion.budget_remaining_usd,
        )
