-- Change one task's progress and keep it for a while.
-- KEYS: 1 progress hash (current, total, message, updated)
-- ARGV: 1 total ("" to keep), 2 advance, 3 message (a leading "=" then the text; "" to keep),
--       4 ttl (ms)
-- Returns the hash after the change, as a flat list.
local t = redis.call('TIME')
local now = string.format('%d', tonumber(t[1]) * 1000000 + tonumber(t[2]))
redis.call('HINCRBY', KEYS[1], 'current', ARGV[2])
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], 'total', ARGV[1]) end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'message', string.sub(ARGV[3], 2)) end
redis.call('HSET', KEYS[1], 'updated', now)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return redis.call('HGETALL', KEYS[1])
