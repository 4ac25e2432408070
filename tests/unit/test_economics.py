"""The all-Gemini-2.5-Pro estimate: what Pro would bill for a question another model answered."""

from __future__ import annotations

import pytest

from core.economics import PRO_BASELINE, ProBaseline, baseline_cost_usd
from providers.catalogue import DEFAULT_CATALOGUE
from schemas.parts import Answer

PRO = DEFAULT_CATALOGUE.get("gemini", "gemini-2.5-pro")
METHOD = ProBaseline(
    answer_ratio={"gemini/gemini-2.5-flash": 2.0, "perplexity/sonar": 2.5},
    mean_thoughts_tokens=400.0,
)


def _answer(provider: str, model: str, input_tokens: int, output_tokens: int) -> Answer:
    spec = DEFAULT_CATALOGUE.get(provider, model)
    return Answer(
        provider=provider,  # type: ignore[arg-type]
        model=model,
        text="an answer",
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost_usd=spec.cost_usd(input_tokens, output_tokens),
        latency_ms=10.0,
    )


@pytest.mark.parametrize(
    ("provider", "model", "input_tokens", "output_tokens", "pro_output_tokens"),
    [
        # Flash: Pro writes twice as much and thinks 400 tokens on top.
        ("gemini", "gemini-2.5-flash", 40, 200, 2 * 200 + 400),
        # Sonar: scaled by its own ratio; its request fee is not Pro's.
        ("perplexity", "sonar", 30, 160, round(2.5 * 160) + 400),
        # A model without a measured ratio: Pro is assumed to write as much, plus thinking.
        ("perplexity", "sonar-pro", 30, 300, 300 + 400),
        # Pro's own answer: its usage already counts its thinking, priced as it is.
        ("gemini", "gemini-2.5-pro", 50, 950, 950),
        # Never past Pro's output limit (answer and thinking together).
        ("gemini", "gemini-2.5-flash", 40, 1500, PRO.max_output_tokens),
    ],
)
def test_the_estimate_is_what_pro_would_bill_for_the_question(
    provider: str, model: str, input_tokens: int, output_tokens: int, pro_output_tokens: int
) -> None:
    answer = _answer(provider, model, input_tokens, output_tokens)
    expected = input_tokens * 1.25 / 1e6 + pro_output_tokens * 10.0 / 1e6  # Pro's list price
    assert baseline_cost_usd(DEFAULT_CATALOGUE, answer, METHOD) == pytest.approx(expected)


def test_no_answer_has_no_baseline() -> None:
    assert baseline_cost_usd(DEFAULT_CATALOGUE, None) == 0.0


def test_sonars_request_fee_is_on_the_routed_side_only() -> None:
    """A short live answer: Sonar's $0.005 fee makes it cost something, but Pro (no fee,
    thinking billed) still costs more; the estimate carries no request fee."""
    answer = _answer("perplexity", "sonar", 30, 160)
    baseline = baseline_cost_usd(DEFAULT_CATALOGUE, answer, METHOD)
    fee = DEFAULT_CATALOGUE.get("perplexity", "sonar").pricing.per_request_usd
    without_fee = answer.cost_usd - fee
    assert baseline == pytest.approx(PRO.cost_usd(30, 800))
    assert answer.cost_usd > without_fee > 0
    assert baseline > answer.cost_usd


def test_the_built_in_constants_count_pros_thinking_for_every_routed_model() -> None:
    """The default estimate adds Pro's thinking and never prices Pro below the answer's
    own tokens, for every model a route can answer with."""
    assert PRO_BASELINE.mean_thoughts_tokens > 0
    for spec in DEFAULT_CATALOGUE.models:
        if spec.model_id == "gemini-2.5-pro":
            continue
        answer = _answer(spec.provider, spec.model_id, 40, 100)
        assert baseline_cost_usd(DEFAULT_CATALOGUE, answer) > PRO.cost_usd(40, 100 + 1)
