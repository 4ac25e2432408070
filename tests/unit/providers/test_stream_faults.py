"""Every streaming fault, at the client level, for the google-genai and openai SDK clients.

The real SDKs run against the emulator in this process. Each client either returns the
whole answer or raises the typed error the dispatcher decides on, within its limit;
bounds on elapsed time are generous and only catch hangs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import cast

import httpx
import pytest

from providers.base import CompletionRequest, Provider, ProviderReply
from providers.errors import (
    ContentBlocked,
    ContextTooLong,
    FirstTokenTimeout,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    ServerError,
    StreamStalled,
    StreamTruncated,
)
from providers.gemini import GeminiProvider
from providers.openai_compatible import OpenAICompatibleProvider
from providers.perplexity import PerplexityProvider
from providers.settings import EMULATOR_PLACEHOLDER_KEY, ProviderSettings
from schemas.base import ProviderName

QUESTION = "Compare turnout and persuasion spending in Erie County, segment by segment"
HANG_GUARD_S = 10.0
"""No call here may take this long: the limits under test are all under 2 s."""
SHORT_LIMIT_S = 0.8

CLIENTS: dict[str, tuple[str, str]] = {
    # client -> (emulated provider whose mode is set, model)
    "gemini": ("gemini", "gemini-2.5-flash"),
    "perplexity": ("perplexity", "sonar"),
    "openai_compatible": ("openai", "gpt-4.1-mini"),
}


def make_client(kind: str, settings: ProviderSettings, *, stream: bool = True) -> Provider:
    if kind == "gemini":
        return GeminiProvider(settings=settings, stream=stream)
    if kind == "perplexity":
        return PerplexityProvider(settings=settings, stream=stream)
    return OpenAICompatibleProvider(
        name=cast(ProviderName, "openai"),
        base_url=f"{settings.emulator_url}/openai/v1",
        api_key=EMULATOR_PLACEHOLDER_KEY,
        emulated=True,
        stream=stream,
    )


def ask(kind: str, settings: ProviderSettings, *, stream: bool = True, **limits: float) -> object:
    """The reply, or the ProviderError raised; with the elapsed time in `ask.elapsed_s`."""
    model = CLIENTS[kind][1]
    request = CompletionRequest(
        prompt=QUESTION,
        model=model,
        max_output_tokens=1024,
        timeout_s=limits.pop("timeout_s", 5.0),
        **limits,  # type: ignore[arg-type]
    )

    async def go() -> object:
        provider = make_client(kind, settings, stream=stream)
        try:
            return await provider.complete(request)
        except ProviderError as err:
            return err
        finally:
            await provider.aclose()

    started = time.monotonic()
    outcome = asyncio.run(go())
    ask.elapsed_s = time.monotonic() - started  # type: ignore[attr-defined]
    assert ask.elapsed_s < HANG_GUARD_S  # type: ignore[attr-defined]
    return outcome


@pytest.fixture
def fault(emulator: str) -> Callable[..., None]:
    def set_(kind: str, mode: str, **options: float) -> None:
        provider = CLIENTS[kind][0]
        httpx.put(
            f"{emulator}/_control/providers/{provider}", json={"mode": mode, **options}, timeout=5
        ).raise_for_status()

    return set_


@pytest.fixture(scope="module")
def whole_answers(emulator_url: str) -> dict[str, str]:
    """Each client's answer with no fault, non-streamed: what every streamed answer must equal."""
    settings = ProviderSettings(emulator_url=emulator_url)
    answers = {}
    for kind in CLIENTS:
        reply = ask(kind, settings, stream=False)
        assert isinstance(reply, ProviderReply)
        answers[kind] = reply.text
    return answers


pytestmark = pytest.mark.parametrize("kind", list(CLIENTS))


def test_a_streamed_answer_is_whole_with_usage(kind, settings, whole_answers) -> None:
    reply = ask(kind, settings)
    assert isinstance(reply, ProviderReply), reply
    assert reply.text == whole_answers[kind]
    assert reply.complete and reply.finish_reason in ("STOP", "stop")
    assert reply.output_tokens > 0 and reply.input_tokens > 0
    assert reply.first_token_s is not None and reply.first_token_s <= ask.elapsed_s  # type: ignore[attr-defined]


def test_a_malformed_event_is_skipped_and_the_answer_kept(kind, settings, fault, whole_answers):
    fault(kind, "malformed", after_chunks=3)
    reply = ask(kind, settings)
    assert isinstance(reply, ProviderReply), reply
    assert reply.text == whole_answers[kind]


@pytest.mark.parametrize("stream", [True, False])
def test_a_cut_answer_is_never_a_success(kind, settings, fault, stream) -> None:
    fault(kind, "cut", after_chunks=3)
    err = ask(kind, settings, stream=stream)
    assert isinstance(err, ProviderUnavailable), err
    if stream:
        assert isinstance(err, StreamTruncated) and err.kind == "stream_truncated"
    assert err.retryable and err.fails_over


def test_a_stalled_stream_fails_at_the_stall_limit(kind, settings, fault) -> None:
    fault(kind, "stall", after_chunks=3)
    err = ask(kind, settings, stall_timeout_s=SHORT_LIMIT_S, timeout_s=8.0)
    assert isinstance(err, StreamStalled), err
    assert ask.elapsed_s < 4.0  # type: ignore[attr-defined]


def test_a_silent_upstream_fails_at_the_first_token_limit(kind, settings, fault) -> None:
    fault(kind, "hang")
    err = ask(kind, settings, first_token_timeout_s=SHORT_LIMIT_S, timeout_s=8.0)
    assert isinstance(err, FirstTokenTimeout) and err.kind == "first_token_timeout", err
    assert ask.elapsed_s < 4.0  # type: ignore[attr-defined]


def test_a_hung_upstream_fails_at_the_header_limit_long_before_the_first_token_limit(
    kind, settings, fault
) -> None:
    """A thinking model's first-token limit is long; no headers at all is a hang all the same."""
    fault(kind, "hang")
    err = ask(
        kind, settings, headers_timeout_s=SHORT_LIMIT_S, first_token_timeout_s=7.0, timeout_s=9.0
    )
    assert isinstance(err, FirstTokenTimeout) and err.fails_over, err
    assert "no response headers" in err.message
    assert ask.elapsed_s < 3.0  # type: ignore[attr-defined]


def test_a_slow_first_token_after_prompt_headers_is_not_a_hang(
    kind, settings, fault, whole_answers
) -> None:
    """The emulator sends headers at once and thinks before the first chunk, as Gemini does."""
    fault(kind, "slow_first_token", delay_s=2.0)
    reply = ask(
        kind, settings, headers_timeout_s=SHORT_LIMIT_S, first_token_timeout_s=6.0, timeout_s=8.0
    )
    assert isinstance(reply, ProviderReply), reply
    assert reply.text == whole_answers[kind]
    assert reply.first_token_s is not None and reply.first_token_s >= 1.9


def test_a_slow_first_token_fails_at_the_limit(kind, settings, fault) -> None:
    fault(kind, "slow_first_token", delay_s=5.0)
    err = ask(kind, settings, first_token_timeout_s=SHORT_LIMIT_S, timeout_s=8.0)
    assert isinstance(err, FirstTokenTimeout), err
    assert ask.elapsed_s < 4.0  # type: ignore[attr-defined]


def test_slow_is_not_failed_within_the_limit(kind, settings, fault, whole_answers) -> None:
    fault(kind, "slow_first_token", delay_s=1.0)
    reply = ask(kind, settings, first_token_timeout_s=4.0, stall_timeout_s=SHORT_LIMIT_S)
    assert isinstance(reply, ProviderReply), reply
    assert reply.text == whole_answers[kind]
    assert reply.first_token_s is not None and reply.first_token_s >= 0.9


def test_without_a_final_marker_the_answer_is_finished_promptly(
    kind, settings, fault, whole_answers
) -> None:
    """The emulator holds the connection open for a minute after the last chunk."""
    fault(kind, "no_final_marker")
    reply = ask(kind, settings, stall_timeout_s=3.0, timeout_s=8.0)
    assert isinstance(reply, ProviderReply), reply
    assert reply.text == whole_answers[kind]
    assert ask.elapsed_s < 2.5  # type: ignore[attr-defined]


def test_error_once_is_a_500_then_an_answer(kind, settings, fault) -> None:
    fault(kind, "error_once")
    err = ask(kind, settings)
    assert isinstance(err, ServerError) and err.status == 500, err
    assert isinstance(ask(kind, settings), ProviderReply)


@pytest.mark.parametrize("mode", ["unavailable", "down"])
def test_unavailable_is_a_503_every_time(kind, settings, fault, mode) -> None:
    fault(kind, mode)
    for _ in range(2):
        err = ask(kind, settings)
        assert isinstance(err, ServerError) and err.status == 503, err


def test_a_reset_connection_is_unavailable(kind, settings, fault) -> None:
    fault(kind, "reset")
    err = ask(kind, settings)
    assert isinstance(err, ProviderUnavailable) and not isinstance(err, ServerError), err


def test_rate_limit_carries_the_configured_retry_after(kind, settings, fault) -> None:
    fault(kind, "rate_limit", retry_after_s=2.5)
    err = ask(kind, settings)
    assert isinstance(err, RateLimited) and err.retry_after_s == pytest.approx(2.5), err


def test_context_too_long_in_the_providers_own_shape(kind, settings, fault) -> None:
    fault(kind, "context_too_long")
    err = ask(kind, settings)
    assert isinstance(err, ContextTooLong) and err.fails_over, err


@pytest.mark.parametrize("stream", [True, False])
def test_a_content_filter_refusal_does_not_fail_over(kind, settings, fault, stream) -> None:
    fault(kind, "content_filter")
    err = ask(kind, settings, stream=stream)
    assert isinstance(err, ContentBlocked) and not err.fails_over, err


def test_a_hung_non_streamed_call_is_bounded_by_its_total(kind, settings, fault) -> None:
    fault(kind, "stall")
    err = ask(kind, settings, stream=False, timeout_s=SHORT_LIMIT_S)
    assert isinstance(err, ProviderTimeout), err
    assert ask.elapsed_s < 4.0  # type: ignore[attr-defined]
