-- Put tasks on the schedule in one atomic step.
-- KEYS: 1 schedule (zset key -> due), 2 payloads (hash), 3 leases (zset key -> deadline)
-- ARGV: 1 replace ("1"/"0"), 2 wake channel, 3... blobs (each a MessagePack array of key, due,
--       payload triples, at most 1,000 of them; see packing.py)
-- Returns a string with one '1' or '0' per task: 1 when written, 0 when its key was already
-- scheduled or running (without replace). With replace every task is written; a key given
-- twice ends with its last entry. Without it, its first entry wins, as with separate adds.
local schedule, payloads, leases = KEYS[1], KEYS[2], KEYS[3]
local replace = ARGV[1] == '1'

local head = redis.call('ZRANGE', schedule, 0, 0, 'WITHSCORES')
local earliest = head[2] and tonumber(head[2]) or nil
local wake = nil

local written = {}
local seen = {}
for b = 3, #ARGV do
  local items = cmsgpack.unpack(ARGV[b])
  local keys = {}
  for i = 1, #items, 3 do keys[#keys + 1] = items[i] end
  local scheduled, running = {}, {}
  if not replace then
    scheduled = redis.call('ZMSCORE', schedule, unpack(keys))
    running = redis.call('ZMSCORE', leases, unpack(keys))
  end
  local zargs, hargs = {}, {}
  for j, key in ipairs(keys) do
    if scheduled[j] or running[j] or (seen[key] and not replace) then
      written[#written + 1] = '0'
    else
      seen[key] = true
      local i = 3 * j - 2
      local due = items[i + 1]
      zargs[#zargs + 1] = due
      zargs[#zargs + 1] = key
      hargs[#hargs + 1] = key
      hargs[#hargs + 1] = items[i + 2]
      written[#written + 1] = '1'
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
  end
end

-- Only an earlier head can change what a sleeping worker is waiting for.
if wake then
  redis.call('PUBLISH', ARGV[2], wake)
end
-- One character per item ('1' or '0'): a single string parses far faster than an array.
return table.concat(written)
