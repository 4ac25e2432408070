"""Redis clients sized to the work and resilient to a Redis restart.

redis-py's default asyncio pool allows 100 connections and fails at once when
they are all taken ("Too many connections"); a service that runs 256 queries at
a time then loses writes exactly when a backlog arrives. These clients use a
*blocking* pool sized to the caller's concurrency (a caller waits for a free
connection, up to a timeout), retry a command on a dropped connection, and
check idle connections before use, so dead sockets left by a Redis restart are
replaced instead of failing the next command.
"""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

SOCKET_TIMEOUT_S = 2.0
POOL_WAIT_TIMEOUT_S = 5.0
COMMAND_RETRIES = 3
RETRY_BACKOFF_CAP_S = 1.0
RETRY_BACKOFF_BASE_S = 0.05
HEALTH_CHECK_INTERVAL_S = 5
POOL_HEADROOM = 8
"""Connections beyond the caller's concurrency (pipelines, the odd background read)."""


def pool_size(concurrency: int) -> int:
    """Connections for `concurrency` simultaneous users: never fewer than users."""
    return max(concurrency, 1) + POOL_HEADROOM


def _retry() -> Retry:
    return Retry(
        ExponentialBackoff(cap=RETRY_BACKOFF_CAP_S, base=RETRY_BACKOFF_BASE_S),
        COMMAND_RETRIES,
        supported_errors=(RedisConnectionError, RedisTimeoutError, ConnectionResetError),
    )


def _pool_options(concurrency: int, socket_timeout_s: float) -> dict[str, Any]:
    """The same pool behaviour for the asyncio and the threaded client."""
    return {
        "max_connections": pool_size(concurrency),
        "timeout": POOL_WAIT_TIMEOUT_S,
        "socket_timeout": socket_timeout_s,
        "socket_connect_timeout": socket_timeout_s,
        "health_check_interval": HEALTH_CHECK_INTERVAL_S,
        "retry": _retry(),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
    }


def async_redis(url: str, *, concurrency: int) -> redis.asyncio.Redis:
    """An asyncio client for a service that runs `concurrency` handlers at once."""
    pool = redis.asyncio.BlockingConnectionPool.from_url(
        url, **_pool_options(concurrency, SOCKET_TIMEOUT_S)
    )
    return redis.asyncio.Redis(connection_pool=pool)


def sync_redis(
    url: str, *, concurrency: int, socket_timeout_s: float = SOCKET_TIMEOUT_S
) -> redis.Redis:
    """A thread-safe client for a process with `concurrency` request threads (the app)."""
    pool = redis.BlockingConnectionPool.from_url(
        url, **_pool_options(concurrency, socket_timeout_s)
    )
    return redis.Redis(connection_pool=pool)
