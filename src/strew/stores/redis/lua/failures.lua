-- The latest failures, newest first (see redis/failures.py).
-- KEYS: 1 failures (zset key -> failed at), 2 notes, 3 failure payloads, 4 schedule, 5 leases
-- ARGV: 1 how many, 2 only those before this time (us, exclusive; "" for no bound),
--       3 (optional) one task key: only its entry, whatever its time
-- Returns key, failed at, note, payload, scheduled due ("" for none), "1" when running.
local found
if ARGV[3] then
  local at = redis.call('ZSCORE', KEYS[1], ARGV[3])
  found = at and {ARGV[3], at} or {}
else
  local top = ARGV[2] == '' and '+inf' or '(' .. ARGV[2]
  -- ZRANGE ... BYSCORE REV rather than ZREVRANGEBYSCORE: one command fewer for an ACL to allow.
  found = redis.call('ZRANGE', KEYS[1], top, '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, ARGV[1], 'WITHSCORES')
end
local reply = {}
for i = 1, #found, 2 do
  local key = found[i]
  reply[#reply + 1] = key
  reply[#reply + 1] = found[i + 1]
  reply[#reply + 1] = redis.call('HGET', KEYS[2], key) or ''
  reply[#reply + 1] = redis.call('HGET', KEYS[3], key) or ''
  reply[#reply + 1] = redis.call('ZSCORE', KEYS[4], key) or ''
  reply[#reply + 1] = redis.call('ZSCORE', KEYS[5], key) and '1' or ''
end
return reply
