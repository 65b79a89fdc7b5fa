-- Hand claims back to the schedule without running them.
-- KEYS: 1 schedule, 2 payloads, 3 leases, 4 running, 5 tokens, 6 dues
-- ARGV: 1 wake channel, then key, token, due triples.
local schedule, payloads, leases, running, tokens, dues = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local released = {}
local wake = nil
for i = 2, #ARGV, 3 do
  local key, token, due = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if redis.call('HGET', tokens, key) ~= token then
    released[#released + 1] = '0'
  else
    if not redis.call('ZSCORE', schedule, key) then
      redis.call('ZADD', schedule, due, key)
      redis.call('HSET', payloads, key, redis.call('HGET', running, key))
    end
    redis.call('ZREM', leases, key)
    redis.call('HDEL', running, key)
    redis.call('HDEL', tokens, key)
    redis.call('HDEL', dues, key)
    released[#released + 1] = '1'
    wake = redis.call('ZSCORE', schedule, key)
  end
end
if wake then redis.call('PUBLISH', ARGV[1], wake) end
-- One character per item ('1' or '0'): a single string parses far faster than an array.
return table.concat(released)
