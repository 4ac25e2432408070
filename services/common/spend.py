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

from providers.base import CompletionRequest
from providers.catalogue import ModelSpec
from schemas.base import utc_now
from services.common.redis_keys import RedisKeys

logger = logging.getLogger(__name__)

MICRO_USD = 1_000_000
SETTLED_TTL_S = 7 * 24 * 3600
"""How long a settled attempt id is remembered (far beyond any redelivery)."""
MONTH_KEYS_TTL_S = 400 * 24 * 3600
"""A month's books are kept this long after their last write (a year of history)."""
LAPSE_GRACE_S = 60.0
"""Added to an attempt's time limit before its reservation lapses: a live process settles
well within it, so only a crashed one's reservation lapses."""
CALL_INPUT_OVERHEAD_TOKENS = 64
"""Tokens a chat template adds around the system and user messages (role markers)."""
BUDGET_EXHAUSTED = "budget_exhausted"
"""The prefix of an error when the campaign's limit stopped a paid call (the app answers
402 Payment Required)."""

_LUA_COMMON = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function int(x) return string.format('%d', x) end
local function reserved_total(reserved_key)
  local total = 0
  for _, v in ipairs(redis.call('HVALS', reserved_key)) do total = total + tonumber(v) end
  return total
end
-- Reservations past their deadline are charged in full (their call may have been billed).
local function lapse(spent_key, reserved_key, until_key, lapsed_key, ttl)
  local ids = redis.call('ZRANGEBYSCORE', until_key, '-inf', now_ms())
  for _, id in ipairs(ids) do
    local amount = tonumber(redis.call('HGET', reserved_key, id) or '0')
    redis.call('HDEL', reserved_key, id)
    redis.call('ZREM', until_key, id)
    redis.call('INCRBY', spent_key, int(amount))
    redis.call('HSET', lapsed_key, id, int(amount))
    redis.call('EXPIRE', spent_key, ttl)
    redis.call('EXPIRE', lapsed_key, ttl)
  end
end
local function books(limit_key, spent_key, reserved_key)
  return {redis.call('GET', limit_key) or '', tonumber(redis.call('GET', spent_key) or '0'),
          reserved_total(reserved_key)}
end
"""

# KEYS: limit, spent, reserved, until, lapsed, settled marker
# ARGV: reservation id, amount, hold ms, month keys ttl s
RESERVE_LUA = (
    _LUA_COMMON
    + """
local ttl = tonumber(ARGV[4])
lapse(KEYS[2], KEYS[3], KEYS[4], KEYS[5], ttl)
local id, amount = ARGV[1], tonumber(ARGV[2])
if redis.call('EXISTS', KEYS[6]) == 1 then
  local b = books(KEYS[1], KEYS[2], KEYS[3]); return {'settled', b[1], b[2], b[3]}
end
if redis.call('HEXISTS', KEYS[3], id) == 1 then
  redis.call('ZADD', KEYS[4], now_ms() + tonumber(ARGV[3]), id)
  local b = books(KEYS[1], KEYS[2], KEYS[3]); return {'held', b[1], b[2], b[3]}
end
-- a lapsed earlier call under this id stays charged; this is a new call
redis.call('HDEL', KEYS[5], id)
local b = books(KEYS[1], KEYS[2], KEYS[3])
if b[1] ~= '' and b[2] + b[3] + amount > tonumber(b[1]) then
  return {'refused', b[1], b[2], b[3]}
end
redis.call('HSET', KEYS[3], id, int(amount))
redis.call('ZADD', KEYS[4], now_ms() + tonumber(ARGV[3]), id)
for i = 3, 4 do redis.call('EXPIRE', KEYS[i], ttl) end
return {'reserved', b[1], b[2], b[3] + amount}
"""
)

# KEYS: limit, spent, reserved, until, lapsed, settled marker
# ARGV: reservation id, cost, settled ttl s, month keys ttl s, mode ('settle' | 'release')
SETTLE_LUA = (
    _LUA_COMMON
    + """
local id, cost, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[4])
if redis.call('EXISTS', KEYS[6]) == 1 then
  local b = books(KEYS[1], KEYS[2], KEYS[3]); return {'duplicate', b[1], b[2], b[3]}
end
local lapsed = redis.call('HGET', KEYS[5], id)
if redis.call('HEXISTS', KEYS[3], id) == 1 then
  redis.call('HDEL', KEYS[3], id)
  redis.call('ZREM', KEYS[4], id)
  redis.call('INCRBY', KEYS[2], int(cost))
elseif lapsed then
  redis.call('HDEL', KEYS[5], id)
  redis.call('INCRBY', KEYS[2], int(cost - tonumber(lapsed)))
else
  redis.call('INCRBY', KEYS[2], int(cost))
end
redis.call('EXPIRE', KEYS[2], ttl)
if ARGV[5] == 'settle' then redis.call('SET', KEYS[6], int(cost), 'EX', ARGV[3]) end
local b = books(KEYS[1], KEYS[2], KEYS[3]); return {'settled', b[1], b[2], b[3]}
"""
)

# KEYS: limit, spent, reserved, until, lapsed; ARGV: month keys ttl s
USAGE_LUA = (
    _LUA_COMMON
    + """
lapse(KEYS[2], KEYS[3], KEYS[4], KEYS[5], tonumber(ARGV[1]))
return books(KEYS[1], KEYS[2], KEYS[3])
"""
)


def month_of(moment: datetime) -> str:
    """`YYYY-MM` of a moment, in UTC (the books' month)."""
    return moment.astimezone(UTC).strftime("%Y-%m")


def to_micro_usd(usd: float) -> int:
    """Rounded up: a reservation or a cost is never booked below what it is."""
    if usd < 0:
        raise ValueError(f"an amount of money cannot be negative: {usd}")
    return math.ceil(round(usd * MICRO_USD, 3))


def from_micro_usd(micro: int) -> float:
    return micro / MICRO_USD


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


def max_call_cost_usd(spec: ModelSpec, request: CompletionRequest) -> float:
    """The most one call can cost: every prompt byte a token (a BPE token covers at least
    one UTF-8 byte) plus the template's overhead, and the request's output cap."""
    text = request.prompt + (request.system or "")
    input_bound = len(text.encode()) + CALL_INPUT_OVERHEAD_TOKENS
    return spec.cost_usd(input_bound, request.max_output_tokens)


def is_paid_model(spec: ModelSpec) -> bool:
    """False for a free model (the local one): it reserves nothing."""
    p = spec.pricing
    return p.input_per_million_usd > 0 or p.output_per_million_usd > 0 or p.per_request_usd > 0


def settled_cost_usd(outcome: str, cost_usd: float, max_cost_usd: float) -> float:
    """What a finished call is booked at, by its outcome: a success at the cost the provider
    reported; a timeout at the reserved maximum (the provider may have done and billed the
    work, we cannot know how much, so the books assume the worst); an error or a skip at
    nothing (a provider does not bill a request it refused or failed)."""
    if outcome == "success":
        return cost_usd
    if outcome == "timeout":
        return max_cost_usd
    return 0.0


def refusal_text(provider: str, model: str, amount_usd: float, usage: CampaignUsage) -> str:
    """Why one paid call was refused, for an error or an explanation."""
    return (
        f"{provider}/{model} needs up to ${amount_usd:.6f}, ${usage.remaining_usd or 0.0:.6f} left"
    )


def budget_exhausted_error(
    campaign_id: str, limit_usd: float | None, refusals: Sequence[str]
) -> str:
    """The error of a query the campaign's monthly limit stopped (starts `budget_exhausted`,
    which the app maps to 402)."""
    return (
        f"{BUDGET_EXHAUSTED}: campaign {campaign_id} has reached its monthly spend "
        f"limit of ${limit_usd or 0.0:.2f} ({'; '.join(refusals)})"
    )


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
