-- Give up a holder's concurrency slots and bring forward the waiting tasks the freed slots
-- belong to (see AdmissionStore.release_slots).
-- KEYS: 1 limits index, then per concurrency gate: slots, waiters
-- ARGV: 1 holder ("docket\nkey"), then per gate: limit, base key (as in the index)
-- Returns how many waiting tasks were brought forward.
local index, holder = KEYS[1], ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local nowstr = string.format('%d', now)

local function split(h)
  local at = string.find(h, '\n', 1, true)
  return string.sub(h, 1, at - 1), string.sub(h, at + 1)
end
local function tag(d) return 'strew:{' .. d .. '}:' end
local function live(h)
  local d, k = split(h)
  local s = redis.call('ZSCORE', tag(d) .. 'leases', k)
  return s ~= false and tonumber(s) >= now
end
local function bring_forward(h)
  local d, k = split(h)
  local sched = tag(d) .. 'schedule'
  local s = redis.call('ZSCORE', sched, k)
  if s then
    if tonumber(s) > now then
      redis.call('ZADD', sched, nowstr, k)
      redis.call('PUBLISH', tag(d) .. 'wake', nowstr)
    end
    return true
  end
  return live(h)
end

local woken = 0
for i = 1, (#ARGV - 1) / 2 do
  local slots, waiters = KEYS[i * 2], KEYS[i * 2 + 1]
  local limit, base = tonumber(ARGV[i * 2]), ARGV[i * 2 + 1]
  redis.call('ZREM', slots, holder)
  local used = 0
  for _, h in ipairs(redis.call('ZRANGE', slots, 0, -1)) do
    if live(h) then used = used + 1 else redis.call('ZREM', slots, h) end
  end
  local free = limit - used
  -- Those brought forward stay waiting (first in line) until they take their slot: the
  -- next page starts after them.
  local offset = 0
  while free > 0 do
    local page = redis.call('ZRANGE', waiters, offset, offset + free - 1)
    if #page == 0 then break end
    for _, h in ipairs(page) do
      if bring_forward(h) then
        free = free - 1
        woken = woken + 1
        offset = offset + 1
      else
        redis.call('ZREM', waiters, h)  -- cancelled while it waited: its place is gone
      end
    end
  end
  if redis.call('ZCARD', slots) == 0 and redis.call('ZCARD', waiters) == 0 then
    redis.call('DEL', slots, waiters)
    redis.call('SREM', index, base)
  end
end
return woken
