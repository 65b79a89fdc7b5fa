-- Remove a worker from the live workers at once (clean shutdown).
-- KEYS: 1 workers (sorted set of heartbeat expiries), 2 seen (hash of last heartbeats),
--       3 reports (hash of the reports heartbeats carried)
-- ARGV: 1 worker name
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if KEYS[3] then redis.call('HDEL', KEYS[3], ARGV[1]) end
return 1
