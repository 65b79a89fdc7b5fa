-- Shared by merge_batch.lua and commit_batch.lua: one bounded step of merging a committed
-- batch onto the schedule (see merge_batch.lua). Blobs are taken earliest due first until
-- `budget` microseconds of the server's clock have passed (a blob is never split: a step
-- ends at most one blob past its budget) or the queue is empty.
-- Returns the blobs left to merge and the entries this step wrote.
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
      local items = cmsgpack.unpack(blob)
      local keys = {}
      for i = 1, #items, 3 do keys[#keys + 1] = items[i] end
      local scheduled = redis.call('ZMSCORE', schedule, unpack(keys))
      local running = redis.call('ZMSCORE', leases, unpack(keys))
      -- A key staged twice: the first entry wins, as two adds would. A repeat in a later blob
      -- finds it scheduled; one in the same blob is caught here.
      local zargs, hargs, margs, seen = {}, {}, {}, {}
      for j, key in ipairs(keys) do
        if scheduled[j] or running[j] or seen[key] then
          skipped[#skipped + 1] = key
        else
          seen[key] = true
          local i = 3 * j - 2
          local due = items[i + 1]
          zargs[#zargs + 1] = due
          zargs[#zargs + 1] = key
          hargs[#hargs + 1] = key
          hargs[#hargs + 1] = items[i + 2]
          margs[#margs + 1] = due .. ' ' .. key
          local at = tonumber(due)
          if earliest == nil or at < earliest then
            earliest = at
            wake = due
          end
        end
      end
      if #zargs > 0 then
        redis.call('ZADD', schedule, unpack(zargs))
        redis.call('HSET', payloads, unpack(hargs))
        redis.call('RPUSH', members, unpack(margs))
        written = written + #margs
      end
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
