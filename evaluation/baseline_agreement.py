"""Does the per-answer all-Pro estimate agree with a measured all-Pro run? And its constants.

`make eval` and the demo print, for the same questions, the sum of the stack's
`routing.baseline_cost_usd` (the estimate, `core.economics`) beside what Gemini 2.5 Pro
billed when every question was sent to it in the same run (measured, thinking billed),
and the gap between them (target: within 15 % of the measured baseline).

Run alone against a running stack it measures the estimate's constants again (on the
dev split by default, so the held-out split stays a clean check):

    python -m evaluation.baseline_agreement [--url URL] [--split dev] [--format table|json]

With real keys set (GEMINI_API_KEY, PERPLEXITY_API_KEY) this measures the real models'
answer lengths and Pro's real thinking: the emulator's constants do not hold there.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from core.economics import PRO_BASELINE, ProBaseline, measured_pro_answers, model_ref
from core.prompt import TYPICAL_CHARS_PER_TOKEN
from evaluation.routing import EVAL_CAMPAIGN, Outcome, run_through_stack
from providers.catalogue import DEFAULT_CATALOGUE
from providers.gemini import GeminiProvider
from providers.settings import ProviderSettings
from schemas.parts import Answer
from schemas.query import QueryRequested
from services.classifier.dataset import SPLITS, load_split
from strategist.auth.tool_keys import tool_headers

TARGET_GAP = 0.15
"""The estimate must be within 15 % of the measured all-Pro baseline (issue 17)."""
KEY_RATE_PER_MINUTE = 100_000


@dataclass(frozen=True)
class Agreement:
    """The routed spend, the estimated and the measured all-Pro cost of the same questions."""

    routed_usd: float
    estimated_usd: float
    measured_usd: float

    @property
    def gap(self) -> float | None:
        """(estimate - measured) / measured; None without a measured baseline."""
        return self.estimated_usd / self.measured_usd - 1 if self.measured_usd else None

    @property
    def within_target(self) -> bool:
        return self.gap is not None and abs(self.gap) <= TARGET_GAP

    def saving(self, baseline_usd: float) -> float | None:
        return 1 - self.routed_usd / baseline_usd if baseline_usd else None

    def lines(self, *, measured_line: bool = True) -> list[str]:
        """The estimate with the saving it gives and, when a measured run exists, the
        measured baseline (unless the caller printed it) and the gap; for people."""
        estimate = (
            f"all-Gemini-2.5-Pro baseline, estimated (sum of routing.baseline_cost_usd): "
            f"${self.estimated_usd:.4f} -> saving {_percent(self.saving(self.estimated_usd))}"
        )
        if self.gap is None:
            return [estimate]
        verdict = "within" if self.within_target else "outside"
        measured = (
            f"all-Gemini-2.5-Pro baseline, measured (Pro called now, thinking billed): "
            f"${self.measured_usd:.4f} -> saving {_percent(self.saving(self.measured_usd))}"
        )
        gap = f"estimate vs measured: {self.gap:+.1%} ({verdict} the +-{TARGET_GAP:.0%} target)"
        return [measured, estimate, gap] if measured_line else [estimate, gap]

    def to_json(self) -> dict[str, float | None]:
        return {
            "routed_usd": self.routed_usd,
            "estimated_all_pro_usd": self.estimated_usd,
            "measured_all_pro_usd": self.measured_usd,
            "estimate_gap": self.gap,
        }


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


@dataclass(frozen=True)
class Pair:
    """One question: the model that answered it in the stack, its output tokens, and Pro's
    own answer to it (measured)."""

    model: str
    output_tokens: int
    pro: Answer


def pro_answer_tokens(pro: Answer) -> int:
    """Pro's visible answer tokens (its output without the thinking), from the text: the
    SDK reply keeps only the sum, and the emulator counts exactly this way."""
    return max(1, math.ceil(len(pro.text) / TYPICAL_CHARS_PER_TOKEN))


def fit(pairs: Sequence[Pair]) -> ProBaseline:
    """The estimate's constants from measured pairs: per answering model, Pro's answer
    tokens over that model's output tokens (ratio of means, so totals agree); Pro's mean
    thinking tokens over every measured Pro answer."""
    by_model: dict[str, list[Pair]] = {}
    for pair in pairs:
        by_model.setdefault(pair.model, []).append(pair)
    ratios = {
        model: round(
            sum(pro_answer_tokens(p.pro) for p in group)
            / max(sum(p.output_tokens for p in group), 1),
            2,
        )
        for model, group in sorted(by_model.items())
    }
    thoughts = [max(p.pro.output_tokens - pro_answer_tokens(p.pro), 0) for p in pairs]
    return ProBaseline(
        answer_ratio=ratios,
        mean_thoughts_tokens=round(sum(thoughts) / len(thoughts)) if thoughts else 0.0,
    )


def pairs_of(outcomes: Sequence[Outcome], pro: Sequence[Answer | None]) -> list[Pair]:
    """The questions both the stack (with some other model) and Pro answered."""
    return [
        Pair(model_ref(o.provider, o.model), o.output_tokens, p)
        for o, p in zip(outcomes, pro, strict=True)
        if o.status == 200
        and o.provider
        and o.model
        and o.output_tokens is not None
        and p is not None
        and model_ref(o.provider, o.model) != model_ref(p.provider, p.model)
    ]


async def measure_pro(queries: Sequence[QueryRequested]) -> list[Answer | None]:
    """Every query sent to Gemini 2.5 Pro now (the emulator without GEMINI_API_KEY)."""
    provider = GeminiProvider(settings=ProviderSettings())
    try:
        return await measured_pro_answers(provider, DEFAULT_CATALOGUE, queries)
    finally:
        await provider.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evaluation.baseline_agreement", description=__doc__
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the running app")
    parser.add_argument("--split", default="dev", choices=list(SPLITS))
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--format", choices=["table", "json"], default="table")
    args = parser.parse_args(argv)

    examples = load_split(args.split)
    print(f"[baseline] {len(examples)} {args.split} questions through {args.url}", file=sys.stderr)
    headers = tool_headers(EVAL_CAMPAIGN, rate_per_minute=KEY_RATE_PER_MINUTE)
    outcomes = run_through_stack(examples, args.url, concurrency=args.concurrency, headers=headers)
    pro = asyncio.run(measure_pro([QueryRequested(query_id=e.id, query=e.query) for e in examples]))
    fitted = fit(pairs_of(outcomes, pro))
    agreement = Agreement(
        routed_usd=sum(o.cost_usd for o in outcomes),
        estimated_usd=sum(o.baseline_cost_usd for o in outcomes),
        measured_usd=sum(p.cost_usd for p in pro if p is not None),
    )
    if args.format == "json":
        print(
            json.dumps(
                {
                    "split": args.split,
                    **agreement.to_json(),
                    "fitted": {
                        "answer_ratio": dict(fitted.answer_ratio),
                        "mean_thoughts_tokens": fitted.mean_thoughts_tokens,
                    },
                },
                indent=2,
            )
        )
        return 0
    print(f"\n## The all-Pro estimate on the {args.split} split ({len(examples)} questions)\n")
    print("\n".join(agreement.lines()))
    print(f"\nmeasured constants (core.economics.PRO_BASELINE now: {PRO_BASELINE}):")
    print(f"  mean_thoughts_tokens={fitted.mean_thoughts_tokens}")
    for model, ratio in fitted.answer_ratio.items():
        print(f"  answer_ratio[{model}]={ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
