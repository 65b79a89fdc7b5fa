-- A later page of a snapshot's scheduled tasks (snapshot.lua reads the first one).
-- KEYS: 1 schedule, 2 payloads
-- ARGV: 1 the cursor's due and 2 its key (the last task the previous page returned, as that
--       page returned them), 3 how many to return
-- Returns {key, due, payload, ...}: the next tasks in due order after the cursor.
--#include after_cursor
local schedule, payloads = KEYS[1], KEYS[2]
local start = rank_after(schedule, ARGV[1], ARGV[2])
local page = redis.call('ZRANGE', schedule, start, start + tonumber(ARGV[3]) - 1, 'WITHSCORES')
local out = {}
for i = 1, #page, 2 do
  out[#out + 1] = page[i]
  out[#out + 1] = page[i + 1]
  out[#out + 1] = redis.call('HGET', payloads, page[i]) or ''
end
return out
