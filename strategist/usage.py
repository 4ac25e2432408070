"""`GET /api/v1/strategist/usage`: a campaign's spend this month and its limit.

The books are the dispatcher's (`services.common.spend`, in Redis): spent is what
finished calls cost, reserved what calls in flight may still cost at most; the
limit is set with `flask --app strategist keys create ... --monthly-budget-usd X`.
"""

from __future__ import annotations

import redis
from pydantic import BaseModel, ConfigDict, Field

from services.common.spend import read_usage
from strategist.analysis.store import ResultStore, StoreUnavailable


class UsageBody(BaseModel):
    """The body of GET /usage (the OpenAPI document is generated from it)."""

    model_config = ConfigDict(extra="forbid")

    campaign_id: str
    month: str = Field(description="Calendar month (UTC) of the books, e.g. 2026-11.")
    spent_usd: float
    reserved_usd: float = Field(description="Calls in flight, at their maximum cost.")
    limit_usd: float | None = Field(description="Monthly limit; null: none set.")
    remaining_usd: float | None = Field(description="Limit less spent and reserved.")


def campaign_usage(store: ResultStore, namespace: str, campaign_id: str) -> UsageBody:
    """The books through the process's Redis client; raises StoreUnavailable when Redis
    cannot say."""
    try:
        usage = read_usage(store.client, namespace, campaign_id)
    except redis.RedisError as err:
        raise StoreUnavailable(f"redis usage: {type(err).__name__}: {err}") from err
    return UsageBody(
        campaign_id=usage.campaign_id,
        month=usage.month,
        spent_usd=usage.spent_usd,
        reserved_usd=usage.reserved_usd,
        limit_usd=usage.limit_usd,
        remaining_usd=usage.remaining_usd,
    )
