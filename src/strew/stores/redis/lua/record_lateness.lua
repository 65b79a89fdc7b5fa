-- Append lateness summaries to the docket's series and trim it, in one step.
-- KEYS: 1 the series (stream; ids by the store's clock)
-- ARGV: 1 keep (ms), 2 cap (entries), then six fields per summary: at, worker, count, p50,
--       p99, max
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 3, #ARGV, 6 do
  redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], '*',
    'at', ARGV[i], 'worker', ARGV[i + 1], 'count', ARGV[i + 2],
    'p50', ARGV[i + 3], 'p99', ARGV[i + 4], 'max', ARGV[i + 5])
end
redis.call('XTRIM', KEYS[1], 'MINID', string.format('%d', now_ms - tonumber(ARGV[1])))
return 1
