describe("spec.support.mocker #unit", function()
  local mocker = require("spec.support.mocker")

  -- Two throwaway modules: a "core" and a facade that captures it at require time.
  local CORE, FACADE = "gf.mockertest.core", "gf.mockertest"

  before_each(function()
    package.loaded[CORE] = { name = "real core", get = function() return "real" end }
    package.preload[FACADE] = function()
      local core = require(CORE)
      return { get = function() return core.get() end }
    end
    package.loaded[FACADE] = nil
  end)

  after_each(function()
    package.loaded[CORE], package.loaded[FACADE], package.preload[FACADE] = nil, nil, nil
  end)

  describe("setup", function()
    it("swaps a module and restores it", function()
      local real = package.loaded[CORE]
      local fake = { get = function() return "fake" end }
      local restore = mocker.setup(nil, { modules = { { CORE, fake } } })
      assert.equal(fake, require(CORE))
      restore()
      assert.equal(real, require(CORE))
      restore() -- idempotent
      assert.equal(real, require(CORE))
    end)

    it("restores through busted's finally", function()
      local registered
      local real = package.loaded[CORE]
      mocker.setup(function(fn) registered = fn end, { modules = { { CORE, {} } } })
      assert.are_not.equal(real, package.loaded[CORE])
      registered()
      assert.equal(real, package.loaded[CORE])
    end)

    it("installs full fakes with no fallback to the real module", function()
      mocker.setup(finally, { modules = { { CORE, { get = function() return "fake" end } } } })
      assert.is_nil(require(CORE).name)
    end)

    it("partial fakes fall back to the real module", function()
      mocker.setup(finally, { modules = { { CORE, { get = function() return "fake" end },
        partial = true } } })
      local m = require(CORE)
      assert.equal("fake", m.get())
      assert.equal("real core", m.name)
    end)

    it("strict fakes raise on a missing field", function()
      mocker.setup(finally, { modules = { { CORE, { a = 1 }, strict = true } } })
      local m = require(CORE)
      assert.equal(1, m.a)
      assert.has_error(function() return m.b end, "fake gf.mockertest.core has no field 'b'")
    end)

    it("reloads dependants against the fake and puts the originals back", function()
      local facade = require(FACADE)
      assert.equal("real", facade.get())
      mocker.setup(finally, {
        modules = { { CORE, { get = function() return "fake" end } } },
        unload = { FACADE },
      })
      local again = require(FACADE)
      assert.are_not.equal(facade, again)
      assert.equal("fake", again.get())
    end)

    it("leaves originals in place after a test that used unload (checked here)", function()
      local facade = require(FACADE)
      local restore = mocker.setup(nil, { modules = { { CORE, { get = function() return "f" end } } },
        unload = { FACADE } })
      assert.equal("f", require(FACADE).get())
      restore()
      assert.equal(facade, require(FACADE))
      assert.equal("real", require(FACADE).get())
    end)

    it("restores a module that was not loaded before to not loaded", function()
      local restore = mocker.setup(nil, { modules = { { "gf.never.loaded", { x = 1 } } } })
      assert.same({ x = 1 }, require("gf.never.loaded"))
      restore()
      assert.is_nil(package.loaded["gf.never.loaded"])
    end)

    it("nested setups restore in reverse order", function()
      local real = package.loaded[CORE]
      local r1 = mocker.setup(nil, { modules = { { CORE, { n = 1 } } } })
      local r2 = mocker.setup(nil, { modules = { { CORE, { n = 2 } } } })
      assert.equal(2, require(CORE).n)
      r2()
      assert.equal(1, require(CORE).n)
      r1()
      assert.equal(real, require(CORE))
    end)

    it("raises on misuse", function()
      assert.has_error(function() mocker.setup(finally, { modules = { { CORE } } }) end,
        "mocker.setup: modules[1] (gf.mockertest.core) has no fake")
      assert.has_error(function() mocker.setup(finally, { modules = { CORE } }) end,
        "mocker.setup: modules[1] must be {name, fake}")
      assert.has_error(function() mocker.setup("finally", {}) end,
        "mocker.setup: argument #1 must be busted's finally (or nil)")
    end)
  end)

  describe("recorder", function()
    it("records calls in order with their arguments and returns the results", function()
      local fake = mocker.recorder({
        get = function(url) return "body of " .. url, 200 end,
        put = function() return true end,
        limit = 5,
      })
      assert.same({ "body of /a", 200 }, { fake.get("/a") })
      assert.is_true(fake.put("/b", nil, "x"))
      assert.equal(5, fake.limit)
      assert.same({ { fn = "get", n = 1, "/a" }, { fn = "put", n = 3, "/b", nil, "x" } }, fake.calls)
      assert.same({ { fn = "put", n = 3, "/b", nil, "x" } }, fake:calls_of("put"))
      assert.same({ { fn = "get", n = 1, "/a" } }, fake.calls_of("get"))
      fake.reset()
      assert.same({}, fake.calls)
    end)

    it("raises when a function the fake lacks is called", function()
      local fake = mocker.recorder({})
      assert.has_error(function() fake.delete("x") end, "fake has no function 'delete'")
    end)
  end)

  describe("fake_clock", function()
    it("starts where told and moves only when told", function()
      local c = mocker.fake_clock(10)
      assert.equal(10, c())
      assert.equal(10, c.now())
      assert.equal(12.5, c:advance(2.5))
      assert.equal(12.5, c.now())
      c.advance(0.5)
      assert.equal(13, c())
      c:set(100)
      assert.equal(100, c.now())
      assert.equal(1700000000.0, mocker.fake_clock().now())
    end)

    it("refuses to go backwards", function()
      local c = mocker.fake_clock(0)
      assert.has_error(function() c:advance(-1) end, "fake_clock: advance needs a number >= 0")
      assert.has_error(function() c:set("x") end, "fake_clock: set needs a number")
    end)
  end)
end)
