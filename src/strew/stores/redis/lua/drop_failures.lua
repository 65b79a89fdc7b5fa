-- Forget failures (see redis/failures.py).
-- KEYS: 1 failures, 2 notes, 3 failure payloads
-- ARGV: 1 "all" to forget every one (else ""), then the keys to forget
-- Returns how many were forgotten.
if ARGV[1] == 'all' then
  local count = redis.call('ZCARD', KEYS[1])
  redis.call('UNLINK', KEYS[1], KEYS[2], KEYS[3])
  return count
end
local count = 0
for i = 2, #ARGV do
  if redis.call('ZREM', KEYS[1], ARGV[i]) == 1 then
    redis.call('HDEL', KEYS[2], ARGV[i])
    redis.call('HDEL', KEYS[3], ARGV[i])
    count = count + 1
  end
end
return count
