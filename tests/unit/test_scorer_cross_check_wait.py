"""The second opinion is waited for only so long: the caller is waiting for the answer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import cast

from providers.base import CompletionRequest, Provider, ProviderReply
from providers.catalogue import DEFAULT_CATALOGUE, GEMINI_FLASH, GEMINI_PRO
from schemas.base import ProviderName
from schemas.completion import CompletionProduced
from schemas.parts import Answer
from schemas.query import QueryOptions, QueryRequested
from services.classifier.handler import classify
from services.common.once import Once
from services.common.redis_keys import RedisKeys
from services.scorer.cross_check import ProviderCrossCheck


class RecordingProvider:
    name: ProviderName = "gemini"
    emulated = True

    def __init__(self) -> None:
        self.requests: list[CompletionRequest] = []

    async def complete(self, request: CompletionRequest) -> ProviderReply:
        self.requests.append(request)
        return ProviderReply(text="same answer", model=request.model, input_tokens=5,
                             output_tokens=2, finish_reason="stop")

    async def probe(self, timeout_s: float) -> None:
        return None


class RunOnce:
    """Computes every time (the Redis-backed `Once` is tested on its own)."""

    async def run(
        self, *, result_key: str, lease_key: str,
        compute: Callable[[], Awaitable[bytes | None]],
    ) -> tuple[bytes | None, bool]:
        return await compute(), True


def test_the_second_opinion_waits_at_most_the_configured_time() -> None:
    second = DEFAULT_CATALOGUE.get("gemini", GEMINI_FLASH)
    assert second.timeout_s > 3.0  # the catalogue's deadline is far longer than the cap
    provider = RecordingProvider()
    check = ProviderCrossCheck(
        providers={"gemini": cast(Provider, provider)}, second=second, always=False,
        once=cast(Once, RunOnce()), keys=RedisKeys("unit"), timeout_s=3.0,
    )
    query = QueryRequested(query_id="c1", query="Is turnout up in Maricopa?",
                           options=QueryOptions(cross_validate=True))
    classified = classify(query)
    completion = CompletionProduced(
        query=query, classification=classified.classification, route=classified.route,
        status="succeeded",
        answer=Answer(provider="gemini", model=GEMINI_PRO, text="same answer",
                      input_tokens=5, output_tokens=2, cost_usd=0.001, latency_ms=5),
    )
    assert asyncio.run(check.check(completion)) is not None
    [request] = provider.requests
    assert request.timeout_s == 3.0
