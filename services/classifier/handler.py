"""Classify a query and attach its route. Pure over its inputs: same query and router,
same output (the router is loaded once per process and never changes)."""

from __future__ import annotations

from functools import lru_cache

from core.capability_policy import CapabilityPolicy
from core.prompt import context_text, estimated_tokens
from core.routine_kind import routine_kind
from providers.catalogue import DEFAULT_CATALOGUE, Catalogue
from schemas.classified import QueryClassified
from schemas.parts import Classification, Tier
from schemas.query import QueryRequested
from services.classifier.features import QueryFeatures, extract_features, infer_analysis_type
from services.classifier.local_window import (
    INPUT_TOKENS_FEATURE,
    LOCAL_INPUT_TOKENS,
    keep_off_local,
)
from services.classifier.model_route import WORK_TIERS, build_route
from services.classifier.tier_model import DEFAULT_ARTIFACT
from services.classifier.tier_router import TierRouter


@lru_cache(maxsize=1)
def shipped_router() -> TierRouter:
    """The router from the artifact in the repository, loaded on first use.

    For callers without settings (tests, benchmarks); the service passes the router it
    loaded at start-up from `CLASSIFIER_ROUTER_PATH`.
    """
    return TierRouter.load(DEFAULT_ARTIFACT)


def classify(
    query: QueryRequested,
    router: TierRouter | None = None,
    catalogue: Catalogue = DEFAULT_CATALOGUE,
    capability: CapabilityPolicy | None = None,
) -> QueryClassified:
    """The classification of `query` with the reasons for it, and the ordered route
    (a model the caller names is looked up in `catalogue`: the deployment's own;
    `capability` decides which routine kinds the local model serves, see `build_route`)."""
    router = router or shipped_router()
    context_chars = len(context_text(query))
    features = extract_features(query.query, context_chars)
    decision = router.decide(query.query)
    reasons = [decision.reason]
    tier: Tier = decision.tier

    live_data = query.options.live_data
    if live_data is True and tier != "live":
        reasons.append(f"live data requested by caller: live tier instead of {tier}")
        tier = "live"
    elif live_data is False and tier == "live":
        tier = max(WORK_TIERS, key=lambda t: decision.probabilities[t])
        reasons.append(f"live data excluded by caller: {tier}, the likeliest other tier")
    input_tokens = estimated_tokens(len(query.query) + context_chars)
    if (sized := keep_off_local(tier, input_tokens)) != tier:
        reasons.append(
            f"about {input_tokens} tokens of input exceed the local model's window "
            f"({LOCAL_INPUT_TOKENS}): {sized} tier instead of {tier}"
        )
        tier = sized
    deep = tier == "live" and decision.deep_probability >= router.model.deep_threshold
    if tier == "live":
        reasons.append(f"{decision.deep_reason}: {'Sonar Pro' if deep else 'Sonar'}")
    reasons += _rule_evidence(features)

    cost_sensitive = tier == "simple" or query.options.prefer == "cost"
    if query.options.prefer == "cost":
        reasons.append("caller prefers the lowest cost")
    classification = Classification(
        complexity=round(decision.deep_probability, 3),
        needs_live_data=tier == "live",
        analysis_type=query.analysis_type or infer_analysis_type(query.query),
        cost_sensitive=cost_sensitive,
        features={**features.as_dict(), INPUT_TOKENS_FEATURE: float(input_tokens)},
        reasons=reasons,
        tier=tier,
        tier_probabilities=decision.probabilities,
        router_version=decision.version,
        deep_analysis=deep,
        routine_kind=routine_kind(query.query),
    )
    return QueryClassified(
        query=query,
        classification=classification,
        route=build_route(classification, query.options, catalogue, capability),
    )


def _rule_evidence(features: QueryFeatures) -> list[str]:
    """The keyword cues that still show in the reasons: evidence, not the decision."""
    evidence = []
    cues = features.live_strong + features.live_weak
    if cues:
        evidence.append(f"current-information words: {', '.join(cues)}")
    if features.reasoning:
        evidence.append(f"reasoning words: {', '.join(features.reasoning)}")
    if features.simple_task:
        evidence.append(f"routine-editing words: {', '.join(features.simple_task)}")
    return evidence
