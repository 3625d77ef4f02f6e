-- gf.time through the real native core. Every calendar function takes its time as an argument,
-- so these specs pin it; only now()/monotonic() read clocks.
local time = require("gf.time")

local T = 1704164645 -- 2024-01-02T03:04:05Z

describe("gf.time #unit", function()
  describe("clocks", function()
    it("now() is the wall clock as a float", function()
      local n = time.now()
      assert.equal("float", math.type(n))
      assert.is_true(math.abs(n - os.time()) <= 2)
    end)

    it("monotonic() never goes back", function()
      local a = time.monotonic()
      local b = time.monotonic()
      assert.equal("float", math.type(a))
      assert.is_true(b >= a)
    end)
  end)

  describe("iso8601", function()
    local cases = {
      { 0, false, "1970-01-01T00:00:00Z" },
      { T, false, "2024-01-02T03:04:05Z" },
      { T + 0.678, false, "2024-01-02T03:04:05Z" },
      { T + 0.678, true, "2024-01-02T03:04:05.678Z" },
      { T, true, "2024-01-02T03:04:05.000Z" },
      { -1, false, "1969-12-31T23:59:59Z" },
      { -0.5, true, "1969-12-31T23:59:59.500Z" },
      { 951782400, false, "2000-02-29T00:00:00Z" },
      { 4102444799, false, "2099-12-31T23:59:59Z" },
      { -2208988800, false, "1900-01-01T00:00:00Z" },
      { 253402300799, false, "9999-12-31T23:59:59Z" },
    }
    for _, c in ipairs(cases) do
      it(("formats %s (ms=%s)"):format(c[1], tostring(c[2])), function()
        assert.equal(c[3], time.iso8601(c[1], { ms = c[2] }))
      end)
    end

    it("defaults to the current time", function()
      assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$", time.iso8601())
      assert.equal(time.iso8601(os.time()):sub(1, 13), time.iso8601():sub(1, 13))
    end)

    it("raises on misuse", function()
      assert.has_error(function() time.iso8601("2024") end,
        "bad argument #1 to 'iso8601' (number expected, got string)")
      assert.has_error(function() time.iso8601(T, { millis = true }) end,
        "bad argument #2 to 'iso8601' (unknown option 'millis')")
      assert.has_error(function() time.iso8601(T, true) end)
      assert.has_error(function() time.iso8601(0 / 0) end)
      assert.has_error(function() time.iso8601(math.huge) end)
    end)
  end)

  describe("parse_iso8601", function()
    local good = {
      { "2024-01-02T03:04:05Z", T },
      { "2024-01-02t03:04:05z", T },
      { "2024-01-02 03:04:05Z", T },
      { "2024-01-02T03:04:05", T }, -- no zone: UTC
      { "2024-01-02T03:04Z", T - 5 },
      { "2024-01-02", T - 3 * 3600 - 4 * 60 - 5 },
      { "20240102", T - 3 * 3600 - 4 * 60 - 5 },
      { "20240102T030405Z", T },
      { "2024-01-02T03:04:05.250Z", T + 0.25 },
      { "2024-01-02T03:04:05,5Z", T + 0.5 },
      { "2024-01-02T04:04:05+01:00", T },
      { "2024-01-02T04:04:05+0100", T },
      { "2024-01-02T04:04:05+01", T },
      { "2024-01-01T21:34:05-05:30", T },
      { "2024-02-29T00:00:00Z", 1709164800 },
      { "1969-12-31T23:59:59Z", -1 },
      { "2016-12-31T23:59:60Z", 1483228800 },
    }
    for _, c in ipairs(good) do
      it(("accepts %q"):format(c[1]), function()
        assert.same({ c[2] }, { time.parse_iso8601(c[1]) })
      end)
    end

    it("returns whole seconds as integers", function()
      assert.equal("integer", math.type(time.parse_iso8601("2024-01-02T03:04:05Z")))
      assert.equal("float", math.type(time.parse_iso8601("2024-01-02T03:04:05.5Z")))
    end)

    local bad = {
      { "", "empty timestamp" },
      { "x", "expected a 4-digit year at offset 0" },
      { "24-01-02", "expected a 4-digit year at offset 2" },
      { "2024-1-2", "expected a 2-digit month at offset 6" },
      { "2024-13-01", "month 13 out of range" },
      { "2023-02-29", "day 29 out of range" },
      { "2024-01-00", "day 00 out of range" },
      { "2024-01-02T", "expected a 2-digit hour at offset 11" },
      { "2024-01-02T24:00:00Z", "hour 24 out of range" },
      { "2024-01-02T03:60:00Z", "minute 60 out of range" },
      { "2024-01-02T03:04:61Z", "second 61 out of range" },
      { "2024-01-02T03:04:05.Z", "expected fraction digits at offset 20" },
      { "2024-01-02T03:04:05+1", "expected a 2-digit zone hour at offset 21" },
      { "2024-01-02T03:04:05+25:00", "zone offset out of range" },
      { "2024-01-02T03:04:05Z ", "unexpected ' ' at offset 20" },
      { "2024-01-02X03:04:05Z", "unexpected 'X' at offset 10" },
      { "2024-01-02T03:04:05 UTC", "unexpected ' ' at offset 19" },
    }
    for _, c in ipairs(bad) do
      it(("rejects %q"):format(c[1]), function()
        assert.same({ nil, ("time.parse_iso8601 '%s': %s"):format(c[1], c[2]), "parse" },
          { time.parse_iso8601(c[1]) })
      end)
    end

    it("round-trips with iso8601", function()
      for _, e in ipairs({ 0, 1, T, 951782400, -86400 * 365 * 70 + 17, 4102444799 }) do
        assert.equal(e, time.parse_iso8601(time.iso8601(e)))
      end
      assert.equal(T + 0.123, time.parse_iso8601(time.iso8601(T + 0.123, { ms = true })))
    end)

    it("raises on wrong types", function()
      assert.has_error(function() time.parse_iso8601() end)
      assert.has_error(function() time.parse_iso8601({}) end)
    end)
  end)

  describe("duration", function()
    local good = {
      { "45s", 45 }, { "30m", 1800 }, { "24h", 86400 }, { "7d", 604800 }, { "2w", 1209600 },
      { "1h30m", 5400 }, { "1d02h03m04s", 93784 }, { "90", 90 }, { "0", 0 }, { "1.5", 1.5 },
      { "1.5h", 5400 }, { "250ms", 0.25 }, { "1m30s500ms", 90.5 }, { "0s", 0 },
    }
    for _, c in ipairs(good) do
      it(("parses %q"):format(c[1]), function()
        assert.same({ c[2] }, { time.duration(c[1]) })
      end)
    end

    local bad = {
      { "", "empty duration" },
      { "h", "expected a number at offset 0" },
      { "-5m", "expected a number at offset 0" },
      { " 5m", "expected a number at offset 0" },
      { "5 m", "unknown unit ' ' at offset 1 (expected w, d, h, m, s or ms)" },
      { "5x", "unknown unit 'x' at offset 1 (expected w, d, h, m, s or ms)" },
      { "1h30", "missing unit at the end" },
      { "30m1h", "unit 'h' out of order at offset 4 (w, d, h, m, s, ms)" },
      { "1h1h", "unit 'h' out of order at offset 3 (w, d, h, m, s, ms)" },
      { "1.h", "expected a number at offset 2" },
      { "7D", "unknown unit 'D' at offset 1 (expected w, d, h, m, s or ms)" },
    }
    for _, c in ipairs(bad) do
      it(("rejects %q"):format(c[1]), function()
        assert.same({ nil, ("time.duration '%s': %s"):format(c[1], c[2]), "parse" },
          { time.duration(c[1]) })
      end)
    end

    it("raises on wrong types", function()
      assert.has_error(function() time.duration() end)
      assert.has_error(function() time.duration({}) end)
    end)
  end)

  describe("format_duration", function()
    local cases = {
      { 3723, "1h02m03s" }, { 0, "0s" }, { 45, "45s" }, { 90, "1m30s" }, { 3600, "1h00m00s" },
      { 172805, "2d00h00m05s" }, { 0.25, "0.25s" }, { 1.5, "1.5s" }, { -90, "-1m30s" },
      { 3723.4, "1h02m03s" }, { 59.9999, "1m00s" },
    }
    for _, c in ipairs(cases) do
      it(("formats %s"):format(c[1]), function()
        assert.equal(c[2], time.format_duration(c[1]))
      end)
    end

    it("is read back by duration()", function()
      for _, s in ipairs({ 0, 1, 59, 61, 3599, 3601, 86399, 86401, 1234567, 0.5 }) do
        assert.equal(s, time.duration(time.format_duration(s)))
      end
    end)

    it("raises on misuse", function()
      assert.has_error(function() time.format_duration("1h") end)
      assert.has_error(function() time.format_duration(0 / 0) end)
    end)
  end)

  describe("month_span", function()
    it("lists the months inclusively with exact bounds", function()
      assert.same({
        { year = 2021, month = 1, ym = "202101", start = 1609459200, stop = 1612137600 },
        { year = 2021, month = 2, ym = "202102", start = 1612137600, stop = 1614556800 },
        { year = 2021, month = 3, ym = "202103", start = 1614556800, stop = 1617235200 },
      }, time.month_span("202101..202103"))
    end)

    it("accepts the dashed form, single months, and crosses years", function()
      assert.same(time.month_span("202101..202103"), time.month_span("2021-01..2021-03"))
      assert.same(time.month_span("202101..202103"), time.month_span("2021-01..202103"))
      local one = time.month_span("2024-02")
      assert.equal(1, #one)
      assert.same({ "202402", 1706745600, 1709251200 }, { one[1].ym, one[1].start, one[1].stop })
      assert.equal(29 * 86400, one[1].stop - one[1].start) -- leap February
      local span = time.month_span("202311..202402")
      local yms = {}
      for i, m in ipairs(span) do yms[i] = m.ym end
      assert.same({ "202311", "202312", "202401", "202402" }, yms)
      for i = 2, #span do assert.equal(span[i - 1].stop, span[i].start) end
      assert.equal(120, #time.month_span("201001..201912"))
    end)

    local bad = {
      { "202103..202101", "end 2021-01 is before start 2021-03" },
      { "", "empty month span" },
      { "2021", "expected a 2-digit month at offset 4" },
      { "202113..202201", "month 13 out of range" },
      { "202101-202103", "expected '..' at offset 6" },
      { "202101...202103", "expected a 4-digit year at offset 8" },
      { "202101..", "expected a 4-digit year at offset 8" },
      { "202101..202103x", "unexpected 'x' at offset 14" },
    }
    for _, c in ipairs(bad) do
      it(("rejects %q"):format(c[1]), function()
        assert.same({ nil, ("time.month_span '%s': %s"):format(c[1], c[2]), "parse" },
          { time.month_span(c[1]) })
      end)
    end

    it("raises on wrong types", function()
      assert.has_error(function() time.month_span({}) end)
    end)
  end)

  describe("since", function()
    it("subtracts a duration from an injected now", function()
      assert.same({ T - 7 * 86400 }, { time.since("7d", T) })
      assert.same({ T - 5400 }, { time.since("1h30m", T) })
      assert.same({ T - 90 }, { time.since("90", T) })
    end)

    it("takes an ISO-8601 timestamp as is", function()
      assert.same({ T }, { time.since("2024-01-02T03:04:05Z", 0) })
    end)

    it("defaults now to the wall clock", function()
      assert.is_true(math.abs(time.since("1h") - (os.time() - 3600)) <= 2)
    end)

    it("returns a parse failure for anything else", function()
      assert.same({ nil, "time.since 'last week': expected a number at offset 0", "parse" },
        { time.since("last week", T) })
      assert.same({ nil, "time.since '5y': unknown unit 'y' at offset 1 (expected w, d, h, m, s or ms)",
        "parse" }, { time.since("5y", T) })
    end)

    it("raises on misuse", function()
      assert.has_error(function() time.since(7) end,
        "bad argument #1 to 'since' (string expected, got number)")
      assert.has_error(function() time.since("7d", "now") end,
        "bad argument #2 to 'since' (number expected, got string)")
    end)
  end)

  describe("format", function()
    it("formats in UTC", function()
      local e = T + 0.678
      assert.equal("2024-01-02 03:04:05.678", time.format(e, "%Y-%m-%d %H:%M:%S.%L"))
      assert.equal("2024-01-02T03:04:05 +0000 UTC", time.format(e, "%FT%T %z %Z"))
      assert.equal("2024002", time.format(T, "%Y%j"))
      assert.equal("Tue Tuesday Jan January 2 2", time.format(T, "%a %A %b %B %u %w"))
      assert.equal("01/02/24 03:04 03AM  2 20 24", time.format(T, "%D %R %I%p %e %C %y"))
      assert.equal("1704164645 100%", time.format(e, "%s 100%%"))
      assert.equal("a\0b\n\t", time.format(T, "a\0b%n%t"))
      assert.equal("", time.format(T, ""))
    end)

    it("agrees with os.date over many dates", function()
      local fmt = "%Y-%m-%d %H:%M:%S %j %a %b %u %w"
      local e = -2208988800
      while e < 4102444800 do
        assert.equal(os.date("!" .. fmt, e), time.format(e, fmt))
        e = e + 8640000 + 3671 -- about 100 days, drifting through every time of day
      end
    end)

    it("raises on unknown conversions and wrong types", function()
      assert.has_error(function() time.format(T, "%Q") end, "time.format: unknown conversion '%Q'")
      assert.has_error(function() time.format(T, "50%") end, "time.format: format ends with a lone '%'")
      assert.has_error(function() time.format("x", "%Y") end)
      assert.has_error(function() time.format(T) end)
    end)
  end)

  describe("fields / epoch", function()
    it("splits an epoch into UTC fields", function()
      assert.same({ year = 2024, month = 2, day = 29, hour = 12, min = 34, sec = 56, msec = 500,
        wday = 4, yday = 60 }, time.fields(1709210096.5))
      assert.same({ year = 1969, month = 12, day = 31, hour = 23, min = 59, sec = 59, msec = 0,
        wday = 3, yday = 365 }, time.fields(-1))
    end)

    it("builds an epoch, rolling fields over like timegm", function()
      assert.equal(T, time.epoch({ year = 2024, month = 1, day = 2, hour = 3, min = 4, sec = 5 }))
      assert.equal(1735689600, time.epoch({ year = 2024, month = 13, day = 1 }))
      assert.equal(1709164800, time.epoch({ year = 2024, month = 3, day = 0 }))
      assert.equal(T - 5, time.epoch({ year = 2024, month = 1, day = 2, hour = 3, min = 3, sec = 60 }))
    end)

    it("raises on misuse", function()
      assert.has_error(function() time.epoch() end)
      assert.has_error(function() time.epoch({ year = 2024 }) end)
      assert.has_error(function() time.epoch({ year = 2024, month = 1, day = 1.5 }) end)
      assert.has_error(function() time.fields("x") end)
    end)
  end)
end)
