"""The local model's certainty from the real server: present, finite, and it varies.

Starts `python -m providers.local_server` (SmolLM2-135M-Instruct, the default) and asks
through `LocalProvider`, as the dispatcher does. No broker or Redis involved.
"""

from __future__ import annotations

import asyncio
import math

import httpx

from core.confidence import History, score_answer
from providers.base import CompletionRequest, ProviderReply
from providers.catalogue import DEFAULT_CATALOGUE, LOCAL_MODEL
from providers.local import LocalProvider
from providers.local_server import smollm2_path
from providers.settings import ProviderSettings
from schemas.parts import Answer, RouteStep
from tests.support.local_model_server import running_local_model_server, running_stock_llama_server

SYSTEM = "You are an analyst for a political campaign's strategy team."
CONFIDENT = "What is the capital of France? Reply with the city only."
UNSURE = "Write a random string of ten letters."
CLEAR_GAP = 0.3
"""Measured with SmolLM2 at temperature 0.2: about -0.26 for Paris, -1.5 to -1.7 for a
random string; a gap of 0.3 leaves room for sampling noise."""
MAX_TOKENS = 16
CALL_TIMEOUT_S = 60.0
PROBE_TIMEOUT_S = 5.0
SAME_LOGPROB_TOLERANCE = 1e-3
"""Both paths compute log-softmax of the same float32 logits; only rounding differs."""


def _ask(base_url: str, prompts: list[str]) -> list[ProviderReply]:
    async def run() -> list[ProviderReply]:
        provider = LocalProvider(settings=ProviderSettings(local_model_url=base_url))
        try:
            await provider.probe(PROBE_TIMEOUT_S)
            return [
                await provider.complete(
                    CompletionRequest(
                        prompt=prompt,
                        model=LOCAL_MODEL,
                        max_output_tokens=MAX_TOKENS,
                        timeout_s=CALL_TIMEOUT_S,
                        system=SYSTEM,
                    )  # fmt: skip
                )
                for prompt in prompts
            ]
        finally:
            await provider.aclose()

    return asyncio.run(run())


def _score(reply: ProviderReply) -> float:
    answer = Answer(
        provider="local", model=LOCAL_MODEL, text=reply.text, input_tokens=reply.input_tokens,
        output_tokens=reply.output_tokens, cost_usd=0.0, latency_ms=1.0,
        finish_reason=reply.finish_reason, avg_logprob=reply.avg_logprob,
    )  # fmt: skip
    confidence = score_answer(
        answer=answer, spec=DEFAULT_CATALOGUE.get("local", LOCAL_MODEL),
        route=[RouteStep(provider="local", model=LOCAL_MODEL, reason="test")],
        needs_live_data=False, agreement=None, history=History(),
    )  # fmt: skip
    assert "model_certainty" in confidence.components
    return confidence.raw_score if confidence.raw_score is not None else confidence.score


def test_local_answers_carry_a_certainty_that_varies_with_the_question():
    with running_local_model_server(LOCAL_MODEL_PATH="") as base_url:
        confident, unsure = _ask(base_url, [CONFIDENT, UNSURE])

    for reply in (confident, unsure):
        assert reply.avg_logprob is not None and math.isfinite(reply.avg_logprob)
        assert reply.avg_logprob < 0.0
    assert confident.avg_logprob > unsure.avg_logprob + CLEAR_GAP, (confident, unsure)
    assert _score(confident) > _score(unsure), "the confidence score follows the certainty"


def _token_logprobs(base_url: str) -> tuple[str, list[float]]:
    body = {
        "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": UNSURE}],
        "max_tokens": MAX_TOKENS,
        "temperature": 0.0,
        "logprobs": True,
        "top_logprobs": 0,
    }
    response = httpx.post(f"{base_url}/chat/completions", json=body, timeout=CALL_TIMEOUT_S)
    response.raise_for_status()
    choice = response.json()["choices"][0]
    return choice["message"]["content"], [t["logprob"] for t in choice["logprobs"]["content"]]


def test_logprobs_equal_llama_cpps_own_logits_all_path():
    """Our cheap path reports what llama-cpp reports with logits_all on (greedy, so both
    servers generate the same tokens)."""
    with running_local_model_server(LOCAL_MODEL_PATH="") as ours:
        text, cheap = _token_logprobs(ours)
    with running_stock_llama_server(smollm2_path(), logits_all=True) as stock:
        stock_text, reference = _token_logprobs(stock)

    assert text == stock_text and len(cheap) == len(reference) > 0
    assert max(abs(a - b) for a, b in zip(cheap, reference, strict=True)) < SAME_LOGPROB_TOLERANCE


def test_the_real_set_measures_self_agreement_and_its_cost_when_asked():
    """`python -m evaluation.confidence_real --agreement-samples N` on the real server."""
    from evaluation.confidence_real import render, summarise
    from evaluation.graded_answers import graded_local_answers

    with running_local_model_server(LOCAL_MODEL_PATH="") as base_url:
        graded = graded_local_answers(3, url=base_url, say=lambda _: None, agreement_samples=2)

    assert len(graded) == 3
    for answer in graded:
        assert answer.error is None and answer.text
        assert answer.agreement is not None and 0.0 <= answer.agreement <= 1.0
        assert answer.raw_score_with_agreement is not None
        assert answer.seconds > 0.0 and answer.sample_seconds > 0.0
    report = render(summarise(graded))
    assert "AUROC agreement" in report and "sampling cost" in report
