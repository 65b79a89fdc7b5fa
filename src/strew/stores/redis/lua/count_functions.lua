-- One page of `Store.count_functions`' exact count of one state (scheduled, running or held).
-- KEYS: 1 the state's index (a sorted set of its keys), 2 the hash of its payloads
-- ARGV: 1 cap: a state of more tasks than this is not read (it will be sampled), 2 the
--       cursor's score and 3 its key (the last entry the previous page read, as that page
--       returned them; an empty score for the first page), 4 how many payloads to read
-- Returns {total, read, last score, last key, name, count, name, count, ...}: `read`
-- payloads after the cursor, counted by function name ("" for a name that cannot be read);
-- nothing is read (read 0) when total > cap.
--#include function_name
--#include after_cursor
local index, hash = KEYS[1], KEYS[2]
local cap, page = tonumber(ARGV[1]), tonumber(ARGV[4])
local total = redis.call('ZCARD', index)
if total > cap then return {total, 0, '', ''} end

local start = rank_after(index, ARGV[2], ARGV[3])
local entries = redis.call('ZRANGE', index, start, start + page - 1, 'WITHSCORES')
local counts, read = {}, 0
-- The payloads a thousand at a time: HMGET's arguments go through Lua's stack.
for first = 1, #entries, 2000 do
  local keys = {}
  for i = first, math.min(first + 1999, #entries), 2 do keys[#keys + 1] = entries[i] end
  for _, payload in ipairs(redis.call('HMGET', hash, unpack(keys))) do
    local name = payload and name_of(payload) or ''
    counts[name] = (counts[name] or 0) + 1
    read = read + 1
  end
end
local out = {total, read, entries[#entries] or '', entries[#entries - 1] or ''}
for name, count in pairs(counts) do
  out[#out + 1] = name
  out[#out + 1] = count
end
return out
