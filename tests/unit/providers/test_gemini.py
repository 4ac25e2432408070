"""GeminiProvider through the real google-genai SDK against the emulator, and its error mapping."""

from __future__ import annotations

import asyncio
import math
import time

import httpx
import httpx2
import pytest
from google.genai import errors as genai_errors

from harness.processes import free_port
from providers.base import CompletionRequest
from providers.catalogue import DEFAULT_CATALOGUE, GEMINI_FLASH, GEMINI_PRO
from providers.errors import (
    AuthenticationFailed,
    BadRequest,
    ContextTooLong,
    ModelNotFound,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    ServerError,
)
from providers.gemini import GeminiProvider
from providers.settings import ProviderSettings
from tests.unit.providers.conftest import FAKE_GEMINI_KEY, KeyedEmulatorSettings

QUESTION = "Build a 3-phase persuasion strategy from these crosstabs, with trade-offs"
SYSTEM = "You are an analyst for a campaign."
FAULT_TIMEOUT_S = 1.5
"""Long enough for a first call on a loaded machine; short of `slow` and `hang`."""


def request(model: str = GEMINI_FLASH, timeout_s: float = 3.0, **kw) -> CompletionRequest:
    fields = {"prompt": QUESTION, "model": model, "max_output_tokens": 2048, "system": SYSTEM}
    fields.update(kw)
    return CompletionRequest(timeout_s=timeout_s, **fields)


async def _complete(settings: ProviderSettings, req: CompletionRequest):
    provider = GeminiProvider(settings=settings)
    try:
        return await provider.complete(req)
    finally:
        await provider.aclose()


async def _probe(settings: ProviderSettings, timeout_s: float) -> None:
    provider = GeminiProvider(settings=settings)
    try:
        await provider.probe(timeout_s)
    finally:
        await provider.aclose()


def failure(call, settings: ProviderSettings, timeout_s: float = 3.0) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        if call == "complete":
            asyncio.run(_complete(settings, request(timeout_s=timeout_s)))
        else:
            asyncio.run(_probe(settings, timeout_s))
    return caught.value


def test_pro_answer_usage_and_certainty(settings):
    reply = asyncio.run(_complete(settings, request(GEMINI_PRO)))
    assert reply.text.startswith("[emulated gemini-2.5-pro]")
    assert "persuasion strategy" in reply.text
    assert reply.model == GEMINI_PRO
    assert reply.finish_reason == "STOP"
    assert reply.input_tokens == math.ceil(len(QUESTION) / 4) + math.ceil(len(SYSTEM) / 4)
    answer_tokens = math.ceil(len(reply.text) / 4)
    assert 350 <= answer_tokens <= 600
    assert reply.output_tokens > answer_tokens, "2.5 Pro's thinking tokens are billed as output"
    assert reply.avg_logprob is not None and -0.6 <= reply.avg_logprob <= -0.05
    assert reply.citations == ()
    cost = DEFAULT_CATALOGUE.get("gemini", GEMINI_PRO).cost_usd(
        reply.input_tokens, reply.output_tokens
    )
    assert 0.003 < cost < 0.02


def test_flash_answer_is_shorter_and_deterministic(settings):
    first = asyncio.run(_complete(settings, request(GEMINI_FLASH)))
    again = asyncio.run(_complete(settings, request(GEMINI_FLASH)))
    pro = asyncio.run(_complete(settings, request(GEMINI_PRO)))
    assert first == again
    assert first.text.startswith("[emulated gemini-2.5-flash]")
    assert first.output_tokens == math.ceil(len(first.text) / 4)
    assert len(first.text) < len(pro.text)


def test_max_output_tokens_truncates(settings):
    reply = asyncio.run(_complete(settings, request(GEMINI_FLASH, max_output_tokens=20)))
    assert reply.finish_reason == "MAX_TOKENS"
    assert reply.output_tokens <= 20


def test_probe_succeeds_and_is_counted_as_probe(settings, emulator):
    asyncio.run(_probe(settings, 1.0))
    counts = httpx.get(f"{emulator}/_control/requests", params={"provider": "gemini"}).json()
    assert counts["gemini"]["by_endpoint"] == {"probe": 1}


def test_client_is_emulated_and_lazy(settings):
    provider = GeminiProvider(settings=settings)
    assert provider.name == "gemini"
    assert provider.emulated is True
    assert provider._client is None  # nothing built, nothing connected


FAULTS = [
    ("down", ServerError, "server_error"),
    ("error", ServerError, "server_error"),
    ("rate_limit", RateLimited, "rate_limited"),
    ("bad_request", BadRequest, "bad_request"),
    ("hang", ProviderTimeout, "timeout"),
    ("slow", ProviderTimeout, "timeout"),
]


@pytest.mark.parametrize("call", ["complete", "probe"])
@pytest.mark.parametrize(("mode", "error_class", "kind"), FAULTS)
def test_fault_modes_map_to_the_error_tree(settings, set_mode, call, mode, error_class, kind):
    set_mode("gemini", mode)
    started = time.monotonic()
    err = failure(call, settings, timeout_s=FAULT_TIMEOUT_S)
    assert type(err) is error_class
    assert err.kind == kind
    assert err.provider == "gemini"
    assert time.monotonic() - started < FAULT_TIMEOUT_S + 1.0
    if mode == "rate_limit":
        assert isinstance(err, RateLimited) and err.retry_after_s == 1.0
    assert err.__cause__ is not None, "translated with `raise ... from err`"


@pytest.mark.parametrize("mode", ["ok", "down", "error", "rate_limit", "bad_request"])
def test_api_key_never_in_error_messages(keyed_settings, set_mode, mode):
    set_mode("gemini", mode)
    settings = KeyedEmulatorSettings(
        gemini_api_key=FAKE_GEMINI_KEY + ("invalid" if mode == "ok" else ""),
        emulator_url=keyed_settings.emulator_url,
    )
    err = failure("complete", settings)
    if mode == "ok":
        assert isinstance(err, AuthenticationFailed)
    assert FAKE_GEMINI_KEY not in str(err)
    assert FAKE_GEMINI_KEY not in err.message


def test_unknown_model_is_a_bad_request(settings):
    with pytest.raises(ModelNotFound, match="404"):
        asyncio.run(_complete(settings, request("palm-imaginary")))


def test_connection_refused_is_unavailable():
    closed = ProviderSettings(emulator_url=f"http://127.0.0.1:{free_port()}")
    assert type(failure("complete", closed)) is ProviderUnavailable
    assert type(failure("probe", closed)) is ProviderUnavailable


def _translate(err: Exception) -> ProviderError:
    settings = KeyedEmulatorSettings(gemini_api_key=FAKE_GEMINI_KEY)
    return GeminiProvider(settings=settings)._translate(err, timeout_s=4.0)


def _api_error(code: int, status: str, message: str, details=None) -> genai_errors.APIError:
    body = {"error": {"code": code, "status": status, "message": message}}
    if details:
        body["error"]["details"] = details
    cls = genai_errors.ClientError if code < 500 else genai_errors.ServerError
    return cls(code, body, None)


REQ = httpx2.Request("POST", "http://gemini.test/v1beta/models/x:generateContent")

TRANSLATIONS = [
    (_api_error(400, "INVALID_ARGUMENT", "bad field"), BadRequest),
    (
        _api_error(
            400,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
            [{"reason": "API_KEY_INVALID"}],
        ),
        AuthenticationFailed,
    ),
    (_api_error(403, "PERMISSION_DENIED", "no identity"), AuthenticationFailed),
    (_api_error(404, "NOT_FOUND", "models/x is not found"), ModelNotFound),
    (
        _api_error(
            400,
            "INVALID_ARGUMENT",
            "The input token count (2000000) exceeds the "
            "maximum number of tokens allowed (1048576).",
        ),
        ContextTooLong,
    ),
    (_api_error(429, "RESOURCE_EXHAUSTED", "quota"), RateLimited),
    (_api_error(500, "INTERNAL", "oops"), ServerError),
    (_api_error(503, "UNAVAILABLE", "overloaded"), ServerError),
    (_api_error(504, "DEADLINE_EXCEEDED", "slow"), ServerError),
    (httpx2.ConnectError("refused", request=REQ), ProviderUnavailable),
    (httpx2.ReadTimeout("read timed out", request=REQ), ProviderTimeout),
    (httpx.ConnectTimeout("connect timed out"), ProviderTimeout),
    (TimeoutError(), ProviderTimeout),
    (ConnectionResetError("reset"), ProviderUnavailable),
    (ValueError("malformed response"), ProviderUnavailable),
]


@pytest.mark.parametrize(("sdk_error", "expected"), TRANSLATIONS)
def test_translation_table(sdk_error, expected):
    assert type(_translate(sdk_error)) is expected


def test_retry_delay_read_from_retry_info_detail():
    err = _api_error(
        429,
        "RESOURCE_EXHAUSTED",
        "quota",
        [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "17s"}],
    )
    translated = _translate(err)
    assert isinstance(translated, RateLimited) and translated.retry_after_s == 17.0


@pytest.mark.parametrize(
    "sdk_error",
    [
        _api_error(400, "INVALID_ARGUMENT", f"API key {FAKE_GEMINI_KEY} not valid"),
        ValueError(f"https://x.test/v1beta/models?key={FAKE_GEMINI_KEY}"),
        httpx2.ConnectError(f"cannot reach with {FAKE_GEMINI_KEY}", request=REQ),
    ],
)
def test_key_redacted_even_when_the_sdk_error_contains_it(sdk_error):
    translated = _translate(sdk_error)
    assert FAKE_GEMINI_KEY not in str(translated)
