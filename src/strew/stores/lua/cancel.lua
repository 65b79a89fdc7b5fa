-- Remove keys from the schedule; ask whoever runs them to stop.
-- KEYS: 1 schedule, 2 payloads, 3 leases, 4 held, 5 held payloads (tasks a strike holds).
-- ARGV: 1 cancel channel, then the keys.
local schedule, payloads, leases, held, held_payloads = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local removed = 0
for i = 2, #ARGV do
  local key = ARGV[i]
  removed = removed + redis.call('ZREM', schedule, key)
  redis.call('HDEL', payloads, key)
  removed = removed + redis.call('ZREM', held, key)
  redis.call('HDEL', held_payloads, key)
  if redis.call('ZSCORE', leases, key) then
    redis.call('PUBLISH', ARGV[1], key)
  end
end
return removed
