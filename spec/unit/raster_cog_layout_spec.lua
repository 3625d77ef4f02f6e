-- gf.raster.cog_layout (pure Lua TIFF reading) against GDAL's own validator on files GDAL made:
-- a COG with overviews, a tiled GeoTIFF whose overviews were added after the imagery, a big
-- striped GeoTIFF, a truncated COG, a COG with a corrupted block trailer, and not-a-TIFF.
local paths = require("spec.support.paths")
local crank = require("spec.support.crank")
local run = require("spec.support.run")
local fs = require("gf.fs")

describe("gf.raster.cog_layout #unit", function()
  if require("spec.support.features").skip_unless(_ENV, "raster") then return end
  local raster = require("gf.raster")
  local dir, src
  local q = run.shquote
  setup(function()
    dir = paths.tmpdir()
    src = crank.images(dir, 1100)["3band"]
  end)
  teardown(function() fs.remove_tree(dir) end)

  local function gdal(cmd)
    local out, code = crank.sh(cmd)
    assert(code == 0, out)
  end

  it("accepts GDAL's COG (with overviews), as the validator does", function()
    local cog = dir .. "/cog.tif"
    gdal(("gdal_translate -q %s %s -of COG -co COMPRESS=LZW"):format(q(src), q(cog)))
    local d = assert(raster.cog_layout(cog))
    assert.are.same({ { 1100, 1100 }, { 550, 550 }, { 275, 275 } }, d.sizes)
    assert.is_true(d.tiled)
    assert.are.same({ 512, 512 }, d.block)
    assert.are.equal("ROW_MAJOR", d.ghost.BLOCK_ORDER)
    assert.is_true(d.ifd_offsets[1] < d.ifd_offsets[2] and d.ifd_offsets[2] < d.ifd_offsets[3])
    assert.is_true(d.data_offsets[3] < d.data_offsets[2] and d.data_offsets[2] < d.data_offsets[1])
    local valid = crank.validate(cog)
    if valid ~= nil then assert.is_true(valid) end
    -- BigTIFF too
    local big = dir .. "/cog-big.tif"
    gdal(("gdal_translate -q %s %s -of COG -co BIGTIFF=YES"):format(q(src), q(big)))
    assert.is_true(assert(raster.cog_layout(big)).bigtiff)
  end)

  it("refuses overviews stored after the full-resolution imagery, and a big striped file", function()
    local tiled = dir .. "/tiled.tif"
    gdal(("gdal_translate -q -co TILED=YES %s %s && gdaladdo -q %s 2 4"):format(q(src), q(tiled), q(tiled)))
    local ok, msg, code = raster.cog_layout(tiled)
    assert.is_nil(ok)
    assert.are.equal("invalid_input", code)
    assert.matches("the first block of overview 0 should be after the one of overview 1", msg, 1, true)
    assert.matches("the first block of the main resolution image should be after the one of overview 0", msg, 1, true)
    local valid = crank.validate(tiled)
    if valid ~= nil then assert.is_false(valid) end
    local striped = dir .. "/striped.tif"
    gdal(("gdal_translate -q %s %s"):format(q(src), q(striped)))
    ok, msg = raster.cog_layout(striped)
    assert.is_nil(ok)
    assert.matches("greater than 512xH or Wx512, but is not tiled", msg, 1, true)
    valid = crank.validate(striped)
    if valid ~= nil then assert.is_false(valid) end
  end)

  it("refuses a truncated COG and a corrupted block trailer", function()
    local cog = dir .. "/cog2.tif"
    gdal(("gdal_translate -q %s %s -of COG -co COMPRESS=LZW"):format(q(src), q(cog)))
    local bytes = assert(fs.read(cog))
    local cut = dir .. "/cut.tif"
    assert(fs.write(cut, bytes:sub(1, #bytes - 1000)))
    local ok, msg = raster.cog_layout(cut)
    assert.is_nil(ok)
    assert.matches("runs past the end of the file", msg, 1, true)
    -- the last block's trailer (the file's last 4 bytes) no longer repeats its last 4 bytes
    local bad = dir .. "/trailer.tif"
    local last = bytes:byte(#bytes)
    assert(fs.write(bad, bytes:sub(1, #bytes - 1) .. string.char((last + 1) % 256)))
    ok, msg = raster.cog_layout(bad)
    assert.is_nil(ok)
    assert.matches("trailer does not repeat its last 4 bytes", msg, 1, true)
    local valid = crank.validate(bad)
    if valid ~= nil then assert.is_false(valid) end
  end)

  it("refuses what is not a TIFF and names a missing file", function()
    local txt = dir .. "/x.tif"
    assert(fs.write(txt, "not a tiff at all"))
    local ok, msg, code = raster.cog_layout(txt)
    assert.is_nil(ok)
    assert.are.equal("invalid_input", code)
    assert.matches("not a TIFF file", msg, 1, true)
    ok, msg, code = raster.cog_layout(dir .. "/missing.tif")
    assert.is_nil(ok)
    assert.are.equal("not_found", code)
  end)
end)
