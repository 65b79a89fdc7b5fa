-- Shared by finish.lua: the record of failures (see redis/failures.py).
-- failures: zset key -> failed at (us); notes, failure_payloads: hashes key -> bytes.
-- At most this many entries go per write, so a write never scans the record; a record over
-- its bounds (a lowered keep) shrinks by this much each write until it is back inside.
local FAILURE_TRIM = 1000

local function forget_failures(failures, notes, failure_payloads, keys)
  if #keys > 0 then
    redis.call('ZREM', failures, unpack(keys))
    redis.call('HDEL', notes, unpack(keys))
    redis.call('HDEL', failure_payloads, unpack(keys))
  end
end

-- Record the failure of `key` at `at` (the latest failure of a key replaces its earlier one),
-- then trim the oldest entries past `keep` and those older than `at - max_age`. No two
-- entries share a time: one at or before the latest is recorded a microsecond after it, so
-- paging back by time (`before`) never skips one.
local function record_failure(failures, notes, failure_payloads, key, at, note, payload, keep, max_age)
  local latest = redis.call('ZRANGE', failures, -1, -1, 'WITHSCORES')
  if latest[2] and tonumber(latest[2]) >= tonumber(at) then
    at = string.format('%d', tonumber(latest[2]) + 1)
  end
  redis.call('ZADD', failures, at, key)
  redis.call('HSET', notes, key, note)
  redis.call('HSET', failure_payloads, key, payload)
  local over = redis.call('ZCARD', failures) - tonumber(keep)
  if over > 0 then
    forget_failures(failures, notes, failure_payloads,
      redis.call('ZRANGE', failures, 0, math.min(over, FAILURE_TRIM) - 1))
  end
  local oldest = string.format('%d', tonumber(at) - tonumber(max_age))
  forget_failures(failures, notes, failure_payloads,
    redis.call('ZRANGEBYSCORE', failures, '-inf', '(' .. oldest, 'LIMIT', 0, FAILURE_TRIM))
end

-- A run of `key` ended without failing: its earlier failure is no longer its latest word.
local function clear_failure(failures, notes, failure_payloads, key)
  if redis.call('ZREM', failures, key) == 1 then
    redis.call('HDEL', notes, key)
    redis.call('HDEL', failure_payloads, key)
  end
end
