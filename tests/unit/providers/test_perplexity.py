"""PerplexityProvider through the real openai SDK against the emulator, and its error mapping."""

from __future__ import annotations

import asyncio
import math
import threading
import time

import httpx
import httpx2
import openai
import pytest

from emulator import create_app
from emulator.server import make_server
from harness.processes import free_port
from providers.base import CompletionRequest, SourceRef
from providers.catalogue import DEFAULT_CATALOGUE, SONAR, SONAR_PRO
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
from providers.perplexity import PerplexityProvider, citations_from
from providers.settings import ProviderSettings
from tests.unit.providers.conftest import FAKE_PERPLEXITY_KEY, KeyedEmulatorSettings

QUESTION = "latest polls in Arizona this week"
SYSTEM = "You are an analyst for a campaign."
FAULT_TIMEOUT_S = 1.5
"""Long enough for a first call on a loaded machine; short of `slow` and `hang`."""


def request(model: str = SONAR, timeout_s: float = 3.0, **kw) -> CompletionRequest:
    fields = {"prompt": QUESTION, "model": model, "max_output_tokens": 1024, "system": SYSTEM}
    fields.update(kw)
    return CompletionRequest(timeout_s=timeout_s, **fields)


async def _complete(settings: ProviderSettings, req: CompletionRequest):
    provider = PerplexityProvider(settings=settings)
    try:
        return await provider.complete(req)
    finally:
        await provider.aclose()


async def _probe(settings: ProviderSettings, timeout_s: float) -> None:
    provider = PerplexityProvider(settings=settings)
    try:
        await provider.probe(timeout_s)
    finally:
        await provider.aclose()


def failure(call: str, settings: ProviderSettings, timeout_s: float = 3.0) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        if call == "complete":
            asyncio.run(_complete(settings, request(timeout_s=timeout_s)))
        else:
            asyncio.run(_probe(settings, timeout_s))
    return caught.value


def test_sonar_answer_keeps_citations_and_search_results(settings, emulator):
    reply = asyncio.run(_complete(settings, request(SONAR)))
    raw = httpx.post(
        f"{emulator}/chat/completions",
        headers={"Authorization": "Bearer x"},
        json={
            "model": SONAR,
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": QUESTION},
            ],
            "max_tokens": 1024,
        },
    ).json()
    assert reply.text == raw["choices"][0]["message"]["content"]
    assert reply.text.startswith("[emulated sonar]")
    assert "Arizona" in reply.text
    assert [c.url for c in reply.citations] == raw["citations"]
    by_url = {r["url"]: r for r in raw["search_results"]}
    for ref in reply.citations:
        assert ref.title == by_url[ref.url]["title"]
        assert ref.date == by_url[ref.url]["date"]
    assert any("azsos.gov" in c.url for c in reply.citations), "state office for Arizona"
    assert 4 <= len(reply.citations) <= 6
    assert reply.search_queries == 1
    assert reply.avg_logprob is None
    assert reply.finish_reason == "stop"
    assert reply.input_tokens == raw["usage"]["prompt_tokens"]
    assert reply.output_tokens == raw["usage"]["completion_tokens"]
    assert reply.output_tokens == math.ceil(len(reply.text) / 4)


def test_sonar_pro_costs_tokens_plus_request_fee(settings):
    reply = asyncio.run(_complete(settings, request(SONAR_PRO)))
    spec = DEFAULT_CATALOGUE.get("perplexity", SONAR_PRO)
    cost = spec.cost_usd(reply.input_tokens, reply.output_tokens)
    expected = reply.input_tokens * 3.0 / 1e6 + reply.output_tokens * 15.0 / 1e6 + 0.006
    assert cost == pytest.approx(expected)
    assert 6 <= len(reply.citations) <= 9
    assert reply.text.startswith("[emulated sonar-pro]")


def test_probe_is_a_one_token_completion(settings, emulator):
    asyncio.run(_probe(settings, 1.0))
    counts = httpx.get(f"{emulator}/_control/requests", params={"provider": "perplexity"}).json()
    assert counts["perplexity"]["by_endpoint"] == {"chat": 1}


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
    set_mode("perplexity", mode)
    started = time.monotonic()
    err = failure(call, settings, timeout_s=FAULT_TIMEOUT_S)
    assert type(err) is error_class
    assert err.kind == kind
    assert err.provider == "perplexity"
    assert time.monotonic() - started < FAULT_TIMEOUT_S + 1.0
    if mode == "rate_limit":
        assert isinstance(err, RateLimited) and err.retry_after_s == 1.0
    assert err.__cause__ is not None


@pytest.mark.parametrize("mode", ["ok", "down", "error", "rate_limit", "bad_request"])
def test_api_key_never_in_error_messages(keyed_settings, set_mode, mode):
    set_mode("perplexity", mode)
    settings = KeyedEmulatorSettings(
        perplexity_api_key=FAKE_PERPLEXITY_KEY + ("invalid" if mode == "ok" else ""),
        emulator_url=keyed_settings.emulator_url,
    )
    err = failure("complete", settings)
    if mode == "ok":
        assert isinstance(err, AuthenticationFailed)
    assert FAKE_PERPLEXITY_KEY not in str(err)


def test_unknown_model_is_a_bad_request(settings):
    with pytest.raises(BadRequest, match="Invalid model"):
        asyncio.run(_complete(settings, request("sonar-imaginary")))


def test_too_long_prompt_is_context_too_long(settings):
    with pytest.raises(ContextTooLong):
        asyncio.run(_complete(settings, request(SONAR, prompt="vote " * 110_000)))


def test_connection_refused_is_unavailable():
    closed = ProviderSettings(emulator_url=f"http://127.0.0.1:{free_port()}")
    assert type(failure("complete", closed)) is ProviderUnavailable
    assert type(failure("probe", closed)) is ProviderUnavailable


REQ = httpx2.Request("POST", "https://api.perplexity.ai/chat/completions")


def _status(cls: type[openai.APIStatusError], code: int, message: str, headers=None):
    body = {"error": {"message": message, "type": "x", "code": code}}
    response = httpx2.Response(code, request=REQ, json=body, headers=headers or {})
    return cls(message, response=response, body=body["error"])


TRANSLATIONS = [
    (openai.APITimeoutError(request=REQ), ProviderTimeout),
    (openai.APIConnectionError(request=REQ), ProviderUnavailable),
    (_status(openai.RateLimitError, 429, "slow down", {"retry-after": "3"}), RateLimited),
    (_status(openai.AuthenticationError, 401, "bad key"), AuthenticationFailed),
    (_status(openai.PermissionDeniedError, 403, "forbidden"), AuthenticationFailed),
    (_status(openai.BadRequestError, 400, "invalid messages"), BadRequest),
    (_status(openai.BadRequestError, 400, "maximum context length is 128000"), ContextTooLong),
    (_status(openai.NotFoundError, 404, "no such route"), ModelNotFound),
    (_status(openai.UnprocessableEntityError, 422, "bad field"), BadRequest),
    (_status(openai.InternalServerError, 500, "boom"), ServerError),
    (_status(openai.InternalServerError, 503, "down"), ServerError),
    (_status(openai.APIStatusError, 408, "request timeout"), ProviderTimeout),
    (httpx2.ReadTimeout("read timed out", request=REQ), ProviderTimeout),
    (TimeoutError(), ProviderTimeout),
    (ValueError("unexpected"), ProviderUnavailable),
]


def _translate(err: Exception) -> ProviderError:
    settings = KeyedEmulatorSettings(perplexity_api_key=FAKE_PERPLEXITY_KEY)
    return PerplexityProvider(settings=settings)._translate(err, timeout_s=4.0)


@pytest.mark.parametrize(("sdk_error", "expected"), TRANSLATIONS)
def test_translation_table(sdk_error, expected):
    assert type(_translate(sdk_error)) is expected


def test_retry_after_header_is_kept():
    err = _translate(_status(openai.RateLimitError, 429, "slow down", {"retry-after": "3"}))
    assert isinstance(err, RateLimited) and err.retry_after_s == 3.0
    err = _translate(_status(openai.RateLimitError, 429, "slow", {"retry-after-ms": "250"}))
    assert isinstance(err, RateLimited) and err.retry_after_s == 0.25


def test_key_redacted_even_when_the_sdk_error_contains_it():
    err = _status(openai.AuthenticationError, 401, f"Invalid API key {FAKE_PERPLEXITY_KEY}")
    assert FAKE_PERPLEXITY_KEY not in str(_translate(err))


def test_citations_merge_urls_with_search_result_details():
    refs = citations_from(
        ["https://a.test/1", "https://b.test/2", "https://a.test/1", 42],
        [
            {"url": "https://b.test/2", "title": "B", "date": "2025-10-01"},
            {"url": "https://c.test/3", "title": "C"},
            {"title": "no url"},
            "garbage",
        ],
    )
    assert refs == (
        SourceRef(url="https://a.test/1"),
        SourceRef(url="https://b.test/2", title="B", date="2025-10-01"),
        SourceRef(url="https://c.test/3", title="C"),
    )
    assert citations_from(None, None) == ()


def test_streamed_calls_reuse_one_connection():
    """Each stream is read to its end, so the next call finds its connection in the pool
    (closed mid-way, every call paid a new TCP, and with a real provider TLS, set-up)."""
    server = make_server(create_app(), "127.0.0.1", 0)
    accepted = []
    get_request = server.get_request

    def counting_get_request():  # type: ignore[no-untyped-def]
        connection = get_request()
        accepted.append(connection)
        return connection

    server.get_request = counting_get_request  # type: ignore[method-assign]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"

        async def three_calls() -> list[str]:
            provider = PerplexityProvider(settings=ProviderSettings(emulator_url=url))
            try:
                return [(await provider.complete(request())).text for _ in range(3)]
            finally:
                await provider.aclose()

        answers = asyncio.run(three_calls())
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert all(answers)
    assert len(accepted) == 1
