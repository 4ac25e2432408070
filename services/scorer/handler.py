"""Score a completion and turn it into the response. I/O arrives through protocols."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from providers.catalogue import Catalogue
from schemas.completion import CompletionProduced
from schemas.response import AnalysisResponded
from schemas.topics import TopicNames
from services.common.worker import Outgoing
from services.scorer.confidence import History, Signals, aggregate
from services.scorer.response import build_response

logger = logging.getLogger(__name__)

TRUNCATION_REASONS = frozenset({"length", "MAX_TOKENS", "max_tokens"})


class HistoryStore(Protocol):
    async def get(self, provider: str, model: str, analysis_type: str) -> History: ...


class ResultStore(Protocol):
    async def save(self, response: AnalysisResponded) -> None: ...


class CrossCheck(Protocol):
    """Asks a second model the same question; returns (agreement, cost) or None."""

    async def check(self, completion: CompletionProduced) -> tuple[float, float] | None: ...


class Scorer:
    def __init__(
        self,
        *,
        catalogue: Catalogue,
        history: HistoryStore,
        results: ResultStore,
        cross_check: CrossCheck,
        topics: TopicNames,
    ) -> None:
        self._catalogue = catalogue
        self._history = history
        self._results = results
        self._cross_check = cross_check
        self._topics = topics

    async def handle(self, completion: CompletionProduced) -> Sequence[Outgoing]:
        """The scored response on the responses topic (also stored for GET by id)."""
        response = await self.score(completion)
        await self._results.save(response)
        return [Outgoing(self._topics.responses, response.analysis_id, response)]

    async def score(self, completion: CompletionProduced) -> AnalysisResponded:
        answer = completion.answer
        confidence = None
        extra_cost = 0.0
        if answer is not None:
            checked = await self._cross_check.check(completion)
            agreement = None
            if checked is not None:
                agreement, extra_cost = checked
            spec = self._catalogue.get(answer.provider, answer.model)
            position = next(
                (
                    i
                    for i, step in enumerate(completion.route)
                    if (step.provider, step.model) == (answer.provider, answer.model)
                ),
                0,
            )
            signals = Signals(
                avg_logprob=answer.avg_logprob,
                citations=answer.citations,
                needs_live_data=completion.classification.needs_live_data,
                answered_with_live_search=spec.capabilities.live_web_search,
                fallback_position=position,
                truncated=answer.finish_reason in TRUNCATION_REASONS,
                agreement=agreement,
                history=await self._history.get(
                    answer.provider, answer.model, completion.classification.analysis_type
                ),
            )
            confidence = aggregate(signals)
        return build_response(
            query=completion.query,
            path="intelligent",
            classification=completion.classification,
            route=completion.route,
            attempts=completion.attempts,
            answer=answer,
            confidence=confidence,
            error=completion.error,
            extra_cost_usd=extra_cost,
        )
