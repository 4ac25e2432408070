"""Scorer: completion in, scored and explained response out."""

from __future__ import annotations

import asyncio

import pytest

from core.confidence import History
from core.economics import PRO_BASELINE
from providers.catalogue import DEFAULT_CATALOGUE
from schemas.completion import CompletionProduced
from schemas.parts import Answer, AttemptSummary, Citation
from schemas.query import QueryOptions, QueryRequested
from schemas.response import AnalysisResponded
from schemas.topics import TopicNames
from services.classifier.handler import classify
from services.scorer.cross_check import CrossCheckOutcome
from services.scorer.handler import Scorer

TOPICS = TopicNames("unit")


class Histories:
    def __init__(self, history: History) -> None:
        self.history = history

    async def get(self, provider: str, model: str, analysis_type: str) -> History:
        return self.history


class Results:
    """First answer wins, like the Redis store."""

    def __init__(self) -> None:
        self.saved: list[AnalysisResponded] = []
        self.by_id: dict[str, AnalysisResponded] = {}

    async def save(self, response: AnalysisResponded) -> bool:
        self.saved.append(response)
        if response.analysis_id in self.by_id:
            return False
        self.by_id[response.analysis_id] = response
        return True

    async def current(self, analysis_id: str) -> AnalysisResponded | None:
        return self.by_id.get(analysis_id)


class FixedCrossCheck:
    """(agreement, cost), a CrossCheckOutcome as it is, or None (no check wanted)."""

    def __init__(self, result):
        self.result = result

    async def outcome(self, completion):
        if self.result is None or isinstance(self.result, CrossCheckOutcome):
            return self.result
        agreement, cost = self.result
        return CrossCheckOutcome(agreement=agreement, cost_usd=cost)


def _completion(query_text: str, answer: Answer | None, attempts, **options) -> CompletionProduced:
    classified = classify(
        QueryRequested(query_id="q1", query=query_text, options=QueryOptions(**options))
    )
    return CompletionProduced(
        query=classified.query,
        classification=classified.classification,
        route=classified.route,
        status="succeeded" if answer else "failed",
        answer=answer,
        attempts=attempts,
        error=None if answer else "all failed",
    )


SONAR_ANSWER = Answer(
    provider="perplexity",
    model="sonar",
    text="Kelly leads by 3",
    citations=[Citation(url="https://azsos.gov/x"), Citation(url="https://apnews.com/y")],
    input_tokens=20,
    output_tokens=100,
    cost_usd=0.0051,
    latency_ms=800,
)


NEUTRAL = History()


def _scorer(results: Results, cross=None, history: History = NEUTRAL) -> Scorer:
    return Scorer(
        catalogue=DEFAULT_CATALOGUE,
        history=Histories(history),
        results=results,
        cross_check=FixedCrossCheck(cross),
        topics=TOPICS,
    )


def test_scored_response_is_published_and_stored() -> None:
    results = Results()
    completion = _completion(
        "latest polls in Arizona this week",
        SONAR_ANSWER,
        [
            AttemptSummary(
                provider="perplexity",
                model="sonar",
                outcome="success",
                latency_ms=800,
                cost_usd=0.0051,
            )
        ],
    )
    out = asyncio.run(_scorer(results).handle(completion))
    response = out[0].event
    assert out[0].topic == TOPICS.responses and out[0].key == "q1"
    assert results.saved == [response]
    assert response.status == "completed" and response.routing.provider == "perplexity"
    assert 0.0 <= response.confidence.score <= 1.0
    assert "source_quality" in response.confidence.components
    assert response.routing.cost_usd == 0.0051
    assert "Answered by perplexity/sonar" in response.routing.explanation


def test_failed_over_answer_lists_the_failure_and_scores_lower() -> None:
    attempts_ok = [AttemptSummary(provider="perplexity", model="sonar", outcome="success")]
    attempts_failover = [
        AttemptSummary(
            provider="perplexity",
            model="sonar",
            outcome="error",
            error_kind="unavailable",
            latency_ms=12,
        ),
        AttemptSummary(provider="gemini", model="gemini-2.5-flash", outcome="success"),
    ]
    flash = Answer(
        provider="gemini",
        model="gemini-2.5-flash",
        text="From memory...",
        input_tokens=20,
        output_tokens=100,
        cost_usd=0.0003,
        latency_ms=400,
    )
    direct = asyncio.run(
        _scorer(Results()).score(
            _completion("latest polls in Arizona this week", SONAR_ANSWER, attempts_ok)
        )
    )
    failover = asyncio.run(
        _scorer(Results()).score(
            _completion("latest polls in Arizona this week", flash, attempts_failover)
        )
    )
    assert failover.routing.failed_attempts[0].error_kind == "unavailable"
    assert "failed over" in failover.routing.explanation
    assert failover.confidence.score < direct.confidence.score


def test_cross_check_adds_component_and_cost() -> None:
    attempts = [
        AttemptSummary(provider="perplexity", model="sonar", outcome="success", cost_usd=0.0051)
    ]
    response = asyncio.run(
        _scorer(Results(), cross=(0.8, 0.0004)).score(
            _completion("latest polls in Arizona this week", SONAR_ANSWER, attempts)
        )
    )
    assert response.confidence.components["cross_validation"].value == 0.8
    assert response.routing.cost_usd == round(0.0051 + 0.0004, 8)


def test_a_cross_check_the_budget_could_not_cover_is_shown_as_not_run() -> None:
    attempts = [
        AttemptSummary(provider="perplexity", model="sonar", outcome="success", cost_usd=0.0051)
    ]
    skipped = CrossCheckOutcome(agreement=None, skipped="budget_exhausted: limit $1.00 reached")
    response = asyncio.run(
        _scorer(Results(), cross=skipped).score(
            _completion("latest polls in Arizona this week", SONAR_ANSWER, attempts)
        )
    )
    component = response.confidence.components["cross_validation"]
    assert component.weight == 0.0 and "budget_exhausted" in component.detail
    assert response.routing.cost_usd == 0.0051
    assert response.status == "completed"


def test_failed_completion_has_no_confidence_and_says_why() -> None:
    response = asyncio.run(_scorer(Results()).score(_completion("latest polls", None, [])))
    assert response.status == "failed" and response.confidence is None
    assert response.error == "all failed"


def test_an_answer_that_lost_to_an_earlier_one_is_not_published() -> None:
    """The app's direct path answered first: the pipeline's later answer is neither
    stored nor put on the topic (the caller already has the first one)."""
    results = Results()
    completion = _completion("latest polls", None, [])
    scorer = _scorer(results)
    direct = asyncio.run(scorer.score(completion)).model_copy(update={"event_id": "direct"})
    asyncio.run(results.save(direct))
    assert asyncio.run(scorer.handle(completion)) == []
    assert results.by_id[direct.analysis_id] is direct


def test_a_redelivered_completion_publishes_the_same_answer_again() -> None:
    results = Results()
    completion = _completion("latest polls", None, [])
    scorer = _scorer(results)
    [first] = asyncio.run(scorer.handle(completion))
    [again] = asyncio.run(scorer.handle(completion))  # stored copy is this same event
    assert first.event.event_id == again.event.event_id


def test_every_answer_carries_its_all_gemini_pro_baseline() -> None:
    """The saving is measured against the same answer priced at Gemini 2.5 Pro."""
    attempt = AttemptSummary(
        provider="perplexity", model="sonar", outcome="success", cost_usd=0.0051
    )
    completion = _completion("latest polls", SONAR_ANSWER, [attempt])
    response = asyncio.run(_scorer(Results()).score(completion))
    answer = SONAR_ANSWER
    pro = DEFAULT_CATALOGUE.get("gemini", "gemini-2.5-pro")
    ratio = PRO_BASELINE.answer_ratio["perplexity/sonar"]  # Pro writes longer, and thinks
    pro_output = round(answer.output_tokens * ratio + PRO_BASELINE.mean_thoughts_tokens)
    expected = pro.cost_usd(answer.input_tokens, pro_output)  # Pro has no request fee
    assert response.routing.baseline_cost_usd == pytest.approx(expected)
    failed = asyncio.run(_scorer(Results()).score(_completion("latest polls", None, [])))
    assert failed.routing.baseline_cost_usd == 0.0  # no answer, nothing to compare


def test_the_response_shows_what_the_campaign_budget_has_left() -> None:
    attempt = AttemptSummary(
        provider="perplexity", model="sonar", outcome="success", cost_usd=0.0051
    )
    completion = _completion("latest polls", SONAR_ANSWER, [attempt]).model_copy(
        update={"budget_remaining_usd": 4.25}
    )
    response = asyncio.run(_scorer(Results()).score(completion))
    assert response.routing.budget_remaining_usd == 4.25
    unlimited = asyncio.run(_scorer(Results()).score(_completion("latest", SONAR_ANSWER, [])))
    assert unlimited.routing.budget_remaining_usd is None


def test_the_response_carries_the_answering_call_s_usage() -> None:
    """OpenAI-compatible callers read `usage` from these, not from an estimate."""
    attempt = AttemptSummary(
        provider="perplexity", model="sonar", outcome="success", cost_usd=0.0051
    )
    answer = SONAR_ANSWER.model_copy(update={"finish_reason": "stop"})
    response = asyncio.run(_scorer(Results()).score(_completion("latest", answer, [attempt])))
    assert (response.routing.input_tokens, response.routing.output_tokens) == (20, 100)
    assert response.routing.finish_reason == "stop"
