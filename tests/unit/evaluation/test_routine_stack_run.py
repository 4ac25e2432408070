"""The routine section of `make eval`: how its figures are counted (pure parts)."""

from __future__ import annotations

from evaluation.routine.stack_run import (
    HOSTED_NOTE,
    RoutineOutcome,
    escalation_added_s,
    figures,
    p95,
    render,
)
from evaluation.routine.tasks import load_tasks
from evaluation.routing import Outcome, today_policy_cost
from services.classifier.dataset import Example

TASK = next(t for t in load_tasks("dev") if t.kind == "translate" and t.lang == "es")


def _outcome(provider: str, text: str, seconds: float = 1.0, escalated: bool = False,
             **ms: float):  # fmt: skip
    return RoutineOutcome(TASK, 200, provider, "simple", "translate", text, seconds, 0.0,
                          escalated, "count" if escalated else None, **ms)  # fmt: skip


def test_local_answers_are_graded_and_hosted_ones_counted_usable() -> None:
    assert TASK.check.reference is not None
    good, bad = _outcome("local", TASK.check.reference), _outcome("local", "Vote early.")
    hosted = _outcome("gemini", "emulator filler")
    f = figures("p", [good, bad, hosted])
    assert (f.usable, f.local, f.local_usable) == (2, 2, 1)
    assert f.usable_rate == 2 / 3 and f.local_share == 2 / 3
    assert HOSTED_NOTE in render([f], [])


def test_escalation_latency_excludes_the_local_call_and_the_usual_overhead() -> None:
    plain = [_outcome("local", "y", latency_ms=2100, provider_ms=2000),
             _outcome("local", "y", latency_ms=900, provider_ms=700)]  # overheads 100, 200
    escalated = _outcome("gemini", "x", escalated=True, latency_ms=3000, provider_ms=2600,
                         set_aside_ms=2000)  # fmt: skip
    assert escalation_added_s([*plain, escalated]) == [0.9]  # 3000 - 2000 - 100
    assert p95([]) is None and p95([1.0, 2.0, 3.0]) == 3.0


def test_today_s_policy_pays_nothing_for_simple_questions_that_flash_answered() -> None:
    example = Example(id="h", query="q", tier="simple", deep=False, analysis_type="editing",
                      lang="en")  # fmt: skip
    flash = Outcome(example, 200, "simple", False, 0.001, 0.01, 10, provider="gemini")
    pro = Outcome(example, 200, "complex", False, 0.01, 0.01, 10, provider="gemini")
    assert today_policy_cost([flash, pro]) == 0.01
