--- crank.meter: the live images line of the process that runs the images (the local executor).
-- The crank script starts it; image nodes tick it. Elsewhere (gfhost task, workers) it is off.
--
--   start(total) / add_total(n) / tick(bytes, failed) / finish() -> summary | nil
local M = {}

local current

function M.start(total)
  current = require("gf.progress").new({ total = total or 0, label = "images" })
  return current
end

function M.add_total(n)
  if current then current:set_total((current.total or 0) + n) end
end

function M.tick(bytes, failed)
  if current and not current.finished then current:tick(1, { bytes = bytes or 0, failed = failed }) end
end

function M.finish()
  local p = current
  current = nil
  if not p then return nil end
  if p.done == 0 and (p.total or 0) == 0 then return p:summary() end -- nothing ran: no line
  return p:finish()
end

return M
