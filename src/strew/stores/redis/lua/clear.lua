-- Drop every scheduled task (running tasks are left alone), every committed scatter still
-- merging onto the schedule, and the record of failures; returns how many scheduled tasks
-- were dropped (not counting the unmerged part of a scatter).
-- KEYS: 1 schedule, 2 payloads, 3 failures, 4 failure notes, 5 failure payloads, 6 merging
--       (zset of batch ids; each batch's stage and merge queue share its prefix)
local count = redis.call('ZCARD', KEYS[1])
redis.call('UNLINK', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
if KEYS[6] then
  local stage = string.sub(KEYS[6], 1, -8) .. 'stage:'  -- strew:{docket}:merging
  for _, batch in ipairs(redis.call('ZRANGE', KEYS[6], 0, -1)) do
    redis.call('UNLINK', stage .. batch, stage .. batch .. ':merge')
  end
  redis.call('UNLINK', KEYS[6])
end
return count
