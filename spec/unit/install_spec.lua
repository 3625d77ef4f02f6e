-- `cmake --install` to any prefix gives a gfhost that finds its scripts and modules there.
local paths = require("spec.support.paths")
local run = require("spec.support.run")
local fs = require("gf.fs")

describe("installed gfhost #unit", function()
  local build = paths.gfhost:match("^(.*)/[^/]+$")
  local has_cache = fs.exists(build .. "/CMakeCache.txt")

  it("runs scripts and loads shared modules from an arbitrary prefix", function()
    if not has_cache then
      pending("not a CMake build tree: " .. build)
      return
    end
    local prefix = paths.tmpdir() .. "/opt/gf host"
    local ok = os.execute(("cmake --install %s --prefix %s >/dev/null"):format(run.shquote(build), run.shquote(prefix)))
    assert.is_true(ok)
    local exe = prefix .. "/bin/gfhost"
    local q = run.shquote
    local function sh(cmd)
      local p = io.popen("cd / && env -u GFHOST_ROOT " .. cmd .. " 2>&1; echo \"rc=$?\"")
      local out = p:read("a")
      p:close()
      return out
    end
    local out = sh(q(exe) .. " list")
    assert.matches("crank%s+crank: CSV triggers", out)
    assert.matches("rc=0", out)
    local script = prefix .. "/probe.lua"
    assert(fs.write(script, [[
      local host = require("gf.host")
      io.write(host.root(), "\n")
      io.write(tostring(pcall(require, "gf.json")), "\n")
      if package.searchpath("gf/http/core", package.cpath) then
        io.write(tostring((pcall(require, "gf.http"))), "\n")
      end
    ]]))
    out = sh(q(exe) .. " run " .. q(script))
    assert.matches("^" .. (prefix .. "/share/gfhost"):gsub("%p", "%%%0") .. "\n", out)
    assert.matches("\ntrue\n", out)
    assert.matches("rc=0", out)
    fs.remove_tree(prefix:match("^(.*)/opt/gf host$"))
  end)
end)
