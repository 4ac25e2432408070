"""When an attempt's text may be shown (services/dispatcher/release.py, takeover.py) and
which answers the scorer may replace (core/escalation_scope.py)."""

from __future__ import annotations

import pytest

from core.escalation_scope import EscalationScope
from providers.catalogue import (
    DEFAULT_CATALOGUE,
    GEMINI_FLASH,
    GEMINI_PRO,
    LOCAL_MODEL,
    SONAR,
    SONAR_PRO,
)
from schemas.parts import RouteStep
from schemas.query import QueryOptions, QueryRequested, StreamMode
from services.common.escalation_settings import EscalationSettings
from services.dispatcher.failover import NEXT, Decision, Next
from services.dispatcher.release import release_for
from services.dispatcher.takeover import Releases, takeovers

SCOPE = EscalationSettings().scope()  # the defaults: local and Flash escalate, local checked
COMPLEX = [RouteStep(provider="gemini", model=GEMINI_PRO, reason="r"),
           RouteStep(provider="perplexity", model=SONAR_PRO, reason="r"),
           RouteStep(provider="gemini", model=GEMINI_FLASH, reason="r"),
           RouteStep(provider="local", model=LOCAL_MODEL, reason="r")]  # fmt: skip
NAMED_PRO = [RouteStep(provider="gemini", model=GEMINI_PRO, reason="named"),
             RouteStep(provider="gemini", model=GEMINI_FLASH, reason="fallback"),
             RouteStep(provider="perplexity", model=SONAR_PRO, reason="fallback")]  # fmt: skip
STANDARD = [RouteStep(provider="gemini", model=GEMINI_FLASH, reason="r"),
            RouteStep(provider="perplexity", model=SONAR, reason="r"),
            RouteStep(provider="local", model=LOCAL_MODEL, reason="r")]  # fmt: skip


@pytest.mark.parametrize(
    ("mode", "continues", "replaceable", "takeover", "expected"),
    [
        (None, False, False, True, "attempt"),  # no mode given: buffered
        ("buffered", False, False, True, "attempt"),
        ("live", False, False, False, "live"),
        ("auto", False, False, True, "live"),
        ("auto", False, False, False, "attempt"),
        ("live", False, True, True, "final"),  # the scorer may replace it: held in every mode
        ("auto", False, True, True, "final"),
        ("buffered", False, True, True, "final"),
        ("buffered", True, True, False, "live"),  # its beginning is already shown
    ],
)
def test_the_release_rule(mode, continues, replaceable, takeover, expected) -> None:
    assert release_for(mode, continues=continues, replaceable=replaceable,
                       takeover_continues=takeover) == expected  # fmt: skip


def _query(mode: StreamMode | None, *, model: str | None = None, **fields) -> QueryRequested:
    options = QueryOptions(stream_mode=mode, model=model)
    return QueryRequested(query_id="q1", query="a question", options=options, **fields)


def test_escalating_models_and_checked_local_answers_may_be_replaced_unless_named() -> None:
    query = _query("auto")
    assert SCOPE.may_replace(query, STANDARD, "gemini", GEMINI_FLASH)
    assert SCOPE.may_replace(query, COMPLEX + [], "local", LOCAL_MODEL) is False  # last step
    routine = [STANDARD[2], STANDARD[0]]
    assert SCOPE.may_replace(query, routine, "local", LOCAL_MODEL)
    assert not SCOPE.may_replace(query, COMPLEX, "gemini", GEMINI_PRO)
    named = _query("auto", model=GEMINI_FLASH)  # the caller asked for Flash's own answer
    assert not SCOPE.may_replace(named, STANDARD, "gemini", GEMINI_FLASH)
    off = EscalationScope(models=SCOPE.models, checked_providers=frozenset())  # threshold 0
    assert not off.may_replace(query, routine, "local", LOCAL_MODEL)
    assert not EscalationScope(threshold=0.5, models=SCOPE.models, max_escalations=0
                               ).may_replace(query, STANDARD, "gemini", GEMINI_FLASH)  # fmt: skip


def _release(route, index, query, *, down=frozenset(), decision: Decision = NEXT) -> str:
    releases = Releases(DEFAULT_CATALOGUE, SCOPE)
    step = route[index]
    return releases.release(
        query, route, index, DEFAULT_CATALOGUE.get(step.provider, step.model),
        lambda _error: decision, available=lambda i: route[i].model not in down,
    )  # fmt: skip


def test_auto_streams_live_only_where_the_takeover_continues_seamlessly() -> None:
    # Complex route (Pro, Sonar Pro, Flash, local): after a cut the step that can continue
    # (Flash) goes before Sonar Pro, and a continued answer is never escalated: live.
    assert _release(COMPLEX, 0, _query("auto")) == "live"
    # Flash marked down: Sonar Pro would take over, and Sonar cannot continue: held back.
    assert _release(COMPLEX, 0, _query("auto"), down={GEMINI_FLASH}) == "attempt"
    # Pro named (the /v1 `model`): its declared fallback Flash continues.
    assert _release(NAMED_PRO, 0, _query("auto", model=GEMINI_PRO)) == "live"
    # A same-model retry after a cut counts: Pro itself continues.
    retry = Decision(Next.RETRY_SAME, 0.2)
    assert _release(COMPLEX, 0, _query("auto"), decision=retry) == "live"
    # Nothing left to take over: held back.
    assert _release(NAMED_PRO, 2, _query("auto", model=GEMINI_PRO)) == "attempt"


def test_each_mode_and_escalating_models() -> None:
    assert _release(COMPLEX, 0, _query("live")) == "live"
    assert _release(COMPLEX, 0, _query("buffered")) == "attempt"
    assert _release(COMPLEX, 0, _query(None)) == "attempt"
    for mode in ("live", "auto", "buffered"):
        assert _release(STANDARD, 0, _query(mode)) == "final"  # Flash: held until scored


def test_takeovers_name_the_step_per_kind_of_mid_answer_failure() -> None:
    def by_kind(error):
        return Decision(Next.RETRY_SAME) if error.kind == "stream_truncated" else NEXT

    found = takeovers(0, 3, decide=by_kind, available=lambda i: i != 1,
                      continues=lambda i: False, provider="gemini")  # fmt: skip
    assert found == {0, 2}
    assert takeovers(2, 3, decide=lambda e: NEXT, available=lambda i: True,
                     continues=lambda i: False, provider="gemini") == {None}  # fmt: skip


def test_after_a_cut_a_step_that_continues_takes_over_before_one_that_cannot() -> None:
    found = takeovers(0, 4, decide=lambda e: NEXT, available=lambda i: i != 3,
                      continues=lambda i: i >= 2, provider="gemini")  # fmt: skip
    assert found == {2}
    # none that continues is available: the next one that is, afresh
    assert takeovers(0, 3, decide=lambda e: NEXT, available=lambda i: i != 2,
                     continues=lambda i: i == 2, provider="gemini") == {1}  # fmt: skip
