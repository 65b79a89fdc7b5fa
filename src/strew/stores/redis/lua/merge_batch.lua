-- One bounded step of merging a committed batch onto the schedule: the next blobs of its
-- merge queue, earliest due first, for about ARGV[3] microseconds (see merge_blobs.lua).
-- Run by the producer after its commit (which merged the first step itself), and by any
-- worker whose claim finds a batch still merging (a producer that died after committing
-- leaves its batch to them).
-- KEYS: 1 schedule, 2 payloads, 3 leases, 4 stage (hash, see stage_batch.lua), 5 merge queue,
--       6 merging (zset batch id -> earliest due not yet merged), 7 members (list of
--       'due key' strings, the cancel index), 8 outcome (list), 9 the batch's descriptor
-- ARGV: 1 wake channel, 2 batch id, 3 budget (us)
-- (the members ttl, ms, is the one the commit kept in the stage)
-- Returns {blobs left to merge, entries written by this step}.
--#include merge_blobs
local left, written = merge_blobs(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7],
  KEYS[8], KEYS[9], ARGV[2], tonumber(ARGV[3]), ARGV[1])
return {left, written}
