-- Acknowledge claims; each may put its task back on the schedule in the same step.
-- KEYS: 1 schedule, 2 payloads, 3 leases, 4 running, 5 tokens, 6 dues
-- ARGV: 1 wake channel, then key, token, reschedule due ("" for none), reschedule payload
-- Returns a string with one '1' or '0' per finish: 0 when the token no longer held the lease.
local schedule, payloads, leases, running, tokens, dues = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local done = {}
for i = 2, #ARGV, 4 do
  local key, token, due = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if redis.call('HGET', tokens, key) ~= token then
    done[#done + 1] = '0'
  else
    redis.call('ZREM', leases, key)
    redis.call('HDEL', running, key)
    redis.call('HDEL', tokens, key)
    redis.call('HDEL', dues, key)
    done[#done + 1] = '1'
    local waiting = redis.call('ZSCORE', schedule, key)
    if waiting then
      -- A newer schedule of this key was held back by this run; it may go now.
      redis.call('PUBLISH', ARGV[1], waiting)
    elseif due ~= '' then
      local head = redis.call('ZRANGE', schedule, 0, 0, 'WITHSCORES')
      redis.call('ZADD', schedule, due, key)
      redis.call('HSET', payloads, key, ARGV[i + 3])
      if not head[2] or tonumber(due) < tonumber(head[2]) then
        redis.call('PUBLISH', ARGV[1], due)
      end
    end
  end
end
-- One character per item ('1' or '0'): a single string parses far faster than an array.
return table.concat(done)
