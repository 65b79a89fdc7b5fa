-- Push lease deadlines to now + lease for the (key, token) pairs that still hold them.
-- KEYS: 1 leases, 2 tokens.  ARGV: 1 lease (us), then key, token pairs.
local leases, tokens = KEYS[1], KEYS[2]
local t = redis.call('TIME')
local deadline = string.format('%d', tonumber(t[1]) * 1000000 + tonumber(t[2]) + tonumber(ARGV[1]))
local extended = {}
for i = 2, #ARGV, 2 do
  if redis.call('HGET', tokens, ARGV[i]) == ARGV[i + 1] then
    redis.call('ZADD', leases, 'XX', deadline, ARGV[i])
    extended[#extended + 1] = '1'
  else
    extended[#extended + 1] = '0'
  end
end
-- One character per item ('1' or '0'): a single string parses far faster than an array.
return table.concat(extended)
