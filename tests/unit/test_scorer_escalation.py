"""Scorer: an unsure answer goes to the next model on its route, once; the response tells."""

from __future__ import annotations

import asyncio

from core.confidence import History
from providers.catalogue import DEFAULT_CATALOGUE, GEMINI_FLASH, GEMINI_PRO, LOCAL_MODEL, SONAR
from schemas.calibration import CalibrationPublished
from schemas.classified import QueryClassified
from schemas.completion import CompletionProduced
from schemas.parts import Answer, AttemptSummary, Classification, RouteStep
from schemas.query import QueryOptions, QueryRequested
from schemas.response import AnalysisResponded
from schemas.topics import TopicNames
from services.scorer.escalation import EscalationPolicy, escalated_query_id
from services.scorer.handler import Scorer

TOPICS = TopicNames("unit")
ROUTE = [
    RouteStep(provider="gemini", model=GEMINI_FLASH, reason="primary"),
    RouteStep(provider="perplexity", model=SONAR, reason="fallback"),
    RouteStep(provider="local", model=LOCAL_MODEL, reason="last"),
]
CLASSIFICATION = Classification(
    complexity=0.4, needs_live_data=False, analysis_type="strategy", cost_sensitive=False
)
POLICY = EscalationPolicy(
    threshold=0.5,
    campaign_thresholds={"bold": 0.05},
    max_escalations=1,
    models=frozenset({("gemini", GEMINI_FLASH), ("local", LOCAL_MODEL)}),
)


def _halving(version: str = "halve-1") -> CalibrationPublished:
    """Maps every raw score to half of it: a Flash answer lands near 0.4, below 0.5."""
    return CalibrationPublished(
        version=version, method="isotonic", xs=[0.0, 1.0], ys=[0.0, 0.5], n_graded=100, reason="t"
    )


class Calibration:
    def __init__(self, calibration: CalibrationPublished) -> None:
        self.calibration = calibration

    def current(self) -> CalibrationPublished:
        return self.calibration


class Histories:
    async def get(self, provider: str, model: str, analysis_type: str) -> History:
        return History()


class Results:
    def __init__(self) -> None:
        self.by_id: dict[str, AnalysisResponded] = {}

    async def save(self, response: AnalysisResponded) -> bool:
        if response.analysis_id in self.by_id:
            return False
        self.by_id[response.analysis_id] = response
        return True

    async def current(self, analysis_id: str) -> AnalysisResponded | None:
        return self.by_id.get(analysis_id)


class NoCrossCheck:
    async def outcome(self, completion: CompletionProduced) -> None:
        return None


class Decisions:
    """First decision per query id wins, like `RedisEscalationDecisions`."""

    def __init__(self) -> None:
        self.stored: dict[str, str | None] = {}

    async def decide(self, query_id: str, reason: str | None) -> str | None:
        return self.stored.setdefault(query_id, reason)


def _answer(provider: str, model: str, cost: float = 0.001) -> Answer:
    return Answer(
        provider=provider,  # type: ignore[arg-type]
        model=model,
        text=f"answer from {model}",
        input_tokens=20,
        output_tokens=100,
        cost_usd=cost,
        latency_ms=300,
        avg_logprob=-0.2,
    )


def _first(campaign: str | None = None, route: list[RouteStep] | None = None) -> CompletionProduced:
    answer = _answer("gemini", GEMINI_FLASH)
    return CompletionProduced(
        query=QueryRequested(query_id="a1", query="Which message for suburban voters?",
                             campaign_id=campaign),
        classification=CLASSIFICATION,
        route=route or ROUTE,
        status="succeeded",
        answer=answer,
        attempts=[AttemptSummary(provider="gemini", model=GEMINI_FLASH, outcome="success",
                                 latency_ms=300, cost_usd=0.001)],
    )  # fmt: skip


def _scorer(calibration: CalibrationPublished, decisions: Decisions, results: Results) -> Scorer:
    return Scorer(
        catalogue=DEFAULT_CATALOGUE,
        history=Histories(),
        results=results,
        cross_check=NoCrossCheck(),
        topics=TOPICS,
        calibration=Calibration(calibration),
        escalation=POLICY,
        decisions=decisions,
    )


def _second(escalated: QueryClassified, answer: Answer | None) -> CompletionProduced:
    """What the dispatcher publishes for the escalated query (query carried untouched)."""
    attempts = [
        AttemptSummary(
            provider="perplexity",
            model=SONAR,
            outcome="success" if answer else "error",
            error_kind=None if answer else "unavailable",
            latency_ms=500,
            cost_usd=answer.cost_usd if answer else 0.0,
        )
    ]
    return CompletionProduced(
        query=escalated.query,
        classification=escalated.classification,
        route=escalated.route,
        status="succeeded" if answer else "failed",
        answer=answer,
        attempts=attempts,
        error=None if answer else "all failed",
    )  # fmt: skip


def test_unsure_flash_answer_goes_to_the_next_step_and_the_response_records_both() -> None:
    results = Results()
    scorer = _scorer(_halving(), Decisions(), results)
    [out] = asyncio.run(scorer.handle(_first()))

    assert out.topic == TOPICS.classified
    escalated = out.event
    assert isinstance(escalated, QueryClassified)
    assert escalated.query.query_id == escalated_query_id("a1", 1) != "a1"
    assert escalated.route == ROUTE[1:]
    record = escalated.query.escalation
    assert record is not None and record.analysis_id == "a1"
    assert record.set_aside.model == GEMINI_FLASH
    assert record.confidence.calibration_version == "halve-1"
    assert record.confidence.score < 0.5
    assert "below the escalation threshold 0.50" in record.reason
    assert results.by_id == {}  # nothing answered yet

    [final] = asyncio.run(scorer.handle(_second(escalated, _answer("perplexity", SONAR, 0.005))))
    response = final.event
    assert isinstance(response, AnalysisResponded)
    assert final.topic == TOPICS.responses and final.key == "a1"
    assert response.analysis_id == "a1"
    assert response.routing.model == SONAR
    assert [a.model for a in response.routing.escalated_from] == [GEMINI_FLASH]
    assert response.routing.escalation_reason == record.reason
    assert response.routing.route == ROUTE
    assert response.routing.cost_usd == 0.006  # both answers paid
    assert "Escalated:" in response.routing.explanation
    assert results.by_id["a1"].event_id == response.event_id


def test_the_escalated_answer_is_not_escalated_again() -> None:
    scorer = _scorer(_halving(), Decisions(), Results())
    [out] = asyncio.run(scorer.handle(_first()))
    assert isinstance(out.event, QueryClassified)
    # Flash again as the next step: still unsure, but the bound of one escalation holds.
    second = _second(out.event, _answer("gemini", GEMINI_FLASH))
    [final] = asyncio.run(scorer.handle(second))
    assert isinstance(final.event, AnalysisResponded)
    assert final.event.analysis_id == "a1"


def test_a_redelivered_completion_repeats_the_first_decision() -> None:
    decisions = Decisions()
    completion = _first()
    unsure = _scorer(_halving(), decisions, Results())
    [first] = asyncio.run(unsure.handle(completion))
    # Redelivered after a calibration that would now keep the answer: the first decision
    # stands, the same query is published again (same derived id), nothing is answered.
    sure = _scorer(_halving("later").model_copy(update={"ys": [1.0, 1.0]}), decisions, Results())
    [again] = asyncio.run(sure.handle(completion))
    assert isinstance(again.event, QueryClassified) and isinstance(first.event, QueryClassified)
    assert again.event.query.query_id == first.event.query.query_id
    assert again.event.query.escalation is not None and first.event.query.escalation is not None
    assert again.event.query.escalation.reason == first.event.query.escalation.reason

    # And the other way round: answered first, a redelivery under a harsher calibration
    # does not escalate.
    decisions = Decisions()
    completion = _first()
    [answered] = asyncio.run(_scorer(_halving("x").model_copy(update={"ys": [1.0, 1.0]}),
                                     decisions, Results()).handle(completion))  # fmt: skip
    [still] = asyncio.run(_scorer(_halving(), decisions, Results()).handle(completion))
    assert isinstance(answered.event, AnalysisResponded)
    assert isinstance(still.event, AnalysisResponded)


def test_no_escalation_without_a_remaining_step_under_the_campaign_threshold_or_identity() -> None:
    last = [ROUTE[0]]
    [out] = asyncio.run(_scorer(_halving(), Decisions(), Results()).handle(_first(route=last)))
    assert isinstance(out.event, AnalysisResponded)
    [bold] = asyncio.run(_scorer(_halving(), Decisions(), Results()).handle(_first("bold")))
    assert isinstance(bold.event, AnalysisResponded)
    identity = Calibration(_halving()).calibration.model_copy(
        update={"version": "identity", "method": "identity"}
    )
    [raw] = asyncio.run(_scorer(identity, Decisions(), Results()).handle(_first()))
    assert isinstance(raw.event, AnalysisResponded)
    assert raw.event.confidence is not None
    assert raw.event.confidence.calibration_version == "identity"


def test_a_pro_answer_never_escalates() -> None:
    completion = _first().model_copy(update={"answer": _answer("gemini", GEMINI_PRO)})
    [out] = asyncio.run(_scorer(_halving(), Decisions(), Results()).handle(completion))
    assert isinstance(out.event, AnalysisResponded)


def test_an_unsure_answer_that_continued_text_a_live_caller_read_is_never_swapped() -> None:
    scorer = _scorer(_halving(), Decisions(), Results())
    [unsure] = asyncio.run(scorer.handle(_first()))
    assert isinstance(unsure.event, QueryClassified)  # the same Flash answer, fresh: escalated
    answer = _answer("gemini", GEMINI_FLASH).model_copy(update={"continued_chars": 12})
    completion = _first().model_copy(update={"answer": answer})
    [out] = asyncio.run(_scorer(_halving(), Decisions(), Results()).handle(completion))
    assert isinstance(out.event, AnalysisResponded)
    assert out.event.routing.escalation_reason is None


def test_when_no_later_model_answers_the_set_aside_answer_is_returned() -> None:
    scorer = _scorer(_halving(), Decisions(), Results())
    [out] = asyncio.run(scorer.handle(_first()))
    assert isinstance(out.event, QueryClassified)
    [final] = asyncio.run(scorer.handle(_second(out.event, None)))
    response = final.event
    assert isinstance(response, AnalysisResponded)
    assert response.status == "completed"
    assert response.analysis_id == "a1"
    assert response.routing.model == GEMINI_FLASH
    assert response.routing.escalation_reason is not None
    assert "set-aside answer is returned" in response.routing.escalation_reason
    assert [a.model for a in response.routing.failed_attempts] == [SONAR]


def test_an_answer_from_a_model_the_caller_named_never_escalates() -> None:
    first = _first()
    named = first.model_copy(
        update={"query": first.query.model_copy(
            update={"options": QueryOptions(model=GEMINI_FLASH)}
        )}
    )
    [out] = asyncio.run(_scorer(_halving(), Decisions(), Results()).handle(named))
    assert isinstance(out.event, AnalysisResponded)
    # The same unsure answer without a named model does escalate.
    [escalated] = asyncio.run(_scorer(_halving(), Decisions(), Results()).handle(first))
    assert not isinstance(escalated.event, AnalysisResponded)
