"""The reserve -> call -> settle sequence every paid call books through
(services/common/campaign_spend.py), over an in-memory stand-in for the Redis books."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from providers.base import CompletionRequest
from providers.catalogue import DEFAULT_CATALOGUE, GEMINI_PRO, LOCAL_MODEL
from schemas.completion import AttemptSummary
from services.common.campaign_spend import CampaignSpend
from services.common.spend import CampaignUsage, Reservation, ReserveOutcome, SpendLedger
from services.common.spend_rules import BUDGET_EXHAUSTED, max_call_cost_usd

PRO = DEFAULT_CATALOGUE.get("gemini", GEMINI_PRO)
LOCAL = DEFAULT_CATALOGUE.get("local", LOCAL_MODEL)
REQUEST = CompletionRequest(prompt="Turnout in Arizona?", model="m", max_output_tokens=1024,
                            timeout_s=5.0)  # fmt: skip


class Books:
    """What `CampaignSpend` asks of `SpendLedger`, in memory, with a log of the writes."""

    def __init__(self, limit_usd: float | None, spent_usd: float = 0.0) -> None:
        self.limit = limit_usd
        self.spent = spent_usd
        self.held: dict[str, float] = {}
        self.writes: list[tuple[str, str, float]] = []

    def _usage(self) -> CampaignUsage:
        remaining = None
        if self.limit is not None:
            remaining = max(self.limit - self.spent - sum(self.held.values()), 0.0)
        return CampaignUsage("az", "2026-12", self.spent, sum(self.held.values()), self.limit,
                             remaining)  # fmt: skip

    async def limit_usd(self, campaign_id: str) -> float | None:
        return self.limit

    async def usage(self, campaign_id: str) -> CampaignUsage:
        return self._usage()

    async def reserve_call(self, campaign_id: str, call_id: str, amount_usd: float, *,
                           hold_s: float, again_as: str) -> ReserveOutcome:  # fmt: skip
        usage = self._usage()
        if usage.remaining_usd is not None and amount_usd > usage.remaining_usd:
            return ReserveOutcome(status="refused", usage=usage)
        self.held[call_id] = amount_usd
        self.writes.append(("reserve", call_id, amount_usd))
        reservation = Reservation(campaign_id, "2026-12", call_id, amount_usd)
        return ReserveOutcome(status="reserved", usage=self._usage(), reservation=reservation)

    async def settle(self, reservation: Reservation, cost_usd: float) -> CampaignUsage:
        self.held.pop(reservation.reservation_id)
        self.spent += cost_usd
        self.writes.append(("settle", reservation.reservation_id, cost_usd))
        return self._usage()

    async def release(self, reservation: Reservation) -> CampaignUsage:
        self.held.pop(reservation.reservation_id)
        self.writes.append(("release", reservation.reservation_id, 0.0))
        return self._usage()

    async def record(self, campaign_id: str, reservation_id: str, cost_usd: float) -> CampaignUsage:
        self.spent += cost_usd
        self.writes.append(("record", reservation_id, cost_usd))
        return self._usage()


def _summary(outcome: str, cost_usd: float = 0.0) -> AttemptSummary:
    return AttemptSummary(provider="gemini", model=GEMINI_PRO, outcome=outcome,  # type: ignore[arg-type]
                          cost_usd=cost_usd)  # fmt: skip


def _open(books: Books | None, campaign: str | None = "az") -> CampaignSpend:
    ledger = cast(SpendLedger, books) if books is not None else None
    return asyncio.run(CampaignSpend.open(ledger, campaign, delivery="d1"))


def _run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_a_paid_call_is_held_at_its_maximum_and_settled_at_its_cost() -> None:
    books = Books(limit_usd=1.0)
    spend = _open(books)
    hold = _run(spend.hold(PRO, REQUEST, "q1:1", hold_s=5.0))
    assert hold is not None and hold.reservation is not None
    assert books.held == {"q1:1": max_call_cost_usd(PRO, REQUEST)}
    _run(spend.settle(hold, _summary("success", 0.002)))
    assert books.writes[-1] == ("settle", "q1:1", 0.002) and not books.held
    assert _run(spend.remaining_usd()) == 1.0 - 0.002


def test_a_timeout_is_settled_at_the_reserved_maximum_and_an_unmade_call_released() -> None:
    books = Books(limit_usd=1.0)
    spend = _open(books)
    timed_out = _run(spend.hold(PRO, REQUEST, "q1:1", hold_s=5.0))
    _run(spend.settle(timed_out, _summary("timeout")))
    assert books.writes[-1] == ("settle", "q1:1", max_call_cost_usd(PRO, REQUEST))
    never_made = _run(spend.hold(PRO, REQUEST, "q1:2", hold_s=5.0))
    _run(spend.release(never_made))
    assert books.writes[-1] == ("release", "q1:2", 0.0)


def test_a_refused_call_is_not_held_and_the_refusal_names_the_limit() -> None:
    books = Books(limit_usd=0.001)
    spend = _open(books)
    assert _run(spend.hold(PRO, REQUEST, "q1:1", hold_s=5.0)) is None
    assert not books.writes
    error = spend.exhausted_error("then the local model timed out")
    assert error.startswith(f"{BUDGET_EXHAUSTED}: campaign az")
    assert "gemini/gemini-2.5-pro needs up to" in error
    assert error.endswith("; then then the local model timed out")


def test_without_a_limit_nothing_is_held_and_the_cost_is_recorded_after() -> None:
    books = Books(limit_usd=None)
    spend = _open(books)
    hold = _run(spend.hold(PRO, REQUEST, "q1:1", hold_s=5.0))
    assert hold is not None and hold.reservation is None
    _run(spend.settle(hold, _summary("success", 0.003)))
    assert books.writes == [("record", "q1:1", 0.003)]
    assert _run(spend.remaining_usd()) is None


def test_free_models_and_calls_without_books_or_campaign_touch_nothing() -> None:
    books = Books(limit_usd=1.0)
    free = _run(_open(books).hold(LOCAL, REQUEST, "q1:1", hold_s=5.0))
    assert free is not None and free.reservation is None and not books.writes
    for spend in (_open(None), _open(books, campaign=None)):
        hold = _run(spend.hold(PRO, REQUEST, "q1:1", hold_s=5.0))
        assert hold is not None and hold.reservation is None
        _run(spend.settle(hold, _summary("success", 0.002)))
    assert not books.writes
