-- One page of `Store.count_functions`' random sample of a state above its cap.
-- KEYS: 1 the state's index (a sorted set of its keys), 2 the hash of its payloads
-- ARGV: the ranks to read (drawn at random by the caller, without repeats)
-- Returns {key, name, key, name, ...} for each rank still held ("" for a name that cannot be
-- read). The caller drops a key it already has: a set that changed between two pages can
-- move one entry onto a rank drawn again.
--#include function_name
local index, hash = KEYS[1], KEYS[2]
local out = {}
for _, rank in ipairs(ARGV) do
  local key = redis.call('ZRANGE', index, rank, rank)[1]
  if key then
    local payload = redis.call('HGET', hash, key)
    out[#out + 1] = key
    out[#out + 1] = payload and name_of(payload) or ''
  end
end
return out
