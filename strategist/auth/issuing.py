"""Creating a key the one way: the CLI (`keys create`) and the console's Keys page both
call `create_key`, so a key made either way is the same kind of key.

The campaign's monthly budget is set first (in the spend books, Redis), so a failure
there creates nothing; the error names the setting to check (a local stack's Redis has a
generated password: `REDIS_URL` must carry it, `scripts/redis.sh url` prints it).
"""

from __future__ import annotations

from datetime import timedelta

from redis import Redis
from redis.exceptions import AuthenticationError, RedisError

from services.common.spend import set_monthly_limit
from strategist.auth.keys import KeyRecord, KeyStore, Role


class BudgetNotSet(Exception):
    """The monthly budget could not be written; no key was created."""


def budget_error(err: Exception) -> str:
    """Words for a failed budget write that say which setting to look at."""
    if isinstance(err, AuthenticationError):
        return ("monthly budget not set: Redis refused the password (AuthenticationError). "
                "Export REDIS_URL with the password of the local stack: "
                "export REDIS_URL=\"$(scripts/redis.sh url)\"")
    return (f"monthly budget not set: Redis at REDIS_URL unreachable ({type(err).__name__}); "
            "check REDIS_URL (scripts/redis.sh url prints the local stack's)")


def create_key(
    store: KeyStore,
    *,
    redis_client: Redis | None,
    namespace: str,
    campaign_id: str,
    role: Role = "strategist",
    rate_per_minute: int | None = None,
    monthly_budget_usd: float | None = None,
    expires_days: int | None = None,
) -> tuple[KeyRecord, str]:
    """A new key (record, key shown once). Raises BudgetNotSet, KeyStoreUnavailable."""
    if monthly_budget_usd is not None:
        if redis_client is None:
            raise BudgetNotSet("monthly budget not set: no Redis client")
        try:
            set_monthly_limit(redis_client, namespace, campaign_id, monthly_budget_usd)
        except RedisError as err:
            raise BudgetNotSet(budget_error(err)) from err
    return store.create(
        campaign_id,
        role=role,
        rate_per_minute=rate_per_minute,
        expires_in=timedelta(days=expires_days) if expires_days else None,
    )
