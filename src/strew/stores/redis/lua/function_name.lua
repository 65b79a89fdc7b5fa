-- Shared by count_functions.lua and sample_functions.lua (spliced in where they say
-- --#include function_name): name_of(payload), the task function a payload calls.
--
-- The name is read from the first bytes of each payload, the envelope's layout (see
-- function_in in base.py, which reads them the same way): PROTO, an optional FRAME,
-- MARK, BININT1 1, then the name as SHORT_BINUNICODE (1-byte length) or BINUNICODE (4-byte
-- little-endian length); or a JSON envelope's "\0J", a two-byte length and the name.
-- Anything else counts under "".
local byte, sub = string.byte, string.sub

local function name_of(payload)
  -- One call for the first 16 bytes (PROTO 2, FRAME 9, MARK, BININT1 2, opcode, a length
  -- byte): a payload's name costs two C calls, which matters at 100,000 payloads.
  local b1, b2, b3, b4, b5, b6, b7, _, _, _, _, b12, b13, b14, b15, b16 = byte(payload, 1, 16)
  if b1 == 0x00 and b2 == 0x4A then
    -- A JSON envelope (task/codec.py): \0 J, the name's length in two bytes, the name.
    if not b4 then return '' end
    local length = b3 * 256 + b4
    if 4 + length > #payload then return '' end
    return sub(payload, 5, 4 + length)
  end
  if b1 ~= 0x80 then return '' end
  local p, mark, binint1, version, opcode, size = 3, b3, b4, b5, b6, b7
  if b3 == 0x95 then p, mark, binint1, version, opcode, size = 12, b12, b13, b14, b15, b16 end
  if mark ~= 0x28 or binint1 ~= 0x4B or version ~= 1 then return '' end
  local start
  if opcode == 0x8C then
    start = p + 5
  elseif opcode == 0x58 then
    local a, b, c, d = byte(payload, p + 4, p + 7)
    if not d then return '' end
    size = a + b * 256 + c * 65536 + d * 16777216
    start = p + 8
  else
    return ''
  end
  if not size or start + size - 1 > #payload then return '' end
  return sub(payload, start, start + size - 1)
end
