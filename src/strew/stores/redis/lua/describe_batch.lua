-- Shared by commit_batch.lua and schedule_batch.lua: a scatter's place in the listing (see
-- redis/readmodel.py). about: hash (descriptor, created, written); listed: zset id -> created.
-- The first write of a batch creates its entry (its time is the batch's creation); every
-- write adds what it scheduled and keeps the entry as long as the batch's members (ttl ms).
local function describe_batch(about, listed, descriptor, batch, written, ttl)
  if redis.call('HSETNX', about, 'descriptor', descriptor) == 1 then
    local t = redis.call('TIME')
    local now = string.format('%d', tonumber(t[1]) * 1000000 + tonumber(t[2]))
    redis.call('HSET', about, 'created', now)
    redis.call('ZADD', listed, now, batch)
  end
  redis.call('HINCRBY', about, 'written', written)
  redis.call('PEXPIRE', about, ttl)
end
