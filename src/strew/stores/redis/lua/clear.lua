-- Drop every scheduled task (running tasks are left alone); returns how many were dropped.
-- KEYS: 1 schedule, 2 payloads
local count = redis.call('ZCARD', KEYS[1])
redis.call('UNLINK', KEYS[1], KEYS[2])
return count
