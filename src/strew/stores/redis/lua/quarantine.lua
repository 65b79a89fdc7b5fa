-- Move claims from their lease into the quarantine: tasks whose payload cannot be run.
-- KEYS: 1 schedule, 2 payloads, 3 leases, 4 running, 5 tokens, 6 dues, 7 quarantine (hash)
-- ARGV: 1 wake channel, then key, token, reason for each claim
-- A quarantine record is one hash field, key -> "<time us> <reason length> <reason><payload>",
-- so the payload's bytes are kept exactly and the record never expires.
-- Returns a string with one '1' or '0' per claim: 0 when the token no longer held the lease.
local schedule, leases, running, tokens, dues, quarantine = KEYS[1], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local t = redis.call('TIME')
local now = string.format('%d', tonumber(t[1]) * 1000000 + tonumber(t[2]))
local moved = {}
for i = 2, #ARGV, 3 do
  local key, token, reason = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if redis.call('HGET', tokens, key) ~= token then
    moved[#moved + 1] = '0'
  else
    local payload = redis.call('HGET', running, key) or ''
    redis.call('ZREM', leases, key)
    redis.call('HDEL', running, key)
    redis.call('HDEL', tokens, key)
    redis.call('HDEL', dues, key)
    redis.call('HSET', quarantine, key, now .. ' ' .. #reason .. ' ' .. reason .. payload)
    moved[#moved + 1] = '1'
    local waiting = redis.call('ZSCORE', schedule, key)
    if waiting then
      -- A newer schedule of this key was held back by this run; it may go now.
      redis.call('PUBLISH', ARGV[1], waiting)
    end
  end
end
return table.concat(moved)
