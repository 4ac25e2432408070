"""The local model's certainty: log-probabilities without logits_all, and the client's mean."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from llama_cpp.server.cli import add_args_from_model, parse_model_from_args
from llama_cpp.server.settings import ModelSettings, Settings

from providers.base import CompletionRequest
from providers.local import LocalProvider, mean_logprob
from providers.local_logprobs import chosen_logprob
from providers.local_server import LocalServerSettings, server_argv
from providers.settings import ProviderSettings

BASE_URL = "http://local-model.test/v1"
REFUSAL = "logprobs is not supported for models created with logits_all=False"


def test_chosen_logprob_is_the_log_softmax_at_the_token():
    logits = np.array([2.0, -1.0, 0.5, 3.0], dtype=np.float32)
    naive = logits.astype(np.float64) - math.log(np.exp(logits.astype(np.float64)).sum())
    for token in range(logits.size):
        value, _ = chosen_logprob(logits, token)
        assert value == pytest.approx(naive[token], abs=1e-6)
    _, top = chosen_logprob(logits, 1, top_n=2)
    assert top == [3, 0]


def test_chosen_logprob_stays_finite_for_huge_logits():
    logits = np.full(262_144, -50.0, dtype=np.float32)
    logits[7] = 80.0
    value, _ = chosen_logprob(logits, 7)
    assert value == pytest.approx(0.0, abs=1e-12)
    assert math.isfinite(chosen_logprob(logits, 8)[0])


def test_server_command_line_turns_logits_all_off():
    """llama-cpp's own parser reads our command line: logits_all ends up False (its default
    is True, so a command line that does not say it runs the slow path)."""
    argv = server_argv(Path("/m.gguf"), LocalServerSettings())
    args = _llama_cpp_args(argv[3:])
    assert parse_model_from_args(ModelSettings, args).logits_all is False
    assert parse_model_from_args(ModelSettings, _llama_cpp_args([])).logits_all is True


def _llama_cpp_args(argv: list[str]) -> argparse.Namespace:
    """`argv` parsed the way `python -m llama_cpp.server` parses its own."""
    parser = argparse.ArgumentParser()
    add_args_from_model(parser, Settings)
    return parser.parse_args(argv or ["--model", "/m.gguf"])


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([-0.1, -0.3], -0.2),
        ([None, -0.5, float("-inf")], -0.5),
        ([], None),
        ([None], None),
    ],
)
def test_mean_logprob(values: list[float | None], expected: float | None):
    assert mean_logprob(values) == (pytest.approx(expected) if expected is not None else None)


def _chat_body(logprobs: list[float] | None) -> dict[str, Any]:
    content: dict[str, Any] | None = (
        {"content": [{"token": "x", "logprob": v, "bytes": None, "top_logprobs": []}
                     for v in logprobs], "refusal": None}
        if logprobs is not None else None
    )  # fmt: skip
    return {
        "id": "chat-1", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": content,
                     "message": {"role": "assistant", "content": "42"}}],
        "usage": {"prompt_tokens": 30, "completion_tokens": 2, "total_tokens": 32},
    }  # fmt: skip


def _ask(handler: Any, **settings: Any) -> tuple[list[list[Any]], Any]:
    """Two calls through LocalProvider against `handler`; the requests' logprobs fields."""
    seen: list[list[Any]] = []

    def record(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append([body.get("logprobs"), body.get("top_logprobs")])
        return handler(body)

    async def run() -> Any:
        client = httpx.AsyncClient(transport=httpx.MockTransport(record))
        provider = LocalProvider(
            settings=ProviderSettings(
                local_model_url=BASE_URL, local_model_prompt_format="chat", **settings
            ),
            http_client=client,
        )
        request = CompletionRequest(prompt="2+40?", model="local-gguf", max_output_tokens=8,
                                    timeout_s=5.0)  # fmt: skip
        try:
            return [await provider.complete(request), await provider.complete(request)]
        finally:
            await provider.aclose()
            await client.aclose()

    return seen, asyncio.run(run())


def test_client_asks_for_logprobs_and_reports_their_mean():
    seen, replies = _ask(lambda body: httpx.Response(200, json=_chat_body([-0.2, -0.6])))
    assert seen[0] == [True, 0]
    assert replies[0].avg_logprob == pytest.approx(-0.4)


def test_server_refusing_logprobs_is_asked_again_without_and_never_again():
    def stock_server(body: dict[str, Any]) -> httpx.Response:
        if body.get("logprobs"):
            return httpx.Response(500, json={"error": {"message": REFUSAL}})
        return httpx.Response(200, json=_chat_body(None))

    seen, replies = _ask(stock_server)
    assert seen == [[True, 0], [None, None], [None, None]]
    assert [r.text for r in replies] == ["42", "42"]
    assert all(r.avg_logprob is None for r in replies)


def test_logprobs_can_be_switched_off():
    seen, replies = _ask(
        lambda body: httpx.Response(200, json=_chat_body(None)), local_model_logprobs=False
    )
    assert seen == [[None, None], [None, None]]
    assert replies[0].avg_logprob is None
