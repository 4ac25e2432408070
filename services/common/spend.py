"""Per-campaign monthly spend: a limit, the money spent, and money reserved for calls in flight.

Exact under concurrency: before a paid attempt the dispatcher *reserves* the attempt's
maximum cost; one Lua script grants it only if `spent + reserved + amount <= limit`, so
hundreds of queries in flight across processes can never commit more than the limit.
After the call it *settles* (the reservation goes, the real cost is added) or *releases*
(the call was never made). Amounts are integers of micro-USD; reservations and costs
are rounded up, so the books never show less than was spent.

Idempotent by reservation id (the attempt id): reserving an id that is already held
keeps the one reservation; settling an id twice counts it once (a settled id is marked
for `SETTLED_TTL_S`). Reserving an id that is already settled answers "settled": the
caller decides whether a new call is a new expense (the dispatcher does, under a new id).

Crash: a reservation carries a deadline (the attempt's time limit plus `LAPSE_GRACE_S`).
A reservation past its deadline *lapses* at the next reserve or read of the campaign: it
is charged in full, because the crashed call may have been billed and nobody will ever
report its cost. A late settle (the process was alive, only slow) corrects the charge to
the real cost. So reservations never leak, and spend is never under-counted.

The limit applies every calendar month (UTC); spend is kept per month
(`MONTH_KEYS_TTL_S`). Redis persists (AOF), so the books survive a restart. Redis
errors propagate: the dispatcher's worker retries the message rather than pay unguarded.

This module is the ledger; its atomic steps are the Lua of `spend_scripts.py`, the money
rules (costs, rounding, refusals) are in `spend_rules.py`, and one query's dealings with
the books (hold, settle, release) in `campaign_spend.py`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import redis
import redis.asyncio

from schemas.base import utc_now
from services.common.redis_keys import RedisKeys
from services.common.spend_rules import from_micro_usd, settled_cost_usd, to_micro_usd
from services.common.spend_scripts import RESERVE_LUA, SETTLE_LUA, USAGE_LUA

logger = logging.getLogger(__name__)

SETTLED_TTL_S = 7 * 24 * 3600
"""How long a settled attempt id is remembered (far beyond any redelivery)."""
MONTH_KEYS_TTL_S = 400 * 24 * 3600
"""A month's books are kept this long after their last write (a year of history)."""
LAPSE_GRACE_S = 60.0
"""Added to an attempt's time limit before its reservation lapses: a live process settles
well within it, so only a crashed one's reservation lapses."""


def month_of(moment: datetime) -> str:
    """`YYYY-MM` of a moment, in UTC (the books' month)."""
    return moment.astimezone(UTC).strftime("%Y-%m")


@dataclass(frozen=True)
class CampaignUsage:
    """A campaign's books for one month; `remaining_usd` is None when it has no limit."""

    campaign_id: str
    month: str
    spent_usd: float
    reserved_usd: float
    limit_usd: float | None
    remaining_usd: float | None


@dataclass(frozen=True)
class Reservation:
    """Money held for one paid attempt; settle or release it with the same object."""

    campaign_id: str
    month: str
    reservation_id: str
    amount_usd: float


ReserveStatus = Literal["reserved", "held", "refused", "settled"]
"""reserved: granted now; held: this id already held a reservation (kept, deadline renewed);
refused: the limit cannot cover it; settled: this id's cost is already on the books."""


@dataclass(frozen=True)
class ReserveOutcome:
    status: ReserveStatus
    usage: CampaignUsage
    reservation: Reservation | None = None
    """Set when the money is held (reserved, held)."""

    @property
    def granted(self) -> bool:
        return self.reservation is not None


def _usage(campaign_id: str, month: str, reply: Sequence[Any]) -> CampaignUsage:
    raw_limit, spent, reserved = reply
    if isinstance(raw_limit, bytes):
        raw_limit = raw_limit.decode()
    limit = int(raw_limit) if raw_limit not in ("", None) else None
    remaining = None if limit is None else max(limit - int(spent) - int(reserved), 0)
    return CampaignUsage(
        campaign_id=campaign_id,
        month=month,
        spent_usd=from_micro_usd(int(spent)),
        reserved_usd=from_micro_usd(int(reserved)),
        limit_usd=None if limit is None else from_micro_usd(limit),
        remaining_usd=None if remaining is None else from_micro_usd(remaining),
    )


def _month_keys(keys: RedisKeys, campaign_id: str, month: str) -> list[str]:
    return [
        keys.spend_limit(campaign_id),
        keys.spend(campaign_id, month),
        keys.spend_reserved(campaign_id, month),
        keys.spend_reserved_until(campaign_id, month),
        keys.spend_lapsed(campaign_id, month),
    ]


def _status(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def set_monthly_limit(
    redis: redis.Redis, namespace: str, campaign_id: str, limit_usd: float | None
) -> None:
    """Set (or with None, remove) a campaign's monthly limit; takes effect at the next
    reservation. A limit below this month's spend simply refuses every paid call."""
    key = RedisKeys(namespace).spend_limit(campaign_id)
    if limit_usd is None:
        redis.delete(key)
    else:
        redis.set(key, to_micro_usd(limit_usd))


def read_usage(
    redis: redis.Redis,
    namespace: str,
    campaign_id: str,
    *,
    clock: Callable[[], datetime] = utc_now,
) -> CampaignUsage:
    """This month's books of a campaign (lapsed reservations charged first)."""
    month = month_of(clock())
    keys = _month_keys(RedisKeys(namespace), campaign_id, month)
    reply = redis.eval(USAGE_LUA, len(keys), *keys, MONTH_KEYS_TTL_S)
    return _usage(campaign_id, month, reply)  # type: ignore[arg-type]


class SpendLedger:
    """The dispatcher's side of the books (asyncio); see the module docstring."""

    def __init__(
        self,
        *,
        redis: redis.asyncio.Redis,
        namespace: str,
        settled_ttl_s: int = SETTLED_TTL_S,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._redis = redis
        self._keys = RedisKeys(namespace)
        self._settled_ttl_s = settled_ttl_s
        self._clock = clock

    async def limit_usd(self, campaign_id: str) -> float | None:
        """The cheap check on the hot path: one GET; None means no limit."""
        raw = await self._redis.get(self._keys.spend_limit(campaign_id))
        return None if raw is None else from_micro_usd(int(raw))

    async def usage(self, campaign_id: str) -> CampaignUsage:
        month = month_of(self._clock())
        keys = _month_keys(self._keys, campaign_id, month)
        reply = await self._redis.eval(  # type: ignore[misc]
            USAGE_LUA, len(keys), *keys, MONTH_KEYS_TTL_S
        )
        return _usage(campaign_id, month, reply)

    async def reserve(
        self, campaign_id: str, reservation_id: str, amount_usd: float, *, hold_s: float
    ) -> ReserveOutcome:
        """Hold `amount_usd` for one attempt if the limit allows it (see ReserveStatus).

        `hold_s` is the attempt's time limit; the reservation lapses `LAPSE_GRACE_S` later.
        """
        month = month_of(self._clock())
        keys = [
            *_month_keys(self._keys, campaign_id, month),
            self._keys.spend_settled(reservation_id),
        ]
        hold_ms = math.ceil((hold_s + LAPSE_GRACE_S) * 1000)
        reply = await self._redis.eval(  # type: ignore[misc]
            RESERVE_LUA,
            len(keys),
            *keys,
            reservation_id,
            to_micro_usd(amount_usd),
            hold_ms,
            MONTH_KEYS_TTL_S,
        )
        status = _status(reply[0])
        usage = _usage(campaign_id, month, reply[1:])
        reservation = None
        if status in ("reserved", "held"):
            reservation = Reservation(campaign_id, month, reservation_id, amount_usd)
        return ReserveOutcome(status=status, usage=usage, reservation=reservation)  # type: ignore[arg-type]

    async def reserve_call(
        self, campaign_id: str, call_id: str, amount_usd: float, *, hold_s: float, again_as: str
    ) -> ReserveOutcome:
        """`reserve` for one call keyed by its deterministic id (a retried message reuses
        its reservation). When a call under that id is already booked (a delivery before a
        crash made and settled it), this call is a new expense, reserved as `again_as`."""
        outcome = await self.reserve(campaign_id, call_id, amount_usd, hold_s=hold_s)
        if outcome.status == "settled":
            outcome = await self.reserve(campaign_id, again_as, amount_usd, hold_s=hold_s)
        return outcome

    async def settle(self, reservation: Reservation, cost_usd: float) -> CampaignUsage:
        """Replace the reservation by the real cost; a second settle of the id is a no-op."""
        return await self._close(reservation, cost_usd, "settle")

    async def settle_outcome(
        self, reservation: Reservation, outcome: str, cost_usd: float
    ) -> CampaignUsage:
        """Settle one call by its outcome (`settled_cost_usd`; a timeout costs the
        reservation's full amount)."""
        cost = settled_cost_usd(outcome, cost_usd, reservation.amount_usd)
        if cost > reservation.amount_usd:
            logger.warning(
                "campaign=%s reservation=%s cost $%.6f exceeds its reservation $%.6f",
                reservation.campaign_id, reservation.reservation_id, cost, reservation.amount_usd,
            )  # fmt: skip
        return await self.settle(reservation, cost)

    async def release(self, reservation: Reservation) -> CampaignUsage:
        """Give the reservation back: the call was surely never made."""
        return await self._close(reservation, 0.0, "release")

    async def record(self, campaign_id: str, reservation_id: str, cost_usd: float) -> CampaignUsage:
        """Book a cost made without a reservation (a campaign without a limit); idempotent."""
        month = month_of(self._clock())
        unreserved = Reservation(campaign_id, month, reservation_id, 0.0)
        return await self._close(unreserved, cost_usd, "settle")

    async def _close(self, reservation: Reservation, cost_usd: float, mode: str) -> CampaignUsage:
        keys = [
            *_month_keys(self._keys, reservation.campaign_id, reservation.month),
            self._keys.spend_settled(reservation.reservation_id),
        ]
        reply = await self._redis.eval(  # type: ignore[misc]
            SETTLE_LUA,
            len(keys),
            *keys,
            reservation.reservation_id,
            to_micro_usd(cost_usd),
            self._settled_ttl_s,
            MONTH_KEYS_TTL_S,
            mode,
        )
        return _usage(reservation.campaign_id, reservation.month, reply[1:])
