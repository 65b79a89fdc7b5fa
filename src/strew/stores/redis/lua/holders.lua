-- Shared by admit.lua and release_slots.lua (spliced in where they say --#include holders;
-- it needs `now` and `nowstr`). A holder is "docket\nkey"; its docket's keys are
-- strew:{docket}:..., so a scope shared by dockets reaches the others' leases and schedules.
local function split(h)
  local at = string.find(h, '\n', 1, true)
  return string.sub(h, 1, at - 1), string.sub(h, at + 1)
end
local function tag(d) return 'strew:{' .. d .. '}:' end
-- The lease deadline of a holder's run, when it has one that has not lapsed.
local function live_until(h)
  local d, k = split(h)
  local s = redis.call('ZSCORE', tag(d) .. 'leases', k)
  if s and tonumber(s) >= now then return tonumber(s) end
  return nil
end
-- A waiting task still waits while its key is scheduled or being claimed; cancelled, it
-- does not.
local function still_waiting(h)
  local d, k = split(h)
  if redis.call('ZSCORE', tag(d) .. 'schedule', k) then return true end
  return live_until(h) ~= nil
end
-- Brought forward to now (workers woken) when it is scheduled later; false when it no
-- longer waits.
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
  return live_until(h) ~= nil
end
-- Forget the slots whose holder's lease is gone, then bring forward the first waiting tasks
-- the free slots belong to (those brought forward stay first in line until they take their
-- slot; ones no longer waiting lose their place). Returns how many were brought forward.
local function wake_owed(slots, waiters, limit)
  local used = 0
  for _, h in ipairs(redis.call('ZRANGE', slots, 0, -1)) do
    if live_until(h) then used = used + 1 else redis.call('ZREM', slots, h) end
  end
  local free, offset, woken = limit - used, 0, 0
  while free > 0 do
    local page = redis.call('ZRANGE', waiters, offset, offset + free - 1)
    if #page == 0 then break end
    for _, h in ipairs(page) do
      if bring_forward(h) then
        free = free - 1
        offset = offset + 1
        woken = woken + 1
      else
        redis.call('ZREM', waiters, h)
      end
    end
  end
  return woken
end
