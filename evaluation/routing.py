"""Routing quality and economics on the held-out test split, through the running stack.

Every test question goes through `POST /api/v1/strategist/analyze` of the running
stack, so the figures are the system's, not a notebook's: the tier the classifier
chose (from `routing.classification.tier`), what the answer cost
(`routing.cost_usd`) and what the same answer would have cost on Gemini 2.5 Pro
(`routing.baseline_cost_usd`).

Simple routers are scored in the same run on the same questions, because learned
routers often fail to beat them (RouterBench, LLMRouterBench): always Gemini 2.5
Pro, always Gemini 2.5 Flash, the old keyword rules, and a seeded random router.
Their cost is an estimate on equal terms for all of them (the learned router
included): each question's tokens are estimated from the text of the prompt and of
the answer the stack produced (`CHARS_PER_TOKEN`), priced at the model each router's
tier maps to.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from providers.catalogue import (
    DEFAULT_CATALOGUE,
    GEMINI_FLASH,
    GEMINI_PRO,
    LOCAL_MODEL,
    SONAR,
    SONAR_PRO,
    Catalogue,
)

TIERS = ("simple", "standard", "complex", "live")
ANALYZE = "/api/v1/strategist/analyze"
CHARS_PER_TOKEN = 4
RANDOM_SEED = 7
REQUEST_TIMEOUT_S = 120.0
TIER_MODEL = {
    "simple": ("local", LOCAL_MODEL),
    "standard": ("gemini", GEMINI_FLASH),
    "complex": ("gemini", GEMINI_PRO),
    "live": ("perplexity", SONAR),
}
DEEP_LIVE_MODEL = ("perplexity", SONAR_PRO)


@dataclass(frozen=True)
class Item:
    id: str
    query: str
    tier: str
    deep: bool


@dataclass
class Outcome:
    """What the stack did with one test question."""

    item: Item
    status: int
    tier: str | None
    cost_usd: float
    baseline_cost_usd: float
    answer_chars: int
    error: str | None = None


@dataclass
class RouterScore:
    name: str
    predicted: list[str]
    cost_usd: float
    cost_is_estimate: bool
    confusion: dict[str, Counter[str]] = field(default_factory=dict)

    def accuracy(self, labels: Sequence[str], tier: str | None = None) -> float:
        pairs = [(p, t) for p, t in zip(self.predicted, labels, strict=True) if tier in (None, t)]
        return sum(p == t for p, t in pairs) / len(pairs) if pairs else 0.0

    def under_routed(self, labels: Sequence[str]) -> float:
        """Share of complex questions sent to the local model."""
        complex_predictions = [p for p, t in zip(self.predicted, labels, strict=True) if t == "complex"]
        if not complex_predictions:
            return 0.0
        return sum(p == "simple" for p in complex_predictions) / len(complex_predictions)


def load_items(path: Path) -> list[Item]:
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            items.append(Item(row["id"], row["query"], row["tier"], bool(row.get("deep"))))
    return items


def run_through_stack(
    items: Sequence[Item],
    base_url: str,
    *,
    concurrency: int,
    progress: Callable[[int, int, Outcome], None] | None = None,
) -> list[Outcome]:
    """POST every item to the stack's /analyze (in order of the items in the result)."""

    def one(item: Item) -> Outcome:
        with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_S) as client:
            try:
                response = client.post(ANALYZE, json={"query": item.query, "campaign_id": "eval"})
            except httpx.HTTPError as err:
                return Outcome(item, 0, None, 0.0, 0.0, 0, f"{type(err).__name__}: {err}")
        body: dict[str, Any] = response.json() if response.content else {}
        routing = body.get("routing") or {}
        classification = routing.get("classification") or {}
        return Outcome(
            item=item,
            status=response.status_code,
            tier=classification.get("tier"),
            cost_usd=float(routing.get("cost_usd") or 0.0),
            baseline_cost_usd=float(routing.get("baseline_cost_usd") or 0.0),
            answer_chars=len(body.get("result") or ""),
            error=None if response.status_code == 200 else str(body.get("error"))[:200],
        )

    outcomes: list[Outcome] = []
    with ThreadPoolExecutor(concurrency) as pool:
        for done, outcome in enumerate(pool.map(one, items), start=1):
            outcomes.append(outcome)
            if progress is not None:
                progress(done, len(items), outcome)
    return outcomes


def estimated_cost(
    catalogue: Catalogue, tier: str, item: Item, answer_chars: int, *, deep: bool = False
) -> float:
    """The cost of answering `item` on the model `tier` maps to, from estimated tokens."""
    provider, model = DEEP_LIVE_MODEL if tier == "live" and deep else TIER_MODEL[tier]
    spec = catalogue.get(provider, model)
    return spec.cost_usd(
        max(len(item.query) // CHARS_PER_TOKEN, 1), max(answer_chars // CHARS_PER_TOKEN, 1)
    )


def score_routers(
    outcomes: Sequence[Outcome],
    *,
    rules_tier: Callable[[str], str],
    catalogue: Catalogue = DEFAULT_CATALOGUE,
) -> list[RouterScore]:
    """The learned router (as the stack routed) and the simple baselines, on equal terms."""
    rng = random.Random(RANDOM_SEED)
    predictions: dict[str, list[str]] = {
        "learned router (the stack)": [o.tier or "unknown" for o in outcomes],
        "always Gemini 2.5 Pro": ["complex"] * len(outcomes),
        "always Gemini 2.5 Flash": ["standard"] * len(outcomes),
        "old keyword rules": [rules_tier(o.item.query) for o in outcomes],
        "random": [rng.choice(TIERS) for _ in outcomes],
    }
    labels = [o.item.tier for o in outcomes]
    scores = []
    for name, predicted in predictions.items():
        cost = sum(
            estimated_cost(catalogue, p, o.item, o.answer_chars, deep=o.item.deep)
            for p, o in zip(predicted, outcomes, strict=True)
            if p in TIER_MODEL
        )
        score = RouterScore(name, predicted, cost, cost_is_estimate=True)
        score.confusion = confusion(labels, predicted)
        scores.append(score)
    return scores


def confusion(labels: Iterable[str], predicted: Iterable[str]) -> dict[str, Counter[str]]:
    table: dict[str, Counter[str]] = {t: Counter() for t in TIERS}
    for label, guess in zip(labels, predicted, strict=True):
        table.setdefault(label, Counter())[guess] += 1
    return table


def decision_times_ms(decide: Callable[[str], object], texts: Sequence[str]) -> list[float]:
    """Wall time of one routing decision per text (features + model), in process."""
    decide(texts[0])  # warm-up: first-call allocations
    times = []
    for text in texts:
        started = time.perf_counter()
        decide(text)
        times.append((time.perf_counter() - started) * 1000)
    return times
