"""Retry-After honoured: the real SDKs against the in-process emulator's `rate_limit` mode.

The emulator answers 429 with `Retry-After: 1` (emulator/faults.py).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from emulator.faults import RATE_LIMIT_RETRY_AFTER_S
from harness.processes import free_port
from providers.registry import build_providers, close_providers
from providers.settings import ProviderSettings
from schemas.completion import CompletionProduced
from schemas.query import QueryRequested
from services.classifier.handler import classify
from services.dispatcher.cooldowns import ProviderCooldowns
from services.dispatcher.failover import MAX_RATE_LIMIT_RETRIES
from tests.support.emulator_server import running_emulator
from tests.unit.dispatcher_fakes import completion_of, make_dispatcher

COMPLEX = "Build a 3-phase persuasion strategy from these crosstabs, with trade-offs"
HANG_GUARD_S = 30.0


@pytest.fixture(scope="module")
def emulator_url() -> Iterator[str]:
    with running_emulator(latency_scale=0.0) as url:
        yield url


@pytest.fixture
def emulator(emulator_url: str) -> Iterator[str]:
    yield emulator_url
    httpx.post(f"{emulator_url}/_control/reset", timeout=5).raise_for_status()


def _set_mode(url: str, provider: str, mode: str) -> None:
    httpx.put(f"{url}/_control/providers/{provider}", json={"mode": mode}, timeout=5)


def _gemini_calls(url: str) -> int:
    state = httpx.get(f"{url}/_control/providers", timeout=5).json()
    return state["gemini"]["by_endpoint"].get("generate", 0)


def _heal_after_first_call(url: str) -> threading.Thread:
    """Switch gemini back to ok once it has refused one call (whenever that happens)."""

    def heal() -> None:
        deadline = time.monotonic() + HANG_GUARD_S
        while _gemini_calls(url) < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        _set_mode(url, "gemini", "ok")

    thread = threading.Thread(target=heal, daemon=True)
    thread.start()
    return thread


def _run(url: str, query_ids: list[str], *, max_wait: float, pause_before: dict | None = None):
    """Dispatch the queries one after another through one dispatcher (one cooldown table)."""
    settings = ProviderSettings(
        gemini_api_key=None, perplexity_api_key=None, emulator_url=url,
        local_model_url=f"http://127.0.0.1:{free_port()}/v1", local_model_path=None,
    )

    async def go() -> list[tuple[CompletionProduced, float]]:
        providers = build_providers(settings)
        dispatcher = make_dispatcher(
            list(providers.values()), max_wait=max_wait, cooldowns=ProviderCooldowns()
        )
        results = []
        try:
            for query_id in query_ids:
                await asyncio.sleep((pause_before or {}).get(query_id, 0.0))
                started = time.monotonic()
                out = await dispatcher.handle(
                    classify(QueryRequested(query_id=query_id, query=COMPLEX))
                )
                results.append((completion_of(out), time.monotonic() - started))
        finally:
            await close_providers(providers)
        return results

    return asyncio.run(asyncio.wait_for(go(), HANG_GUARD_S))


def test_a_short_retry_after_is_waited_out_and_the_same_model_tried_once_more(emulator):
    _set_mode(emulator, "gemini", "rate_limit")
    _heal_after_first_call(emulator)
    [(completion, elapsed)] = _run(emulator, ["q1"], max_wait=2.0)
    assert [(a.provider, a.outcome) for a in completion.attempts] == [
        ("gemini", "error"), ("gemini", "success")
    ]
    assert completion.attempts[0].error_kind == "rate_limited"
    assert completion.answer.model == "gemini-2.5-pro"
    assert elapsed >= RATE_LIMIT_RETRY_AFTER_S * 0.9


def test_a_still_limited_provider_is_left_and_skipped_by_the_next_query(emulator):
    _set_mode(emulator, "gemini", "rate_limit")
    (first, _), (second, _) = _run(emulator, ["q1", "q2"], max_wait=2.0)
    assert [(a.provider, a.error_kind) for a in first.attempts] == [
        ("gemini", "rate_limited"), ("gemini", "rate_limited"), ("gemini", "rate_limited"),
        ("perplexity", None),
    ]  # waited out MAX_RATE_LIMIT_RETRIES times, then the fallback
    assert first.answer.provider == "perplexity"
    skipped = second.attempts[0]
    assert (skipped.provider, skipped.outcome, skipped.error_kind) == (
        "gemini", "skipped", "rate_limited"
    )
    assert "Retry-After" in skipped.error_message
    assert second.answer.provider == "perplexity"
    assert _gemini_calls(emulator) == 1 + MAX_RATE_LIMIT_RETRIES  # none by the second query


def test_a_retry_after_longer_than_the_wait_moves_on_at_once_until_it_expires(emulator):
    _set_mode(emulator, "gemini", "rate_limit")
    _heal_after_first_call(emulator)
    (first, elapsed), (second, _), (third, _) = _run(
        emulator, ["q1", "q2", "q3"], max_wait=0.5,
        pause_before={"q3": RATE_LIMIT_RETRY_AFTER_S + 0.3},
    )
    assert [a.provider for a in first.attempts] == ["gemini", "perplexity"]
    assert elapsed < RATE_LIMIT_RETRY_AFTER_S, "waited although Retry-After exceeded the wait"
    assert second.attempts[0].outcome == "skipped"
    # once the Retry-After has passed, the provider is called again
    assert third.answer.provider == "gemini"
