--- spec.support.mocker: swap modules for fakes inside one test, restored afterwards.
--
-- setup(finally, opts) -> restore
--   opts.modules = { {name, fake [, partial = true] [, strict = true]}, ... }
--     package.loaded[name] becomes `fake` until the test ends. By default the fake is *full*:
--     nothing falls back to the real module (native cores are absent under plain busted, and a
--     silent fallback would hide a missing fake). `partial = true` makes a proxy that reads the
--     fake first and the real module second (for pure-Lua modules only). `strict = true` makes
--     reading a missing field of the fake raise "fake <name> has no field '<k>'".
--   opts.unload = { "gf.s3", ... }
--     dependants to drop from package.loaded so that their next `require` loads them again
--     against the fakes; their original instances are put back afterwards.
--   `finally` is busted's finally; pass nil to restore by calling the returned function.
--   Restoring is idempotent; several setups in one test restore in reverse order.
--
-- recorder(impls) -> fake
--   a table whose functions are impls' functions wrapped to record each call in
--   fake.calls[i] = {fn = "name", n = argc, [1..n] = args}. impls' non-function values are
--   copied. fake:calls_of(name) -> the calls of one function, fake:reset() empties the record.
--   Calling a function that impls lacks raises "fake has no function '<name>'".
--
-- fake_clock(start) -> clock
--   a controllable clock: clock() or clock.now() -> current time (start defaults to
--   1700000000.0); clock:advance(dt); clock:set(t). Pass clock.now where a plain function is
--   required.
local M = {}

local function strict_proxy(name, fake)
  return setmetatable({}, {
    __index = function(_, k)
      local v = fake[k]
      if v == nil then error(("fake %s has no field '%s'"):format(name, tostring(k)), 2) end
      return v
    end,
    __newindex = fake,
    __pairs = function() return next, fake, nil end,
  })
end

local function partial_proxy(fake, real)
  return setmetatable({}, {
    __index = function(_, k)
      local v = fake[k]
      if v == nil and type(real) == "table" then return real[k] end
      return v
    end,
    __newindex = fake,
  })
end

local function check_entry(i, entry)
  if type(entry) ~= "table" or type(entry[1]) ~= "string" then
    error(("mocker.setup: modules[%d] must be {name, fake}"):format(i), 3)
  end
  if entry[2] == nil then
    error(("mocker.setup: modules[%d] (%s) has no fake"):format(i, entry[1]), 3)
  end
end

function M.setup(finally, opts)
  opts = opts or {}
  if finally ~= nil and type(finally) ~= "function" then
    error("mocker.setup: argument #1 must be busted's finally (or nil)", 2)
  end
  local saved = {} -- list of {name, original}; restored in reverse
  local function save(name)
    saved[#saved + 1] = { name, package.loaded[name] }
  end
  for i, entry in ipairs(opts.modules or {}) do check_entry(i, entry) end
  for _, name in ipairs(opts.unload or {}) do
    save(name)
    package.loaded[name] = nil
  end
  for _, entry in ipairs(opts.modules or {}) do
    local name, fake = entry[1], entry[2]
    local original = package.loaded[name]
    save(name)
    if entry.partial then
      if original == nil then
        local ok, real = pcall(require, name)
        original = ok and real or nil
        package.loaded[name] = nil
      end
      fake = partial_proxy(fake, original)
    elseif entry.strict then
      fake = strict_proxy(name, fake)
    end
    package.loaded[name] = fake
  end
  local restored = false
  local function restore()
    if restored then return end
    restored = true
    for i = #saved, 1, -1 do
      package.loaded[saved[i][1]] = saved[i][2]
    end
  end
  if finally then finally(restore) end
  return restore
end

local Recorder = {}

function M.recorder(impls)
  impls = impls or {}
  local fake = { calls = {} }
  for k, v in pairs(impls) do
    if type(v) == "function" then
      fake[k] = function(...)
        local call = table.pack(...)
        call.fn = k
        fake.calls[#fake.calls + 1] = call
        return v(...)
      end
    else
      fake[k] = v
    end
  end
  function fake.calls_of(self, name)
    if self ~= fake then name = self end
    local out = {}
    for _, c in ipairs(fake.calls) do
      if c.fn == name then out[#out + 1] = c end
    end
    return out
  end
  function fake.reset()
    fake.calls = {}
  end
  return setmetatable(fake, Recorder)
end

Recorder.__index = function(_, k)
  if type(k) == "string" then
    return function() error(("fake has no function '%s'"):format(k), 2) end
  end
  return nil
end

function M.fake_clock(start)
  local now = start or 1700000000.0
  local clock = {}
  function clock.now() return now end
  function clock.advance(self, dt)
    if self ~= clock then dt = self end
    if type(dt) ~= "number" or dt < 0 then error("fake_clock: advance needs a number >= 0", 2) end
    now = now + dt
    return now
  end
  function clock.set(self, t)
    if self ~= clock then t = self end
    if type(t) ~= "number" then error("fake_clock: set needs a number", 2) end
    now = t
    return now
  end
  return setmetatable(clock, { __call = function() return now end })
end

return M
