-- Schedule one chunk of a streamed batch (as schedule.lua without replace) and remember the
-- keys it wrote as the batch's members, in one step.
-- KEYS: 1 schedule, 2 payloads, 3 leases, 4 members (list of 'due key' strings), 5 the batch's
--       descriptor (hash), 6 the listed batches (sorted set: batch id -> created, us)
-- ARGV: 1 wake channel, 2 members ttl (ms), 3 descriptor ('' for none: not listed),
--       4 batch id, 5... the chunk's blobs (each a MessagePack array of key, due, payload
--       triples, at most 1,000 of them; see packing.py)
-- Returns a string with one '1' or '0' per entry: 1 when written, 0 when its key was already
-- scheduled or running.
--#include describe_batch
--#include write_entries
local schedule, payloads, leases, members = KEYS[1], KEYS[2], KEYS[3], KEYS[4]

local head = redis.call('ZRANGE', schedule, 0, 0, 'WITHSCORES')
local earliest = head[2] and tonumber(head[2]) or nil
local wake = nil

local written = {}
local seen = {}  -- a key twice in one chunk: the first one wins, as with separate adds
local count = 0
for b = 5, #ARGV do
  local items = cmsgpack.unpack(ARGV[b])
  local flags, n
  flags, n, earliest, wake = write_entries(schedule, payloads, leases, members, items, seen,
    earliest, wake)
  for _, flag in ipairs(flags) do written[#written + 1] = flag and '1' or '0' end
  count = count + n
end
if redis.call('EXISTS', members) == 1 then
  redis.call('PEXPIRE', members, ARGV[2])
end

-- The listing: the first chunk's time is the batch's creation.
if ARGV[3] ~= '' then
  describe_batch(KEYS[5], KEYS[6], ARGV[3], ARGV[4], count, ARGV[2])
end

if wake then redis.call('PUBLISH', ARGV[1], wake) end
-- One character per item ('1' or '0'): a single string parses far faster than an array.
return table.concat(written)
