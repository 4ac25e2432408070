"""From a classification to an ordered route: primary first, then fallbacks.

The classification's tier (the learned router's decision) picks the primary; the
caller's `prefer` moves it one tier (quality up, cost down), and a rule keeps an input
too long for the local model's context window off the local model (`local_window.py`).
Fallbacks prefer a *different provider* next, so one provider's outage costs one failed attempt, not
several; the local model ends every hosted route because it runs on our own hardware
and is the last thing standing.

A caller may name a model (`options.model`, the OpenAI-compatible endpoint's `model`):
that model is the primary, exactly as named, followed by its own fallbacks: the
catalogue's `fallbacks` for it when the catalogue declares them, else the route the
tier would give without the named model.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.capability_policy import CapabilityPolicy, KindVerdict, cheapest_hosted
from providers.catalogue import (
    DEFAULT_CATALOGUE,
    GEMINI_FLASH,
    GEMINI_PRO,
    LOCAL_MODEL,
    SONAR,
    SONAR_PRO,
    Catalogue,
    ModelSpec,
)
from providers.model_lookup import find_model
from schemas.base import ProviderName
from schemas.parts import Classification, RouteStep, Tier
from schemas.query import QueryOptions
from services.classifier.features import RULE_COMPLEX_THRESHOLD, RULE_SIMPLE_THRESHOLD
from services.classifier.local_window import (
    LOCAL_INPUT_TOKENS,
    classified_input_tokens,
    fits_local,
    keep_off_local,
)

WORK_TIERS: tuple[Tier, ...] = ("simple", "standard", "complex")
"""The tiers `prefer` moves between; live stays live (prefer picks Sonar or Sonar Pro)."""


def _pre_router_tier(classification: Classification) -> Tier:
    """The tier of an event classified before the router (it carries no tier)."""
    if classification.needs_live_data:
        return "live"
    if classification.cost_sensitive and classification.complexity < RULE_SIMPLE_THRESHOLD:
        return "simple"
    if classification.complexity >= RULE_COMPLEX_THRESHOLD:
        return "complex"
    return "standard"


def tier_for(classification: Classification, options: QueryOptions) -> Tier:
    """The tier the route is built from: the classified tier, moved one step by `prefer`,
    and never the local model for an input longer than its context window."""
    return _tier_and_why(classification, options)[0]


def _p(classification: Classification, tier: Tier) -> str:
    p = classification.tier_probabilities.get(tier)
    return f" (p={p:.2f})" if p is not None else ""


def _tier_and_why(classification: Classification, options: QueryOptions) -> tuple[Tier, str]:
    """The route's tier and why: the classified tier, and how the caller or a rule moved it."""
    decided = classification.tier or _pre_router_tier(classification)
    why = f"{decided} tier{_p(classification, decided)}"
    if decided == "live":
        return decided, why
    index = WORK_TIERS.index(decided)
    if options.prefer == "quality":
        index = min(index + 1, len(WORK_TIERS) - 1)
    elif options.prefer == "cost":
        index = max(index - 1, 0)
    tier = WORK_TIERS[index]
    if tier != decided:
        why += f", caller prefers {options.prefer}: {tier}"
    if (sized := keep_off_local(tier, classified_input_tokens(classification))) != tier:
        why += (
            f", but the input is too long for the local model's window "
            f"({LOCAL_INPUT_TOKENS} tokens): {sized}"
        )
    return sized, why


def build_route(
    classification: Classification,
    options: QueryOptions,
    catalogue: Catalogue = DEFAULT_CATALOGUE,
    capability: CapabilityPolicy | None = None,
) -> list[RouteStep]:
    """Ordered candidates with the reason for each position; filtered by `options.providers`.

    With `capability` (the classifier's, from the measured capability file), a routine
    task goes to the local model only for kinds it is measured good enough at; without
    it (callers without settings), every routine task goes to the local model.

    With `options.model` named and in `catalogue`, that model comes first (see
    `named_route`); a name the catalogue does not hold leaves the tier's route, with a
    reason saying so (the app refuses unknown names, so only a catalogue that differs
    between app and classifier gets here)."""
    tier_route = _tier_route(classification, options, catalogue, capability)
    if options.model is None:
        return tier_route
    spec = find_model(catalogue, options.model)
    if spec is None:
        first = tier_route[0]
        note = f"the named model {options.model!r} is not in the classifier's catalogue"
        return [first.model_copy(update={"reason": f"{note}; {first.reason}"}), *tier_route[1:]]
    return named_route(spec, catalogue, tier_route)


def _declared_fallbacks(spec: ModelSpec, catalogue: Catalogue) -> list[ModelSpec]:
    """The fallbacks the catalogue declares for `spec` (names of catalogued models, as
    `find_model` reads them); empty when it declares none."""
    declared: Sequence[str] = getattr(spec, "fallbacks", None) or ()
    found = (find_model(catalogue, name) for name in declared)
    return [fallback for fallback in found if fallback is not None]


def named_route(
    spec: ModelSpec, catalogue: Catalogue, tier_route: Sequence[RouteStep]
) -> list[RouteStep]:
    """The caller's model first, exactly as named, then its fallbacks: the catalogue's
    declared list, else the tier's route without the named model."""
    named = (spec.provider, spec.model_id)
    route = [
        RouteStep(
            provider=spec.provider,
            model=spec.model_id,
            reason=f"the caller named {spec.model_id}: used as named",
        )
    ]
    declared = _declared_fallbacks(spec, catalogue)
    if declared:
        route += [
            RouteStep(
                provider=fallback.provider,
                model=fallback.model_id,
                reason=f"fallback the catalogue declares for {spec.model_id}",
            )
            for fallback in declared
            if (fallback.provider, fallback.model_id) != named
        ]
        return route
    route += [
        step.model_copy(update={"reason": f"fallback from the tier's route: {step.reason}"})
        for step in tier_route
        if (step.provider, step.model) != named
    ]
    return route


def _tier_route(
    classification: Classification,
    options: QueryOptions,
    catalogue: Catalogue,
    capability: CapabilityPolicy | None = None,
) -> list[RouteStep]:
    """The route the tier gives (no named model); `catalogue` gives the model of a
    provider the caller restricts the route to when the tier's route has none."""
    tier, why = _tier_and_why(classification, options)
    if tier == "live":
        deep = (
            classification.deep_analysis
            or classification.tier is None
            and (classification.complexity >= RULE_COMPLEX_THRESHOLD)
        )
        pro = (deep and options.prefer != "cost") or options.prefer == "quality"
        live_model = SONAR_PRO if pro else SONAR
        depth = "with deep analysis" if deep else "without deep analysis"
        route = [
            RouteStep(
                provider="perplexity",
                model=live_model,
                reason=f"{why}: needs live data {depth}, web search with citations "
                f"({live_model}{_preference(options) if pro != deep else ''})",
            ),
            RouteStep(
                provider="gemini",
                model=GEMINI_PRO if pro else GEMINI_FLASH,
                reason="fallback without live search: answer from model knowledge, "
                "flagged as possibly stale",
            ),
            RouteStep(
                provider="local",
                model=LOCAL_MODEL,
                reason="last resort: self-hosted model, no live data",
            ),
        ]
    elif tier == "complex":
        route = [
            RouteStep(
                provider="gemini",
                model=GEMINI_PRO,
                reason=f"{why}: deep multi-step reasoning on Gemini 2.5 Pro",
            ),
            RouteStep(
                provider="perplexity",
                model=SONAR_PRO,
                reason="fallback on another provider with strong reasoning",
            ),
            RouteStep(
                provider="gemini",
                model=GEMINI_FLASH,
                reason="cheaper Gemini step if only the Pro model is failing",
            ),
            RouteStep(provider="local", model=LOCAL_MODEL, reason=_local_last(classification)),
        ]
    elif tier == "standard":
        route = [
            RouteStep(
                provider="gemini",
                model=GEMINI_FLASH,
                reason=f"{why}: moderate question, fast low-cost Gemini 2.5 Flash",
            ),
            RouteStep(provider="perplexity", model=SONAR, reason="fallback on another provider"),
            RouteStep(provider="local", model=LOCAL_MODEL, reason=_local_last(classification)),
        ]
    else:
        route = _routine_route(classification, options, why, catalogue, capability)
    if options.providers:
        allowed = set(options.providers)
        filtered = [step for step in route if step.provider in allowed]
        route = filtered or _restricted_route(options.providers, catalogue)
    return route


def _routine_route(
    classification: Classification,
    options: QueryOptions,
    why: str,
    catalogue: Catalogue,
    capability: CapabilityPolicy | None,
) -> list[RouteStep]:
    """The simple tier's route: the local model first where the capability policy lets
    it serve the task's kind (or the caller prefers cost: the scorer's pre-release check
    still stands between its answer and the caller), else the cheapest hosted model."""
    verdict = capability.verdict(classification.routine_kind) if capability else None
    hosted = cheapest_hosted(catalogue) if verdict is not None and not verdict.local else None
    if verdict is not None and hosted is not None and options.prefer == "cost":
        verdict = KindVerdict(
            True,
            f"caller prefers cost: the local model first although {verdict.reason}; its "
            "answer is checked before release",
        )
    if verdict is None or verdict.local or hosted is None:
        return [
            RouteStep(
                provider="local",
                model=LOCAL_MODEL,
                reason=f"{why}: routine text task on the self-hosted model at no per-call cost"
                + (f"; {verdict.reason}" if verdict is not None else ""),
            ),
            RouteStep(
                provider="gemini", model=GEMINI_FLASH, reason="fallback: lowest-cost hosted model"
            ),
            RouteStep(provider="perplexity", model=SONAR, reason="fallback on a third provider"),
        ]
    first = RouteStep(
        provider=hosted.provider,
        model=hosted.model_id,
        reason=f"{why}: {verdict.reason}; the cheapest hosted model, {hosted.model_id}, "
        "answers instead",
    )
    others = [
        RouteStep(provider="perplexity", model=SONAR, reason="fallback on another provider"),
        RouteStep(
            provider="gemini", model=GEMINI_FLASH, reason="fallback: lowest-cost Gemini model"
        ),
    ]
    return [
        first,
        *(step for step in others if (step.provider, step.model) != (first.provider, first.model)),
        RouteStep(provider="local", model=LOCAL_MODEL, reason="last resort: self-hosted model"),
    ]


def _preference(options: QueryOptions) -> str:
    return f"; caller prefers {options.prefer}"


def _local_last(classification: Classification) -> str:
    if fits_local(classification):
        return "last resort: self-hosted model"
    return "last resort: self-hosted model (the input may exceed its context window)"


DEFAULT_MODEL: dict[ProviderName, str] = {
    "gemini": GEMINI_FLASH,
    "perplexity": SONAR,
    "local": LOCAL_MODEL,
}
"""The model a route restricted to a built-in provider uses when the tier's route has none."""
NO_MODEL = "(no model)"
"""The model of a restricted route's step for a provider the catalogue has no model of."""


def default_model(provider: ProviderName, catalogue: Catalogue) -> str | None:
    """The model a route restricted to `provider` uses: the built-in default when the
    catalogue holds it, else the provider's first catalogued model (a declared provider),
    else the built-in default; None when the provider has none at all."""
    catalogued = [spec.model_id for spec in catalogue.for_provider(provider)]
    built_in = DEFAULT_MODEL.get(provider)
    if built_in is not None and (built_in in catalogued or not catalogued):
        return built_in
    return catalogued[0] if catalogued else None


def _restricted_route(providers: Sequence[ProviderName], catalogue: Catalogue) -> list[RouteStep]:
    """The route when the tier's route has no step on the providers the caller allows:
    each allowed provider's default model, in the caller's order. When none has a model
    (the app refuses such names, so only a catalogue that differs between app and
    classifier gets here), one step whose reason says so; the dispatcher skips it."""
    reason = f"caller restricted the providers to {', '.join(providers)}"
    route = [
        RouteStep(provider=provider, model=model, reason=reason)
        for provider in providers
        if (model := default_model(provider, catalogue)) is not None
    ]
    if route:
        return route
    return [
        RouteStep(
            provider=providers[0],
            model=NO_MODEL,
            reason=f"{reason}, but the classifier's catalogue (CATALOGUE_PATH) has no model "
            f"of {' or '.join(providers)}: nothing can answer",
        )
    ]
