-- Put back the automatic chains that are gone, in one atomic step.
-- KEYS: 1 schedule, 2 payloads, 3 leases, 4 held (zset), 5 ended chains (hash key -> time)
-- ARGV: 1 wake channel, 2 since (us): a chain that ended at or after it stays ended,
--       then key, due, payload triples.
-- Returns one '1' (written) or '0' (alive, or ended since) per entry.
local schedule, payloads, leases, held, ended = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local since = tonumber(ARGV[2])
local head = redis.call('ZRANGE', schedule, 0, 0, 'WITHSCORES')
local earliest = head[2] and tonumber(head[2]) or nil
local wake = nil
local written = {}
for i = 3, #ARGV, 3 do
  local key, due = ARGV[i], ARGV[i + 1]
  local alive = redis.call('ZSCORE', schedule, key) or redis.call('ZSCORE', leases, key)
    or redis.call('ZSCORE', held, key)
  local ended_at = redis.call('HGET', ended, key)
  if not alive and ended_at and tonumber(ended_at) >= since then
    written[#written + 1] = '0'
  else
    -- Alive, or about to be: an ordinary chain again, restored if it is lost later.
    if ended_at then redis.call('HDEL', ended, key) end
    if alive then
      written[#written + 1] = '0'
    else
      redis.call('ZADD', schedule, due, key)
      redis.call('HSET', payloads, key, ARGV[i + 2])
      written[#written + 1] = '1'
      local at = tonumber(due)
      if earliest == nil or at < earliest then
        earliest = at
        wake = due
      end
    end
  end
end
if wake then
  redis.call('PUBLISH', ARGV[1], wake)
end
return table.concat(written)
