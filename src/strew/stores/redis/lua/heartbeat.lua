-- Record a live worker. KEYS: 1 workers (zset name -> expiry), 2 seen (hash name -> last seen)
-- ARGV: 1 worker name, 2 ttl (us)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZADD', KEYS[1], string.format('%d', now + tonumber(ARGV[2])), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], string.format('%d', now))
-- Forget workers whose heartbeat lapsed, in both structures.
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
for _, name in ipairs(gone) do
  redis.call('HDEL', KEYS[2], name)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return 1
