-- Commit a batch's stage: all of it, or (when the stage does not hold every entry the producer
-- staged) none of it. This step reads the names of the stage's blobs, never the blobs (a few
-- milliseconds for a million tasks): it queues them for merge_batch.lua, earliest first, and
-- from here the batch is committed. Merging moves it onto the schedule in bounded steps, and
-- until the last one a claim sees the earliest due time not yet merged (the merging set) and
-- merges before it takes anything (see claim.lua): no task of the batch starts late for it.
-- With a budget, the commit goes on with the first merge step itself (merge_blobs.lua), so a
-- small batch is written whole in this one step.
-- KEYS: 1 stage (hash, see stage_batch.lua), 2 merge queue (list of blob names), 3 merging
--       (sorted set: batch id -> earliest due not yet merged), 4 outcome (list: 'committed',
--       then the skipped keys), 5 the batch's descriptor (hash), 6 the listed batches
--       (sorted set: batch id -> created, us), and for the first merge step: 7 schedule,
--       8 payloads, 9 leases, 10 members
-- ARGV: 1 expected entry count, 2 outcome ttl (ms), 3 descriptor ('' for none: the batch is
--       not listed), 4 batch id, 5 members ttl (ms), 6 budget of the first merge step (us;
--       0 or absent: none), 7 wake channel
-- Returns how many blobs are left to merge.
--#include describe_batch
--#include merge_blobs
local stage, queue, merging, outcome = KEYS[1], KEYS[2], KEYS[3], KEYS[4]

if redis.call('EXISTS', queue) == 1 then
  return redis.call('LLEN', queue)  -- committed already (a retried commit): nothing to do
end
local names = {}
local found = 0
for _, field in ipairs(redis.call('HKEYS', stage)) do
  if string.sub(field, 1, 2) == 'b:' then
    names[#names + 1] = field
    found = found + tonumber(string.match(field, ':(%d+)$'))
  end
end
if found ~= tonumber(ARGV[1]) then
  -- Part of the stage was evicted, expired or cancelled: writing the rest would be a partial
  -- scatter.
  redis.call('UNLINK', stage)
  return redis.error_reply('STAGE_INCOMPLETE the stage holds ' .. found .. ' of ' .. ARGV[1] ..
    ' entries (evicted, expired, discarded or cancelled); nothing was written')
end

-- Names open with the blob's earliest due time, zero-padded: sorted as strings, earliest first.
table.sort(names)
for first = 1, #names, 1000 do
  redis.call('RPUSH', queue, unpack(names, first, math.min(first + 999, #names)))
end
if #names > 0 then
  redis.call('HSET', stage, '#members_ttl', ARGV[5])  -- for whoever merges
  redis.call('PERSIST', stage)  -- committed: it leaves only as it is merged
  redis.call('ZADD', merging, tonumber(string.sub(names[1], 3, 22)), ARGV[4])
else
  redis.call('UNLINK', stage)
end

-- The listing: merge steps add what they write.
if ARGV[3] and ARGV[3] ~= '' then
  describe_batch(KEYS[5], KEYS[6], ARGV[3], ARGV[4], 0, ARGV[5])
end

-- A client whose reply was lost reads this to learn that the commit happened, instead of
-- reporting a failure for tasks that are in fact committed; merge steps add the skipped keys.
redis.call('DEL', outcome)
redis.call('RPUSH', outcome, 'committed')
redis.call('PEXPIRE', outcome, ARGV[2])

local budget = tonumber(ARGV[6] or '0')
if #names == 0 or budget <= 0 then return #names end
local left = merge_blobs(KEYS[7], KEYS[8], KEYS[9], stage, queue, merging, KEYS[10], outcome,
  KEYS[5], ARGV[4], budget, ARGV[7])
return left
