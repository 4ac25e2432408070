"""The estimate-vs-measured check printed by `make eval` and the demo, and the refit."""

from __future__ import annotations

import pytest

from evaluation.baseline_agreement import Agreement, Pair, fit, pairs_of
from evaluation.routing import Outcome
from schemas.parts import Answer
from services.classifier.dataset import Example


def _pro(answer_tokens: int, thoughts: int) -> Answer:
    return Answer(
        provider="gemini",
        model="gemini-2.5-pro",
        text="x" * (4 * answer_tokens),
        input_tokens=20,
        output_tokens=answer_tokens + thoughts,
        cost_usd=0.01,
        latency_ms=1.0,
    )


@pytest.mark.parametrize(
    ("estimated", "measured", "gap", "within"),
    [
        (1.0, 1.0, 0.0, True),
        (1.14, 1.0, 0.14, True),
        (0.86, 1.0, -0.14, True),
        (0.83, 1.0, -0.17, False),  # the old estimate's kind of miss
        (1.2, 1.0, 0.2, False),
    ],
)
def test_the_gap_is_relative_to_the_measured_baseline(
    estimated: float, measured: float, gap: float, within: bool
) -> None:
    agreement = Agreement(routed_usd=0.5, estimated_usd=estimated, measured_usd=measured)
    assert agreement.gap == pytest.approx(gap)
    assert agreement.within_target is within
    text = "\n".join(agreement.lines())
    assert f"{gap:+.1%}" in text and ("within" if within else "outside") in text
    assert "saving 50.0%" in text  # the measured saving: 1 - 0.5 / 1.0


def test_without_a_measured_baseline_there_is_no_gap() -> None:
    agreement = Agreement(routed_usd=0.5, estimated_usd=1.0, measured_usd=0.0)
    assert agreement.gap is None and not agreement.within_target
    [estimate] = agreement.lines()  # the estimate alone, no gap to speak of
    assert "estimated" in estimate and "saving 50.0%" in estimate


def test_fit_takes_ratio_of_means_per_model_and_pros_mean_thinking() -> None:
    pairs = [
        Pair("gemini/gemini-2.5-flash", 100, _pro(400, 300)),
        Pair("gemini/gemini-2.5-flash", 300, _pro(400, 500)),
        Pair("perplexity/sonar", 200, _pro(500, 400)),
    ]
    fitted = fit(pairs)
    assert fitted.answer_ratio == {"gemini/gemini-2.5-flash": 2.0, "perplexity/sonar": 2.5}
    assert fitted.mean_thoughts_tokens == 400


def test_pairs_leave_out_failures_and_pros_own_answers() -> None:
    example = Example("q", "q", "standard", False, "general", "en")
    ok = Outcome(
        example, 200, "standard", False, 0.001, 0.008, 40, None, "gemini", "gemini-2.5-flash", 200
    )
    by_pro = Outcome(
        example, 200, "complex", False, 0.01, 0.01, 40, None, "gemini", "gemini-2.5-pro", 900
    )
    failed = Outcome(example, 503, None, False, 0.0, 0.0, 0, "down")
    pro = _pro(450, 450)
    pairs = pairs_of([ok, by_pro, failed, ok], [pro, pro, pro, None])
    assert pairs == [Pair("gemini/gemini-2.5-flash", 200, pro)]
