"""The Lua scripts behind the campaign spend books (`services.common.spend`).

Each script runs atomically in Redis, which is what makes the books exact under
concurrency: a reservation is granted only if `spent + reserved + amount <= limit` at that
instant, across every process. They share `_LUA_COMMON`: the server's clock, the sum of
reservations, and the lapse of reservations past their deadline (charged in full: their
call may have been billed). Amounts are integers of micro-USD. The ledger passes the keys
in the order each script's comment names; nothing else calls them.
"""

from __future__ import annotations

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
