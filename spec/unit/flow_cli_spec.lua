-- `gfhost run <workflow>`: resume across processes, --rerun-failed, interrupt consistency.
local paths = require("spec.support.paths")
local run = require("spec.support.run")
local fs = require("gf.fs")
local state = require("gf.state")

local WF = [[
local flow = require("gf.flow")
local wf = flow.workflow("cli_probe")
wf:task { name = "items", run = function() return { "a", "b", "c", "d" } end }
wf:task { name = "work", after = { "items" }, foreach = function(ctx) return ctx.output.items end,
  key = function(x) return x end,
  run = function(ctx, x)
    local fs = require("gf.fs")
    if ctx.params.sleep then require("gf.task").sleep(tonumber(ctx.params.sleep)) end
    if ctx.params.fail == x then error("item " .. x .. " is bad", 0) end
    assert(fs.append(ctx.params.log, x .. "\n"))
    return x:upper()
  end }
wf:task { name = "join", after = { "work" }, run = function(ctx)
  local keys = {}
  for k, v in pairs(ctx.output.work) do keys[#keys + 1] = k .. "=" .. v end
  table.sort(keys)
  return table.concat(keys, ",")
end }
return wf
]]

describe("gfhost run <workflow> #unit", function()
  local dir, wf, db, log
  before_each(function()
    dir = paths.tmpdir()
    wf = dir .. "/cli_probe.lua"
    db = dir .. "/state.db"
    log = dir .. "/ran.log"
    assert(fs.write(wf, WF))
  end)
  after_each(function() fs.remove_tree(dir) end)

  local function states()
    local st = assert(state.open({ path = db }))
    local out = {}
    for _, r in ipairs(assert(st:list_nodes("r"))) do
      out[r.node] = r.status
    end
    st:close()
    return out
  end

  local function ran()
    local s = fs.read(log) or ""
    local n = {}
    for x in s:gmatch("%S+") do n[#n + 1] = x end
    table.sort(n)
    return table.concat(n, "")
  end

  it("keeps a failed node failed on resume and reruns only it with --rerun-failed", function()
    local base = { "run", wf, "--run-id", "r", "--state", db, "--param", "log=" .. log }
    local function with(...)
      local a = table.move(base, 1, #base, 1, {})
      for _, x in ipairs({ ... }) do a[#a + 1] = x end
      return a
    end
    local r1 = run.gfhost(with("--param", "fail=c"))
    assert.equal(1, r1.code)
    assert.matches("4 completed %(0 reused%), 1 failed, 1 skipped", r1.stdout)
    assert.equal("failed", states()["work[c]"])
    assert.equal("abd", ran())
    local r2 = run.gfhost(base)
    assert.equal(1, r2.code)
    assert.equal("abd", ran()) -- nothing ran again
    local r3 = run.gfhost(with("--rerun-failed"))
    assert.equal(0, r3.code, r3.stderr)
    assert.equal("abcd", ran()) -- only c ran
    assert.matches("reused", r3.stdout)
    assert.equal("completed", states().join)
  end)

  it("records interrupted nodes as interrupted (never completed) and a rerun finishes them", function()
    local base = { "run", wf, "--run-id", "r", "--state", db, "--param", "log=" .. log }
    local cmd = { run.shquote(paths.gfhost) }
    for _, a in ipairs(base) do cmd[#cmd + 1] = run.shquote(a) end
    cmd[#cmd + 1] = "--param sleep=5 >/dev/null 2>&1"
    local ok = os.execute(("(%s & pid=$!; sleep 0.6; kill -INT $pid; wait $pid; echo $? > %s/code)")
      :format(table.concat(cmd, " "), dir))
    assert.is_true(ok)
    assert.equal("130", (fs.read(dir .. "/code"):gsub("%s", "")))
    local st = states()
    assert.equal("completed", st.items)
    for _, k in ipairs({ "a", "b", "c", "d" }) do
      assert.equal("interrupted", st["work[" .. k .. "]"])
    end
    assert.is_nil(st.join)
    assert.equal("", ran())
    local r = run.gfhost(base)
    assert.equal(0, r.code, r.stderr)
    assert.equal("abcd", ran())
    assert.matches("6 completed %(1 reused%)", r.stdout)
  end)

  it("lists the task graph", function()
    local r = run.gfhost({ "run", wf, "--list" })
    assert.equal(0, r.code)
    assert.equal("items\nwork <- items (per item)\njoin <- work\n", r.stdout)
  end)

  it("refuses a malformed --state (or $GFHOST_STATE) with exit status 2, naming the value", function()
    local cases = {
      { "dynamodb://", "flow state dynamodb://: no table name %(dynamodb://TABLE%)" },
      { "dynamodb://t", "flow state dynamodb://t: bad table name 't' %(3%-255 letters" },
      { "dynamodb://a/b?create=1", "flow state dynamodb://a/b%?create=1: bad table name 'a/b'" },
      { "dynamodb://tbl?create=yes", "flow state dynamodb://tbl%?create=yes: create must be 1, 0, true or false, not 'yes'" },
      { "dynamodb://tbl?colour=red", "flow state dynamodb://tbl%?colour=red: unknown parameter 'colour' %(endpoint, region, profile, create%)" },
      { "dynamodb://tbl?region=", "flow state dynamodb://tbl%?region=: parameter 'region' is empty" },
      { "dynamodb://tbl?region=a&region=b", "flow state dynamodb://tbl%?region=a&region=b: parameter 'region' given twice" },
      { "dynamodb://tbl?endpoint=localhost:1", "flow state dynamodb://tbl%?endpoint=localhost:1: endpoint must be an http:// or https:// URL, not 'localhost:1'" },
      { "redis://host/0", "flow state redis://host/0: unknown scheme 'redis://'" },
    }
    for _, c in ipairs(cases) do
      local r = run.gfhost({ "run", wf, "--run-id", "r", "--state", c[1], "--param", "log=" .. log })
      assert.equal(2, r.code, c[1])
      assert.matches("^gfhost: " .. c[2], r.stderr)
      assert.equal("", r.stdout)
    end
    local r = run.gfhost({ "task", wf, "items", "--run-id", "r" },
      { env = { GFHOST_STATE = "dynamodb://tbl?create=2" } })
    assert.equal(2, r.code)
    assert.matches("gfhost: flow state dynamodb://tbl%?create=2: create must be", r.stderr)
    r = run.gfhost({ "worker", "--queue", "q", "--state", "dynamodb://x" })
    assert.equal(2, r.code)
    assert.matches("flow state dynamodb://x: bad table name", r.stderr)
    assert.is_nil(fs.read(log)) -- nothing ran
  end)

  it("parses --state values: SQLite paths, dynamodb:// URLs with %-encoded parameters", function()
    local store = require("gf.flow.store")
    assert.same({ backend = "sqlite", path = "a/b.db" }, store.parse("a/b.db"))
    assert.same({ backend = "dynamodb", table = "gf-state_1.x" }, store.parse("dynamodb://gf-state_1.x"))
    assert.same({ backend = "dynamodb", table = "tbl", endpoint = "http://127.0.0.1:19002",
      region = "eu-west-1", profile = "p q", create = true },
      store.parse("dynamodb://tbl?endpoint=http%3A%2F%2F127.0.0.1%3A19002&region=eu-west-1&profile=p%20q&create=1"))
    assert.same({ backend = "dynamodb", table = "tbl", endpoint = "https://dynamodb.local", create = false },
      store.parse("dynamodb://tbl?endpoint=https://dynamodb.local&create=false"))
    assert.same({ nil, 'flow state "": empty state path', "invalid_input" }, { store.parse("") })
    assert.same({ nil, "flow state s3://b/k: unknown scheme 's3://' (a SQLite file path or dynamodb://TABLE)",
      "invalid_input" }, { store.parse("s3://b/k") })
    assert.same({ nil, "flow state dynamodb://tbl?create: create must be 1, 0, true or false, not ''",
      "invalid_input" }, { store.parse("dynamodb://tbl?create") })
    assert.has_error(function() store.parse(5) end,
      "bad argument #1 to 'parse' (state path or dynamodb:// URL expected)")
    assert.same({ nil, "flow state dynamodb://x: bad table name 'x' (3-255 letters, digits, '_', '-', '.')",
      "invalid_input" }, { store.open("dynamodb://x") })
  end)

  it("refuses a workflow with a cycle, naming the file and line", function()
    assert(fs.write(dir .. "/bad.lua", [[
local flow = require("gf.flow")
local wf = flow.workflow("bad")
wf:task { name = "a", after = { "b" }, run = function() end }
wf:task { name = "b", after = { "a" }, run = function() end }
return wf
]]))
    local r = run.gfhost({ "run", dir .. "/bad.lua" })
    assert.equal(2, r.code)
    assert.matches("bad%.lua:3: workflow 'bad' has a cycle among tasks: a, b", r.stderr)
  end)
end)
