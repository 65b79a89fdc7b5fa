-- Shared by snapshot_page.lua and count_functions.lua (spliced in where they say
-- --#include after_cursor): where a read in pages of a sorted set goes on.
--
-- A cursor is the last entry a page returned, (score, member), as Redis wrote them. The next
-- page starts at the first entry after it in the set's own order (by score, equal scores by
-- member bytes), whether that member is still there or was removed (claimed, cancelled) or
-- moved since: so an entry that stays put is read once, never skipped and never twice.
-- An empty score is the start of the set.

-- a > b as Redis orders the members of equal score: byte by byte, then the longer one.
-- (Lua's own < compares with strcoll, which depends on the server's locale.)
local function member_after(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x > y end
  end
  return #a > #b
end

local function rank_after(index, score, member)
  if score == '' then return 0 end
  local at = redis.call('ZSCORE', index, member)
  if at and tonumber(at) == tonumber(score) then
    return redis.call('ZRANK', index, member) + 1
  end
  -- Gone or moved: the entries of that score hold ranks [lo, hi); bisect them for the first
  -- member after the cursor's (O(log n) ZRANGEs, however many share the score).
  local lo = redis.call('ZCOUNT', index, '-inf', '(' .. score)
  local hi = redis.call('ZCOUNT', index, '-inf', score)
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if member_after(redis.call('ZRANGE', index, mid, mid)[1], member) then
      hi = mid
    else
      lo = mid + 1
    end
  end
  return lo
end
