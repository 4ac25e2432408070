"""The routing evaluation's ceiling: what a router that never errs would have spent."""

from __future__ import annotations

import pytest

from evaluation.routing import Outcome, perfect_router_cost
from services.classifier.dataset import Example


def _outcome(label: str, routed: str | None, cost: float, status: int = 200) -> Outcome:
    example = Example(
        id=f"{label}-{routed}-{cost}", query="q", tier=label, deep=False,
        analysis_type="general", lang="en",
    )  # fmt: skip
    return Outcome(example, status, routed, False, cost, 0.0, 10)


def test_each_question_is_priced_at_the_mean_cost_of_its_labelled_tier_when_routed_right():
    outcomes = [
        _outcome("complex", "complex", 0.010),
        _outcome("complex", "complex", 0.008),
        _outcome("complex", "simple", 0.0),  # under-routed: priced as a right route would be
        _outcome("simple", "simple", 0.0),
        _outcome("simple", "complex", 0.009),  # over-routed: priced at the local model's cost
    ]
    assert perfect_router_cost(outcomes) == pytest.approx(3 * 0.009 + 2 * 0.0)


def test_failed_answers_do_not_price_a_tier():
    outcomes = [
        _outcome("live", "live", 0.005),
        _outcome("live", "live", 0.500, status=502),
    ]
    assert perfect_router_cost(outcomes) == pytest.approx(2 * 0.005)


def test_a_tier_with_no_correctly_routed_answer_cannot_be_priced():
    outcomes = [_outcome("live", "live", 0.005), _outcome("standard", "complex", 0.009)]
    assert perfect_router_cost(outcomes) is None
