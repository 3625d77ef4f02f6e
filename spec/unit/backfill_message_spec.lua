-- backfill.message: the Cumulus message shape of source-systems §1.5.
local json = require("gf.json")
local fs = require("gf.fs")
local paths = require("spec.support.paths")
local message = require("backfill.message")

local fx = paths.fixtures
local mc = assert(json.decode(assert(fs.read(fx .. "/cumulus/message_config.json"))))
local cc_path = fx .. "/cumulus/uat/MODIS_A-JPL-L2P-v2019.0.json"
local cc = assert(json.decode(assert(fs.read(cc_path))))
local page = assert(json.decode(assert(fs.read(fx .. "/cmr/uat_modis_t_page.json"))))

local function builder(over)
  local o = { message_config = mc, cumulus = "uat", collection_config = cc,
    collection = "MODIS_A-JPL-L2P-v2019.0", uuid = "11111111-2222-4333-8444-555555555555",
    provider = "pocloud", start_date = "2000-01-01T00:00:00Z", user = "tester" }
  for k, v in pairs(over or {}) do o[k] = v end
  return message.builder(o)
end

describe("backfill message #unit", function()
  it("uuid4 has the version and variant bits and differs per call", function()
    local a, b = message.uuid4(), message.uuid4()
    assert.matches("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$", a)
    assert.not_equal(a, b)
  end)

  it("builds the exact shape for a footprint message", function()
    local b = assert(builder())
    local g = page.items[1]
    local s3 = { bucket = "podaac-uat-cumulus-protected", key = "MODIS_T-JPL-L2P-v2019.0/x.nc", filename = "x.nc" }
    local m = assert(json.decode(b:build(g, "footprint", s3,
      { size = 0, granule_start = "2000-02-27T20:20:01.000Z", granule_end = "2000-02-27T20:25:00.000Z" })))
    local keys = {}
    for k in pairs(m) do keys[#keys + 1] = k end
    table.sort(keys)
    assert.same({ "cli_params", "cumulus_meta", "dmrpp", "forge", "meta", "payload", "skip_cmr_opendap_update", "tig" }, keys)
    assert.same({ system_bucket = "test-internal" }, m.cumulus_meta)
    assert.same(mc.uat.buckets, m.meta.buckets)
    assert.equal("MODIS_A-JPL-L2P-v2019.0", m.meta.collection.dataType)
    assert.equal(#cc.files + 1, #m.meta.collection.files)
    assert.same({ bucket = "ia_public", regex = "^.*\\.png$", type = "metadata" }, m.meta.collection.files[#m.meta.collection.files])
    assert.same(cc.meta, m.meta.collection.meta)
    assert.same({ granules = { {
      cmrConceptId = "G1237730654-POCLOUD",
      granuleId = "20000227202006-JPL-L2P_GHRSST-SSTskin-MODIS_T-D-v02.0-fv01.0",
      dataType = "MODIS_A-JPL-L2P-v2019.0",
      files = { { bucket = s3.bucket, key = s3.key, fileName = "x.nc", type = "data", size = 0 } },
    } } }, m.payload)
    assert.is_true(m.forge)
    assert.is_false(m.tig)
    assert.is_false(m.dmrpp)
    assert.is_true(m.skip_cmr_opendap_update)
    assert.same({ uuid = "11111111-2222-4333-8444-555555555555", collection_short_name = "MODIS_A-JPL-L2P-v2019.0",
      collection_version = "2019.0", provider = "pocloud", cmr_search_start = "2000-01-01T00:00:00Z",
      cmr_search_end = json.null, granule_start = "2000-02-27T20:20:01.000Z",
      granule_end = "2000-02-27T20:25:00.000Z", username = "tester" }, m.cli_params)
    -- the builder's collection config is a copy: the caller's table is untouched
    assert.equal(4, #cc.files)
  end)

  it("image and dmrpp flags; skip_cmr_opendap_update follows the opendap URL for dmrpp only", function()
    local b = assert(builder())
    local s3 = { bucket = "b", key = "k/f.nc", filename = "f.nc" }
    local m = json.decode(b:build(page.items[2], "image", s3, { skip_opendap = false }))
    assert.same({ false, true, false, true }, { m.forge, m.tig, m.dmrpp, m.skip_cmr_opendap_update })
    m = json.decode(b:build(page.items[2], "dmrpp", s3, { skip_opendap = false }))
    assert.same({ false, false, true, false }, { m.forge, m.tig, m.dmrpp, m.skip_cmr_opendap_update })
    m = json.decode(b:build(page.items[2], "dmrpp", s3, { skip_opendap = true }))
    assert.is_true(m.skip_cmr_opendap_update)
    assert.equal(page.items[2].meta["concept-id"], m.payload.granules[1].cmrConceptId)
    assert.equal(json.null, m.cli_params.granule_start)
  end)

  it("the same uuid in every message of one builder", function()
    local b = assert(builder({ uuid = false }))
    local s3 = { bucket = "b", key = "k", filename = "k" }
    local u1 = json.decode(b:build(page.items[1], "image", s3)).cli_params.uuid
    local u2 = json.decode(b:build(page.items[3], "footprint", s3)).cli_params.uuid
    assert.equal(u1, u2)
    assert.matches("^%x+%-", u1)
  end)

  it("unknown cumulus environment or missing internal bucket: nil, message, code", function()
    assert.same({ nil, "message config has no environment 'ops'", "invalid_input" }, { builder({ cumulus = "ops" }) })
    assert.same({ nil, "message config 'uat' has no buckets.internal.name", "invalid_input" },
      { builder({ message_config = { uat = { buckets = {} } } }) })
  end)

  it("misuse raises", function()
    assert.has_error(function() message.builder(nil) end, "bad argument #1 to 'builder' (table expected)")
    assert.has_error(function() builder({ collection_config = "x" }) end, "builder: collection_config must be a table")
    local b = assert(builder())
    assert.has_error(function() b:build(page.items[1], "thumbnail", {}) end, "build: need must be footprint, image or dmrpp")
  end)

  it("finds the collection config by environment folder, swot-uat in uat", function()
    assert.equal(cc_path, message.find_collection_config(fx .. "/cumulus", "uat", "MODIS_A-JPL-L2P-v2019.0"))
    assert.equal(cc_path, message.find_collection_config(fx .. "/cumulus", "swot-uat", "MODIS_A-JPL-L2P-v2019.0"))
    local p, msg, code = message.find_collection_config(fx .. "/cumulus", "ops", "MODIS_A-JPL-L2P-v2019.0")
    assert.same({ nil, "not_found" }, { p, code })
    assert.matches("^Could not find collection config", msg)
  end)
end)
