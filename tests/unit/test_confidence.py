"""Confidence aggregation: bounded, renormalised, moved by each signal the right way."""

from __future__ import annotations

import dataclasses

import pytest

from core.agreement import agreement
from core.confidence import ConfidenceSignals, History, aggregate
from core.sources import source_score
from schemas.parts import Citation

BASE = ConfidenceSignals(
    avg_logprob=None,
    citations=[],
    needs_live_data=False,
    answered_with_live_search=False,
    fallback_position=0,
    truncated=False,
    agreement=None,
    history=History(),
)


def _with(**changes: object) -> ConfidenceSignals:
    return dataclasses.replace(BASE, **changes)


def test_only_present_signals_count_and_weights_sum_to_one() -> None:
    confidence = aggregate(BASE)
    assert set(confidence.components) == {"historical_accuracy", "route_fit"}
    assert sum(c.weight for c in confidence.components.values()) == pytest.approx(1.0, abs=1e-3)
    full = aggregate(
        _with(avg_logprob=-0.1, citations=[Citation(url="https://apnews.com/x")], agreement=0.8)
    )
    assert set(full.components) == {
        "model_certainty",
        "source_quality",
        "cross_validation",
        "historical_accuracy",
        "route_fit",
    }
    assert sum(c.weight for c in full.components.values()) == pytest.approx(1.0, abs=1e-3)


def test_neutral_prior_without_history() -> None:
    assert aggregate(BASE).components["historical_accuracy"].value == 0.5


@pytest.mark.parametrize(
    ("worse", "better"),
    [
        (_with(avg_logprob=-1.5), _with(avg_logprob=-0.05)),
        (_with(agreement=0.1), _with(agreement=0.9)),
        (_with(history=History(correct=2, total=10)), _with(history=History(correct=9, total=10))),
        (_with(fallback_position=2), _with(fallback_position=0)),
        (_with(truncated=True), _with(truncated=False)),
        (
            _with(needs_live_data=True, citations=[Citation(url="https://reddit.com/r/x")]),
            _with(
                needs_live_data=True,
                answered_with_live_search=True,
                citations=[
                    Citation(url="https://azsos.gov/e"),
                    Citation(url="https://apnews.com/a"),
                    Citation(url="https://reuters.com/b"),
                ],
            ),
        ),
    ],
)
def test_each_signal_moves_the_score_the_right_way(
    worse: ConfidenceSignals, better: ConfidenceSignals
) -> None:
    assert aggregate(worse).score < aggregate(better).score


def test_live_question_without_sources_is_penalised() -> None:
    confidence = aggregate(_with(needs_live_data=True, answered_with_live_search=True))
    assert confidence.components["source_quality"].value <= 0.2


@pytest.mark.parametrize("logprob", [-50.0, -1.0, 0.0, 3.0])
def test_score_stays_in_unit_interval(logprob: float) -> None:
    score = aggregate(_with(avg_logprob=logprob, agreement=1.0)).score
    assert 0.0 <= score <= 1.0


@pytest.mark.parametrize(
    ("url", "low", "high"),
    [
        ("https://www.azsos.gov/elections", 0.9, 1.0),
        ("https://apnews.com/a", 0.85, 1.0),
        ("https://fivethirtyeight.com/x", 0.6, 0.8),
        ("https://someblog.example/x", 0.4, 0.6),
        ("https://www.reddit.com/r/politics", 0.0, 0.3),
        ("not a url", 0.0, 0.0),
    ],
)
def test_source_trust_by_domain(url: str, low: float, high: float) -> None:
    assert low <= source_score(url) <= high


def test_agreement_of_texts() -> None:
    text = "Turnout in Maricopa county decides the Arizona senate race"
    assert agreement(text, text) == pytest.approx(1.0)
    assert agreement(text, "Pizza recipes with basil and tomatoes") == 0.0
    assert 0.0 < agreement(text, "Maricopa turnout will decide Arizona") < 1.0
