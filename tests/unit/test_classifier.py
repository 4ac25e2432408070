"""The classifier: the learned tier decides the route, the caller's options still win,
the rules remain as evidence and safety net, and every feature stays linear."""

from __future__ import annotations

import time
from typing import Any

import pytest

from schemas.classified import QueryClassified
from schemas.query import QueryOptions, QueryRequested
from services.classifier.features import extract_features, infer_analysis_type
from services.classifier.handler import classify


def _classify(text: str, **options: Any) -> QueryClassified:
    return classify(QueryRequested(query_id="q", query=text, options=QueryOptions(**options)))


@pytest.mark.parametrize(
    ("query", "provider", "model"),
    [
        ("latest polls in Arizona this week", "perplexity", "sonar"),
        ("Who is leading the Pennsylvania Senate race right now?", "perplexity", "sonar"),
        (
            "Build a 3-phase persuasion strategy from these crosstabs, with trade-offs",
            "gemini",
            "gemini-2.5-pro",
        ),
        (
            "Analyze the turnout risks and compare two budget allocation scenarios for our "
            "field program",
            "gemini",
            "gemini-2.5-pro",
        ),
        (
            "fix the spelling of this tweet: Vote Smith, the canidate who delivers",
            "local",
            "local-gguf",
        ),
        ("proofread: our rally starts at 6pm on saturday", "local", "local-gguf"),
        ("What are the main arguments for expanding early voting?", "gemini", "gemini-2.5-flash"),
        # The examples that the keyword rules sent to the wrong model.
        ("rewrite this tweet so it sounds warmer: We won't stop fighting for Ward 3 families.",
         "local", "local-gguf"),
        ("translate this line to Spanish: Polls open at 7am.", "local", "local-gguf"),
        ("extract the names from this text: Mayor Dana Cruz met Sen. Paul Ortiz and Rep. Lee "
         "Wong.", "local", "local-gguf"),
        ("write a two-sentence thank-you note to our volunteers", "local", "local-gguf"),
        ("has anyone reported problems at polling places in Fulton County since yesterday?",
         "perplexity", "sonar"),
        ("any new FEC filings from our opponent this month?", "perplexity", "sonar"),
    ],
)
def test_obvious_queries_get_the_obvious_primary(query: str, provider: str, model: str) -> None:
    primary = _classify(query).route[0]
    assert (primary.provider, primary.model) == (provider, model)


def test_live_question_that_asks_for_deep_analysis_goes_to_sonar_pro() -> None:
    classified = _classify(
        "Pull this week's new Arizona polls and analyze what they mean for our persuasion "
        "strategy and budget trade-offs"
    )
    assert classified.classification.needs_live_data
    assert classified.classification.deep_analysis
    assert (classified.route[0].provider, classified.route[0].model) == ("perplexity", "sonar-pro")
    assert any("deep analysis" in reason for reason in classified.classification.reasons)


def test_the_classification_records_tier_probabilities_and_router_version() -> None:
    classification = _classify("proofread: our rally starts at 6pm on saturday").classification
    assert classification.tier == "simple"
    assert set(classification.tier_probabilities) == {"simple", "standard", "complex", "live"}
    assert sum(classification.tier_probabilities.values()) == pytest.approx(1.0, abs=1e-3)
    probabilities = classification.tier_probabilities
    assert max(probabilities, key=lambda tier: probabilities[tier]) == "simple"
    assert (classification.router_version or "").startswith("tier-router-2-")
    assert classification.cost_sensitive


def test_every_route_fails_over_to_another_provider_and_ends_local_or_third() -> None:
    for text in [
        "latest polls in Arizona this week",
        "fix the spelling of this tweet",
        "Build a 3-phase persuasion strategy with trade-offs",
    ]:
        route = _classify(text).route
        assert route[1].provider != route[0].provider
        assert len({step.provider for step in route}) == 3
        assert all(step.reason for step in route)


def test_reasons_explain_the_decision() -> None:
    classification = _classify("latest polls in Arizona this week").classification
    p = classification.tier_probabilities["live"]
    assert classification.reasons[0].startswith("live tier")
    assert f"p={p:.2f}" in classification.reasons[0]
    assert any("latest" in reason for reason in classification.reasons)
    assert "live tier" in _classify("latest polls in Arizona this week").route[0].reason


def test_caller_can_force_live_data_off_and_restrict_providers() -> None:
    classified = _classify(
        "latest polls in Arizona this week", live_data=False, providers=["gemini", "local"]
    )
    assert not classified.classification.needs_live_data
    assert {step.provider for step in classified.route} <= {"gemini", "local"}


def test_caller_can_force_live_data_on() -> None:
    classified = _classify("fix the spelling of this tweet: canidate", live_data=True)
    assert classified.classification.tier == "live"
    assert classified.route[0].provider == "perplexity"
    assert any("requested by caller" in reason for reason in classified.classification.reasons)


def test_live_data_off_falls_back_to_the_likeliest_other_tier() -> None:
    question = "Who is leading the Pennsylvania Senate race right now?"
    classified = _classify(question, live_data=False)
    assert classified.classification.tier in {"simple", "standard", "complex"}
    assert not classified.classification.needs_live_data
    assert classified.route[0].provider != "perplexity"


def test_prefer_quality_and_cost_move_one_tier() -> None:
    question = "What are the main arguments for expanding early voting?"
    assert _classify(question, prefer="quality").route[0].model == "gemini-2.5-pro"
    assert _classify(question, prefer="cost").route[0].provider == "local"
    live = "latest polls in Arizona this week"
    assert _classify(live, prefer="quality").route[0].model == "sonar-pro"


LONG_PASTE = "Our canidate has fought for this county for twenty years. " * 120


def test_a_paste_too_long_for_the_local_window_is_not_routed_to_it_first() -> None:
    classified = classify(
        QueryRequested(query_id="q", query="fix the typos in the attached text", context=LONG_PASTE)
    )
    assert classified.route[0].provider != "local"
    assert classified.classification.tier == "standard"
    assert any("window" in reason for reason in classified.classification.reasons)


def test_prefer_cost_cannot_push_a_long_paste_onto_the_local_model() -> None:
    classified = classify(
        QueryRequested(
            query_id="q",
            query="What does this op-ed argue about early voting?",
            context=LONG_PASTE,
            options=QueryOptions(prefer="cost"),
        )
    )
    assert classified.route[0].provider != "local"
    assert "window" in classified.route[0].reason


def test_complexity_is_bounded_and_ordered() -> None:
    simple = extract_features("fix this typo").complexity
    hard = extract_features(
        "Develop a multi-phase persuasion strategy, compare scenarios, weigh trade-offs, "
        "allocate the budget and forecast turnout risks for each segment. " * 3
    ).complexity
    assert 0.0 <= simple < 0.3 < 0.55 <= hard <= 1.0


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("latest polls in Arizona", "polling"),
        ("draft talking points for the speech", "messaging"),
        ("what is our opponent's voting record on water", "opposition_research"),
        ("fix the grammar here", "editing"),
        ("plan our GOTV turnout operation", "strategy"),
        ("tell me about Arizona", "general"),
    ],
)
def test_analysis_type_inference(query: str, expected: str) -> None:
    assert infer_analysis_type(query) == expected


def test_explicit_analysis_type_wins() -> None:
    query = QueryRequested(query_id="q", query="latest polls", analysis_type="messaging")
    assert classify(query).classification.analysis_type == "messaging"


ADVERSARIAL_BYTES = 64 * 1024


@pytest.mark.parametrize(
    "body",
    [
        "\n" * ADVERSARIAL_BYTES,
        " \n" * (ADVERSARIAL_BYTES // 2),
        "1." * (ADVERSARIAL_BYTES // 2),
        "\n- " * (ADVERSARIAL_BYTES // 3),
        "\t" * ADVERSARIAL_BYTES + "x",
        "this " * (ADVERSARIAL_BYTES // 5),
    ],
    ids=["newlines", "space-newline", "numbering", "bullets", "tabs", "words"],
)
def test_adversarial_64kb_input_is_classified_well_within_a_second(body: str) -> None:
    """A regular expression with quadratic backtracking held the event loop for 5.6 s on
    40 KB of newlines, stalling everyone's queries; every feature must be linear."""
    classify(QueryRequested(query_id="warm", query="warm up the router"))
    started = time.perf_counter()
    extract_features(body, context_chars=0)
    infer_analysis_type(body)
    assert time.perf_counter() - started < 1.0
    started = time.perf_counter()  # and with the learned router in the loop
    classified = classify(QueryRequested(query_id="q", query=body[:20_000], context=body))
    assert time.perf_counter() - started < 1.0
    assert classified.route


def test_list_items_are_still_counted() -> None:
    text = "Plan:\n1. turnout\n  2) persuasion\n- mail\n* digital\n-not an item\n"
    assert extract_features(text).list_items == 4
