-- The concurrency limits a docket used that have a slot held or a task waiting.
-- KEYS: 1 limits index (set of base keys; a limit's keys are base:slots and base:waiters)
-- Returns base, live slots, waiting, for each; forgets the ones with neither.
local index = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local out = {}
for _, base in ipairs(redis.call('SMEMBERS', index)) do
  local used = 0
  for _, h in ipairs(redis.call('ZRANGE', base .. ':slots', 0, -1)) do
    local at = string.find(h, '\n', 1, true)
    local s = redis.call('ZSCORE', 'strew:{' .. string.sub(h, 1, at - 1) .. '}:leases', string.sub(h, at + 1))
    if s and tonumber(s) >= now then used = used + 1 end
  end
  local waiting = redis.call('ZCARD', base .. ':waiters')
  if used == 0 and waiting == 0 then
    if redis.call('EXISTS', base .. ':slots') == 0 then redis.call('SREM', index, base) end
  else
    out[#out + 1] = base
    out[#out + 1] = used
    out[#out + 1] = waiting
  end
end
return out
