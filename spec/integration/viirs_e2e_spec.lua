-- gfhost run viirs end to end against a local provider mirror (spec/support/viirs_server.py on
-- 127.0.0.1:19110-19119) serving month listings and .tgz tiles built at test time from a real
-- GeoTIFF (r-cran-terra's elev.tif; six tiles a month, each with a radiance and a coverage tif),
-- zones over their extent; every CSV checked against rasterio (spec/support/viirs_expect.py).
-- Failures (a 404 tile, a corrupt .tgz), reruns and a SIGKILLed run; --dry-run, --extract,
-- --summary, --plot. The S3 / SQS / dag parts need the test servers (GF_TEST_SERVERS).
local viirs = require("spec.support.viirs")
local servers = require("spec.support.servers")
local paths = require("spec.support.paths")
local fs = require("gf.fs")

local TILES = { "75N180W", "75N060W", "75N060E", "00N180W", "00N060W", "00N060E" }
local ZONES = { "Multi-Part_Zone", "Outside", "Zone_01", "Zone_02", "Zone_03" }

describe("viirs end to end #integration", function()
  local tmp, srv, zones, expected, tgz_of, base_args

  local function count_csvs(dir)
    if not fs.exists(dir) then return 0 end
    local n = 0
    for _, f in ipairs(fs.list(dir)) do if f:match("%.csv$") then n = n + 1 end end
    return n
  end

  -- Check every CSV of `months` in `out` against rasterio's statistics.
  local function check_out(out, months)
    local n = 0
    for _, ym in ipairs(months) do
      for _, tile in ipairs(TILES) do
        local tgz = tgz_of[ym .. tile]
        local granule = tgz:match("([^/]+)%.tgz$")
        for _, z in ipairs(ZONES) do
          for kind, suffix in pairs({ avg_rade9h = "", cf_cvg = "_cvg" }) do
            local want = expected[granule .. ".tgz/" .. granule .. "." .. kind .. ".tif"][z]
            local name = ("%s_%s_%s%s.csv"):format(z, ym, tile, suffix)
            viirs.same_stats(want, viirs.read_csv(out .. "/" .. name), name)
            n = n + 1
          end
        end
      end
    end
    return n
  end

  local function tgz_hits(hits)
    local n = 0
    for p, c in pairs(hits) do if p:match("%.tgz$") then n = n + c end end
    return n
  end

  setup(function()
    tmp = paths.tmpdir()
    zones = tmp .. "/zones"
    local built = viirs.build(tmp .. "/srv", { "201201", "201202", "201203", "201204", "201205" }, { zones = zones })
    tgz_of = {}
    local first3 = {}
    for _, p in ipairs(built.tiles) do
      local ym, tile = p:match("SVDNB_npp_(%d%d%d%d%d%d)%d%d%-%d+_(%w+)_")
      tgz_of[ym .. tile] = p
      if ym <= "201203" then first3[#first3 + 1] = p end
    end
    expected = viirs.expect(zones, first3)
    -- 201204: one tile listed but gone (404); 201205: one tile corrupt
    local gone = tgz_of["201204" .. "00N060W"]
    os.remove(gone)
    assert(os.execute(("ln -s %s/nowhere %s"):format(viirs.q(tmp), viirs.q(gone))))
    assert(fs.write(tgz_of["201205" .. "75N060E"], "this is not a gzip file\n"))
    srv = viirs.serve(tmp .. "/srv")
    local coll = tmp .. "/collection.json"
    assert(fs.write(coll, ([[{"name": "viirs_template", "templated_name": "viirs_{{pointInTime}}",
      "version": "001", "files": [{"regex": "(.*)\\.tgz", "bucket": "internal"}],
      "provider_path": "%s", "options": {"spanUnit": "month", "spanStart": "201201", "spanEnd": "201203"}}]]):format(viirs.PATH)))
    base_args = { "run", "viirs", "--collection", coll, "--provider-host", srv.url, "--zones", zones,
      "--work", tmp .. "/work", "--retries", "0" }
  end)

  teardown(function()
    if srv then srv:stop() end
    fs.remove_tree(tmp)
  end)

  local function args(extra)
    local a = {}
    for _, v in ipairs(base_args) do a[#a + 1] = v end
    for _, v in ipairs(extra) do a[#a + 1] = v end
    return a
  end

  it("computes every zone's statistics per month and tile as rasterio does, then summary and plot", function()
    local code, out, err = viirs.gfhost(tmp, args({ "--out", "out", "--state", "st.db",
      "--summary", "summary.csv", "--plot", "trend.svg" }))
    assert.equal(0, code, err)
    assert.matches("^Scheduled 3 workflows\n", out)
    assert.matches("viirs viirs%-%x+: 5 completed %(0 reused%), 0 failed", out)
    assert.equal(180, check_out(tmp .. "/out", { "201201", "201202", "201203" }))
    assert.equal(180, count_csvs(tmp .. "/out"))
    assert.matches("viirs 201202 00N060E: 0%.0 MB in [%d.]+ s", err) -- per-tile progress with MB/s
    local summary = assert(fs.read(tmp .. "/summary.csv"))
    local lines = {}
    for l in summary:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.equal(181, #lines)
    assert.equal("zone,month,tile,raster,min,max,mean,stddev,skew,count", lines[1])
    assert.matches("^Multi%-Part_Zone,201201,00N060E,radiance,", lines[2])
    assert.matches("^Outside,201201,00N060E,radiance,,,,,,0$", lines[38])
    assert.matches("<svg", assert(fs.read(tmp .. "/trend.svg")))
    assert.same({}, fs.exists(tmp .. "/work") and fs.walk(tmp .. "/work") or {}) -- no .tgz left
    assert.equal(18, tgz_hits(srv:hits()))
  end)

  it("skips on a rerun the months whose CSVs exist, and reuses completed months of the same run", function()
    local before = tgz_hits(srv:hits())
    local code, out, err = viirs.gfhost(tmp, args({ "--out", "out", "--state", "other.db" }))
    assert.equal(0, code, err)
    assert.matches("5 completed %(0 reused%)", out)
    assert.matches("viirs 201203: 6 tiles %(6 done before%), 0 CSVs written", err)
    code, out, err = viirs.gfhost(tmp, args({ "--out", "out", "--state", "st.db" }))
    assert.equal(0, code, err)
    assert.matches("5 completed %(4 reused%)", out) -- the final node always runs
    assert.equal(before, tgz_hits(srv:hits()))
  end)

  it("fails only the month of a tile that 404s or is corrupt, naming the tile", function()
    local code, out, err = viirs.gfhost(tmp, args({ "--span", "201203..201206", "--out", "out2",
      "--state", "st2.db" }))
    assert.equal(1, code, out .. err)
    assert.matches("Scheduled 4 workflows", out)
    assert.matches("3 failed", out)
    assert.matches("201206: listing http://127%.0%.0%.1:%d+/v10/201206/vcmcfg/: HTTP 404", err)
    assert.matches("201204: 1 of 6 tiles failed: tile SVDNB_npp_20120401%-20120430_00N060W_vcmcfg_v10_c%d+%.tgz: "
      .. "http%.download http://127%.0%.0%.1:%d+/v10/201204/vcmcfg/SVDNB_npp_20120401%-20120430_00N060W_[%w_]+%.tgz: HTTP 404", err)
    assert.matches("201205: 1 of 6 tiles failed: tile SVDNB_npp_20120501%-20120531_75N060E_vcmcfg_v10_c%d+%.tgz: "
      .. "corrupt or unreadable %.tgz", err)
    assert.equal(60, check_out(tmp .. "/out2", { "201203" }))
    -- the other tiles of the failed months are done: a rerun does only the broken ones
    assert.equal(60 + 50 + 50, count_csvs(tmp .. "/out2"))
    assert.is_false(fs.exists(tmp .. "/out2/Zone_01_201204_00N060W.csv"))
    assert.is_true(fs.exists(tmp .. "/out2/Zone_01_201204_00N060E.csv"))
  end)

  it("--dry-run lists months, tile URLs and outputs and writes nothing", function()
    local code, out, err = viirs.gfhost(tmp, args({ "--span", "201202..201203", "--out", "dry", "--dry-run" }))
    assert.equal(0, code, err)
    assert.matches("Scheduled 2 workflows\n201202 viirs_201202 http://127%.0%.0%.1:%d+/v10/201202/vcmcfg/\n", out)
    assert.matches("  GET http://127%.0%.0%.1:%d+/v10/201203/vcmcfg/SVDNB_npp_20120301%-20120331_75N180W_", out)
    assert.matches("  %-> " .. tmp:gsub("%p", "%%%0") .. "/dry/Zone_03_201203_75N180W%.csv %(%+ coverage Zone_03_201203_75N180W_cvg%.csv%)", out)
    assert.matches("dry run: 2 months, 5 zones", out)
    assert.is_false(fs.exists(tmp .. "/dry"))
  end)

  it("takes an explicit tile list instead of the listing", function()
    local a = tgz_of["201202" .. "00N060E"]:match("[^/]+$")
    local b = tgz_of["201202" .. "75N180W"]:match("[^/]+$")
    local code, out, err = viirs.gfhost(tmp, args({ "--span", "201202", "--out", "out4", "--state", "st4.db",
      "--tiles", a .. "," .. b }))
    assert.equal(0, code, out .. err)
    assert.equal(20, count_csvs(tmp .. "/out4"))
    for _, f in ipairs(fs.list(tmp .. "/out4")) do
      assert.matches("_201202_[07][05]N%d+[EW]", f)
      assert.equal(fs.read(tmp .. "/out/" .. f), fs.read(tmp .. "/out4/" .. f), f)
    end
  end)

  it("--extract copies the rasters out of the .tgz first and gives the same CSVs", function()
    local code, _, err = viirs.gfhost(tmp, args({ "--span", "201202", "--out", "out3", "--state", "st3.db",
      "--extract", "--keep" }))
    assert.equal(0, code, err)
    assert.equal(60, check_out(tmp .. "/out3", { "201202" }))
    for _, f in ipairs(fs.list(tmp .. "/out3")) do
      assert.equal(fs.read(tmp .. "/out/" .. f), fs.read(tmp .. "/out3/" .. f), f)
    end
    local kept = fs.list(tmp .. "/work/201202")
    assert.equal(6, #kept) -- --keep: the six .tgz, and no extracted .tif left
    for _, f in ipairs(kept) do assert.matches("%.tgz$", f) end
  end)

  it("refuses bad options and inputs with a message naming them", function()
    local code, _, err = viirs.gfhost(tmp, args({ "--span", "2012-01", "--out", "x" }))
    assert.equal(2, code)
    assert.matches("%-%-span 2012%-01: expected YYYYMM%.%.YYYYMM", err)
    local a = {}
    for _, v in ipairs(base_args) do a[#a + 1] = v == zones and (tmp .. "/nozones") or v end
    a[#a + 1] = "--out"
    a[#a + 1] = "x"
    code, _, err = viirs.gfhost(tmp, a)
    assert.equal(2, code)
    assert.matches("zones " .. tmp:gsub("%p", "%%%0") .. "/nozones", err)
    code, _, err = viirs.gfhost(tmp, args({ "--plot", "x.pdf", "--out", "x" }))
    assert.equal(2, code)
    assert.matches("%-%-plot x%.pdf: %.png or %.svg expected", err)
  end)

  it("resumes a run killed (SIGKILL) in the middle of a month", function()
    local slow = viirs.serve(tmp .. "/srv", { rate = 40000 })
    finally(function() slow:stop() end)
    local a = {}
    for _, v in ipairs(base_args) do a[#a + 1] = v end
    for i, v in ipairs(a) do
      if v == srv.url then a[i] = slow.url end
      if v == tmp .. "/work" then a[i] = tmp .. "/killwork" end -- nothing kept from earlier runs
    end
    for _, v in ipairs({ "--out", "killed", "--state", "killed.db", "--concurrency", "1", "--downloads", "2" }) do
      a[#a + 1] = v
    end
    local pid = viirs.gfhost_background(tmp, a, tmp .. "/killed.log")
    local task = require("gf.task")
    local deadline = os.time() + 30
    while count_csvs(tmp .. "/killed") < 30 and os.time() < deadline do task.sleep(0.05) end
    os.execute("kill -9 " .. pid)
    task.sleep(0.2)
    local at_kill = count_csvs(tmp .. "/killed")
    assert.is_true(at_kill >= 30 and at_kill < 180, "CSVs at the kill: " .. at_kill)
    local done_before = {}
    for _, f in ipairs(fs.list(tmp .. "/killed")) do
      local ym, tile = f:match("^Zone_01_(%d+)_(%w+)%.csv$")
      if ym then done_before[#done_before + 1] = ("/v10/%s/vcmcfg/"):format(ym) .. tgz_of[ym .. tile]:match("[^/]+$") end
    end
    local code, out, err = viirs.gfhost(tmp, a)
    assert.equal(0, code, out .. err)
    assert.equal(180, check_out(tmp .. "/killed", { "201201", "201202", "201203" }))
    local hits = slow:hits()
    for _, p in ipairs(done_before) do assert.equal(1, hits[p], p .. " downloaded again") end
  end)

  describe("with the test servers", function()
    if servers.skip(_ENV) then return end
    local AWS = { AWS_ACCESS_KEY_ID = "S3RVER", AWS_SECRET_ACCESS_KEY = "S3RVER", AWS_DEFAULT_REGION = "us-east-1",
      AWS_PROFILE = "", AWS_CONFIG_FILE = "/dev/null", AWS_SHARED_CREDENTIALS_FILE = "/dev/null" }
    local function env(endpoint)
      local e = { AWS_ENDPOINT_URL = endpoint }
      for k, v in pairs(AWS) do e[k] = v end
      return e
    end

    it("uploads the CSVs to s3://…/sezu-stats/ (s3rver) and skips them on a rerun", function()
      local s3 = require("gf.s3")
      local c = s3.client({ endpoint = "http://127.0.0.1:19000", region = "us-east-1",
        credentials = { access_key = "S3RVER", secret_key = "S3RVER" } }) -- s3rver checks the key
      local bucket = "gf-viirs-" .. servers.uid()
      assert(c:create_bucket("s3://" .. bucket))
      local url = "s3://" .. bucket .. "/sezu-stats/"
      local code, out, err = viirs.gfhost(tmp, args({ "--span", "201201", "--out", url, "--state", "s3.db",
        "--summary", "s3summary.csv" }), env("http://127.0.0.1:19000"))
      assert.equal(0, code, out .. err)
      local objs = assert(c:list(url))
      assert.equal(60, #objs)
      for _, o in ipairs(objs) do
        local name = o.key:match("^sezu%-stats/(.+)$")
        assert.equal(fs.read(tmp .. "/out/" .. name), (c:get(o.url)), name)
      end
      assert.matches("summary: 60 rows", out)
      local before = tgz_hits(srv:hits())
      code, out, err = viirs.gfhost(tmp, args({ "--span", "201201", "--out", url, "--state", "s3b.db" }),
        env("http://127.0.0.1:19000"))
      assert.equal(0, code, out .. err)
      assert.matches("6 tiles %(6 done before%)", err)
      assert.equal(before, tgz_hits(srv:hits()))
    end)

    it("runs on SQS workers (--executor sqs) and as HTCondor DAG nodes (gfhost dag / task)", function()
      local sqs = require("gf.sqs")
      local c = sqs.client({ endpoint = "http://127.0.0.1:19001", region = "us-east-1",
        credentials = { access_key = "test", secret_key = "test" } })
      local q = assert(c:create_queue("gf-viirs-" .. servers.uid()))
      local e = env("http://127.0.0.1:19001")
      local wpid = viirs.gfhost_background(tmp, { "worker", "--queue", q, "--state", "sqs.db", "--wait", "1",
        "--idle-exit", "4" }, tmp .. "/worker.log", e)
      local code, out, err = viirs.gfhost(tmp, args({ "--span", "201202..201203", "--out", "sqsout",
        "--state", "sqs.db", "--executor", "sqs", "--queue", q, "--poll", "0.2" }), e)
      assert.equal(0, code, out .. err .. (fs.read(tmp .. "/worker.log") or ""))
      assert.matches("Scheduled 2 workflows", out)
      assert.matches("4 completed", out)
      assert.equal(120, check_out(tmp .. "/sqsout", { "201202", "201203" }))
      os.execute("kill " .. wpid .. " 2>/dev/null")

      local params = { "--param", "span=201201", "--param", "host=" .. srv.url, "--param", "out=" .. tmp .. "/dagout",
        "--param", "zones=" .. zones, "--param", "work=" .. tmp .. "/work", "--param", "collection=" .. tmp .. "/collection.json" }
      local dargs = { "dag", "viirs", "--out", tmp .. "/dag", "--state", tmp .. "/dag.db" }
      for _, v in ipairs(params) do dargs[#dargs + 1] = v end
      code, out, err = viirs.gfhost(tmp, dargs)
      assert.equal(0, code, out .. err)
      local dag = assert(fs.read(tmp .. "/dag/viirs.dag"))
      assert.matches("JOB n%d+_month_201201_ ", dag)
      local targs = { "task", "viirs", "month[201201]", "--state", tmp .. "/dag.db" }
      for _, v in ipairs(params) do targs[#targs + 1] = v end
      code, out, err = viirs.gfhost(tmp, targs)
      assert.equal(0, code, out .. err)
      assert.matches("month%[201201%] completed", out)
      assert.equal(60, check_out(tmp .. "/dagout", { "201201" }))
    end)
  end)
end)
