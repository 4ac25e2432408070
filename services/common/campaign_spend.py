"""One query's dealings with its campaign's books: reserve -> call -> settle, in one place.

Every paid call is booked by the same sequence, whichever path makes it: the
dispatcher's route walk (one `CampaignSpend` per walk, one `Hold` per attempt) and the
app's direct path (one call). Open the campaign's spend (`CampaignSpend.open`: its limit,
a single GET, the one cheap check of the hot path), `hold` the call's maximum cost (an
upper bound on the input tokens plus the request's max output tokens, at list price) in
the campaign's books (`services.common.spend`), make the call, then `settle` it:

- success: the real cost the provider reported;
- timeout: the reserved maximum. The provider may have done (and billed) the work;
  we cannot know how much, so the books assume the worst and never under-count. An
  attempt cancelled because the health stream marked its provider down is published as
  a timeout (`cancelled_marked_down`) and settled the same way;
- error: nothing (a provider does not bill a request it refused or failed);
- the call was never made (e.g. its announcement failed): `release` the hold;
- the process died: the reservation lapses after its time limit plus a grace and is
  then charged in full, like a timeout.

Reservations are keyed by the call's id, so a retried message reuses its reservation.
When a redelivered query (after a crash) calls a step again whose earlier call is
already on the books, that call is a new expense: it is reserved under the call id and
this delivery's id (`delivery`). The local model costs nothing and reserves nothing. A
campaign without a limit costs one GET per query, and one write per paid call to keep its
spend visible. When the limit refuses a call, `hold` says None and the refusal is kept
for `exhausted_error` (the `budget_exhausted` error the app answers with 402).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from providers.base import CompletionRequest
from providers.catalogue import ModelSpec
from schemas.parts import AttemptSummary
from services.common.spend import CampaignUsage, Reservation, SpendLedger
from services.common.spend_rules import (
    budget_exhausted_error,
    is_paid_model,
    max_call_cost_usd,
    refusal_text,
    settled_cost_usd,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hold:
    """Money held for one paid call (`reservation` is None for a campaign without limit,
    a free model, or no books)."""

    reservation_id: str
    max_cost_usd: float
    reservation: Reservation | None


@dataclass
class CampaignSpend:
    """One query's dealings with its campaign's books (the dispatcher's walk, the direct
    path's call); not shared between queries. Redis errors propagate from every step."""

    ledger: SpendLedger | None
    campaign_id: str | None
    limit_usd: float | None
    delivery: str
    refusals: list[str] = field(default_factory=list)
    last: CampaignUsage | None = None

    @classmethod
    async def open(
        cls, ledger: SpendLedger | None, campaign_id: str | None, delivery: str
    ) -> CampaignSpend:
        """The one cheap check of the hot path: the campaign's limit (a single GET)."""
        limit = None
        if ledger is not None and campaign_id is not None:
            limit = await ledger.limit_usd(campaign_id)
        return cls(ledger=ledger, campaign_id=campaign_id, limit_usd=limit, delivery=delivery)

    async def hold(
        self, spec: ModelSpec, request: CompletionRequest, call_id: str, hold_s: float
    ) -> Hold | None:
        """Hold the call's maximum cost for `hold_s` (its time limit); None when the limit
        cannot cover it (the refusal is kept for `exhausted_error`)."""
        amount = max_call_cost_usd(spec, request)
        if self.ledger is None or self.campaign_id is None or not is_paid_model(spec):
            return Hold(call_id, amount, None)
        if self.limit_usd is None:
            return Hold(call_id, amount, None)
        outcome = await self.ledger.reserve_call(
            self.campaign_id, call_id, amount, hold_s=hold_s,
            again_as=f"{call_id}/{self.delivery}",
        )  # fmt: skip
        self.last = outcome.usage
        if outcome.reservation is None:
            self.refusals.append(refusal_text(spec.provider, spec.model_id, amount, outcome.usage))
            return None
        return Hold(outcome.reservation.reservation_id, amount, outcome.reservation)

    async def settle(self, hold: Hold, summary: AttemptSummary) -> None:
        """Book the call's cost by its outcome (see the module docstring)."""
        if self.ledger is None or self.campaign_id is None:
            return
        cost = settled_cost_usd(summary.outcome, summary.cost_usd, hold.max_cost_usd)
        if cost > hold.max_cost_usd and hold.reservation is not None:
            logger.warning(
                "campaign=%s call=%s cost $%.6f exceeds its reservation $%.6f",
                self.campaign_id, hold.reservation_id, cost, hold.max_cost_usd,
            )  # fmt: skip
        if hold.reservation is not None:
            self.last = await self.ledger.settle(hold.reservation, cost)
        elif cost > 0:
            self.last = await self.ledger.record(self.campaign_id, hold.reservation_id, cost)

    async def release(self, hold: Hold) -> None:
        """The call was never made: give the money back."""
        if self.ledger is not None and hold.reservation is not None:
            self.last = await self.ledger.release(hold.reservation)

    async def remaining_usd(self) -> float | None:
        """What the limit leaves now (None without a limit); reads the books only when this
        query did not touch them."""
        if self.limit_usd is None or self.ledger is None or self.campaign_id is None:
            return None
        if self.last is None:
            self.last = await self.ledger.usage(self.campaign_id)
        return self.last.remaining_usd

    def exhausted_error(self, later: str | None) -> str:
        """The completion's error when the limit refused paid models and nothing answered."""
        error = budget_exhausted_error(self.campaign_id or "", self.limit_usd, self.refusals)
        return f"{error}; then {later}" if later else error
