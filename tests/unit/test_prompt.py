"""The prompt's text helpers (`core/prompt.py`) and the local window rule they feed
(`services/classifier/local_window.py`): one serialisation of the context, two
characters-per-token rates, one rule for an input too long for the local model."""

from __future__ import annotations

import json

import pytest

from core.prompt import (
    CAUTIOUS_CHARS_PER_TOKEN,
    TYPICAL_CHARS_PER_TOKEN,
    build_prompt,
    context_text,
    estimated_tokens,
)
from schemas.parts import TIERS, Tier
from schemas.query import QueryRequested
from services.classifier.local_window import LOCAL_INPUT_TOKENS, keep_off_local


@pytest.mark.parametrize(
    ("context", "text"),
    [
        (None, ""),
        ("", ""),
        ("notes as given\n", "notes as given\n"),
        ({"state": "AZ", "weeks": 3}, '{"state": "AZ", "weeks": 3}'),
        ({"name": "Núñez"}, json.dumps({"name": "Núñez"})),
    ],
)
def test_context_text_is_the_context_as_given_or_as_json(context: object, text: str) -> None:
    query = QueryRequested.model_validate({"query_id": "q", "query": "x", "context": context})
    assert context_text(query) == text


@pytest.mark.parametrize("context", [None, "", "AZ only", {"state": "AZ"}])
def test_the_prompt_appends_the_same_context_text(context: object) -> None:
    query = QueryRequested.model_validate({"query_id": "q", "query": "Q?", "context": context})
    expected = "Q?" if context is None else f"Q?\n\nContext:\n{context_text(query)}"
    assert build_prompt(query) == expected


@pytest.mark.parametrize(("chars", "tokens"), [(0, 0), (1, 1), (3, 1), (4, 2), (3000, 1000)])
def test_estimated_tokens_round_up_at_the_cautious_rate(chars: int, tokens: int) -> None:
    assert estimated_tokens(chars) == tokens


def test_the_cautious_rate_counts_more_tokens_than_the_typical_one() -> None:
    assert CAUTIOUS_CHARS_PER_TOKEN < TYPICAL_CHARS_PER_TOKEN


@pytest.mark.parametrize("tier", TIERS)
def test_an_input_that_fits_keeps_its_tier(tier: Tier) -> None:
    assert keep_off_local(tier, LOCAL_INPUT_TOKENS) == tier


@pytest.mark.parametrize(
    ("tier", "kept"),
    [("simple", "standard"), ("standard", "standard"), ("complex", "complex"), ("live", "live")],
)
def test_an_input_too_long_for_the_local_window_leaves_only_the_simple_tier(
    tier: Tier, kept: Tier
) -> None:
    assert keep_off_local(tier, LOCAL_INPUT_TOKENS + 1) == kept
