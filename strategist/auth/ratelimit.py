"""Requests per minute per API key: a token bucket in Redis, shared by every app process.

One Lua script reads, refills and takes from the bucket in a single atomic step, on
Redis's clock (`TIME`), so any number of app processes on any hosts share one limit
and never race. A key of rate R per minute refills at R/60 tokens a second and holds at
most `burst_s` seconds' worth (never less than one request).

When Redis cannot be asked, the request goes through (logged): the limit protects the
budget, which the dispatcher enforces on its own, and an outage of Redis should not
turn into an outage of every campaign.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Protocol

import redis

from services.common.redis_keys import RedisKeys

logger = logging.getLogger(__name__)

TAKE_TOKEN_LUA = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = capacity
  at = now
end
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = 0
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 1)
return {allowed, tostring(wait)}
"""
"""KEYS: the bucket. ARGV: tokens per second, capacity. Returns {1|0, seconds to wait}."""

MIN_RETRY_AFTER_S = 1


class Limiter(Protocol):
    def take(self, key_id: str, rate_per_minute: int) -> int | None:
        """None when the request may go; else the seconds to wait (for Retry-After)."""
        ...


def capacity(rate_per_minute: int, burst_s: float) -> float:
    return max(1.0, rate_per_minute * burst_s / 60.0)


class RedisLimiter:
    """The shared token bucket; `client` gives the process's Redis client (made lazily)."""

    def __init__(
        self, *, client: Callable[[], redis.Redis], namespace: str, burst_s: float
    ) -> None:
        self._client = client
        self._keys = RedisKeys(namespace)
        self._burst_s = burst_s

    def take(self, key_id: str, rate_per_minute: int) -> int | None:
        try:
            allowed, wait = self._client().eval(
                TAKE_TOKEN_LUA,
                1,
                self._keys.rate_limit(key_id),
                rate_per_minute / 60.0,
                capacity(rate_per_minute, self._burst_s),
            )
        except redis.RedisError as err:
            logger.warning("key=%s rate limit not checked (Redis): %s", key_id, err)
            return None
        if int(allowed) == 1:
            return None
        return max(MIN_RETRY_AFTER_S, math.ceil(float(wait)))
