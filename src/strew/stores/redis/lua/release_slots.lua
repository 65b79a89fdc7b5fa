-- Give up a holder's concurrency slots and bring forward the waiting tasks the freed slots
-- belong to (see AdmissionStore.release_slots).
-- KEYS: 1 limits index, then per concurrency gate: slots, waiters
-- ARGV: 1 holder ("docket\nkey"), then per gate: limit, base key (as in the index)
-- Returns how many waiting tasks were brought forward.
local index, holder = KEYS[1], ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local nowstr = string.format('%d', now)

--#include holders

local woken = 0
for i = 1, (#ARGV - 1) / 2 do
  local slots, waiters = KEYS[i * 2], KEYS[i * 2 + 1]
  local limit, base = tonumber(ARGV[i * 2]), ARGV[i * 2 + 1]
  redis.call('ZREM', slots, holder)
  woken = woken + wake_owed(slots, waiters, limit)
  if redis.call('ZCARD', slots) == 0 and redis.call('ZCARD', waiters) == 0 then
    redis.call('DEL', slots, waiters)
    redis.call('SREM', index, base)
  end
end
return woken
