"""Routing quality and economics on the held-out test split, through the running stack.

Every test question goes through `POST /api/v1/strategist/analyze` of the running
stack, so the figures are the system's, not a notebook's: the tier the classifier
chose (`routing.classification.tier`), what the answer cost (`routing.cost_usd`)
and what the same answer would have cost on Gemini 2.5 Pro
(`routing.baseline_cost_usd`).

Simple routers are scored in the same run on the same questions, because learned
routers often fail to beat them (RouterBench, LLMRouterBench): always Gemini 2.5
Pro, always Gemini 2.5 Flash, the old keyword rules, and a seeded random router.
Their cost is an estimate on equal terms for all of them (the learned router
included): each question's tokens are estimated from the text of the prompt and of
the answer the stack produced (`TYPICAL_CHARS_PER_TOKEN`), priced at the model each router's
tier maps to. Accuracy tables and timings reuse `services.classifier.evaluate`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from core.prompt import TYPICAL_CHARS_PER_TOKEN
from providers.catalogue import (
    DEFAULT_CATALOGUE,
    GEMINI_FLASH,
    GEMINI_PRO,
    LOCAL_MODEL,
    SONAR,
    SONAR_PRO,
    Catalogue,
)
from schemas.parts import TIERS
from services.classifier.dataset import Example
from services.classifier.evaluate import RoutingScore, score, timed
from services.classifier.features import extract_features, rule_tier

ANALYZE = "/api/v1/strategist/analyze"
EVAL_CAMPAIGN = "eval"
RANDOM_SEED = 7
REQUEST_TIMEOUT_S = 120.0
TIER_MODEL = {
    "simple": ("local", LOCAL_MODEL),
    "standard": ("gemini", GEMINI_FLASH),
    "complex": ("gemini", GEMINI_PRO),
    "live": ("perplexity", SONAR),
}
DEEP_LIVE_MODEL = ("perplexity", SONAR_PRO)
LEARNED = "learned router (the stack)"


@dataclass(frozen=True)
class Outcome:
    """What the stack did with one test question."""

    example: Example
    status: int
    tier: str | None
    deep: bool
    cost_usd: float
    baseline_cost_usd: float
    answer_chars: int
    error: str | None = None
    provider: str | None = None
    """The provider whose answer was returned."""
    model: str | None = None
    """The model whose answer was returned."""
    output_tokens: int | None = None
    """The answer's output tokens (the all-Pro estimate's fit reads them)."""


@dataclass(frozen=True)
class PricedScore:
    """A router's routing figures and its estimated cost on the split."""

    routing: RoutingScore
    estimated_cost_usd: float


def run_through_stack(
    examples: Sequence[Example],
    base_url: str,
    *,
    concurrency: int,
    headers: dict[str, str] | None = None,
    progress: Callable[[int, int, Outcome], None] | None = None,
) -> list[Outcome]:
    """POST every example to the stack's /analyze (with `headers`: the API key); outcomes
    in the examples' order."""

    def one(example: Example) -> Outcome:
        with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_S, headers=headers) as client:
            try:
                response = client.post(
                    ANALYZE, json={"query": example.query, "campaign_id": EVAL_CAMPAIGN}
                )
            except httpx.HTTPError as err:
                return Outcome(example, 0, None, False, 0.0, 0.0, 0, f"{type(err).__name__}")
        body: dict[str, Any] = response.json() if response.content else {}
        routing = body.get("routing") or {}
        classification = routing.get("classification") or {}
        return Outcome(
            example=example,
            status=response.status_code,
            tier=classification.get("tier"),
            deep=bool(classification.get("deep_analysis")),
            cost_usd=float(routing.get("cost_usd") or 0.0),
            baseline_cost_usd=float(routing.get("baseline_cost_usd") or 0.0),
            answer_chars=len(body.get("result") or ""),
            error=None if response.status_code == 200 else str(body.get("error"))[:200],
            provider=routing.get("provider"),
            model=routing.get("model"),
            output_tokens=routing.get("output_tokens"),
        )

    outcomes: list[Outcome] = []
    with ThreadPoolExecutor(concurrency) as pool:
        for done, outcome in enumerate(pool.map(one, examples), start=1):
            outcomes.append(outcome)
            if progress is not None:
                progress(done, len(examples), outcome)
    return outcomes


def estimated_cost(catalogue: Catalogue, tier: str, outcome: Outcome, deep: bool) -> float:
    """The cost of answering on the model `tier` maps to, from estimated tokens."""
    provider, model = DEEP_LIVE_MODEL if tier == "live" and deep else TIER_MODEL[tier]
    return catalogue.get(provider, model).cost_usd(
        max(len(outcome.example.query) // TYPICAL_CHARS_PER_TOKEN, 1),
        max(outcome.answer_chars // TYPICAL_CHARS_PER_TOKEN, 1),
    )


def score_routers(
    outcomes: Sequence[Outcome], catalogue: Catalogue = DEFAULT_CATALOGUE
) -> list[PricedScore]:
    """The learned router (as the stack routed) and the simple baselines, on equal terms.

    Decision times: the stack's router is timed in the classifier (see `make bench`);
    the baselines here are timed in process.
    """
    examples = [o.example for o in outcomes]
    texts = [e.query for e in examples]
    rng = random.Random(RANDOM_SEED)
    rules, rule_times = timed(lambda text: rule_tier(extract_features(text)), texts)
    routers: list[tuple[str, list[str], list[bool], list[tuple[float, float]]]] = [
        (LEARNED, [o.tier or "standard" for o in outcomes], [o.deep for o in outcomes], []),
        ("always Gemini 2.5 Pro", ["complex"] * len(outcomes), [False] * len(outcomes), []),
        ("always Gemini 2.5 Flash", ["standard"] * len(outcomes), [False] * len(outcomes), []),
        ("old keyword rules", rules, [False] * len(outcomes), rule_times),
        ("random", [rng.choice(TIERS) for _ in outcomes], [False] * len(outcomes), []),
    ]
    priced = []
    for name, tiers, deep, times in routers:
        cost = sum(
            estimated_cost(catalogue, tier, outcome, wants_deep)
            for tier, outcome, wants_deep in zip(tiers, outcomes, deep, strict=True)
        )
        learned = name == LEARNED  # only it decides Sonar vs Sonar Pro
        priced.append(
            PricedScore(score(name, examples, tiers, times, deep if learned else None), cost)
        )
    return priced


def today_policy_cost(outcomes: Sequence[Outcome]) -> float:
    """What today's policy (before issue 19: every simple-tier question on the local model,
    which costs nothing per call) would have spent in this run: the run's spend less what
    hosted models were paid for simple-tier questions. An estimate: it assumes the local
    model would have answered each of them."""
    return sum(o.cost_usd for o in outcomes if not (o.tier == "simple" and o.provider != "local"))


def perfect_router_cost(outcomes: Sequence[Outcome]) -> float | None:
    """What a router that never errs would have spent on these questions: an estimate.

    Each question is priced at the mean measured cost (`routing.cost_usd`) of this run's
    answers that the stack routed to the question's labelled tier, so it uses the same
    models, prompts and answer lengths as the run. It is the ceiling of what routing
    alone can save on this mix of tiers. None when a labelled tier had no correctly
    routed answer to price it by.
    """
    costs: dict[str, list[float]] = {}
    for o in outcomes:
        if o.status == 200 and o.tier == o.example.tier:
            costs.setdefault(o.example.tier, []).append(o.cost_usd)
    total = 0.0
    for o in outcomes:
        tier_costs = costs.get(o.example.tier)
        if not tier_costs:
            return None
        total += sum(tier_costs) / len(tier_costs)
    return total


def render_priced(scores: Sequence[PricedScore]) -> str:
    """Accuracy, under-routing and estimated cost with the saving against always-Pro."""
    pro = next(s.estimated_cost_usd for s in scores if s.routing.name == "always Gemini 2.5 Pro")
    lines = [
        "| router | accuracy | " + " | ".join(TIERS) + " | complex->local "
        "| est. cost $ | saving vs all-Pro |",
        "|---|---|" + "---|" * len(TIERS) + "---|---|---|",
    ]
    for s in scores:
        r = s.routing
        per = " | ".join(f"{r.per_tier[t]:.3f}" for t in TIERS)
        saving = 1 - s.estimated_cost_usd / pro if pro else 0.0
        lines.append(
            f"| {r.name} | {r.accuracy:.3f} | {per} | {r.complex_to_simple:.3f} "
            f"| {s.estimated_cost_usd:.4f} | {saving:.0%} |"
        )
    return "\n".join(lines)
