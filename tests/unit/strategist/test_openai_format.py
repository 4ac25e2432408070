"""Pure parts of the OpenAI-compatible endpoint: messages to query and context, the text cut
into stream deltas, finish reasons, and the error body shape."""

from __future__ import annotations

import pytest

from strategist.errors import ApiError
from strategist.openai_api.errors import OpenAIError
from strategist.openai_api.format import finish_reason, text_pieces
from strategist.openai_api.request import parse_chat_request, to_analysis_request


def _analysis(messages: list[dict[str, object]], **fields: object):  # type: ignore[no-untyped-def]
    return to_analysis_request(
        parse_chat_request({"model": "auto", "messages": messages, **fields}), "c1"
    )


def test_the_last_user_message_is_the_query_and_the_rest_the_context_in_order() -> None:
    analysis = _analysis(
        [
            {"role": "developer", "content": "Answer in French."},
            {"role": "user", "content": "First question", "name": "ana"},
            {"role": "assistant", "content": "First answer"},
            {"role": "user", "content": "Second question"},
            {"role": "assistant", "content": "Prefill:"},
        ]
    )
    assert analysis.query == "Second question"
    assert analysis.campaign_id == "c1"
    assert analysis.context == (
        "Developer: Answer in French.\n\nUser (ana): First question\n\n"
        "Assistant: First answer\n\nAssistant: Prefill:"
    )


def test_a_single_user_message_has_no_context_and_text_parts_are_joined() -> None:
    parts = [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    analysis = _analysis([{"role": "user", "content": parts}])
    assert analysis.query == "a\nb"
    assert analysis.context is None


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, None),
        ({"max_tokens": 200}, 200),
        ({"max_completion_tokens": 300, "max_tokens": 200}, 300),
        ({"max_tokens": 1}, 16),
        ({"max_tokens": 100_000}, 8192),
    ],
)
def test_max_tokens_become_the_output_limit_within_the_pipelines_bounds(
    fields: dict[str, object], expected: int | None
) -> None:
    analysis = _analysis([{"role": "user", "content": "q"}], **fields)
    assert analysis.options.max_output_tokens == expected


def test_ignored_parameters_and_unknown_fields_are_accepted() -> None:
    analysis = _analysis(
        [{"role": "user", "content": "q"}],
        temperature=0.2, top_p=0.9, seed=3, stop=["\n"], user="u", n=1, logprobs=False,
        tool_choice="none", response_format={"type": "text"}, some_future_field={"x": 1},
    )
    assert analysis.query == "q"
    assert analysis.options.model is None


@pytest.mark.parametrize(
    "text",
    ["", "one", "  leading and trailing  ", "a\n\nb\tc " * 40, "x" * 200, "mixed  spacing\n" * 9],
)
def test_stream_pieces_join_to_exactly_the_text(text: str) -> None:
    pieces = text_pieces(text, size=16)
    assert "".join(pieces) == text
    assert all(pieces)


def test_stream_pieces_never_split_a_word() -> None:
    text = "alpha beta gamma delta epsilon zeta eta theta"
    words = set(text.split())
    for piece in text_pieces(text, size=12):
        assert set(piece.split()) <= words


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, "stop"), ("STOP", "stop"), ("MAX_TOKENS", "length"), ("length", "length"),
     ("SAFETY", "content_filter"), ("something_new", "stop")],
)
def test_provider_finish_reasons_in_openai_terms(raw: str | None, expected: str) -> None:
    assert finish_reason(raw) == expected


def test_a_strategist_api_error_becomes_openais_shape_and_422_becomes_400() -> None:
    err = OpenAIError.from_api_error(
        ApiError(422, "validation_error", "query: too long", field="query")
    )
    assert err.status == 400
    assert err.body() == {
        "error": {
            "message": "query: too long",
            "type": "invalid_request_error",
            "param": "query",
            "code": "validation_error",
        }
    }
    limited = OpenAIError.from_api_error(
        ApiError(429, "rate_limited", "slow down", headers={"Retry-After": "3"})
    )
    assert limited.body()["error"]["type"] == "rate_limit_error"
    assert limited.headers == {"Retry-After": "3"}
