-- Helpers of the crank specs: real GeoTIFFs (from the Debian data packages of testdata.sh,
-- resized with gdal_translate), GDAL's own checks, and running `gfhost run crank`.
local paths = require("spec.support.paths")
local run = require("spec.support.run")
local fs = require("gf.fs")

local M = {}

M.S3 = "http://127.0.0.1:19000"
M.KEY = "S3RVER" -- s3rver's only access key

function M.sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  local ok, _, code = p:close()
  return out, ok and 0 or code
end

function M.data_dir()
  local out = M.sh("sh '" .. paths.root .. "/spec/support/testdata.sh' 2>/dev/null")
  return (out:match("([^\n]+)\n?$"))
end

--- Byte GeoTIFFs of 1, 3 and 6 bands, size x size: {["1band"] = path, ["3band"] =, ["6band"] =}.
function M.images(dir, size)
  size = size or 256
  local data = M.data_dir()
  local q = run.shquote
  local out = {
    ["1band"] = dir .. "/1band.tif", ["3band"] = dir .. "/3band.tif", ["6band"] = dir .. "/6band.tif",
  }
  local s = ("-outsize %d %d -r bilinear"):format(size, size)
  for _, c in ipairs({
    ("gdal_translate -q %s -b 1 %s %s"):format(s, q(data .. "/terra/logo.tif"), q(out["1band"])),
    ("gdal_translate -q %s %s %s"):format(s, q(data .. "/terra/logo.tif"), q(out["3band"])),
    ("gdal_translate -q %s %s %s"):format(s, q(data .. "/stars/L7_ETMs.tif"), q(out["6band"])),
  }) do
    local text, code = M.sh(c)
    assert(code == 0, text)
  end
  return out
end

--- Per-band checksums as gdalinfo prints them (independent of the file layout).
function M.checksums(path)
  local sums = {}
  for c in M.sh("gdalinfo -checksum " .. run.shquote(path)):gmatch("Checksum=(%d+)") do
    sums[#sums + 1] = tonumber(c)
  end
  return sums
end

local VALIDATOR = "/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_cloud_optimized_geotiff.py"

--- GDAL's validator (python3-gdal): true, or false and its report. nil when not installed.
function M.validate(path)
  if not fs.exists(VALIDATOR) then return nil, "validator not installed" end
  local out, code = M.sh(("/usr/bin/python3 %s --full-check=yes %s"):format(VALIDATOR, run.shquote(path)))
  return code == 0 and out:find("is a valid cloud optimized GeoTIFF", 1, true) ~= nil, out
end

--- What gdal_translate makes of src: the COG (as generate_cogs.sh) and the JPEG from that COG.
function M.reference(src, dir, bands)
  local q = run.shquote
  local cog, jpg = dir .. "/ref.tif", dir .. "/ref.jpg"
  assert(M.sh(("gdal_translate -q %s %s -of COG -co COMPRESS=LZW"):format(q(src), q(cog))))
  local b = (bands == 1 or bands == 3) and "" or " -b 1 -b 2 -b 3"
  local text, code = M.sh(("gdal_translate -q %s %s -of JPEG -co QUALITY=75%s"):format(q(cog), q(jpg), b))
  assert(code == 0, text)
  return cog, jpg
end

--- gfhost run crank ... -> {code, stdout, stderr}
function M.crank(args, env)
  local a = { "run", "crank" }
  for _, v in ipairs(args) do a[#a + 1] = v end
  return run.gfhost(a, { env = env })
end

--- An S3 client for s3rver and a pair of fresh buckets.
function M.buckets()
  local s3 = require("gf.s3")
  local c = s3.client({ endpoint = M.S3, region = "us-east-1",
    credentials = { access_key = M.KEY, secret_key = M.KEY } })
  local id = require("spec.support.servers").uid()
  local input, output = "crank-in-" .. id, "crank-out-" .. id
  assert(c:create_bucket("s3://" .. input))
  assert(c:create_bucket("s3://" .. output))
  return c, "s3://" .. input, "s3://" .. output
end

--- Every key below an S3 URL -> {key = object}.
function M.keys(c, url)
  local objs = assert(c:list(url .. "/"))
  local out = {}
  for _, o in ipairs(objs) do out[o.key] = o end
  return out
end

--- The -a/-s/-e arguments for s3rver (key files in dir).
function M.key_args(dir)
  assert(fs.write(dir .. "/access.key", M.KEY .. "\n"))
  assert(fs.write(dir .. "/secret.key", M.KEY .. "\n"))
  return { "-a", dir .. "/access.key", "-s", dir .. "/secret.key", "-e", M.S3 }
end

return M
