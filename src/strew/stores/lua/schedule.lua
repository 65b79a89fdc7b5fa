-- Put tasks on the schedule in one atomic step.
-- KEYS: 1 schedule (zset key -> due), 2 payloads (hash), 3 leases (zset key -> deadline)
-- ARGV: 1 replace ("1"/"0"), 2 wake channel, then key, due, payload triples.
-- Returns a string with one '1' or '0' per task: 1 when written, 0 when its key was already scheduled or running.
local schedule, payloads, leases = KEYS[1], KEYS[2], KEYS[3]
local replace = ARGV[1] == '1'

local head = redis.call('ZRANGE', schedule, 0, 0, 'WITHSCORES')
local earliest = head[2] and tonumber(head[2]) or nil
local wake = nil

local written = {}
for i = 3, #ARGV, 3 do
  local key, due = ARGV[i], ARGV[i + 1]
  if not replace and (redis.call('ZSCORE', schedule, key) or redis.call('ZSCORE', leases, key)) then
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

-- Only an earlier head can change what a sleeping worker is waiting for.
if wake then
  redis.call('PUBLISH', ARGV[2], wake)
end
-- One character per item ('1' or '0'): a single string parses far faster than an array.
return table.concat(written)
