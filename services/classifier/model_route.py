"""From a classification to an ordered route: primary first, then fallbacks.

Fallbacks prefer a *different provider* next, so one provider's outage costs
one failed attempt, not several; the local model ends every route because it
runs on our own hardware and is the last thing standing.
"""

from __future__ import annotations

from providers.catalogue import GEMINI_FLASH, GEMINI_PRO, LOCAL_MODEL, SONAR, SONAR_PRO
from schemas.base import ProviderName
from schemas.classified import Classification, RouteStep
from schemas.query import QueryOptions

COMPLEX_THRESHOLD = 0.55
SIMPLE_THRESHOLD = 0.3
LIVE_PRO_THRESHOLD = 0.45

Tier = str  # "simple" | "standard" | "complex"
TIERS: tuple[Tier, ...] = ("simple", "standard", "complex")


def tier_for(classification: Classification, options: QueryOptions) -> Tier:
    """The work tier, nudged one step by the caller's `prefer` option."""
    if classification.cost_sensitive and classification.complexity < SIMPLE_THRESHOLD:
        index = 0
    elif classification.complexity >= COMPLEX_THRESHOLD:
        index = 2
    else:
        index = 1
    if options.prefer == "quality":
        index = min(index + 1, 2)
    elif options.prefer == "cost":
        index = max(index - 1, 0)
    return TIERS[index]


def build_route(classification: Classification, options: QueryOptions) -> list[RouteStep]:
    """Ordered candidates with the reason for each position; filtered by `options.providers`."""
    tier = tier_for(classification, options)
    c = classification.complexity
    if classification.needs_live_data:
        live_model = SONAR_PRO if c >= LIVE_PRO_THRESHOLD or tier == "complex" else SONAR
        route = [
            RouteStep(
                provider="perplexity",
                model=live_model,
                reason=f"needs live data: web search with citations ({live_model})",
            ),
            RouteStep(
                provider="gemini",
                model=GEMINI_PRO if tier == "complex" else GEMINI_FLASH,
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
                reason=f"complex analysis (complexity {c:.2f}): deep reasoning model",
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
            RouteStep(provider="local", model=LOCAL_MODEL, reason="last resort: self-hosted model"),
        ]
    elif tier == "standard":
        route = [
            RouteStep(
                provider="gemini",
                model=GEMINI_FLASH,
                reason=f"moderate analysis (complexity {c:.2f}): fast, low-cost model",
            ),
            RouteStep(provider="perplexity", model=SONAR, reason="fallback on another provider"),
            RouteStep(provider="local", model=LOCAL_MODEL, reason="last resort: self-hosted model"),
        ]
    else:
        route = [
            RouteStep(
                provider="local",
                model=LOCAL_MODEL,
                reason=f"simple, cost-sensitive task (complexity {c:.2f}): "
                "self-hosted model at no per-call cost",
            ),
            RouteStep(
                provider="gemini", model=GEMINI_FLASH, reason="fallback: lowest-cost hosted model"
            ),
            RouteStep(provider="perplexity", model=SONAR, reason="fallback on a third provider"),
        ]
    if options.providers:
        allowed = set(options.providers)
        filtered = [step for step in route if step.provider in allowed]
        route = filtered or [_default_step(options.providers[0])]
    return route


DEFAULT_MODEL: dict[ProviderName, str] = {
    "gemini": GEMINI_FLASH,
    "perplexity": SONAR,
    "local": LOCAL_MODEL,
}


def _default_step(provider: ProviderName) -> RouteStep:
    return RouteStep(
        provider=provider,
        model=DEFAULT_MODEL[provider],
        reason="caller restricted the providers",
    )
