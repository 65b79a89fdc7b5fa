-- Shared by schedule_batch.lua and merge_blobs.lua: write one unpacked blob (key, due,
-- payload triples) as schedule.lua without replace would, and add each key written to the
-- batch's members ('due key' strings). A key already scheduled or running, or in `seen` (a
-- key twice in one write: the first one wins, as with separate adds), is not written.
-- Returns one boolean per entry (written or not), how many were written, and the earliest
-- due time now known with the due time to wake for (nil when none is earlier than `earliest`).
local function write_entries(schedule, payloads, leases, members, items, seen, earliest, wake)
  local keys = {}
  for i = 1, #items, 3 do keys[#keys + 1] = items[i] end
  local scheduled = redis.call('ZMSCORE', schedule, unpack(keys))
  local running = redis.call('ZMSCORE', leases, unpack(keys))
  local flags, zargs, hargs, margs = {}, {}, {}, {}
  for j, key in ipairs(keys) do
    if scheduled[j] or running[j] or seen[key] then
      flags[j] = false
    else
      flags[j] = true
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
  end
  return flags, #margs, earliest, wake
end
