-- How many scheduled tasks fall due in each slice [edge i, edge i+1) of the window.
-- KEYS: 1 schedule
-- ARGV: the slice edges, ascending (buckets + 1 of them)
local counts = {}
for i = 1, #ARGV - 1 do
  counts[i] = redis.call('ZCOUNT', KEYS[1], ARGV[i], '(' .. ARGV[i + 1])
end
return counts
