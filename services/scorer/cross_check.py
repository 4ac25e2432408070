"""Cross-validation: ask a second model and measure agreement with the answer.

The second call costs money, so it runs at most once per query (`Once`): a
completion delivered twice, even at the same moment, is cross-checked once. And it is
paid from the campaign's monthly budget like every other call: before the call the
check reserves the second model's maximum cost in the campaign's books
(`services.common.spend`, the dispatcher's own), and settles it after (the real cost,
the maximum on a timeout, nothing on an error). When the budget cannot cover it, the
check is skipped: the answer is still scored, without agreement, and the outcome says
why (`CrossCheckOutcome.skipped`, kept like a result so every delivery scores alike).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

import redis

from core.agreement import agreement
from core.attempt import attempt_model, completion_request
from providers.base import Provider
from providers.catalogue import ModelSpec
from schemas.base import ProviderName
from schemas.completion import CompletionProduced
from schemas.parts import ConfidenceComponent
from services.common.once import Once
from services.common.redis_keys import RedisKeys
from services.common.spend import Reservation, SpendLedger
from services.common.spend_rules import (
    budget_exhausted_error,
    is_paid_model,
    max_call_cost_usd,
    refusal_text,
)

logger = logging.getLogger(__name__)

STEP = "cross-check"
DEFAULT_TIMEOUT_S = 8.0
"""The second opinion's wait when none is configured (`SCORER_CROSS_CHECK_TIMEOUT_S`)."""
COMPONENT = "cross_validation"
"""The confidence component a cross-check feeds (core.confidence.BASE_WEIGHTS)."""


@dataclass(frozen=True)
class CrossCheckOutcome:
    """A second opinion's agreement and cost, or why there is none (`skipped`)."""

    agreement: float | None
    cost_usd: float = 0.0
    skipped: str | None = None

    def skipped_component(self) -> ConfidenceComponent | None:
        """For a skipped check: a weightless `cross_validation` component whose detail
        says why, so the response shows the check was wanted but not run."""
        if self.skipped is None:
            return None
        return ConfidenceComponent(value=0.0, weight=0.0, detail=f"not run: {self.skipped}")

    def to_bytes(self) -> bytes:
        return json.dumps(
            {"agreement": self.agreement, "cost_usd": self.cost_usd, "skipped": self.skipped}
        ).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> CrossCheckOutcome:
        stored = json.loads(raw)
        found = stored.get("agreement")
        return cls(
            agreement=None if found is None else float(found),
            cost_usd=float(stored.get("cost_usd", 0.0)),
            skipped=stored.get("skipped"),
        )


def same_model_reason(second: ModelSpec) -> str:
    """Why a cross-check of the second model's own answer is not run."""
    return (
        f"the answer came from the cross-check model {second.provider}/{second.model_id} "
        "itself, and a model asked again agrees with itself (SCORER_CROSS_CHECK_MODEL names it)"
    )


class ProviderCrossCheck:
    """Checks with `second` when the scorer is configured to, or the caller asked for it.

    `ledger` holds the call against the campaign's budget; without one (a scorer wired
    before budgets) the call is paid unguarded, and a warning says so at start-up.
    """

    def __init__(
        self,
        *,
        providers: Mapping[ProviderName, Provider],
        second: ModelSpec,
        always: bool,
        once: Once,
        keys: RedisKeys,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        ledger: SpendLedger | None = None,
    ) -> None:
        self._providers = providers
        self._second = second
        self._always = always
        self._timeout_s = min(timeout_s, second.timeout_s)
        self._once = once
        self._keys = keys
        self._ledger = ledger
        if ledger is None and is_paid_model(second):
            logger.warning(
                "cross-check with %s/%s has no spend ledger: its calls are not held against "
                "campaign budgets",
                second.provider,
                second.model_id,
            )

    async def check(self, completion: CompletionProduced) -> tuple[float, float] | None:
        """(agreement, cost of the second call), or None when not wanted, not possible or
        skipped (see `outcome` for why)."""
        outcome = await self.outcome(completion)
        if outcome is None or outcome.agreement is None:
            return None
        return outcome.agreement, outcome.cost_usd

    async def outcome(self, completion: CompletionProduced) -> CrossCheckOutcome | None:
        """The check's outcome; None when no check was wanted or possible (or it failed,
        which the next delivery may retry). Raises on Redis errors (the worker retries:
        a call is never paid unguarded)."""
        answer = completion.answer
        wanted = self._always or completion.query.options.cross_validate
        if answer is None or not wanted:
            return None
        second = self._second
        if (answer.provider, answer.model) == (second.provider, second.model_id):
            # The same model asked twice agrees with itself: no second opinion. Say so
            # instead of dropping the caller's request silently.
            return CrossCheckOutcome(agreement=None, skipped=same_model_reason(second))
        provider = self._providers.get(second.provider)
        if provider is None:
            return None
        stored, _ = await self._once.run(
            result_key=self._keys.cross_check(completion.query.query_id),
            lease_key=self._keys.lease(STEP, completion.query.query_id),
            compute=lambda: self._second_opinion(provider, completion),
        )
        return None if stored is None else CrossCheckOutcome.from_bytes(stored)

    async def _second_opinion(
        self, provider: Provider, completion: CompletionProduced
    ) -> bytes | None:
        """Reserve, call, settle (run by the one delivery holding the lease)."""
        query, second = completion.query, self._second
        reservation = None
        if self._ledger is not None and query.campaign_id is not None and is_paid_model(second):
            amount = max_call_cost_usd(second, completion_request(query, second, self._timeout_s))
            call_id = f"{STEP}:{query.query_id}"
            granted = await self._ledger.reserve_call(  # again: an earlier call failed
                query.campaign_id, call_id, amount, hold_s=self._timeout_s,
                again_as=f"{call_id}/{uuid.uuid4().hex}",
            )  # fmt: skip
            if granted.reservation is None:
                skipped = budget_exhausted_error(
                    query.campaign_id,
                    granted.usage.limit_usd,
                    [refusal_text(second.provider, second.model_id, amount, granted.usage)],
                )
                logger.info("cross-check of %s skipped: %s", query.query_id, skipped)
                return CrossCheckOutcome(agreement=None, skipped=skipped).to_bytes()
            reservation = granted.reservation
        result = await attempt_model(
            provider=provider, spec=second, query=query, timeout_s=self._timeout_s
        )
        await self._settle(reservation, result.summary.outcome, result.summary.cost_usd)
        if result.answer is None:
            logger.info(
                "cross-check of %s with %s/%s failed: %s",
                query.query_id,
                second.provider,
                second.model_id,
                result.summary.error_kind,
            )
            return None
        assert completion.answer is not None
        score = agreement(completion.answer.text, result.answer.text)
        return CrossCheckOutcome(agreement=score, cost_usd=result.answer.cost_usd).to_bytes()

    async def _settle(self, reservation: Reservation | None, outcome: str, cost: float) -> None:
        """Book the call; a Redis failure here is logged, not raised: the call is made, and
        raising would make the worker call again. The reservation then lapses and is charged
        in full, so the books never show less than was spent."""
        if self._ledger is None or reservation is None:
            return
        try:
            await self._ledger.settle_outcome(reservation, outcome, cost)
        except redis.RedisError as err:
            logger.warning(
                "cross-check reservation=%s not settled (%s); it lapses at its full amount",
                reservation.reservation_id,
                type(err).__name__,
            )
