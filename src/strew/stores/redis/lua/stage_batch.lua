-- Add one packed chunk of entries to a batch's stage, which no worker reads, and push back
-- its expiry. The chunk is kept as it came: unpacking waits for the commit, so staging costs
-- Redis little more than a copy of the bytes.
-- KEYS: 1 stage chunks (list of packed chunks), 2 stage count (entries staged in all)
-- ARGV: 1 ttl (ms), 2 entries in this chunk, 3... the chunk's blobs (each a MessagePack
--       array of key, due, payload triples; see packing.py)
-- Returns how many entries have been staged in all, by the count key: what the producer checks
-- chunk by chunk. The commit does not trust that count (Redis can evict or expire one of the
-- two keys without the other); it counts the entries it finds in the chunks.
local chunks, count = KEYS[1], KEYS[2]
for first = 3, #ARGV, 1000 do  -- within unpack()'s stack however large the chunk
  redis.call('RPUSH', chunks, unpack(ARGV, first, math.min(first + 999, #ARGV)))
end
local held = redis.call('INCRBY', count, ARGV[2])
redis.call('PEXPIRE', chunks, ARGV[1])
redis.call('PEXPIRE', count, ARGV[1])
return held
