"""LocalProvider and the local model server: prompt shape, failures, and one real answer."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path

import pytest

from harness.processes import free_port
from providers.base import CompletionRequest
from providers.catalogue import DEFAULT_CATALOGUE, LOCAL_MODEL
from providers.errors import BadRequest, ProviderError, ProviderTimeout, ProviderUnavailable
from providers.local import DEFAULT_MODEL_FILE, LocalProvider, base_model_prompt
from providers.local_server import (
    GEMMA,
    LocalServerSettings,
    gemma_path,
    resolve_model_path,
    server_argv,
)
from providers.settings import ProviderSettings
from tests.support.local_model_server import running_local_model_server

TWEET = "Fix the spelling of this tweet: 'Vote for Maria on Tusday, polls open at 7am!'"


def _request(timeout_s: float = 60.0, max_tokens: int | None = None) -> CompletionRequest:
    spec = DEFAULT_CATALOGUE.get("local", LOCAL_MODEL)
    return CompletionRequest(
        prompt=TWEET,
        model=LOCAL_MODEL,
        max_output_tokens=max_tokens or spec.max_output_tokens,
        timeout_s=timeout_s,
        system="You are an analyst for a political campaign's strategy team.",
    )


def test_prompt_is_question_answer_with_one_example():
    prompt = base_model_prompt("  Fix this  ", "Be precise.")
    assert prompt.startswith("Be precise.\n\n")
    assert prompt.endswith("Question: Fix this\nAnswer:")
    assert prompt.count("Question:") == 2
    assert base_model_prompt("Q", None).startswith("Question: Fix the grammar")


def test_model_file_from_settings():
    assert LocalProvider(settings=ProviderSettings()).model_file == DEFAULT_MODEL_FILE
    custom = ProviderSettings(local_model_path="/models/llama-3.1-8b-q4.gguf")
    provider = LocalProvider(settings=custom)
    assert provider.model_file == "llama-3.1-8b-q4.gguf"
    assert provider.emulated is False and provider.name == "local"


def test_unreachable_server_is_unavailable():
    settings = ProviderSettings(local_model_url=f"http://127.0.0.1:{free_port()}/v1")

    async def run(call: str) -> None:
        provider = LocalProvider(settings=settings)
        try:
            if call == "complete":
                await provider.complete(_request(timeout_s=2.0))
            else:
                await provider.probe(1.0)
        finally:
            await provider.aclose()

    for call in ("complete", "probe"):
        with pytest.raises(ProviderUnavailable, match="unreachable"):
            asyncio.run(run(call))


def test_configured_gguf_path_is_used(tmp_path: Path):
    gguf = tmp_path / "llama.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve_model_path(ProviderSettings(local_model_path=str(gguf))) == gguf
    with pytest.raises(FileNotFoundError):
        resolve_model_path(ProviderSettings(local_model_path=str(tmp_path / "missing.gguf")))


def test_builtin_gemma_is_assembled_once_then_remembered():
    path = resolve_model_path(ProviderSettings(local_model_path=None), GEMMA)
    assert path.name == "gemma-3-270m-q4_k_m.gguf"
    assert path.stat().st_size > 200_000_000
    started = time.monotonic()
    assert resolve_model_path(ProviderSettings(local_model_path=None), GEMMA) == path
    assert time.monotonic() - started < 1.0, "verified once, then remembered by its stamp"


def test_server_command_line():
    argv = server_argv(Path("/m.gguf"), LocalServerSettings(host="0.0.0.0", port=9000))
    assert argv[1:3] == ["-m", "providers.local_logprobs"]
    joined = " ".join(argv)
    assert "--model /m.gguf" in joined and "--host 0.0.0.0" in joined
    assert "--port 9000" in joined and "--n_ctx 2048" in joined
    assert "--logits_all False" in joined, "llama-cpp's server turns logits_all on by default"


def _ask_real_server(base_url: str, **settings: str):
    async def ask():
        provider = LocalProvider(settings=ProviderSettings(local_model_url=base_url, **settings))
        try:
            await provider.probe(5.0)
            started = time.monotonic()
            reply = await provider.complete(_request())
            latency = time.monotonic() - started
            with pytest.raises(ProviderError) as caught:
                await provider.complete(_request(timeout_s=0.01))
            return provider, await provider.prompt_format(), reply, latency, caught.value
        finally:
            await provider.aclose()

    return asyncio.run(ask())


def _assert_real_reply(reply, latency: float, timeout_error: ProviderError) -> None:
    assert reply.text.strip()
    assert reply.model == LOCAL_MODEL
    assert reply.input_tokens > 20
    assert 0 < reply.output_tokens <= DEFAULT_CATALOGUE.get("local", LOCAL_MODEL).max_output_tokens
    assert reply.finish_reason in ("stop", "length")
    assert reply.avg_logprob is not None and -30.0 < reply.avg_logprob < 0.0
    assert latency < 30.0
    assert isinstance(timeout_error, ProviderTimeout)


@pytest.mark.slow
def test_real_answer_from_the_default_local_model():
    """Starts `python -m providers.local_server` and asks SmolLM2-135M-Instruct (chat template)."""
    with running_local_model_server(LOCAL_MODEL_PATH="") as base_url:
        provider, prompt_format, reply, latency, timeout_error = _ask_real_server(base_url)

    assert provider.model_file == DEFAULT_MODEL_FILE
    assert prompt_format == "chat"
    _assert_real_reply(reply, latency, timeout_error)


@pytest.mark.slow
def test_real_answer_from_gemma_selected_by_local_model_path():
    """Gemma 3 270M through LOCAL_MODEL_PATH, on both sides: answered with the base prompt."""
    gemma = str(gemma_path())
    with running_local_model_server(LOCAL_MODEL_PATH=gemma) as base_url:
        provider, prompt_format, reply, latency, timeout_error = _ask_real_server(
            base_url, local_model_path=gemma
        )

    assert provider.model_file == "gemma-3-270m-q4_k_m.gguf"
    assert prompt_format == "completion"
    _assert_real_reply(reply, latency, timeout_error)


def test_the_chat_model_refuses_a_prefix_it_cannot_continue():
    """llama-cpp-python's chat template closes the assistant turn: a prefill would be
    answered, not continued, so the client refuses it before any call (the catalogue says
    `accepts_continuation` false, so the dispatcher never sends one)."""
    settings = ProviderSettings(local_model_url=f"http://127.0.0.1:{free_port()}/v1",
                                local_model_prompt_format="chat")  # fmt: skip

    async def run() -> None:
        provider = LocalProvider(settings=settings)
        try:
            request = _request(timeout_s=2.0)
            await provider.complete(dataclasses.replace(request, prefix="They're going"))
        finally:
            await provider.aclose()

    with pytest.raises(BadRequest, match="cannot be continued"):
        asyncio.run(run())
