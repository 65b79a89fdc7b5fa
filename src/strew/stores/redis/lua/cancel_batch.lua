-- Remove what is left of a batch from the schedule, and forget the batch.
-- KEYS: 1 schedule, 2 payloads, 3 members (list of 'due key' strings), 4 stage chunks,
--       5 stage count, 6 the batch's descriptor (hash; absent for a batch not listed)
-- Returns how many scheduled tasks were removed.
local schedule, payloads, members = KEYS[1], KEYS[2], KEYS[3]
local PAGE = 1000
local removed = 0
local count = redis.call('LLEN', members)
for offset = 0, count - 1, PAGE do
  local page = redis.call('LRANGE', members, offset, offset + PAGE - 1)
  local keys, dues = {}, {}
  for i, member in ipairs(page) do
    local space = string.find(member, ' ', 1, true)
    dues[i] = string.sub(member, 1, space - 1)
    keys[i] = string.sub(member, space + 1)
  end
  local current = redis.call('ZMSCORE', schedule, unpack(keys))
  local doomed = {}
  for j, key in ipairs(keys) do
    -- Only the schedule this batch wrote: a key scheduled again since at another time (a
    -- replace, a retry) belongs to someone else now.
    if current[j] and tonumber(current[j]) == tonumber(dues[j]) then
      doomed[#doomed + 1] = key
    end
  end
  if #doomed > 0 then
    removed = removed + redis.call('ZREM', schedule, unpack(doomed))
    redis.call('HDEL', payloads, unpack(doomed))
  end
end
-- A stage still being written loses its entries, so its commit fails instead of writing.
redis.call('DEL', members, KEYS[4], KEYS[5])
-- A listed batch stays listed, marked, until its descriptor expires as the members would have.
if KEYS[6] and redis.call('EXISTS', KEYS[6]) == 1 then
  local t = redis.call('TIME')
  redis.call('HSET', KEYS[6], 'cancelled',
    string.format('%d', tonumber(t[1]) * 1000000 + tonumber(t[2])))
end
return removed
