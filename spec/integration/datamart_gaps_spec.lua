-- gfhost run datamart_gaps: the fixture's real announcements as the listener's database, s3rver
-- (127.0.0.1:19000) as the object store holding part of a day.
local servers = require("spec.support.servers")
local paths = require("spec.support.paths")
local run = require("spec.support.run")

local ENDPOINT = "http://127.0.0.1:19000"
local FIXTURE = paths.fixtures .. "/datamart/amqp_events_20230422-24.db"

describe("datamart_gaps #integration", function()
  if servers.skip(_ENV) then return end
  local tmp, bucket, client

  setup(function()
    tmp = paths.tmpdir()
    os.execute(("cp %s %s/events.db"):format(FIXTURE, tmp))
    bucket = "dm-gaps-" .. servers.uid()
    client = require("gf.s3").client({ endpoint = ENDPOINT, region = "us-east-1",
      credentials = { access_key = "S3RVER", secret_key = "S3RVER" } })
    assert(client:create_bucket("s3://" .. bucket))
    local files = require("datamart.expected").files(
      assert(require("datamart.expected").profile(assert(require("datamart.expected").load()), "2023")), "20230423")
    for i, f in ipairs(files) do
      if i ~= 5 then assert(client:put(("s3://%s/cmc/gribs/20230423/%s"):format(bucket, f.file), "x")) end
    end
  end)
  teardown(function() os.execute("rm -rf " .. tmp) end)

  local function gaps(argv, env)
    local a = { "run", "datamart_gaps", "--profile", "2023", "--db", "sqlite:///" .. tmp .. "/events.db" }
    for _, x in ipairs(argv) do a[#a + 1] = x end
    return run.gfhost(a, { env = env })
  end
  local store_env = { OBJ_STORE_BUCKET = nil, OBJ_STORE_USER = "S3RVER", OBJ_STORE_SECRET = "S3RVER", OBJ_STORE_HOST = ENDPOINT }

  it("shows the one unannounced file and the one unstored file of 2023-04-23", function()
    store_env.OBJ_STORE_BUCKET = bucket
    local r = gaps({ "--date", "20230423" }, store_env)
    assert.equal(1, r.code, r.stderr)
    assert.matches("gem_global%s+138%s+2%s+1%s+2%s+unrecorded CMC_glb_PRATE_SFC_0_latlon.15x.15_2023042300_P138.grib2", r.stdout)
    assert.matches("gem_regional%s+006%s+2%s+2%s+1%s+unstored CMC_reg_PRATE_SFC_0_ps10km_2023042306_P006.grib2", r.stdout)
    assert.matches("expected 236, recorded 235, stored 235", r.stdout, 1, true)
    local j = gaps({ "--date", "20230423", "--format", "json" }, store_env)
    local doc = require("gf.json").decode(j.stdout)
    assert.equal(236, doc.totals.expected)
    assert.equal(235, doc.totals.recorded)
    assert.equal(235, doc.totals.stored)
    assert.equal(119, #doc.rows) -- 84 regional hours + 35 global hours
  end)

  it("a complete day with nothing stored, without the store variables: recorded only", function()
    local r = gaps({ "--date", "20230422" }, {})
    assert.equal(0, r.code, r.stderr)
    assert.matches("expected 236, recorded 236, stored -", r.stdout, 1, true)
    assert.matches("object store not checked: OBJ_STORE_BUCKET is not set", r.stderr, 1, true)
  end)

  it("refuses a bad date and an unknown profile", function()
    assert.equal(2, gaps({ "--date", "2023-04-22" }, {}).code)
    local r = run.gfhost({ "run", "datamart_gaps", "--date", "20230422", "--profile", "1999" })
    assert.equal(2, r.code)
    assert.matches("unknown profile '1999'", r.stderr, 1, true)
  end)
end)
