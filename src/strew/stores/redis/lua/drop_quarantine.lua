-- Drop every quarantined task; returns how many there were.
-- KEYS: 1 quarantine (hash)
local count = redis.call('HLEN', KEYS[1])
redis.call('UNLINK', KEYS[1])
return count
