-- Add lateness summaries to the docket's series and trim it, in one step.
-- KEYS: 1 the series (sorted set: 'at worker count p50 p99 max' by at, us)
-- ARGV: 1 keep (us), 2 cap (entries), then six fields per summary: at, worker, count, p50,
--       p99, max
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
for i = 3, #ARGV, 6 do
  local member = table.concat({ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4],
    ARGV[i + 5]}, ' ')
  redis.call('ZADD', KEYS[1], ARGV[i], member)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. string.format('%d', now - tonumber(ARGV[1])))
-- The cap drops the oldest.
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -tonumber(ARGV[2]) - 1)
return 1
