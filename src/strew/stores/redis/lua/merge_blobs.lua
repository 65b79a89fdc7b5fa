-- Shared by merge_batch.lua and commit_batch.lua: one bounded step of merging a committed
-- batch onto the schedule (see merge_batch.lua). Blobs are taken earliest due first until
-- `budget` microseconds of the server's clock have passed (a blob is never split: a step
-- ends at most one blob past its budget) or the queue is empty.
-- Returns the blobs left to merge and the entries this step wrote.
--#include write_entries
local function merge_blobs(schedule, payloads, leases, stage, queue, merging, members, outcome,
                           about, batch, budget, wake_channel)
  local function clock()
    local t = redis.call('TIME')
    return tonumber(t[1]) * 1000000 + tonumber(t[2])
  end
  local began = clock()
  local members_ttl = redis.call('HGET', stage, '#members_ttl')
  local head = redis.call('ZRANGE', schedule, 0, 0, 'WITHSCORES')
  local earliest = head[2] and tonumber(head[2]) or nil
  local wake = nil
  local skipped = {}
  local written = 0

  while true do
    local name = redis.call('LPOP', queue)
    if not name then break end
    local blob = redis.call('HGET', stage, name)
    redis.call('HDEL', stage, name)
    if blob then
      -- A key staged twice: the first entry wins, as two adds would. A repeat in a later
      -- blob finds it scheduled; one in the same blob is caught by `seen`.
      local items = cmsgpack.unpack(blob)
      local flags, n
      flags, n, earliest, wake = write_entries(schedule, payloads, leases, members, items, {},
        earliest, wake)
      for j, flag in ipairs(flags) do
        if not flag then skipped[#skipped + 1] = items[3 * j - 2] end
      end
      written = written + n
    end
    if clock() - began >= budget then break end
  end

  if written > 0 then
    redis.call('PEXPIRE', members, members_ttl)
    if about and redis.call('EXISTS', about) == 1 then
      redis.call('HINCRBY', about, 'written', written)
      redis.call('PEXPIRE', about, members_ttl)
    end
  end
  if #skipped > 0 and redis.call('EXISTS', outcome) == 1 then
    for first = 1, #skipped, 1000 do
      redis.call('RPUSH', outcome, unpack(skipped, first, math.min(first + 999, #skipped)))
    end
  end

  local left = redis.call('LLEN', queue)
  if left == 0 then
    redis.call('UNLINK', stage)
    redis.call('ZREM', merging, batch)
  else
    local next = redis.call('LINDEX', queue, 0)
    redis.call('ZADD', merging, 'XX', tonumber(string.sub(next, 3, 22)), batch)
  end
  if wake then redis.call('PUBLISH', wake_channel, wake) end
  return left, written
end
