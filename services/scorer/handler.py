"""Score a completion and turn it into the response. I/O arrives through protocols."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from core.confidence import History, score_answer
from core.economics import baseline_cost_usd
from core.response import build_response
from providers.catalogue import Catalogue
from schemas.completion import CompletionProduced
from schemas.response import AnalysisResponded
from schemas.topics import TopicNames
from services.common.worker import Outgoing, derived_outputs

logger = logging.getLogger(__name__)


class HistoryStore(Protocol):
    async def get(self, provider: str, model: str, analysis_type: str) -> History: ...


class ResultWriter(Protocol):
    """The result store, first answer wins (services/common/results.py)."""

    async def save(self, response: AnalysisResponded) -> bool: ...

    async def current(self, analysis_id: str) -> AnalysisResponded | None: ...


class CrossCheck(Protocol):
    """Asks a second model the same question; returns (agreement, cost) or None."""

    async def check(self, completion: CompletionProduced) -> tuple[float, float] | None: ...


class Scorer:
    def __init__(
        self,
        *,
        catalogue: Catalogue,
        history: HistoryStore,
        results: ResultWriter,
        cross_check: CrossCheck,
        topics: TopicNames,
    ) -> None:
        self._catalogue = catalogue
        self._history = history
        self._results = results
        self._cross_check = cross_check
        self._topics = topics

    async def handle(self, completion: CompletionProduced) -> Sequence[Outgoing]:
        """The scored response on the responses topic (also stored for GET by id).

        The stored copy carries the id the worker gives the published one (derived from
        the completion's), so the topic and the store hold the same event.
        """
        response = await self.score(completion)
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
        answer = completion.answer
        confidence = None
        extra_cost = 0.0
        if answer is not None:
            checked = await self._cross_check.check(completion)
            agreement = None
            if checked is not None:
                agreement, extra_cost = checked
            confidence = score_answer(
                answer=answer,
                spec=self._catalogue.get(answer.provider, answer.model),
                route=completion.route,
                needs_live_data=completion.classification.needs_live_data,
                agreement=agreement,
                history=await self._history.get(
                    answer.provider, answer.model, completion.classification.analysis_type
                ),
            )
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
            baseline_cost_usd=baseline_cost_usd(self._catalogue, answer),
        )
