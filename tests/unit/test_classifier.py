"""Classifier rules and route building: the obvious cases must be right."""

from __future__ import annotations

import time

import pytest

from schemas.query import QueryOptions, QueryRequested
from services.classifier.features import extract_features, infer_analysis_type
from services.classifier.handler import classify


def _classify(text: str, **options: object):
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
    ],
)
def test_obvious_queries_get_the_obvious_primary(query: str, provider: str, model: str) -> None:
    primary = _classify(query).route[0]
    assert (primary.provider, primary.model) == (provider, model)


def test_live_and_complex_question_goes_to_sonar_pro() -> None:
    classified = _classify(
        "Given the latest polls this week, analyze our persuasion strategy and the trade-offs "
        "of moving budget to Maricopa"
    )
    assert classified.classification.needs_live_data
    assert (classified.route[0].provider, classified.route[0].model) == ("perplexity", "sonar-pro")


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
    assert any("latest" in reason for reason in classification.reasons)


def test_caller_can_force_live_data_off_and_restrict_providers() -> None:
    classified = _classify(
        "latest polls in Arizona this week", live_data=False, providers=["gemini", "local"]
    )
    assert not classified.classification.needs_live_data
    assert {step.provider for step in classified.route} <= {"gemini", "local"}


def test_prefer_quality_and_cost_move_one_tier() -> None:
    question = "What are the main arguments for expanding early voting?"
    assert _classify(question, prefer="quality").route[0].model == "gemini-2.5-pro"
    assert _classify(question, prefer="cost").route[0].provider == "local"


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
    started = time.perf_counter()
    extract_features(body, context_chars=0)
    infer_analysis_type(body)
    assert time.perf_counter() - started < 1.0


def test_list_items_are_still_counted() -> None:
    text = "Plan:\n1. turnout\n  2) persuasion\n- mail\n* digital\n-not an item\n"
    assert extract_features(text).list_items == 4
