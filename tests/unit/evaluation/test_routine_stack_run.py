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


def _outcome(provider: str, text: str, seconds: float = 1.0, escalated: bool = False):
    return RoutineOutcome(TASK, 200, provider, "simple", "translate", text, seconds, 0.0,
                          escalated, "count" if escalated else None)  # fmt: skip


def test_local_answers_are_graded_and_hosted_ones_counted_usable() -> None:
    assert TASK.check.reference is not None
    good, bad = _outcome("local", TASK.check.reference), _outcome("local", "Vote early.")
    hosted = _outcome("gemini", "emulator filler")
    f = figures("p", [good, bad, hosted])
    assert (f.usable, f.local, f.local_usable) == (2, 2, 1)
    assert f.usable_rate == 2 / 3 and f.local_share == 2 / 3
    assert HOSTED_NOTE in render([f], [])


def test_escalation_latency_is_paired_with_the_same_task_unchecked() -> None:
    checked = [_outcome("gemini", "x", seconds=2.5, escalated=True)]
    today = {TASK.id: _outcome("local", "y", seconds=2.0)}
    assert escalation_added_s(checked, today) == [0.5]
    assert p95([]) is None and p95([1.0, 2.0, 3.0]) == 3.0


def test_today_s_policy_pays_nothing_for_simple_questions_that_flash_answered() -> None:
    example = Example(id="h", query="q", tier="simple", deep=False, analysis_type="editing",
                      lang="en")  # fmt: skip
    flash = Outcome(example, 200, "simple", False, 0.001, 0.01, 10, provider="gemini")
    pro = Outcome(example, 200, "complex", False, 0.01, 0.01, 10, provider="gemini")
    assert today_policy_cost([flash, pro]) == 0.01
