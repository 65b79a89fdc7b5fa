-- Every live worker with its last heartbeat and report.
-- KEYS: 1 workers (zset name -> expiry), 2 seen (hash name -> last seen), 3 reports (hash)
-- Returns a flat list: name, last seen, report ('' when none), ...
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local live = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. string.format('%d', now), '+inf')
local out = {}
if #live == 0 then return out end
table.sort(live)
for low = 1, #live, 1000 do
  local names = {unpack(live, low, math.min(low + 999, #live))}
  local seen = redis.call('HMGET', KEYS[2], unpack(names))
  local reports = redis.call('HMGET', KEYS[3], unpack(names))
  for i, name in ipairs(names) do
    out[#out + 1] = name
    out[#out + 1] = seen[i] or '0'
    out[#out + 1] = reports[i] or ''
  end
end
return out
