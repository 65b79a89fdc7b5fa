-- Move claims from their lease to the held tasks (a strike pauses them), payload kept.
-- KEYS: 1 schedule, 2 payloads, 3 leases, 4 running, 5 tokens, 6 dues, 7 version,
--       8 held (zset key -> due), 9 held payloads (hash key -> payload)
-- ARGV: 1 wake channel, 2 the rules' version the caller decided on, then key, token pairs.
-- Returns one '1' or '0' per pair; all '0' when the version has moved on.
local schedule, leases, running, tokens, dues = KEYS[1], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local held, held_payloads = KEYS[8], KEYS[9]
local flags = {}
local current = redis.call('GET', KEYS[7]) or '0'
for i = 3, #ARGV, 2 do
  local key, token = ARGV[i], ARGV[i + 1]
  if current ~= ARGV[2] or redis.call('HGET', tokens, key) ~= token then
    flags[#flags + 1] = '0'
  else
    local due = redis.call('HGET', dues, key) or '0'  -- "<due> <claimed at>", or "<due>"
    local space = string.find(due, ' ', 1, true)
    if space then due = string.sub(due, 1, space - 1) end
    redis.call('ZADD', held, due, key)
    redis.call('HSET', held_payloads, key, redis.call('HGET', running, key))
    redis.call('ZREM', leases, key)
    redis.call('HDEL', running, key)
    redis.call('HDEL', tokens, key)
    redis.call('HDEL', dues, key)
    flags[#flags + 1] = '1'
    local waiting = redis.call('ZSCORE', schedule, key)
    if waiting then
      -- A newer schedule of this key was held back by this lease; it may go now.
      redis.call('PUBLISH', ARGV[1], waiting)
    end
  end
end
return table.concat(flags)
