"""What if the recorded queries had been routed by another router or policy?

Each analysis of the window is re-decided, either by a router artifact (the learned
router of `services/classifier/tier_router.py`, run on the recorded query text) or
by a JSON policy over the recorded tier probabilities. For each one:

- the route changes when the new primary model differs from the recorded one;
- the estimated cost prices the recorded token counts (input as sent, output as
  produced by the model that answered) at the new model's list price: an estimate,
  since another model would write a different number of tokens;
- the expected accuracy is sum over tiers t of p(t) * accuracy(model, t), with p the
  recorded tier probabilities (the recorded router's belief about the query) and
  the accuracy table below: an estimate, and the table is an assumption unless the
  policy file gives measured figures.

Recorded analyses without tier probabilities (made before the learned router) count
their recorded tier, or the tier their primary model serves, with probability 1.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from audit.trail import Trail, tier_view
from providers.catalogue import (
    GEMINI_FLASH,
    GEMINI_PRO,
    LOCAL_MODEL,
    SONAR,
    SONAR_PRO,
    Catalogue,
)

ESCALATION = ("simple", "standard", "complex")
DEFAULT_TIER_MODELS = {
    "simple": f"local/{LOCAL_MODEL}",
    "standard": f"gemini/{GEMINI_FLASH}",
    "complex": f"gemini/{GEMINI_PRO}",
    "live": f"perplexity/{SONAR}",
}
DEEP_LIVE_MODEL = f"perplexity/{SONAR_PRO}"
ASSUMED_ACCURACY: dict[str, dict[str, float]] = {
    f"local/{LOCAL_MODEL}": {"simple": 0.85, "standard": 0.45, "complex": 0.2, "live": 0.1},
    f"gemini/{GEMINI_FLASH}": {"simple": 0.95, "standard": 0.85, "complex": 0.55, "live": 0.3},
    f"gemini/{GEMINI_PRO}": {"simple": 0.97, "standard": 0.92, "complex": 0.85, "live": 0.35},
    f"perplexity/{SONAR}": {"simple": 0.9, "standard": 0.8, "complex": 0.5, "live": 0.85},
    f"perplexity/{SONAR_PRO}": {"simple": 0.93, "standard": 0.88, "complex": 0.75, "live": 0.9},
}
"""P(right answer | model, true tier): assumed, not measured; a policy file may replace it."""


class Policy(BaseModel):
    """A routing policy over the recorded tier probabilities (JSON file).

    `tier_models`: tier -> "provider/model" of the primary step. `min_probability`:
    a tier is taken only when its probability reaches this; otherwise the next tier up
    (simple -> standard -> complex). `accuracy`: "provider/model" -> tier -> accuracy,
    replacing the assumed table for those models.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "policy"
    tier_models: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_TIER_MODELS))
    min_probability: dict[str, float] = Field(default_factory=dict)
    accuracy: dict[str, dict[str, float]] = Field(default_factory=dict)

    @field_validator("tier_models")
    @classmethod
    def _every_tier(cls, value: dict[str, str]) -> dict[str, str]:
        return {**DEFAULT_TIER_MODELS, **value}

    @classmethod
    def load(cls, path: Path) -> Policy:
        """Raises ValueError (bad JSON or fields) naming the file."""
        try:
            return cls.model_validate(json.loads(path.read_text()))
        except (OSError, ValueError) as err:
            raise ValueError(f"{path}: {err}") from err

    def decide(self, probabilities: dict[str, float]) -> tuple[str, str]:
        """(tier, "provider/model") for a query with these tier probabilities."""
        tier = max(probabilities, key=lambda t: probabilities[t])
        while tier in ESCALATION[:-1] and probabilities.get(tier, 0.0) < self.min_probability.get(
            tier, 0.0
        ):
            tier = ESCALATION[ESCALATION.index(tier) + 1]
        return tier, self.tier_models[tier]

    def accuracy_of(self, model: str, tier: str) -> float | None:
        table = self.accuracy.get(model) or ASSUMED_ACCURACY.get(model)
        return None if table is None else table.get(tier)


Decide = Callable[[Trail, dict[str, float]], tuple[str, str]]
"""(trail, recorded probabilities) -> (new tier, new "provider/model")."""


def policy_decider(policy: Policy) -> Decide:
    return lambda _trail, probabilities: policy.decide(probabilities)


def router_decider(path: Path, tier_models: dict[str, str]) -> tuple[Decide, str]:
    """The learned router loaded from its artifact; raises ImportError when this tree has
    no learned router, or its own ArtifactError for a bad file."""
    from services.classifier.tier_router import TierRouter  # heavy: ONNX, only when asked

    router = TierRouter.load(path)

    def decide(trail: Trail, _probabilities: dict[str, float]) -> tuple[str, str]:
        text = trail.query.query if trail.query else ""
        decision = router.decide(text)
        if decision.tier == "live" and decision.deep:
            return decision.tier, DEEP_LIVE_MODEL
        return decision.tier, tier_models[decision.tier]

    return decide, router.version


def recorded_probabilities(trail: Trail, primary: str | None) -> dict[str, float] | None:
    view = tier_view(trail.classification)
    probabilities = view.get("tier_probabilities")
    if probabilities:
        return {t: float(p) for t, p in probabilities.items()}
    tier = view.get("tier")
    if tier is None and primary is not None:
        served = [t for t, m in DEFAULT_TIER_MODELS.items() if m == primary]
        tier = served[0] if served else ("live" if primary == DEEP_LIVE_MODEL else None)
    return {tier: 1.0} if tier else None


def _primary(trail: Trail) -> str | None:
    steps = trail.classified.route if trail.classified else []
    if not steps and trail.response is not None:
        steps = trail.response.routing.route
    return f"{steps[0].provider}/{steps[0].model}" if steps else None


def _tokens(trail: Trail) -> tuple[int, int] | None:
    if trail.completion is not None and trail.completion.answer is not None:
        answer = trail.completion.answer
        return answer.input_tokens, answer.output_tokens
    for attempt in trail.attempts:
        if attempt.outcome == "success":
            return attempt.input_tokens, attempt.output_tokens
    return None


def _price(catalogue: Catalogue, model: str | None, tokens: tuple[int, int]) -> float | None:
    if model is None:
        return None
    provider, _, model_id = model.partition("/")
    try:
        return catalogue.get(provider, model_id).cost_usd(*tokens)
    except KeyError:
        return None


def _expected(policy: Policy, model: str | None, p: dict[str, float]) -> float | None:
    if model is None:
        return None
    parts = [(policy.accuracy_of(model, t), w) for t, w in p.items()]
    if any(a is None for a, _ in parts):
        return None
    return sum((a or 0.0) * w for a, w in parts) / (sum(p.values()) or 1.0)


@dataclass(frozen=True)
class WhatIf:
    rows: list[dict[str, Any]]
    summary: dict[str, Any]


def what_if(
    trails: Iterable[Trail], decide: Decide, policy: Policy, catalogue: Catalogue
) -> WhatIf:
    rows: list[dict[str, Any]] = []
    for trail in trails:
        primary = _primary(trail)
        probabilities = recorded_probabilities(trail, primary)
        if probabilities is None:
            continue
        tier, model = decide(trail, probabilities)
        tokens = _tokens(trail)
        response = trail.response
        rows.append(
            {
                "analysis_id": trail.analysis_id,
                "recorded_tier": max(probabilities, key=lambda t: probabilities[t]),
                "recorded_model": primary,
                "new_tier": tier,
                "new_model": model,
                "changed": model != primary,
                "recorded_cost_usd": response.routing.cost_usd if response else None,
                "est_recorded_route_cost_usd": _price(catalogue, primary, tokens)
                if tokens
                else None,
                "est_new_cost_usd": _price(catalogue, model, tokens) if tokens else None,
                "est_recorded_accuracy": _expected(policy, primary, probabilities),
                "est_new_accuracy": _expected(policy, model, probabilities),
            }
        )
    return WhatIf(rows, _summary(rows, policy))


def _total(rows: list[dict[str, Any]], name: str) -> float | None:
    values = [r[name] for r in rows if r[name] is not None]
    return round(sum(values), 6) if values else None


def _mean(rows: list[dict[str, Any]], name: str) -> float | None:
    values = [r[name] for r in rows if r[name] is not None]
    return round(sum(values) / len(values), 4) if values else None


def _summary(rows: list[dict[str, Any]], policy: Policy) -> dict[str, Any]:
    measured = bool(policy.accuracy)
    return {
        "analyses": len(rows),
        "routes_changed": sum(1 for r in rows if r["changed"]),
        "recorded_cost_usd (actual)": _total(rows, "recorded_cost_usd"),
        "recorded_routes_cost_usd (estimate)": _total(rows, "est_recorded_route_cost_usd"),
        "new_cost_usd (estimate)": _total(rows, "est_new_cost_usd"),
        "recorded_expected_accuracy (estimate)": _mean(rows, "est_recorded_accuracy"),
        "new_expected_accuracy (estimate)": _mean(rows, "est_new_accuracy"),
        "accuracy_table": "from the policy file (where given), else assumed"
        if measured
        else "assumed (not measured): audit.whatif.ASSUMED_ACCURACY",
        "cost_basis": "recorded token counts at list prices; output length of another "
        "model would differ",
    }
