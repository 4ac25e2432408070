"""The campaign spend books (services/common/spend.py) and their Lua, against the real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime

import pytest
import redis
import redis.asyncio

from services.common.redis_client import async_redis
from services.common.spend import (
    LAPSE_GRACE_S,
    CampaignUsage,
    SpendLedger,
    read_usage,
    set_monthly_limit,
)

CAMPAIGN = "campaign-a"


@pytest.fixture
def sync_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


HANG_GUARD_S = 30.0
CONCURRENCY = 300
Scenario = Callable[[SpendLedger], Awaitable[None]]


@pytest.fixture
def with_ledger(redis_url: str, namespace: str) -> Callable[[Scenario], None]:
    """Run a scenario with a ledger on an asyncio client of its own event loop."""

    def run(scenario: Scenario) -> None:
        async def main() -> None:
            client = async_redis(redis_url, concurrency=CONCURRENCY)
            try:
                await asyncio.wait_for(
                    scenario(SpendLedger(redis=client, namespace=namespace)), HANG_GUARD_S
                )
            finally:
                await client.aclose()

        asyncio.run(main())

    return run


def _books(usage: CampaignUsage) -> tuple[float, float, float | None]:
    return (usage.spent_usd, usage.reserved_usd, usage.remaining_usd)


def test_reserves_up_to_the_limit_exactly_and_refuses_beyond(
    with_ledger: Callable[[Scenario], None], sync_client: redis.Redis, namespace: str
) -> None:
    set_monthly_limit(sync_client, namespace, CAMPAIGN, 1.0)

    async def scenario(ledger: SpendLedger) -> None:
        first = await ledger.reserve(CAMPAIGN, "q1:1", 0.6, hold_s=5)
        second = await ledger.reserve(CAMPAIGN, "q2:1", 0.4, hold_s=5)  # exactly the rest
        third = await ledger.reserve(CAMPAIGN, "q3:1", 0.000001, hold_s=5)
        assert (first.status, second.status, third.status) == ("reserved", "reserved", "refused")
        assert _books(third.usage) == (0.0, 1.0, 0.0)
        assert _books(read_usage(sync_client, namespace, CAMPAIGN)) == (0.0, 1.0, 0.0)

    with_ledger(scenario)


def test_settle_replaces_the_reservation_by_the_real_cost_once(
    with_ledger: Callable[[Scenario], None], sync_client: redis.Redis, namespace: str
) -> None:
    set_monthly_limit(sync_client, namespace, CAMPAIGN, 1.0)

    async def scenario(ledger: SpendLedger) -> None:
        held = await ledger.reserve(CAMPAIGN, "q1:1", 0.6, hold_s=5)
        assert held.reservation is not None
        assert _books(await ledger.settle(held.reservation, 0.25)) == (0.25, 0.0, 0.75)
        assert _books(await ledger.settle(held.reservation, 0.25)) == (0.25, 0.0, 0.75)  # retry
        again = await ledger.reserve(CAMPAIGN, "q1:1", 0.6, hold_s=5)
        assert again.status == "settled" and again.reservation is None  # never booked twice

    with_ledger(scenario)


def test_a_retried_reservation_is_held_once_and_release_gives_it_back(
    with_ledger: Callable[[Scenario], None], sync_client: redis.Redis, namespace: str
) -> None:
    set_monthly_limit(sync_client, namespace, CAMPAIGN, 1.0)

    async def scenario(ledger: SpendLedger) -> None:
        first = await ledger.reserve(CAMPAIGN, "q1:1", 0.6, hold_s=5)
        retried = await ledger.reserve(CAMPAIGN, "q1:1", 0.6, hold_s=5)
        assert retried.status == "held" and _books(retried.usage) == (0.0, 0.6, 0.4)
        assert first.reservation is not None
        assert _books(await ledger.release(first.reservation)) == (0.0, 0.0, 1.0)
        assert (await ledger.reserve(CAMPAIGN, "q1:1", 0.6, hold_s=5)).status == "reserved"

    with_ledger(scenario)


def test_a_crashed_holders_reservation_lapses_charged_in_full_and_a_late_settle_corrects(
    with_ledger: Callable[[Scenario], None], sync_client: redis.Redis, namespace: str
) -> None:
    set_monthly_limit(sync_client, namespace, CAMPAIGN, 1.0)

    async def scenario(ledger: SpendLedger) -> None:
        lapsing = await ledger.reserve(CAMPAIGN, "q1:1", 0.5, hold_s=-LAPSE_GRACE_S + 0.2)
        assert lapsing.reservation is not None
        await asyncio.sleep(0.4)
        assert _books(read_usage(sync_client, namespace, CAMPAIGN)) == (0.5, 0.0, 0.5)
        assert _books(await ledger.settle(lapsing.reservation, 0.1)) == (0.1, 0.0, 0.9)

    with_ledger(scenario)


def test_without_a_limit_nothing_is_refused_and_recorded_spend_shows(
    with_ledger: Callable[[Scenario], None], sync_client: redis.Redis, namespace: str
) -> None:

    async def scenario(ledger: SpendLedger) -> None:
        assert await ledger.limit_usd(CAMPAIGN) is None
        await ledger.record(CAMPAIGN, "q1:1", 0.02)
        await ledger.record(CAMPAIGN, "q1:1", 0.02)  # a retried write
        usage = read_usage(sync_client, namespace, CAMPAIGN)
        assert (usage.spent_usd, usage.limit_usd, usage.remaining_usd) == (0.02, None, None)
        set_monthly_limit(sync_client, namespace, CAMPAIGN, 0.5)
        assert await ledger.limit_usd(CAMPAIGN) == 0.5
        assert read_usage(sync_client, namespace, CAMPAIGN).remaining_usd == 0.48
        set_monthly_limit(sync_client, namespace, CAMPAIGN, None)
        assert await ledger.limit_usd(CAMPAIGN) is None

    with_ledger(scenario)


def test_hundreds_of_concurrent_reservations_never_commit_more_than_the_limit(
    with_ledger: Callable[[Scenario], None], sync_client: redis.Redis, namespace: str
) -> None:
    set_monthly_limit(sync_client, namespace, CAMPAIGN, 1.0)

    async def scenario(ledger: SpendLedger) -> None:
        outcomes = await asyncio.gather(
            *(ledger.reserve(CAMPAIGN, f"q{i}:1", 0.01, hold_s=5) for i in range(300))
        )
        granted = [o.reservation for o in outcomes if o.reservation is not None]
        assert len(granted) == 100
        await asyncio.gather(*(ledger.settle(r, 0.004) for r in granted))
        usage = read_usage(sync_client, namespace, CAMPAIGN)
        assert (round(usage.spent_usd, 6), usage.reserved_usd) == (0.4, 0.0)

    with_ledger(scenario)


def test_each_month_has_its_own_books(
    redis_url: str, sync_client: redis.Redis, namespace: str
) -> None:
    set_monthly_limit(sync_client, namespace, CAMPAIGN, 1.0)

    async def scenario() -> None:
        client = redis.asyncio.Redis.from_url(redis_url)
        try:
            november = SpendLedger(
                redis=client, namespace=namespace, clock=lambda: datetime(2026, 11, 30, tzinfo=UTC)
            )
            december = SpendLedger(
                redis=client, namespace=namespace, clock=lambda: datetime(2026, 12, 1, tzinfo=UTC)
            )
            await november.record(CAMPAIGN, "q1:1", 0.9)
            assert (await november.reserve(CAMPAIGN, "q2:1", 0.2, hold_s=5)).status == "refused"
            reserved = await december.reserve(CAMPAIGN, "q2:1", 0.2, hold_s=5)
            assert reserved.status == "reserved" and reserved.usage.month == "2026-12"
        finally:
            await client.aclose()

    asyncio.run(asyncio.wait_for(scenario(), HANG_GUARD_S))
