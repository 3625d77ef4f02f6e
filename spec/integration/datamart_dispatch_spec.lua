-- The listener's dispatch against a stand-in GitHub API on 127.0.0.1 (spec/support/
-- datamart_server.py): the original's exact request, 2xx clears the day, a 500 keeps it and it
-- is retried; the token is masked in gf.log and gf.http's debug lines; --on-complete commands.
local dm = require("spec.support.datamart")
local paths = require("spec.support.paths")
local dispatch = require("datamart.dispatch")
local listener = require("datamart.listener")
local expected = require("datamart.expected")
local store_mod = require("datamart.store")
local message = require("datamart.message")
local sqlite = require("gf.sqlite")
local log = require("gf.log")
local json = require("gf.json")

local TOKEN = "ghp_dispatchspec_0123456789abcdef"

describe("datamart dispatch", function()
  local tmp
  before_each(function() tmp = paths.tmpdir() end)
  after_each(function() os.execute("rm -rf " .. tmp) log.reset() end)

  it("sends the original's request and reports non-2xx as a failure", function()
    local gh = dm.start({ dispatch_status = "500,204" })
    finally(function() gh:stop() end)
    local emit = dispatch.github({ url = gh.url .. "/repos/o/r/dispatches", token = TOKEN })
    local ok, why = emit("20230422")
    assert.is_nil(ok)
    assert.matches("HTTP 500", why)
    assert.is_true(emit("20230422"))
    local d = gh:dispatches()
    gh:stop()
    assert.equal(2, #d)
    assert.equal("/repos/o/r/dispatches", d[1].path)
    assert.equal('{"event_type": "run-cmc-grib-download", "client_payload": {"idem_key": "20230422", "message": "demo"}}', d[2].body)
    assert.equal("token " .. TOKEN, d[2].headers.authorization)
    assert.equal("application/vnd.github+json", d[2].headers.accept)
    assert.equal("application/json", d[2].headers["content-type"])
  end)

  it("replays the real announcements in-process: two days dispatched, the 500 retried", function()
    local gh = dm.start({ dispatch_status = "500,204" })
    finally(function() gh:stop() end)
    local db = assert(sqlite.open(paths.fixtures .. "/datamart/amqp_events_20230422-24.db", { readonly = true, wal = false }))
    local rows = assert(db:query("SELECT * FROM message_events ORDER BY event_id"))
    db:close()
    local s = assert(store_mod.open(tmp .. "/e.db"))
    local core = listener.new({ store = s, expected = expected.cache(assert(expected.profile(assert(expected.load()), "2023"))),
      emit = dispatch.github({ url = gh.url .. "/repos/o/r/dispatches", token = TOKEN }),
      days_to_stale = 100000, backoff = { base = 0.05, max = 0.05 }, log = log.child({}) })
    log.configure({ sink = function() end })
    for i = 1, #rows, 10 do
      local bodies = {}
      for j = i, math.min(#rows, i + 9) do bodies[#bodies + 1] = message.body(rows[j].event_message, rows[j].event_timestmp) end
      assert(core:handle(bodies))
      core:run_dispatches()
    end
    local deadline = os.time() + 10
    while next(core.queue) do
      require("gf.task").sleep(0.06)
      core:run_dispatches()
      assert(os.time() < deadline)
    end
    local keys, statuses = {}, {}
    for _, x in ipairs(gh:dispatches()) do
      keys[#keys + 1] = json.decode(x.body).client_payload.idem_key
      statuses[#statuses + 1] = x.status
    end
    gh:stop()
    -- the first completion fails; the retry and the second day succeed (in either order)
    assert.equal("20230422", keys[1])
    assert.equal(500, statuses[1])
    local rest = { keys[2] .. "/" .. statuses[2], keys[3] .. "/" .. statuses[3] }
    table.sort(rest)
    assert.same({ "20230422/204", "20230424/204" }, rest)
    assert.equal(235, s:count())
    s:close()
  end)

  it("masks GH_TOKEN in gf.log records and in gf.http's debug lines", function()
    local lines = {}
    log.configure({ sink = function(l) lines[#lines + 1] = l end, level = "debug" })
    log.secret(TOKEN)
    log.error("dispatch failed", { error = "Authorization: token " .. TOKEN, url = "https://x/?token=" .. TOKEN })
    local gh = dm.start({ dispatch_status = "204" })
    finally(function() gh:stop() end)
    local http = require("gf.http")
    local dbg = {}
    assert(http.request({ url = gh.url .. "/repos/o/r/dispatches", method = "POST", body = "{}", debug = true,
      headers = { Authorization = "token " .. TOKEN }, log = function(_, l) dbg[#dbg + 1] = l end }))
    gh:stop()
    local all = table.concat(lines, "\n") .. "\n" .. table.concat(dbg, "\n")
    assert.is_nil(all:find(TOKEN, 1, true))
    assert.matches("***", table.concat(lines, "\n"), 1, true)
    assert.matches("authorization: ***", table.concat(dbg, "\n"):lower(), 1, true)
  end)

  it("runs --on-complete commands with {key}; a non-zero exit is a failure", function()
    local emit = dispatch.command("echo {key} >> " .. tmp .. "/keys")
    assert.is_true(emit("20230422"))
    assert.equal("20230422\n", require("spec.support.files").read(tmp .. "/keys"))
    local bad = dispatch.command("echo no room for {key} >&2; exit 3")
    local ok, why = bad("20230422")
    assert.is_nil(ok)
    assert.matches("exited 3", why)
    assert.matches("no room for 20230422", why, 1, true)
  end)
end)
