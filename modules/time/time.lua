--- gf.time: clocks, ISO-8601 (UTC), durations, month spans and UTC formatting.
--
-- Wrong argument types, NaN/infinite epochs and unknown options raise; malformed text returns
-- `nil, "time.<fn> '<input>': <reason>", "parse"`. Epochs are seconds since 1970-01-01T00:00:00Z;
-- whole values come back as integers. Nothing here reads a clock unless you ask for the current
-- time (now(), or an omitted epoch / now argument), so specs can pin time.
--
-- now() -> epoch seconds (float, wall clock)
-- monotonic() -> seconds (float, CLOCK_MONOTONIC; only differences mean anything)
-- iso8601([epoch], {ms=false}) -> "2024-01-02T03:04:05Z" ("...05.678Z" with ms); epoch defaults
--                                to now(); seconds are rounded to the millisecond, then cut
-- parse_iso8601(s) -> epoch      accepts "2024-01-02" (midnight UTC), "20240102",
--                                "2024-01-02T03:04", "2024-01-02T03:04:05", fractional seconds
--                                ("05.123", "05,5"), 't' or a space for 'T', the basic form
--                                "20240102T030405Z", and a zone "Z", "+hh:mm", "-hhmm", "+hh".
--                                No zone means UTC. Second 60 folds into the next minute.
-- duration(s) -> seconds         "45s", "30m", "24h", "7d", "2w", "250ms", "1h30m", "1.5h",
--                                "1d02h03m04s", or a plain number "90" / "1.5" (seconds). Units
--                                must come in decreasing order, each once; no sign, no spaces.
-- format_duration(seconds) -> "1h02m03s", "2d00h00m05s", "45s", "0.25s", "-1m30s"; whole seconds
--                                from a minute up; duration() reads every result back
-- month_span(s) -> list          "202101..202103", "2021-01..2021-03" or one month "202101":
--                                {{year=2021, month=1, start=<epoch>, stop=<epoch, exclusive>,
--                                ym="202101"}, ...}, both ends inclusive; a reversed span is a
--                                "parse" failure
-- since(s, [now]) -> epoch       now - duration(s); s may also be an ISO-8601 timestamp, which is
--                                returned as is. now defaults to now()
-- format(epoch, fmt) -> string   strftime in UTC, C locale: %Y %C %y %m %d %e %j %H %I %M %S %p
--                                %a %A %b %h %B %u %w %s %F %T %D %R %z(+0000) %Z(UTC) %n %t %%,
--                                plus %L (milliseconds). An unknown conversion raises.
-- fields(epoch) -> {year=, month=, day=, hour=, min=, sec=, msec=, wday= (0 = Sunday), yday=}
-- epoch{year=, month=, day=, hour=0, min=0, sec=0} -> epoch   (timegm: out-of-range fields roll
--                                over, e.g. month=13 is January of the next year)
local core = require("gf.time.core")

local M = {}

M.now = core.now
M.monotonic = core.monotonic
M.parse_iso8601 = core.parse_iso8601
M.duration = core.duration
M.format_duration = core.format_duration
M.month_span = core.month_span
M.fields = core.fields

function M.iso8601(epoch, opts)
  if opts ~= nil then
    if type(opts) ~= "table" then
      error("bad argument #2 to 'iso8601' (table expected, got " .. type(opts) .. ")", 2)
    end
    for k in pairs(opts) do
      if k ~= "ms" then
        error("bad argument #2 to 'iso8601' (unknown option '" .. tostring(k) .. "')", 2)
      end
    end
  end
  if epoch == nil then
    epoch = core.now()
  elseif type(epoch) ~= "number" then
    error("bad argument #1 to 'iso8601' (number expected, got " .. type(epoch) .. ")", 2)
  end
  local s = core.iso8601(epoch, opts ~= nil and opts.ms == true)
  return s
end

-- Called directly so that errors point at the caller's line.
M.format = core.format

function M.since(s, now)
  if type(s) ~= "string" then
    error("bad argument #1 to 'since' (string expected, got " .. type(s) .. ")", 2)
  end
  if now ~= nil and type(now) ~= "number" then
    error("bad argument #2 to 'since' (number expected, got " .. type(now) .. ")", 2)
  end
  local d, err = core.duration(s)
  if d == nil then
    local e = core.parse_iso8601(s)
    if e ~= nil then return e end
    return nil, (err:gsub("^time%.duration", "time.since")), "parse"
  end
  return (now or core.now()) - d
end

function M.epoch(t)
  if type(t) ~= "table" then
    error("bad argument #1 to 'epoch' (table expected, got " .. type(t) .. ")", 2)
  end
  local e = core.epoch(t.year, t.month, t.day, t.hour, t.min, t.sec)
  return e
end

return M
