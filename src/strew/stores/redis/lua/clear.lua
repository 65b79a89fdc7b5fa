-- Drop every scheduled task (running tasks are left alone) and the record of failures;
-- returns how many scheduled tasks were dropped.
-- KEYS: 1 schedule, 2 payloads, 3 failures, 4 failure notes, 5 failure payloads
local count = redis.call('ZCARD', KEYS[1])
redis.call('UNLINK', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
return count
