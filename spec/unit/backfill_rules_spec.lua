-- config/backfill/rules.lua against the original tool's scenario granules.
local json = require("gf.json")
local fs = require("gf.fs")
local paths = require("spec.support.paths")
local R = require("backfill.granule")
local rules = require("backfill.rules")

local scen = assert(json.decode(assert(fs.read(paths.fixtures .. "/cmr/scenario_granules.json"))))
local dmrpp_text = assert(fs.read(paths.fixtures .. "/cmr/sample.nc.dmrpp"))

local function opts(over)
  local o = { footprint = "on", image = "on", dmrpp = "off", geometries = { "GPolygons", "Lines" },
    use_data_url = false, dmrpp_min_version = { 3, 21, 1, 367 } }
  for k, v in pairs(over or {}) do o[k] = v end
  return o
end

describe("backfill rules #unit", function()
  it("bounding rectangles alone are no footprint; a GPolygon is", function()
    assert.is_false(R.has_footprint(scen.granule_with_bounding_rectangle, opts()))
    assert.is_true(R.has_footprint(scen.granule_with_bounding_rectangle_and_gpolygon, opts()))
    assert.is_false(R.has_footprint_and_bbox(scen.granule_with_bounding_rectangle, opts()))
    assert.is_true(R.has_footprint_and_bbox(scen.granule_with_bounding_rectangle_and_gpolygon, opts()))
  end)

  it("custom geometry keys count: BoundingRectangles as a footprint", function()
    local o = opts({ geometries = { "BoundingRectangles" } })
    assert.is_true(R.has_footprint(scen.granule_with_bounding_rectangle, o))
  end)

  it("an empty geometry list is no footprint", function()
    local g = { umm = { SpatialExtent = { HorizontalSpatialDomain = { Geometry = { GPolygons = {} } } } } }
    assert.is_false(R.has_footprint(g, opts()))
  end)

  it("granules without extent or urls (and {}) have nothing", function()
    for _, g in ipairs({ scen.granule_with_no_spatial_extent_or_related_urls, {}, { umm = {} } }) do
      assert.is_false(R.has_footprint(g, opts()))
      assert.is_false(R.has_image(g))
      assert.is_nil(R.opendap_url(g))
      assert.is_nil(R.s3_info(g, opts({ use_data_url = true })))
      assert.equal(0, R.size(g, "x.nc"))
    end
  end)

  it("image detection", function()
    assert.is_false(R.has_image(scen.granule_with_related_urls_but_no_image))
    assert.is_true(R.has_image(scen.granule_with_related_urls_and_one_is_image))
  end)

  it("opendap detection", function()
    assert.matches("^https://opendap%.uat", R.opendap_url(scen.granule_that_has_opendap_url))
    assert.is_nil(R.opendap_url(scen.granule_that_has_s3_url_with_one_directory))
  end)

  it("s3 info from s3 URLs with one and two directories", function()
    assert.same({ bucket = "bucket-name", key = "directory1/filename.nc", filename = "filename.nc" },
      R.s3_info(scen.granule_that_has_s3_url_with_one_directory, opts()))
    assert.same({ bucket = "bucket-name", key = "directory1/directory2/filename.nc", filename = "filename.nc" },
      R.s3_info(scen.granule_that_has_s3_url_with_two_directories, opts()))
  end)

  it("s3 info from data URLs only with use_data_url", function()
    local one, two = scen.granule_that_has_data_url_with_one_directory, scen.granule_that_has_data_url_with_two_directories
    assert.is_nil(R.s3_info(one, opts()))
    assert.same({ bucket = "bucket-name", key = "directory1/filename.nc", filename = "filename.nc" },
      R.s3_info(one, opts({ use_data_url = true })))
    assert.same({ bucket = "bucket-name", key = "directory1/directory2/filename.nc", filename = "filename.nc" },
      R.s3_info(two, opts({ use_data_url = true })))
  end)

  it("size comes from SizeInBytes of the named file, else 0", function()
    local g = { umm = { DataGranule = { ArchiveAndDistributionInformation = {
      { Name = "a.nc", SizeInBytes = 1234 }, { Name = "b.nc", Size = 2.5, SizeUnit = "MB" } } } } }
    assert.equal(1234, R.size(g, "a.nc"))
    assert.equal(0, R.size(g, "b.nc"))
    assert.equal(0, R.size(g, "c.nc"))
  end)

  it("versions: parse and the dmrpp:version attribute of the fixture", function()
    assert.same({ 3, 20, 9, 91 }, R.parse_version("3.20.9-91"))
    assert.is_nil(R.parse_version("3.20.9"))
    assert.is_nil(R.parse_version(nil))
    assert.equal("3.20.9-91", R.dmrpp_version(dmrpp_text))
    assert.equal("older", R.dmrpp_state(dmrpp_text, { 3, 21, 1, 367 }))
    assert.equal("matched", R.dmrpp_state(dmrpp_text, { 3, 20, 9, 91 }))
    assert.equal("newer", R.dmrpp_state(dmrpp_text, { 3, 20, 9, 90 }))
    assert.equal("missing", R.dmrpp_state('<?xml version="1.0"?><Dataset dapVersion="4.0"/>', { 1, 0, 0, 0 }))
  end)

  it("decide: needs per mode, and a granule failing one need is still checked for the others", function()
    local g = scen.granule_with_related_urls_but_no_image -- no s3 direct access URL
    local d = rules.decide(g, opts(), {})
    assert.same({}, d.needs)
    assert.equal(2, #d.errors)
    assert.equal("footprint", d.errors[1].need)
    assert.equal("image", d.errors[2].need)
    assert.matches("missing S3 bucket info", d.errors[1].message)
    d = rules.decide(g, opts({ use_data_url = true }), {})
    assert.same({ "footprint", "image" }, d.needs)
    assert.same({}, d.errors)
  end)

  it("decide: force sends even when present, off never", function()
    local g = { meta = { ["native-id"] = "x" }, umm = {
      SpatialExtent = { HorizontalSpatialDomain = { Geometry = { GPolygons = { {} } } } },
      RelatedUrls = { { Type = "GET DATA VIA DIRECT ACCESS", URL = "s3://b/k/f.nc" },
        { Type = "GET RELATED VISUALIZATION", URL = "https://x/y.png" } } } }
    assert.same({}, rules.decide(g, opts(), {}).needs)
    assert.same({ "footprint", "image" }, rules.decide(g, opts({ footprint = "force", image = "force" }), {}).needs)
    assert.same({ "image" }, rules.decide(g, opts({ footprint = "off", image = "force" }), {}).needs)
  end)

  it("decide dmrpp: no opendap URL sends with skip false; old version sends; matched skips; read failure is an error", function()
    local o = opts({ footprint = "off", image = "off", dmrpp = "on" })
    local noop = scen.granule_that_has_s3_url_with_one_directory
    local d = rules.decide(noop, o, { read_dmrpp = function() error("not called") end })
    assert.same({ "dmrpp" }, d.needs)
    assert.is_false(d.skip_opendap.dmrpp)

    local g = scen.granule_that_has_opendap_url
    local asked
    d = rules.decide(g, o, { read_dmrpp = function(b, k) asked = b .. "/" .. k return dmrpp_text end })
    assert.equal("bucket-name/directory1/filename.nc.dmrpp", asked)
    assert.same({ "dmrpp" }, d.needs)
    assert.is_true(d.skip_opendap.dmrpp)
    assert.equal("older", d.dmrpp_state)

    d = rules.decide(g, opts({ footprint = "off", image = "off", dmrpp = "on", dmrpp_min_version = { 3, 20, 9, 91 } }),
      { read_dmrpp = function() return dmrpp_text end })
    assert.same({}, d.needs)
    assert.equal("matched", d.dmrpp_state)

    d = rules.decide(g, o, { read_dmrpp = function() return nil, "s3.get s3://bucket-name/x: 404 NoSuchKey", "not_found" end })
    assert.same({}, d.needs)
    assert.same({ { need = "dmrpp", message = "s3.get s3://bucket-name/x: 404 NoSuchKey" } }, d.errors)

    d = rules.decide(g, opts({ footprint = "off", image = "off", dmrpp = "force" }), {})
    assert.same({ "dmrpp" }, d.needs)
    assert.is_true(d.skip_opendap.dmrpp)
  end)
end)
