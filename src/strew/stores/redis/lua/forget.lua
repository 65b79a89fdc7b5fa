-- Remove a worker from the live workers at once (clean shutdown), and from the watch.
-- KEYS: 1 workers (sorted set of heartbeat expiries), 2 seen (hash of last heartbeats),
--       3 reports (hash of the reports heartbeats carried), 4 watch, 5 standby line (see
--       claim.lua)
-- ARGV: 1 worker name, 2 hand-off channel prefix, 3 watch lease (us)
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if KEYS[3] then redis.call('HDEL', KEYS[3], ARGV[1]) end
if KEYS[4] then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now)
  redis.call('ZREM', KEYS[5], ARGV[1])
  -- A watch this worker held goes on at once, as a full watcher's does, so a clean
  -- shutdown never leaves due work waiting for the watch to lapse.
  if redis.call('GET', KEYS[4]) == ARGV[1] then
    redis.call('DEL', KEYS[4])
    local first = redis.call('ZPOPMIN', KEYS[5])
    if first[1] then
      redis.call('SET', KEYS[4], first[1], 'PX', math.max(1, math.floor(tonumber(ARGV[3]) / 1000)))
      redis.call('PUBLISH', ARGV[2] .. first[1], string.format('%d', now))
    end
  end
end
return 1
