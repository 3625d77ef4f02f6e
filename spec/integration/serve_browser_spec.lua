-- `gfhost serve` in headless Chromium (Debian `chromium`, driven over the DevTools protocol by
-- spec/support/serve_browser.py): the page shows the seeded runs, payload counts and listener,
-- the filters change the item table, a record written meanwhile appears without a reload, a
-- <script> and an onerror <img> in a last error stay text, a wrong token gets 401, the page's
-- rerun button works with --allow-actions and is recorded. (The refused non-loopback bind is
-- in serve_api_spec.lua: it needs no browser.) The run saves out/serve-screenshot.png.
local paths = require("spec.support.paths")
local page = require("spec.support.serve_page")
local run = require("spec.support.run")
local seed = require("spec.support.serve_seed")
local state = require("gf.state")

local TOKEN = "browser-spec-token-5f3a9c"
local null = require("gf.json").null

local function absent(v) return v == nil or v == null end

describe("gfhost serve #integration (headless chromium)", function()
  local ok, why = page.have_browser()
  if not ok then
    it("needs chromium", function() pending(why) end)
    return
  end

  local dir, db

  setup(function()
    dir = paths.tmpdir()
    db = dir .. "/state.db"
    seed.seed(function(clock) return state.open({ path = db, clock = clock }) end):close()
  end)

  teardown(function()
    os.execute("rm -rf '" .. dir .. "'")
  end)

  it("shows the seeded runs, counts and listener; the filters change the table; injected markup stays text",
    function()
      local srv = page.start({ state = db, port = 19133 })
      -- written while the page is open: it must appear without a reload
      local live = seed.pid(seed.CW, "S2B_live_failure")
      local mutate = require("spec.support.files").write(dir .. "/mutate.lua", ([[
        local s = assert(require("gf.state").open({ path = %q }))
        assert(s:set_failed(%q, "written while the page was open"))
        s:close()]]):format(db, live))
      local okr, r = pcall(page.browser, { "check", srv.url .. "#cw=" .. seed.CW, "--port", "19131",
        "--screenshot", paths.root .. "/out/serve-screenshot.png",
        "--mutate", run.shquote(paths.gfhost) .. " run " .. run.shquote(mutate), "--expect", live })
      srv:stop()
      assert(okr, r)
      local l = r.loaded
      assert.is_true(absent(l.error), tostring(l.error))
      assert.same({ "busy-run", seed.RUN, "nightly-20261207" }, l.runs)
      assert.same({ 2, 2, 3 }, l.counts.FAILED)
      assert.same({ 2, 4, 4 }, l.counts.COMPLETED)
      assert.same({ 1, 1, 1 }, l.counts.PROCESSING)
      assert.same({ 0, 0, 1 }, l.counts.INVALID)
      assert.equal(9, #l.items)
      assert.is_true(l.chart_bars > 0)
      assert.same({ "listener/datamart" }, l.listeners)
      assert.matches("connected", l.health_text, 1, true)
      assert.matches("2026-12-07: 3", l.health_text, 1, true)
      -- filters: state FAILED, then the last hour, then any state in the last hour
      assert.same({ "FAILED", "FAILED", "FAILED" }, r.state_failed.item_states)
      assert.same({ seed.pid(seed.CW, "S2A_fail_2"), seed.pid(seed.CW, "S2A_fail_xss") },
        r.failed_last_hour.items)
      assert.equal(5, #r.any_last_hour.items)
      -- the last error with <script> and <img onerror> is shown as text, no element made, nothing ran
      local shown = false
      for _, t in ipairs(l.errors_text) do
        if t == seed.XSS then shown = true end
      end
      assert.is_true(shown, "the injected error text is not shown verbatim")
      for _, step in ipairs({ "loaded", "state_failed", "failed_last_hour", "any_last_hour", "run_detail" }) do
        assert.equal(0, r[step].injected, step)
        assert.is_true(absent(r[step].xss), step .. ": injected code ran: " .. tostring(r[step].xss))
      end
      -- the run page: failed nodes with error, attempts, duration
      assert.same({ "describe[CYUL]", "describe[CYYZ]" }, r.run_detail.nodes)
      assert.same({ "timeout after 30 s", seed.XSS }, r.run_detail.node_errors)
      assert.truthy(io.open(paths.root .. "/out/serve-screenshot.png", "rb"))
      assert.same({ appeared = true, marker = "same page" }, r.live)
    end)

  it("answers 401 to a wrong token; the right one opens the page, whose rerun button is recorded",
    function()
    local srv = page.start({ state = db, port = 19134, token = TOKEN, allow_actions = true })
    local okr, res = pcall(function()
      local out = {}
      out.none = page.status(srv.url .. "api/runs")
      out.wrong = page.status(srv.url .. "api/runs", "Authorization: Bearer " .. TOKEN .. "x")
      out.right = page.status(srv.url .. "api/runs", "Authorization: Bearer " .. TOKEN)
      out.page_wrong = page.status(srv.url .. "?token=wrong-token-0000000000")
      out.page_none = page.status(srv.url)
      -- the browser: the entry link sets the cookie, then the page and its API calls pass
      out.browser = page.browser({ "check", srv.url .. "?token=" .. TOKEN .. "#cw=" .. seed.CW,
        "--port", "19131", "--rerun-node", "describe[CYUL]" })
      return out
    end)
    srv:stop()
    assert(okr, res)
    assert.same({ 401, 401, 200, 401, 401 },
      { res.none, res.wrong, res.right, res.page_wrong, res.page_none })
    assert.same({ "busy-run", seed.RUN, "nightly-20261207" }, res.browser.loaded.runs)
    assert.not_matches(TOKEN, res.browser.location, 1, true) -- the token left the address
    -- the page's rerun button (actions on: the cookie and a JSON POST) queued the node, recorded
    assert.is_true(res.browser.rerun_button)
    assert.same({ "describe[CYYZ]" }, res.browser.after_rerun.nodes)
    local store = assert(state.open({ path = db }))
    local n = store:get_node(seed.RUN, "describe[CYUL]")
    local acts = store:list_meta("action/")
    store:close()
    assert.same({ "queued", 0 }, { n.status, n.attempts })
    assert.same({ "rerun-node", "describe[CYUL]", "127.0.0.1" },
      { acts[1].value.action, acts[1].value.node, acts[1].value.remote })
  end)
end)
