-- Record a live worker. KEYS: 1 workers (zset name -> expiry), 2 seen (hash name -> last seen),
-- 3 reports (hash name -> the report its last heartbeat carried)
-- ARGV: 1 worker name, 2 ttl (us), 3 report ('' for none)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZADD', KEYS[1], string.format('%d', now + tonumber(ARGV[2])), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], string.format('%d', now))
if KEYS[3] then
  if ARGV[3] and ARGV[3] ~= '' then
    redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
  else
    redis.call('HDEL', KEYS[3], ARGV[1])
  end
end
-- Forget workers whose heartbeat lapsed, in every structure.
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
for _, name in ipairs(gone) do
  redis.call('HDEL', KEYS[2], name)
  if KEYS[3] then redis.call('HDEL', KEYS[3], name) end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return 1
