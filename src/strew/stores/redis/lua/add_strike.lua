-- Add a strike rule and bump the rules' version.
-- KEYS: 1 rules (set of opaque rules), 2 version (integer)
-- ARGV: 1 the rule
-- Returns the new version.
redis.call('SADD', KEYS[1], ARGV[1])
return redis.call('INCR', KEYS[2])
