-- Shared by respread_batch.lua and respread_step.lua (spliced in where they say
-- --#include respread_due).
-- A dues value is "<due> <claimed at>" (or, from an older version, "<due>").
local function due_of(value)
  if not value then return nil end
  local space = string.find(value, ' ', 1, true)
  return tonumber(space and string.sub(value, 1, space - 1) or value)
end
