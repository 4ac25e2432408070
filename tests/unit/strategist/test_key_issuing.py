"""Keys are made one way (CLI and console); a failed budget write names what to fix."""

from __future__ import annotations

import pytest
from redis.exceptions import AuthenticationError
from redis.exceptions import ConnectionError as RedisConnectionError

from strategist.auth.issuing import BudgetNotSet, budget_error, create_key
from strategist.auth.keys import KeyStore


def test_a_refused_password_says_to_export_the_stacks_redis_url() -> None:
    message = budget_error(AuthenticationError("invalid password"))
    assert "REDIS_URL" in message and "scripts/redis.sh url" in message


def test_an_unreachable_redis_names_the_setting() -> None:
    assert "REDIS_URL" in budget_error(RedisConnectionError("refused"))


def test_no_key_is_created_when_the_budget_cannot_be_set() -> None:
    store = KeyStore(database_url=None)  # any use of the store would raise

    class Refusing:
        def __getattr__(self, name: str) -> object:
            def refuse(*args: object, **kwargs: object) -> None:
                raise AuthenticationError("invalid password")
            return refuse

    with pytest.raises(BudgetNotSet, match="REDIS_URL"):
        create_key(store, redis_client=Refusing(), namespace="ns",  # type: ignore[arg-type]
                   campaign_id="alpha", monthly_budget_usd=5.0)
