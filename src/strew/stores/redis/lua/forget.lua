-- Remove a worker from the live workers at once (clean shutdown).
-- KEYS: 1 workers (sorted set of heartbeat expiries), 2 seen (hash of last heartbeats)
-- ARGV: 1 worker name
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
