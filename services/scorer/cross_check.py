"""Cross-validation: ask a second model and measure agreement with the answer.

The second call costs money, so it runs at most once per query (`Once`): a
completion delivered twice, even at the same moment, is cross-checked once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from core.agreement import agreement
from core.attempt import attempt_model
from providers.base import Provider
from providers.catalogue import ModelSpec
from schemas.base import ProviderName
from schemas.completion import CompletionProduced
from services.common.once import Once
from services.common.redis_keys import RedisKeys

logger = logging.getLogger(__name__)

STEP = "cross-check"
DEFAULT_TIMEOUT_S = 8.0
"""The second opinion's wait when none is configured (`SCORER_CROSS_CHECK_TIMEOUT_S`)."""


class ProviderCrossCheck:
    """Checks with `second` when the scorer is configured to, or the caller asked for it."""

    def __init__(
        self,
        *,
        providers: Mapping[ProviderName, Provider],
        second: ModelSpec,
        always: bool,
        once: Once,
        keys: RedisKeys,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self._providers = providers
        self._second = second
        self._always = always
        self._timeout_s = min(timeout_s, second.timeout_s)
        self._once = once
        self._keys = keys

    async def check(self, completion: CompletionProduced) -> tuple[float, float] | None:
        """(agreement, cost of the second call), or None when not wanted or not possible."""
        answer = completion.answer
        wanted = self._always or completion.query.options.cross_validate
        if answer is None or not wanted:
            return None
        second = self._second
        if (answer.provider, answer.model) == (second.provider, second.model_id):
            return None
        provider = self._providers.get(second.provider)
        if provider is None:
            return None
        query_id = completion.query.query_id

        async def second_opinion() -> bytes | None:
            result = await attempt_model(
                provider=provider, spec=second, query=completion.query, timeout_s=self._timeout_s
            )
            if result.answer is None:
                logger.info(
                    "cross-check of %s with %s/%s failed: %s",
                    query_id,
                    second.provider,
                    second.model_id,
                    result.summary.error_kind,
                )
                return None
            score = agreement(answer.text, result.answer.text)
            return json.dumps({"agreement": score, "cost_usd": result.answer.cost_usd}).encode()

        stored, _ = await self._once.run(
            result_key=self._keys.cross_check(query_id),
            lease_key=self._keys.lease(STEP, query_id),
            compute=second_opinion,
        )
        if stored is None:
            return None
        outcome = json.loads(stored)
        return float(outcome["agreement"]), float(outcome["cost_usd"])
