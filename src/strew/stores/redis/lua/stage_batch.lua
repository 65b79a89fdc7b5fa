-- Add one chunk of packed blobs to a batch's stage, which no worker reads, and push back its
-- expiry. Blobs are kept as they came: unpacking waits for the merge, so staging costs Redis
-- little more than a copy of the bytes.
-- KEYS: 1 stage (hash: one field per blob, named "b:<earliest due, 20 digits>:<n>:<entries>",
--       and "#entries", "#blobs")
-- ARGV: 1 ttl (ms), 2 entries in this chunk, then per blob: its earliest due (20 digits),
--       its entry count, the blob (a MessagePack array of key, due, payload; see packing.py)
-- Returns how many entries have been staged in all: what the producer checks chunk by chunk.
-- One key holds it all, so Redis can only evict or expire the stage whole: a stage that lost
-- part of what was staged is seen at commit by its count (a stage made again from nothing
-- holds fewer entries than the producer staged), and the commit reads no blob to know it.
local stage = KEYS[1]
local fields = {}
local blobs = redis.call('HINCRBY', stage, '#blobs', (#ARGV - 2) / 3)
local n = blobs - (#ARGV - 2) / 3
for i = 3, #ARGV, 3 do
  n = n + 1
  fields[#fields + 1] = 'b:' .. ARGV[i] .. ':' .. string.format('%010d', n) .. ':' .. ARGV[i + 1]
  fields[#fields + 1] = ARGV[i + 2]
  if #fields >= 1000 then
    redis.call('HSET', stage, unpack(fields))
    fields = {}
  end
end
if #fields > 0 then redis.call('HSET', stage, unpack(fields)) end
local held = redis.call('HINCRBY', stage, '#entries', ARGV[2])
redis.call('PEXPIRE', stage, ARGV[1])
return held
