"""Scorer: a local answer that fails the pre-release check goes to the next model on its
route, whatever its confidence and without a calibration; the response says why. And a
cross-check of the cross-check model's own answer is shown as not run, with the reason."""

from __future__ import annotations

import asyncio
from typing import cast

from core.confidence import History
from providers.base import Provider
from providers.catalogue import DEFAULT_CATALOGUE, GEMINI_FLASH, LOCAL_MODEL, SONAR
from schemas.calibration import IDENTITY
from schemas.classified import QueryClassified
from schemas.completion import CompletionProduced
from schemas.parts import Answer, AttemptSummary, Classification, RouteStep
from schemas.query import QueryOptions, QueryRequested
from schemas.response import AnalysisResponded
from services.common.once import Once
from services.common.redis_keys import RedisKeys
from services.scorer.cross_check import ProviderCrossCheck
from services.scorer.escalation import EscalationPolicy
from services.scorer.handler import Scorer
from tests.unit.test_scorer_escalation import TOPICS, Decisions, NoCrossCheck, Results

ROUTE = [
    RouteStep(provider="local", model=LOCAL_MODEL, reason="routine"),
    RouteStep(provider="gemini", model=GEMINI_FLASH, reason="fallback"),
    RouteStep(provider="perplexity", model=SONAR, reason="fallback"),
]
QUERY = "Write 5 subject lines inviting supporters to a town hall on public safety."
POLICY = EscalationPolicy(
    threshold=0.0,  # confidence escalation off: only the check can escalate
    models=frozenset({("local", LOCAL_MODEL), ("gemini", GEMINI_FLASH)}),
)


class Histories:
    async def get(self, provider: str, model: str, analysis_type: str) -> History:
        return History()


def _local(text: str, query: str = QUERY) -> CompletionProduced:
    return CompletionProduced(
        query=QueryRequested(query_id="r1", query=query),
        classification=Classification(
            complexity=0.1, needs_live_data=False, analysis_type="messaging",
            cost_sensitive=True, tier="simple", routine_kind="subject_lines",
        ),
        route=ROUTE, status="succeeded",
        answer=Answer(provider="local", model=LOCAL_MODEL, text=text, input_tokens=30,
                      output_tokens=40, cost_usd=0.0, latency_ms=900),
        attempts=[AttemptSummary(provider="local", model=LOCAL_MODEL, outcome="success",
                                 latency_ms=900, cost_usd=0.0)],
    )  # fmt: skip


def _scorer(policy: EscalationPolicy = POLICY) -> Scorer:
    return Scorer(
        catalogue=DEFAULT_CATALOGUE, history=Histories(), results=Results(),
        cross_check=NoCrossCheck(), topics=TOPICS, escalation=policy, decisions=Decisions(),
    )  # fmt: skip


def test_a_local_answer_failing_a_check_escalates_with_the_reason() -> None:
    email = "Dear supporters,\nPlease join us at the town hall on public safety next week."
    [out] = asyncio.run(_scorer().handle(_local(email)))
    escalated = out.event
    assert isinstance(escalated, QueryClassified)
    assert [s.model for s in escalated.route] == [GEMINI_FLASH, SONAR]
    record = escalated.query.escalation
    assert record is not None and record.answer.text == email  # kept for the audit trail
    assert "failed the pre-release check (count: 2 items, 5 asked)" in record.reason
    assert "asked gemini/gemini-2.5-flash next" in record.reason
    assert IDENTITY.version == record.confidence.calibration_version  # no calibration needed


def test_a_local_answer_passing_the_checks_is_released() -> None:
    lines = "Town hall Thursday\nSafer streets\nYour voice\nJoin us\nPublic safety night"
    [out] = asyncio.run(_scorer().handle(_local(lines)))
    assert isinstance(out.event, AnalysisResponded)
    assert out.event.routing.escalation_reason is None


def test_checks_can_be_turned_off_and_never_apply_to_hosted_answers() -> None:
    off = EscalationPolicy(models=POLICY.models, checked_providers=frozenset())
    [out] = asyncio.run(_scorer(off).handle(_local("Dear supporters, come.")))
    assert isinstance(out.event, AnalysisResponded)
    hosted = _local("Dear supporters, come.")
    assert hosted.answer is not None
    flash = hosted.model_copy(
        update={"answer": hosted.answer.model_copy(update={"provider": "gemini",
                                                            "model": GEMINI_FLASH})}
    )  # fmt: skip
    assert POLICY.check_reason(flash, ROUTE[2:]) is None


def test_cross_check_of_the_cross_check_model_s_own_answer_says_not_run() -> None:
    second = DEFAULT_CATALOGUE.get("gemini", GEMINI_FLASH)
    check = ProviderCrossCheck(
        providers={"gemini": cast(Provider, object())}, second=second, always=False,
        once=cast(Once, object()), keys=RedisKeys("unit"),
    )  # fmt: skip
    completion = _local("Which message?")
    assert completion.answer is not None
    flash = completion.model_copy(
        update={
            "query": completion.query.model_copy(
                update={"options": QueryOptions(cross_validate=True)}
            ),
            "answer": completion.answer.model_copy(
                update={"provider": "gemini", "model": GEMINI_FLASH}
            ),
        }
    )
    outcome = asyncio.run(check.outcome(flash))
    assert outcome is not None and outcome.agreement is None
    component = outcome.skipped_component()
    assert component is not None and component.weight == 0.0
    assert "not run: the answer came from the cross-check model" in component.detail
