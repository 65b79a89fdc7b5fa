-- Remove keys from the schedule (and from the tasks a strike holds); ask whoever runs them
-- to stop.
-- KEYS: 1 schedule, 2 payloads, 3 leases, 4 held, 5 held payloads, then the record key of
--       each task key.
-- ARGV: 1 cancel channel, 2 record ("" for none), 3 record ttl (ms), then the keys.
-- A key removed from the schedule or the held tasks gets the record, in the same step.
local schedule, payloads, leases, held, held_payloads = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local removed = 0
for i = 4, #ARGV do
  local key = ARGV[i]
  local gone = redis.call('ZREM', schedule, key) + redis.call('ZREM', held, key)
  removed = removed + gone
  redis.call('HDEL', payloads, key)
  redis.call('HDEL', held_payloads, key)
  if gone > 0 and ARGV[2] ~= '' then
    redis.call('SET', KEYS[i + 2], ARGV[2], 'PX', ARGV[3])
  end
  if redis.call('ZSCORE', leases, key) then
    redis.call('PUBLISH', ARGV[1], key)
  end
end
return removed
