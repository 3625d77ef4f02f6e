describe("gf.progress #unit", function()
  local progress = require("gf.progress")
  local mocker = require("spec.support.mocker")

  local clock, out, logged

  before_each(function()
    clock = mocker.fake_clock(1000)
    out = {}
    logged = mocker.recorder({ info = function() end })
  end)

  local function tty(opts)
    opts = opts or {}
    opts.clock, opts.tty = clock.now, true
    opts.sink = function(s) out[#out + 1] = s end
    return progress.new(opts)
  end

  local function plain(opts)
    opts = opts or {}
    opts.clock, opts.tty, opts.log = clock.now, false, logged
    opts.sink = function(s) out[#out + 1] = s end
    return progress.new(opts)
  end

  describe("rate and ETA", function()
    it("compute from the fake clock", function()
      local p = tty({ total = 100, label = "granules" })
      clock:advance(10)
      p:tick(20)
      assert.same({ "\rgranules 20/100 20.0% 2.0/s ETA 40s\27[K" }, out)
      assert.same({ done = 20, failed = 0, total = 100, elapsed = 10, rate = 2.0 }, p:summary())
    end)

    it("count failures, and show an ETA in minutes and hours", function()
      local p = tty({ total = 10000, label = "files" })
      clock:advance(100)
      p:tick(30)
      p:tick(2, { failed = true }) -- same instant: not redrawn
      clock:advance(0.1)
      p:tick(0)
      assert.same({ "\rfiles 30/10000 0.3% 0.3/s ETA 9h13m\27[K",
        "\rfiles 32/10000 0.3% 0.3/s ETA 8h39m 2 failed\27[K" }, out)
      assert.equal(2, p:summary().failed)
    end)

    it("redraw at most every 0.1 s", function()
      local p = tty({ total = 1000 })
      for _ = 1, 50 do
        p:tick()
        clock:advance(0.01)
      end
      -- ticks at t = 0, 0.1, 0.2, 0.3, 0.4 (ish) are drawn
      assert.is_true(#out >= 4 and #out <= 6, "drawn " .. #out .. " times")
    end)

    it("without a total show only the count and rate", function()
      local p = tty({ label = "msgs" })
      clock:advance(4)
      p:tick(10)
      assert.same({ "\rmsgs 10 2.5/s\27[K" }, out)
      p:set_total(20)
      clock:advance(1)
      p:tick(2)
      assert.same("\rmsgs 12/20 60.0% 2.4/s ETA 3s\27[K", out[2])
    end)

    it("report rate 0 and no ETA before time passes", function()
      local p = tty({ total = 5 })
      p:tick()
      assert.same({ "\ritems 1/5 20.0% 0.0/s\27[K" }, out)
      assert.same({ done = 1, failed = 0, total = 5, elapsed = 0, rate = 0 }, p:summary())
    end)
  end)

  describe("bytes", function()
    it("show MB/s on the line and mb_s in the records once bytes are counted", function()
      local p = tty({ total = 4, label = "images" })
      clock:advance(2)
      p:tick(1, { bytes = 3e6 })
      assert.same({ "\rimages 1/4 25.0% 0.5/s 1.5 MB/s ETA 6s\27[K" }, out)
      local s = p:summary()
      assert.equal(3e6, s.bytes)
      assert.equal(1.5, s.mb_rate)
      assert.has_error(function() p:tick(1, { bytes = -1 }) end)
      local q = plain({ total = 2, label = "images", interval = 1 })
      clock:advance(1)
      q:tick(1, { bytes = 5e6 })
      q:finish()
      assert.equal(5, logged.calls[#logged.calls][2].mb_s)
    end)
  end)

  describe("on a terminal", function()
    it("finish draws the final line and a newline", function()
      local p = tty({ total = 4, label = "tiles" })
      clock:advance(2)
      p:tick(3)
      p:tick(1, { failed = true })
      clock:advance(60)
      local s = p:finish()
      assert.same({ done = 4, failed = 1, total = 4, elapsed = 62, rate = 4 / 62 }, s)
      assert.same({ "\rtiles 3/4 75.0% 1.5/s ETA 1s\27[K",
        "\rtiles 4/4 100.0% 0.1/s in 1m02s 1 failed\27[K", "\n" }, out)
      assert.equal(0, #logged.calls)
    end)

    it("finish is idempotent and tick after finish raises", function()
      local p = tty({ total = 1 })
      p:tick()
      clock:advance(1)
      local s1 = p:finish()
      clock:advance(100)
      assert.same(s1, p:finish())
      assert.equal(3, #out)
      assert.has_error(function() p:tick() end, "progress: tick after finish")
    end)
  end)

  describe("with gf.log on the same terminal", function()
    it("keeps the live line below log records", function()
      local log = require("gf.log")
      log.reset()
      log.configure({ clock = function() return 0 end })
      local written = {}
      local real = io.stderr
      io.stderr = {
        write = function(_, ...) for _, s in ipairs({ ... }) do written[#written + 1] = s end end,
        flush = function() end,
      }
      local ok, err = pcall(function()
        local p = progress.new({ clock = clock.now, tty = true, total = 2, label = "n" })
        clock:advance(1)
        p:tick()
        log.info("hello")
        p:finish()
        log.info("after")
      end)
      io.stderr = real
      log.reset()
      assert.is_true(ok, err)
      assert.equal(table.concat({
        "\rn 1/2 50.0% 1.0/s ETA 1s\27[K",
        "\r\27[K1970-01-01T00:00:00Z INFO hello\n\rn 1/2 50.0% 1.0/s ETA 1s\27[K",
        "\rn 1/2 50.0% 1.0/s in 1s\27[K\n",
        "1970-01-01T00:00:00Z INFO after\n",
      }), table.concat(written))
    end)

    it("log.status rejects non-strings", function()
      assert.has_error(function() require("gf.log").status(5) end,
        "bad argument #1 to 'log.status' (string expected, got number)")
    end)
  end)

  describe("without a terminal", function()
    it("logs every interval and at finish", function()
      local p = plain({ total = 100, label = "granules", interval = 5 })
      clock:advance(1)
      p:tick(10)
      assert.equal(0, #logged.calls)
      clock:advance(4)
      p:tick(10, { failed = true })
      clock:advance(1)
      p:tick(5)
      clock:advance(5)
      p:tick(5)
      local s = p:finish()
      assert.same({ done = 30, failed = 10, total = 100, elapsed = 11, rate = 30 / 11 }, s)
      assert.same({
        { fn = "info", n = 2, "granules progress", { done = 20, total = 100, failed = 10,
          rate = 4.0, percent = 20.0, eta_s = 20 } },
        { fn = "info", n = 2, "granules progress", { done = 30, total = 100, failed = 10,
          rate = 2.73, percent = 30.0, eta_s = 26 } },
        { fn = "info", n = 2, "granules finished", { done = 30, failed = 10, total = 100,
          elapsed_s = 11, rate = 2.73 } },
      }, logged.calls)
      assert.same({}, out)
    end)

    it("logs through gf.log by default", function()
      local log = require("gf.log")
      local lines = {}
      log.reset()
      log.configure({ sink = function(l) lines[#lines + 1] = l end, clock = function() return 0 end })
      local p = progress.new({ clock = clock.now, tty = false, label = "rows" })
      clock:advance(2)
      p:tick(4)
      p:finish()
      log.reset()
      assert.same({ "1970-01-01T00:00:00Z INFO rows finished done=4 elapsed_s=2 failed=0 rate=2" },
        lines)
    end)
  end)

  describe("misuse", function()
    it("raises on bad arguments", function()
      assert.has_error(function() progress.new({ totl = 3 }) end,
        "progress.new: unknown option 'totl'")
      assert.has_error(function() progress.new({ total = -1 }) end,
        "bad argument #1 to 'progress.new' (must be >= 0)")
      assert.has_error(function() progress.new({ total = 1.5 }) end,
        "bad argument #1 to 'progress.new' (integer expected, got float)")
      assert.has_error(function() progress.new({ interval = "5" }) end,
        "progress.new: interval must be a number >= 0")
      assert.has_error(function() progress.new("x") end,
        "bad argument #1 to 'progress.new' (table expected, got string)")
      local p = tty()
      assert.has_error(function() p:tick("2") end,
        "bad argument #1 to 'tick' (integer expected, got string)")
      assert.has_error(function() p:tick(1, true) end,
        "bad argument #2 to 'tick' (table expected, got boolean)")
      assert.has_error(function() p:set_total(nil) end,
        "bad argument #1 to 'set_total' (integer expected, got nil)")
    end)
  end)

  describe("format_duration", function()
    local CASES = { { 0, "0s" }, { 59.4, "59s" }, { 60, "1m00s" }, { 3599, "59m59s" },
      { 3600, "1h00m" }, { 86399, "23h59m" }, { 90000, "1d01h" } }
    for _, c in ipairs(CASES) do
      it(tostring(c[1]) .. " -> " .. c[2], function()
        assert.equal(c[2], progress.format_duration(c[1]))
      end)
    end
  end)
end)
