-- The closed set of error codes (gf.host.ERROR_CODES, docs/errors.md): every code the sources
-- return and every code the specs expect in a `nil, message, code` tuple belongs to it.
local host = require("gf.host")
local fs = require("gf.fs")
local files = require("spec.support.files")

local CODES = host.ERROR_CODES

local function sources(dirs, pattern)
  local out = {}
  for _, d in ipairs(dirs) do
    local dir = host.root() .. "/" .. d
    if fs.exists(dir) then
      for _, rel in ipairs(assert(fs.walk(dir))) do
        if rel:match(pattern) then out[#out + 1] = dir .. "/" .. rel end
      end
    end
  end
  return out
end

-- {file:line = code} for every code found by the patterns in the files
local function scan(paths, patterns)
  local found = {}
  for _, p in ipairs(paths) do
    local n = 0
    for line in (files.read(p) .. "\n"):gmatch("(.-)\n") do
      n = n + 1
      for _, pat in ipairs(patterns) do
        for code in line:gmatch(pat) do found[#found + 1] = { where = p .. ":" .. n, code = code } end
      end
    end
  end
  return found
end

describe("error codes #unit", function()
  it("are documented in docs/errors.md, each of them", function()
    local doc = files.read(host.root() .. "/docs/errors.md")
    for code in pairs(CODES) do assert.truthy(doc:find("`" .. code .. "`", 1, true), code) end
  end)

  it("returned by the C and Lua sources belong to the set", function()
    local c = scan(sources({ "modules", "host" }, "%.c$"), { 'gf_fail%(L, "([%w_]+)"' })
    local lua = scan(sources({ "modules", "lib", "scripts", "workflows", "config" }, "%.lua$"),
      { 'return nil, [^\n]-, "([%l_]+)"%s*$', 'return nil, [^\n]-, "([%l_]+)"%s*end' })
    assert.is_true(#c >= 10 and #lua >= 50, ("the scan found too little to be checking anything "
      .. "(%d in C, %d in Lua)"):format(#c, #lua))
    local bad = {}
    for _, f in ipairs(c) do if not CODES[f.code] then bad[#bad + 1] = f.where .. " " .. f.code end end
    for _, f in ipairs(lua) do if not CODES[f.code] then bad[#bad + 1] = f.where .. " " .. f.code end end
    assert.same({}, bad)
  end)

  it("expected by the specs belong to the set", function()
    local expected = scan(sources({ "spec" }, "_spec%.lua$"),
      { 'assert%.same%(%{ nil, .-, "([%l_]+)" %}', '[{,] code = "([%l_]+)"' })
    assert.is_true(#expected >= 100, ("the scan found too little to be checking anything (%d)")
      :format(#expected))
    local bad = {}
    for _, f in ipairs(expected) do
      if not CODES[f.code] then bad[#bad + 1] = f.where .. " " .. f.code end
    end
    assert.same({}, bad)
  end)
end)
