-- The strike rules and their version, read together.
-- KEYS: 1 rules, 2 version
-- Returns {version, {rule, ...}}.
return {tonumber(redis.call('GET', KEYS[2]) or '0'), redis.call('SMEMBERS', KEYS[1])}
