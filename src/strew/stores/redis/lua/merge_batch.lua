-- One bounded step of merging a committed batch onto the schedule: the next blobs of its
-- merge queue (earliest due first), at most ARGV[3] entries unless a single blob holds more.
-- Run by the producer after its commit, and by any worker whose claim finds a batch still
-- merging (a producer that died after committing leaves its batch to them).
-- KEYS: 1 schedule, 2 payloads, 3 leases, 4 stage (hash, see stage_batch.lua), 5 merge queue,
--       6 merging (zset batch id -> earliest due not yet merged), 7 members (list of
--       'due key' strings, the cancel index), 8 outcome (list), 9 the batch's descriptor
-- ARGV: 1 wake channel, 2 batch id, 3 entries per step
-- (the members ttl, ms, is the one the commit kept in the stage)
-- Returns {blobs left to merge, entries written by this step}.
local schedule, payloads, leases, stage = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local queue, merging, members, outcome = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local budget = tonumber(ARGV[3])
local members_ttl = redis.call('HGET', stage, '#members_ttl')

local head = redis.call('ZRANGE', schedule, 0, 0, 'WITHSCORES')
local earliest = head[2] and tonumber(head[2]) or nil
local wake = nil
local skipped = {}
local written, taken = 0, 0

while taken < budget do
  local name = redis.call('LPOP', queue)
  if not name then break end
  taken = taken + tonumber(string.match(name, ':(%d+)$'))
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
end

if written > 0 then
  redis.call('PEXPIRE', members, members_ttl)
  if redis.call('EXISTS', KEYS[9]) == 1 then
    redis.call('HINCRBY', KEYS[9], 'written', written)
    redis.call('PEXPIRE', KEYS[9], members_ttl)
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
  redis.call('ZREM', merging, ARGV[2])
else
  local next = redis.call('LINDEX', queue, 0)
  redis.call('ZADD', merging, 'XX', tonumber(string.sub(next, 3, 22)), ARGV[2])
end
if wake then redis.call('PUBLISH', ARGV[1], wake) end
return {left, written}
