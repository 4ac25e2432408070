"""The finished-analysis record in Redis, written one way by the scorer and the app.

First answer wins. A query can be answered twice in rare races (the app's
direct-path fallback answers while the pipeline still holds the query; a step is
redelivered after a crash). The caller may already hold the first answer, so a
later one never overwrites it, with one exception: a completed answer replaces
a stored *failed* one (a caller polling a failure would rather see the answer).
The pending marker is dropped in the same atomic step.
"""

from __future__ import annotations

from schemas.response import AnalysisResponded
from services.common.redis_keys import RedisKeys

WRITE_RESULT_LUA = """
local current = redis.call('GET', KEYS[1])
if current then
  local ok, stored = pcall(cjson.decode, current)
  local stored_failed = ok and type(stored) == 'table' and stored['status'] == 'failed'
  if not (stored_failed and ARGV[3] == 'completed') then
    redis.call('DEL', KEYS[2])
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('DEL', KEYS[2])
return 1
"""
"""KEYS: result, pending. ARGV: response JSON, TTL seconds, the response's status."""


def result_write_args(
    keys: RedisKeys, response: AnalysisResponded, ttl_s: int
) -> tuple[str, int, str, str, bytes, int, str]:
    """Arguments for `EVAL` (sync or asyncio client): script, 2 keys, then ARGV.

    The reply is 1 when this write stored its response, 0 when an earlier answer stays.
    """
    return (
        WRITE_RESULT_LUA,
        2,
        keys.result(response.analysis_id),
        keys.pending(response.analysis_id),
        response.to_bytes(),
        ttl_s,
        response.status,
    )
