-- Move a batch's whole stage onto the schedule in one step: all of it, or (when the stage does
-- not hold every entry the producer staged) none of it.
-- KEYS: 1 schedule, 2 payloads, 3 leases, 4 stage chunks (list of packed blobs), 5 stage
--       count, 6 members (list of 'due key' strings, the cancel index),
--       7 outcome (list: 'committed', then the skipped keys), 8 the batch's descriptor
--       (hash), 9 the listed batches (sorted set: batch id -> created, us)
-- ARGV: 1 wake channel, 2 expected entry count, 3 members ttl (ms), 4 outcome ttl (ms),
--       5 descriptor ('' for none: the batch is not listed), 6 batch id
-- Returns the keys skipped because they were already scheduled or running.
--#include describe_batch
local schedule, payloads, leases = KEYS[1], KEYS[2], KEYS[3]
local chunks, counter, members, outcome = KEYS[4], KEYS[5], KEYS[6], KEYS[7]

-- Count what the stage holds, not what a counter beside it says: under memory pressure Redis
-- can evict the chunk list and keep the counter (or the reverse), and a stage that expired
-- between two chunks starts again empty. Each blob opens with its MessagePack array header
-- (0xdd and the element count, three per entry; see packing.py), so counting reads five
-- bytes of each instead of unpacking it.
local found = 0
local blobs = redis.call('LLEN', chunks)
for page = 0, blobs - 1, 64 do
  for _, blob in ipairs(redis.call('LRANGE', chunks, page, page + 63)) do
    if string.byte(blob, 1) == 0xdd then
      found = found + struct.unpack('>I4', blob, 2) / 3
    else
      found = found + #cmsgpack.unpack(blob) / 3
    end
  end
end
if found ~= tonumber(ARGV[2]) then
  -- Part of the stage was evicted, expired or cancelled: writing the rest would be a partial
  -- scatter.
  redis.call('DEL', chunks, counter)
  return redis.error_reply('STAGE_INCOMPLETE the stage holds ' .. found .. ' of ' .. ARGV[2] ..
    ' entries (evicted, expired, discarded or cancelled); nothing was written')
end

local head = redis.call('ZRANGE', schedule, 0, 0, 'WITHSCORES')
local earliest = head[2] and tonumber(head[2]) or nil
local wake = nil

-- A blob holds at most 1,000 entries (packing.py), so each is one page: a handful of commands
-- per thousand tasks instead of several per task, each within unpack()'s stack.
local skipped = {}
local written = 0
for page = 0, blobs - 1, 16 do
  for _, blob in ipairs(redis.call('LRANGE', chunks, page, page + 15)) do
    local items = cmsgpack.unpack(blob)
    local keys = {}
    for i = 1, #items, 3 do keys[#keys + 1] = items[i] end
    local scheduled = redis.call('ZMSCORE', schedule, unpack(keys))
    local running = redis.call('ZMSCORE', leases, unpack(keys))
    -- A key staged twice: the first entry wins, as two adds would. A repeat in a later blob
    -- finds it scheduled; one in the same blob is caught here (a blob-sized table costs far
    -- less than one spanning the whole batch).
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
end

-- The listing: kept as long as the members.
if ARGV[5] and ARGV[5] ~= '' then
  describe_batch(KEYS[8], KEYS[9], ARGV[5], ARGV[6], written, ARGV[3])
end

-- The cancel index is a plain list of 'due key' strings: packed in listpacks it costs about a
-- third of what a sorted set of the same members would, and cancelling only ever walks it.
redis.call('DEL', chunks, counter)
if redis.call('EXISTS', members) == 1 then
  redis.call('PEXPIRE', members, ARGV[3])
end

-- A client whose reply was lost (a timeout on a very large commit) reads this to learn that
-- the commit happened, instead of reporting a failure for tasks that are in fact scheduled.
redis.call('DEL', outcome)
redis.call('RPUSH', outcome, 'committed')
for first = 1, #skipped, 1000 do
  redis.call('RPUSH', outcome, unpack(skipped, first, math.min(first + 999, #skipped)))
end
redis.call('PEXPIRE', outcome, ARGV[4])

if wake then redis.call('PUBLISH', ARGV[1], wake) end
return skipped
