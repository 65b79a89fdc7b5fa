-- Add entries to a batch's stage, which no worker reads, and push back its expiry.
-- KEYS: 1 stage dues (zset key -> due), 2 stage payloads (hash key -> payload)
-- ARGV: 1 ttl (ms), then key, due, payload triples.
-- Returns how many entries the stage holds now.
local dues, payloads = KEYS[1], KEYS[2]
-- unpack() has a bounded stack, so write in pages rather than one call per entry.
local PAGE = 1000
for first = 2, #ARGV, 3 * PAGE do
  local zargs, hargs = {}, {}
  for i = first, math.min(first + 3 * PAGE - 1, #ARGV), 3 do
    zargs[#zargs + 1] = ARGV[i + 1]
    zargs[#zargs + 1] = ARGV[i]
    hargs[#hargs + 1] = ARGV[i]
    hargs[#hargs + 1] = ARGV[i + 2]
  end
  redis.call('ZADD', dues, unpack(zargs))
  redis.call('HSET', payloads, unpack(hargs))
end
redis.call('PEXPIRE', dues, ARGV[1])
redis.call('PEXPIRE', payloads, ARGV[1])
return redis.call('ZCARD', dues)
