-- gfhost run grib_copy against a local datamart serving real GRIB2 data (the GFS 2 m temperature
-- and precipitation-rate messages of python-grib-doc, cut out with ecCodes' grib_copy) under the
-- MSC names of config/grib/models.lua, each answering 404 before 200, into s3rver
-- (127.0.0.1:19000). The summaries' values are compared with ecCodes' nearest-point answers.
local servers = require("spec.support.servers")
local paths = require("spec.support.paths")
local run = require("spec.support.run")
local files = require("spec.support.files")
local dm = require("spec.support.datamart")

local ENDPOINT = "http://127.0.0.1:19000"
local DATE = "20240105"

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  local ok = p:close()
  return out, ok
end

describe("grib_copy on a local datamart and s3rver #integration", function()
  if require("spec.support.features").skip_unless(_ENV, "grib") then return end
  if servers.skip(_ENV) then return end
  local s3 = require("gf.s3")
  local plan = require("grib_copy.plan")
  local tmp, srv, bucket, client, models_file, cfg

  local function env()
    return { OBJ_STORE_BUCKET = bucket, OBJ_STORE_USER = "S3RVER", OBJ_STORE_SECRET = "S3RVER",
      OBJ_STORE_HOST = ENDPOINT, GF_LOG_LEVEL = "warn" }
  end

  local function grib_copy(argv, e)
    local a = { "run", "grib_copy", "--templates", models_file, "--base-url", srv.url, "--out", tmp .. "/work",
      "--interval", "0.3s", "--concurrency", "8" }
    local has_deadline = false
    for _, x in ipairs(argv) do a[#a + 1] = x has_deadline = has_deadline or x == "--deadline" end
    if not has_deadline then a[#a + 1] = "--deadline" a[#a + 1] = "20s" end
    return run.gfhost(a, { env = e or env() })
  end

  local function keys(prefix)
    local objs = assert(client:list("s3://" .. bucket .. "/" .. prefix))
    local out = {}
    for _, o in ipairs(objs) do out[#out + 1] = o.key end
    table.sort(out)
    return out
  end

  setup(function()
    tmp = paths.tmpdir()
    local data = sh("sh " .. run.shquote(paths.root .. "/spec/support/testdata.sh")):match("([^\n]+)\n?$")
    local gfs = data .. "/grib/gfs.t12z.pgrbf120.2p5deg.grib2"
    assert(sh(("grib_copy -w shortName=2t %s %s/T.grib2"):format(gfs, tmp)))
    assert(sh(("grib_copy -w shortName=prate %s %s/P.grib2"):format(gfs, tmp)))
    -- the shipped templates with short iterators (2 forecast hours per group, cansips 2 months)
    local text = files.read(paths.root .. "/config/grib/models.lua")
    text = text:gsub('points = "points.lua"', 'points = "' .. paths.root .. '/config/grib/points.lua"')
    text = text:gsub("iterator = { { 2, 83 } }", "iterator = { { 2, 3 } }")
    text = text:gsub("iterator = { { 0, 83 } }", "iterator = { { 0, 1 } }")
    text = text:gsub("iterator = { { 90, 240, 3 } }", "iterator = { { 90, 93, 3 } }")
    text = text:gsub("iterator = { { 90, 240, 3 }, 6, 9, 12, 15 }", "iterator = { 90, 6 }")
    text = text:gsub('iterator = { { 0, 11, 1, format = "%%02d" } }', 'iterator = { { 0, 1, 1, format = "%%02d" } }')
    models_file = tmp .. "/models.lua"
    files.write(models_file, text)
    cfg = assert(plan.load(models_file))
    -- the datamart: every planned URL path holds the real P or T message
    srv = dm.start({ root = tmp .. "/www", not_found = 1 })
    for _, model in ipairs({ "rdps", "gdps", "cansips" }) do
      for _, d in ipairs({ DATE, "20240106", "20240107" }) do
        for _, f in ipairs(assert(plan.files(cfg, model, d, srv.url))) do
          local p = tmp .. "/www" .. f.url:sub(#srv.url + 1)
          assert(sh(("mkdir -p %s && cp %s/%s.grib2 %s"):format(run.shquote(p:match("^(.*)/")), tmp, f.code, run.shquote(p))))
        end
      end
    end
    bucket = "dm-grib-" .. servers.uid()
    client = s3.client({ endpoint = ENDPOINT, region = "us-east-1", credentials = { access_key = "S3RVER", secret_key = "S3RVER" } })
    assert(client:create_bucket("s3://" .. bucket))
  end)
  teardown(function()
    if srv then srv:stop() end
    os.execute("rm -rf " .. tmp)
  end)

  it("names a missing OBJ_STORE_* variable with the original's message", function()
    local e = env()
    e.OBJ_STORE_SECRET = nil
    local r = grib_copy({ "--model", "rdps", "--date", DATE }, e)
    assert.equal(2, r.code)
    assert.matches("The process cannot run without populating the environment variable: OBJ_STORE_SECRET", r.stderr, 1, true)
  end)

  it("refuses a bad date", function()
    local r = grib_copy({ "--model", "rdps", "--date", "2024-01-05" })
    assert.equal(2, r.code)
    assert.matches("--date", r.stderr, 1, true)
  end)

  it("--dry-run lists the downloads and writes nothing", function()
    local r = grib_copy({ "--model", "rdps", "--model", "gdps", "--date", "20240107", "--dry-run" })
    assert.equal(0, r.code, r.stderr)
    local n = select(2, r.stdout:gsub("would download ", ""))
    assert.equal(8, n)
    assert.is_nil(files.read(tmp .. "/work/cmc_data/gribs/20240107/" .. assert(plan.files(cfg, "rdps", "20240107"))[1].file))
    assert.same({}, keys("cmc/"))
    local p = "/20240107/WXO-DD/model_rdps/10km/06/002/20240107T06Z_MSC_RDPS_PrecipRate_Sfc_RLatLon0.09_PT002H.grib2"
    assert.equal(0, srv:hits(p))
  end)

  it("without --date takes today in America/Vancouver and the --days - 1 days before", function()
    local tz = require("datamart.tz")
    local today = tz.local_date(require("gf.time").now(), "America/Vancouver")
    local r = grib_copy({ "--model", "rdps", "--days", "2", "--dry-run" })
    assert.equal(0, r.code, r.stderr)
    assert.matches("Dry run: 2 dates", r.stderr, 1, true)
    for _, d in ipairs({ today, tz.shift_date(today, -1) }) do
      assert.matches(("/%s/WXO-DD/model_rdps/10km/06/002/%sT06Z_MSC_RDPS_PrecipRate_Sfc_RLatLon0.09_PT002H.grib2"):format(d, d), r.stdout, 1, true)
    end
    assert.is_nil(r.stdout:find("/" .. tz.shift_date(today, -2) .. "/", 1, true))
  end)

  it("waits out the 404s, extracts the points like ecCodes, uploads, and skips a done date", function()
    local r = grib_copy({ "--model", "rdps", "--model", "gdps", "--date", DATE })
    assert.equal(0, r.code, r.stderr)
    assert.matches("8 downloaded", r.stderr, 1, true)
    -- every file was asked for twice (404 then 200) and no 404 body was kept
    local planned = {}
    for _, m in ipairs({ "rdps", "gdps" }) do
      for _, f in ipairs(assert(plan.files(cfg, m, DATE, srv.url))) do planned[#planned + 1] = f end
    end
    for _, f in ipairs(planned) do
      assert.equal(2, srv:hits(f.url:sub(#srv.url + 1)), f.url)
      local got = files.read(tmp .. "/work/" .. f.local_path)
      assert.equal(files.read(tmp .. "/" .. f.code .. ".grib2"), got, f.file)
    end
    -- summaries: one line per file of the code, in config order; values = ecCodes' nearest point
    local dir = tmp .. "/work/cmc_data/summary_V2024/" .. DATE
    for _, code in ipairs({ "P", "T" }) do
      local want_vals = {}
      for k, list in ipairs(cfg.point_lists) do
        local text = assert(files.read(("%s/%s%d_V2024.txt"):format(dir, code, k)))
        local lines = {}
        for l in text:gmatch("([^\n]*)\n") do lines[#lines + 1] = l end
        assert.equal(4, #lines) -- 2 rdps + 2 gdps files of that code
        for _, line in ipairs(lines) do
          assert.matches("^1:0:lon=", line)
          local vals = {}
          for lon, lat, v in line:gmatch("lon=([%d.]+),lat=([-%d.]+),val=([^:]+)") do
            assert.matches("^%d+%.%d%d%d%d%d%d$", lon)
            vals[#vals + 1] = tonumber(v)
          end
          assert.equal(#list, #vals)
          -- ecCodes, once per point list and code (all four files hold the same message)
          if not want_vals[k] then
            -- every 4th point and the last (ecCodes answers one point per process)
            want_vals[k] = {}
            for i, p in ipairs(list) do
              if i % 4 ~= 1 and i ~= #list then goto next_point end
              local out = sh(("grib_get -l %s,%s,1 %s/%s.grib2"):format(p[2], p[1], tmp, code))
              want_vals[k][i] = tonumber(out:match("(%S+)"))
              ::next_point::
            end
          end
          for i = 1, #vals do
            local w = want_vals[k][i]
            if w then assert(math.abs(vals[i] - w) <= 1e-5 * math.max(1, math.abs(w)),
              ("%s%d point %d: gfhost %s, ecCodes %s"):format(code, k, i, vals[i], w)) end
          end
        end
      end
    end
    -- object store
    local gk = keys("cmc/gribs/" .. DATE .. "/")
    assert.equal(8, #gk)
    local sk = keys("cmc/summary_V2024/" .. DATE .. "/")
    assert.equal(10, #sk)
    assert.equal("cmc/summary_V2024/" .. DATE .. "/P1_V2024.txt", sk[1])
    -- a second run: the summary exists, nothing is fetched
    local before = srv:hits(planned[1].url:sub(#srv.url + 1))
    r = grib_copy({ "--model", "rdps", "--model", "gdps", "--date", DATE })
    assert.equal(0, r.code, r.stderr)
    assert.matches("dates skipped (summary exists): 1", r.stderr, 1, true)
    assert.equal(before, srv:hits(planned[1].url:sub(#srv.url + 1)))
  end)

  it("uses the object store's copy when the local one is gone, and re-uploads nothing", function()
    os.execute("rm -rf " .. tmp .. "/work")
    -- remove the summary from the store so that the date is done again
    for _, k in ipairs(keys("cmc/summary_V2024/" .. DATE .. "/")) do assert(client:delete("s3://" .. bucket .. "/" .. k)) end
    local r = grib_copy({ "--model", "rdps", "--model", "gdps", "--date", DATE })
    assert.equal(0, r.code, r.stderr)
    assert.matches("0 downloaded, 8 from the object store", r.stderr, 1, true)
    assert.matches("uploaded: 10; already in the object store: 0", r.stderr, 1, true)
  end)

  it("a file that never appears fails the run, writes no summary, keeps nothing of the 404", function()
    local gone = assert(plan.files(cfg, "gdps", "20240106", srv.url))[1]
    os.remove(tmp .. "/www" .. gone.url:sub(#srv.url + 1))
    local r = grib_copy({ "--model", "gdps", "--date", "20240106", "--deadline", "1.5s" })
    assert.equal(1, r.code, r.stderr)
    assert.matches("1 missing", r.stderr, 1, true)
    assert.is_nil(files.read(tmp .. "/work/" .. gone.local_path))
    assert.is_nil(files.read(tmp .. "/work/" .. gone.local_path .. ".part"))
    assert.is_nil(files.read(tmp .. "/work/cmc_data/summary_V2024/20240106/T1_V2024.txt"))
    assert.same({}, keys("cmc/summary_V2024/20240106/"))
    assert.equal(3, #keys("cmc/gribs/20240106/"), "the files that came are uploaded")
  end)

  it("copies CanSIPS into RFC_DATA/CANSIP and skips what is stored", function()
    local r = grib_copy({ "--model", "cansips", "--date", DATE })
    assert.equal(0, r.code, r.stderr)
    assert.same({ "RFC_DATA/CANSIP/202401_MSC_CanSIPS_AirTemp_AGL-2m_LatLon1.0_P00M.grib2",
      "RFC_DATA/CANSIP/202401_MSC_CanSIPS_AirTemp_AGL-2m_LatLon1.0_P01M.grib2",
      "RFC_DATA/CANSIP/202401_MSC_CanSIPS_PrecipRate_Sfc_LatLon1.0_P00M.grib2",
      "RFC_DATA/CANSIP/202401_MSC_CanSIPS_PrecipRate_Sfc_LatLon1.0_P01M.grib2" }, keys("RFC_DATA/CANSIP/"))
    os.execute("rm -rf " .. tmp .. "/work/raw_data")
    r = grib_copy({ "--model", "cansips", "--date", DATE })
    assert.equal(0, r.code, r.stderr)
    assert.matches("4 already stored", r.stderr, 1, true)
  end)
end)
