-- Acknowledge claims; each may put its task back on the schedule in the same step.
-- KEYS: 1 schedule, 2 payloads, 3 leases, 4 running, 5 tokens, 6 dues,
--       7 ended chains (hash key -> when its automatic chain ended on purpose),
--       8 failures, 9 failure notes, 10 failure payloads (see failure_record.lua)
-- ARGV: 1 wake channel, then blobs (packing.py, pack_finishes): MessagePack arrays of ten
--       strings per finish: key, token, reschedule due ("" for none), reschedule payload,
--       record ("" for none), record ttl (ms), "1" when the run ended its chain (else ""),
--       failure note ("" when the run did not fail), failures kept, failure max age (us)
-- A finish's record and progress keys (strew:{docket}:record:KEY, :progress:KEY) share the
-- schedule key's prefix.
-- Returns a string with one '1' or '0' per finish: 0 when the token no longer held the lease.
--#include failure_record
local schedule, payloads, leases, running, tokens, dues = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local failures, notes, failure_payloads = KEYS[8], KEYS[9], KEYS[10]
local base = string.sub(schedule, 1, -9)
local record_prefix, progress_prefix = base .. 'record:', base .. 'progress:'
local done = {}
local now = nil
local function clock()
  if now == nil then
    local t = redis.call('TIME')
    now = string.format('%d', tonumber(t[1]) * 1000000 + tonumber(t[2]))
  end
  return now
end
for b = 2, #ARGV do
  local items = cmsgpack.unpack(ARGV[b])
  for i = 1, #items, 10 do
    local key, token, due = items[i], items[i + 1], items[i + 2]
    local record_key, progress_key = record_prefix .. key, progress_prefix .. key
    if redis.call('HGET', tokens, key) ~= token then
      done[#done + 1] = '0'
    else
      if items[i + 7] ~= '' then
        -- In the same step as the acknowledgement: never an ack without its failure, nor
        -- the reverse.
        record_failure(failures, notes, failure_payloads, key, clock(), items[i + 7],
          redis.call('HGET', running, key) or '', items[i + 8], items[i + 9])
      else
        clear_failure(failures, notes, failure_payloads, key)
      end
      redis.call('ZREM', leases, key)
      redis.call('HDEL', running, key)
      redis.call('HDEL', tokens, key)
      redis.call('HDEL', dues, key)
      done[#done + 1] = '1'
      if items[i + 4] ~= '' then
        -- What the run left behind, and its progress, stay readable for the same time.
        redis.call('SET', record_key, items[i + 4], 'PX', items[i + 5])
        redis.call('PEXPIRE', progress_key, items[i + 5])
      else
        redis.call('DEL', progress_key)
      end
      local waiting = redis.call('ZSCORE', schedule, key)
      if waiting then
        -- A newer schedule of this key was held back by this run; it may go now.
        redis.call('PUBLISH', ARGV[1], waiting)
      elseif due ~= '' then
        local head = redis.call('ZRANGE', schedule, 0, 0, 'WITHSCORES')
        redis.call('ZADD', schedule, due, key)
        redis.call('HSET', payloads, key, items[i + 3])
        if not head[2] or tonumber(due) < tonumber(head[2]) then
          redis.call('PUBLISH', ARGV[1], due)
        end
      elseif items[i + 6] == '1' then
        redis.call('HSET', KEYS[7], key, clock())
      end
    end
  end
end
-- One character per item ('1' or '0'): a single string parses far faster than an array.
return table.concat(done)
