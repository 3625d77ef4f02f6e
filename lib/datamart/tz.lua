--- America/Vancouver local dates without a time zone database.
--
-- Pacific time: UTC-8 (PST), UTC-7 (PDT) from the second Sunday of March 02:00 local to the
-- first Sunday of November 02:00 local (the US/Canada rule since 2007; British Columbia keeps
-- it). Only the date is used (the original's `datetime.now(America/Vancouver).strftime`).
local time = require("gf.time")

local M = {}

-- day of month of the n-th Sunday of year/month
local function nth_sunday(year, month, n)
  local wday = time.fields(time.epoch({ year = year, month = month, day = 1 })).wday -- 0 = Sunday
  return 1 + (7 - wday) % 7 + 7 * (n - 1)
end

--- vancouver_offset(epoch) -> -8 or -7 (hours from UTC)
function M.vancouver_offset(epoch)
  local year = time.fields(epoch).year
  -- 02:00 PST = 10:00 UTC (start of PDT); 02:00 PDT = 09:00 UTC (end)
  local start = time.epoch({ year = year, month = 3, day = nth_sunday(year, 3, 2), hour = 10 })
  local stop = time.epoch({ year = year, month = 11, day = nth_sunday(year, 11, 1), hour = 9 })
  if epoch >= start and epoch < stop then return -7 end
  return -8
end

--- local_date(epoch, zone, fmt) -> string; zone "America/Vancouver" (default) or "UTC"
function M.local_date(epoch, zone, fmt)
  fmt = fmt or "%Y%m%d"
  zone = zone or "America/Vancouver"
  if zone == "UTC" then return time.format(epoch, fmt) end
  if zone ~= "America/Vancouver" then
    error("tz: unsupported time zone '" .. tostring(zone) .. "' (America/Vancouver or UTC)", 2)
  end
  return time.format(epoch + 3600 * M.vancouver_offset(epoch), fmt)
end

--- valid_date(s) -> true when s is a real calendar date YYYYMMDD
function M.valid_date(s)
  if type(s) ~= "string" then return false end
  local y, m, d = s:match("^(%d%d%d%d)(%d%d)(%d%d)$")
  if not y then return false end
  local e = time.epoch({ year = tonumber(y), month = tonumber(m), day = tonumber(d), hour = 12 })
  return time.format(e, "%Y%m%d") == s
end

--- date_epoch("20230424") -> epoch of that day's 12:00 UTC
function M.date_epoch(datestr)
  if not M.valid_date(datestr) then error("tz: bad date '" .. tostring(datestr) .. "' (YYYYMMDD)", 2) end
  local y, m, d = datestr:match("^(%d%d%d%d)(%d%d)(%d%d)$")
  return time.epoch({ year = tonumber(y), month = tonumber(m), day = tonumber(d), hour = 12 })
end

--- shift_date("20230424", -1) -> "20230423"
function M.shift_date(datestr, days)
  return time.format(M.date_epoch(datestr) + 86400 * days, "%Y%m%d")
end

return M
