-- Put failed tasks back on the schedule (see FailureStore.retry_failures).
-- KEYS: 1 schedule, 2 payloads, 3 leases, 4 held (zset), 5 failures, 6 notes,
--       7 failure payloads
-- ARGV: 1 wake channel, then key, due, payload triples
-- Returns one character per task: r retried, h hastened, b busy, m missing.
local schedule, payloads, leases, held = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local failures, notes, failure_payloads = KEYS[5], KEYS[6], KEYS[7]
local head = redis.call('ZRANGE', schedule, 0, 0, 'WITHSCORES')
local earliest = head[2] and tonumber(head[2]) or nil
local wake = nil
local outcomes = {}
for i = 2, #ARGV, 3 do
  local key, due, payload = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local at = tonumber(due)
  local written = false
  if not redis.call('ZSCORE', failures, key) then
    outcomes[#outcomes + 1] = 'm'
  elseif redis.call('ZSCORE', leases, key) or redis.call('ZSCORE', held, key) then
    outcomes[#outcomes + 1] = 'b'
  else
    local scheduled = redis.call('ZSCORE', schedule, key)
    if scheduled then
      -- Retrying already: sooner, with the payload (and attempt count) it has.
      if at < tonumber(scheduled) then
        redis.call('ZADD', schedule, due, key)
        written = true
      end
      outcomes[#outcomes + 1] = 'h'
    else
      redis.call('ZADD', schedule, due, key)
      redis.call('HSET', payloads, key, payload)
      redis.call('ZREM', failures, key)
      redis.call('HDEL', notes, key)
      redis.call('HDEL', failure_payloads, key)
      written = true
      outcomes[#outcomes + 1] = 'r'
    end
  end
  if written and (earliest == nil or at < earliest) then
    earliest = at
    wake = due
  end
end
if wake then
  redis.call('PUBLISH', ARGV[1], wake)
end
return table.concat(outcomes)
