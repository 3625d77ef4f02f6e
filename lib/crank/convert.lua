--- crank.convert: one image, as generate_cogs.sh did it (source-systems §2.6), checked.
--
--   image(params, item) -> {cog=, jpg=, bytes=, sizes=}   raises on any failure (the node retries)
--
-- Download the GeoTIFF (a local input is read in place); COG with LZW (gdal_translate -of COG
-- -co COMPRESS=LZW); its layout checked with gf.raster.cog_layout; JPEG quality 75 from the COG
-- with the band rule of §2.6; the COG uploaded to the image's key in the output, the JPEG
-- beside it. Work files live in a private temporary directory, removed on every path; GDAL
-- writes no .aux.xml (GDAL_PAM_ENABLED=NO in gf.raster).
local M = {}

local triggers = require("crank.triggers")

local function open_locations(params)
  local creds = require("crank.credentials")
  local s3opts, why = creds.resolve(params)
  if not s3opts then error(why, 0) end
  local location = require("crank.location")
  local input = assert(location.open(params.input, s3opts))
  local output = assert(location.open(params.output, s3opts))
  return input, output
end
M.open_locations = open_locations

local function check(v, msg, code)
  if v == nil then error(("%s%s"):format(tostring(msg), code and (" (" .. code .. ")") or ""), 0) end
  return v
end

function M.image(params, item)
  local fs, raster = require("gf.fs"), require("gf.raster")
  local input, output = open_locations(params)
  local dir = check(fs.tempdir("gf-crank-"))
  local ok, result = pcall(function()
    local src = check(input:download(item.tif, dir .. "/in.tif"))
    local insize = (fs.stat(src) or {}).size or 0
    local cog, jpg = dir .. "/cog.tif", dir .. "/preview.jpg"
    check(raster.to_cog(src, cog, { compress = "LZW" }))
    check(raster.cog_layout(cog))
    check(raster.preview(cog, jpg, { quality = 75, bands = triggers.jpeg_bands(item.bands) }))
    local cogsize, jpgsize = fs.stat(cog).size, fs.stat(jpg).size
    check(output:upload(cog, item.cog, "image/tiff"))
    check(output:upload(jpg, item.jpg, "image/jpeg"))
    return { cog = item.cog, jpg = item.jpg, bytes = insize + cogsize + jpgsize,
      cog_bytes = cogsize, jpg_bytes = jpgsize }
  end)
  fs.remove_tree(dir)
  if not ok then error(result, 0) end
  return result
end

return M
