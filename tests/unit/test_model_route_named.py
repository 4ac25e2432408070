"""A model the caller names (`options.model`) is tried first, exactly as named, then its
fallbacks; without a name the learned router's route is unchanged."""

from __future__ import annotations

import pytest

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
from schemas.parts import Classification
from schemas.query import QueryOptions, QueryRequested
from services.classifier.handler import classify
from services.classifier.model_route import build_route

STANDARD = Classification(
    complexity=0.4, needs_live_data=False, analysis_type="general", cost_sensitive=False,
    tier="standard",
)


def _models(route: list) -> list[tuple[str, str]]:
    return [(step.provider, step.model) for step in route]


def test_without_a_named_model_the_tier_route_is_unchanged() -> None:
    assert _models(build_route(STANDARD, QueryOptions())) == [
        ("gemini", GEMINI_FLASH), ("perplexity", SONAR), ("local", LOCAL_MODEL),
    ]


def _without_declared_fallbacks(catalogue: Catalogue) -> Catalogue:
    if "fallbacks" not in ModelSpec.model_fields:
        return catalogue
    return Catalogue(models=[s.model_copy(update={"fallbacks": []}) for s in catalogue.models])


@pytest.mark.parametrize("named", [SONAR_PRO, GEMINI_PRO, LOCAL_MODEL, GEMINI_FLASH])
def test_the_named_model_comes_first_then_the_tier_route_without_it(named: str) -> None:
    catalogue = _without_declared_fallbacks(DEFAULT_CATALOGUE)
    route = build_route(STANDARD, QueryOptions(model=named), catalogue)
    tier_route = _models(build_route(STANDARD, QueryOptions()))
    spec = find_model(catalogue, named)
    assert spec is not None
    assert _models(route)[0] == (spec.provider, named)
    assert "caller named" in route[0].reason
    assert _models(route)[1:] == [m for m in tier_route if m != (spec.provider, named)]
    assert all(step.reason.startswith("fallback") for step in route[1:])


def test_a_name_with_its_provider_is_found_too() -> None:
    route = build_route(STANDARD, QueryOptions(model=f"perplexity/{SONAR_PRO}"))
    assert _models(route)[0] == ("perplexity", SONAR_PRO)


def test_a_name_the_classifiers_catalogue_lacks_keeps_the_tier_route_and_says_so() -> None:
    route = build_route(STANDARD, QueryOptions(model="gpt-9"), DEFAULT_CATALOGUE)
    assert _models(route) == _models(build_route(STANDARD, QueryOptions()))
    assert "'gpt-9' is not in the classifier's catalogue" in route[0].reason


@pytest.mark.skipif(
    "fallbacks" not in ModelSpec.model_fields, reason="the catalogue declares no fallbacks yet"
)
def test_declared_fallbacks_replace_the_tier_route() -> None:
    models = [
        spec.model_copy(update={"fallbacks": [SONAR, "local/" + LOCAL_MODEL]})
        if spec.model_id == GEMINI_PRO
        else spec
        for spec in DEFAULT_CATALOGUE.models
    ]
    catalogue = Catalogue(models=models)
    route = build_route(STANDARD, QueryOptions(model=GEMINI_PRO), catalogue)
    assert _models(route) == [("gemini", GEMINI_PRO), ("perplexity", SONAR), ("local", LOCAL_MODEL)]
    assert "catalogue declares" in route[1].reason


def test_the_classifier_routes_a_named_model_first_whatever_the_tier() -> None:
    query = QueryRequested(
        query_id="q-named",
        query="Fix the typo in: 'Vote on Tusday'",  # a routine edit: the local model's tier
        options=QueryOptions(model=GEMINI_PRO),
    )
    classified = classify(query)
    assert _models(classified.route)[0] == ("gemini", GEMINI_PRO)
    assert ("gemini", GEMINI_PRO) not in _models(classified.route)[1:]
    assert len(classified.route) > 1


def test_the_classifier_finds_a_model_only_the_deployment_s_catalogue_holds() -> None:
    """A model from `CATALOGUE_PATH` (not built in) is routed first, as the app accepted it."""
    extra = DEFAULT_CATALOGUE.get("gemini", GEMINI_FLASH).model_copy(
        update={"model_id": "gemini-2.5-flash-campaign-tuned"}
    )
    catalogue = Catalogue(models=[*DEFAULT_CATALOGUE.models, extra])
    query = QueryRequested(
        query_id="q-own", query="Summarise this memo", options=QueryOptions(model=extra.model_id)
    )
    assert _models(classify(query, catalogue=catalogue).route)[0] == ("gemini", extra.model_id)
    assert _models(classify(query).route)[0] != ("gemini", extra.model_id)
