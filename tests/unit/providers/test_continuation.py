"""An assistant prefill through each client, the real SDKs against the emulator: a client
continues the shown beginning the provider's own way, or the provider refuses it."""

from __future__ import annotations

import asyncio

import pytest

from providers.base import CompletionRequest, ProviderReply
from providers.errors import BadRequest, ProviderError, StreamTruncated
from tests.unit.providers.test_stream_faults import CLIENTS, QUESTION, make_client


def _ask(kind: str, settings, prefix: str = "", pieces: list[str] | None = None):
    request = CompletionRequest(
        prompt=QUESTION, model=CLIENTS[kind][1], max_output_tokens=1024, timeout_s=5.0,
        prefix=prefix, on_text=None if pieces is None else pieces.append,
    )  # fmt: skip

    async def go():
        provider = make_client(kind, settings)
        try:
            return await provider.complete(request)
        except ProviderError as err:
            return err
        finally:
            await provider.aclose()

    return asyncio.run(go())


@pytest.mark.parametrize("kind", ["gemini", "openai_compatible"])
def test_a_prefill_is_continued_with_exactly_the_rest_of_the_answer(kind, settings) -> None:
    whole = _ask(kind, settings)
    assert isinstance(whole, ProviderReply)
    prefix = whole.text[: len(whole.text) // 3]
    pieces: list[str] = []
    rest = _ask(kind, settings, prefix, pieces)
    assert isinstance(rest, ProviderReply), rest
    assert prefix + rest.text == whole.text  # nothing repeated, nothing missing
    assert "".join(pieces) == rest.text
    assert rest.output_tokens < whole.output_tokens
    assert rest.input_tokens > whole.input_tokens  # the prefix is paid as input


def test_a_prefill_that_is_the_whole_answer_is_continued_with_nothing(settings) -> None:
    whole = _ask("gemini", settings)
    assert isinstance(whole, ProviderReply)
    rest = _ask("gemini", settings, whole.text)
    assert isinstance(rest, ProviderReply) and rest.text == ""


def test_another_model_s_beginning_gets_a_short_continuation(settings) -> None:
    rest = _ask("gemini", settings, "[emulated gemini-2.5-pro] On the plan: phase one is")
    assert isinstance(rest, ProviderReply) and 0 < len(rest.text) < 200


def test_perplexity_refuses_a_prefill_as_its_api_does(settings) -> None:
    refused = _ask("perplexity", settings, "The plan has")
    assert isinstance(refused, BadRequest)
    assert "Last message must have role `user`" in str(refused)


def test_fault_injection_still_applies_to_a_continuation(settings, set_mode) -> None:
    set_mode("gemini", "cut")
    cut = _ask("gemini", settings, "[emulated gemini-2.5-flash] On")
    assert isinstance(cut, StreamTruncated)


def test_a_malformed_event_in_a_live_stream_is_skipped_and_the_pieces_add_up(
    settings, set_mode
) -> None:
    set_mode("gemini", "malformed")
    pieces: list[str] = []
    reply = _ask("gemini", settings, pieces=pieces)
    assert isinstance(reply, ProviderReply)
    assert "".join(pieces) == reply.text and len(pieces) > 1
