-- gfhost run crank on local directories: the embedded default. Real GeoTIFFs of 1, 3 and 6
-- bands; COGs checked by GDAL's validator and pixels against gdal_translate's; the cron lock;
-- --dry-run; --crondor-submit; option errors.
local paths = require("spec.support.paths")
local crank = require("spec.support.crank")
local fs = require("gf.fs")

local function files_under(dir)
  local out = {}
  for _, rel in ipairs(fs.walk(dir) or {}) do out[rel] = true end
  return out
end

describe("crank on local directories #integration", function()
  local dir, input, output, state, imgs

  before_each(function()
    dir = paths.tmpdir()
    input, output, state = dir .. "/in", dir .. "/out", dir .. "/state.db"
    assert(fs.mkdir_p(input .. "/Counties/WI/Wood"))
    assert(fs.mkdir_p(input .. "/Dane"))
    imgs = crank.images(dir, 256)
    assert(fs.copy(imgs["1band"], input .. "/Counties/WI/Wood/1band.tif"))
    assert(fs.copy(imgs["3band"], input .. "/Counties/WI/Wood/3band.tif"))
    assert(fs.copy(imgs["6band"], input .. "/Dane/6band.tif"))
    -- a nested trigger (no trailing newline, as the original's test_raw.csv) and a root one
    assert(fs.write(input .. "/Counties/test_raw.csv",
      "Counties/WI/Wood/1band.tif,1\nCounties/WI/Wood/3band.tif,3\nDane/6band.tif,6\nDane/nothere.tif,1\noops\nDane/6band.tif,six"))
    assert(fs.write(input .. "/demo_raw.csv", "Dane/6band.tif,6band.jpg,6\r\n"))
  end)
  after_each(function() fs.remove_tree(dir) end)

  it("converts every row, writes the reports beside each trigger, and a rerun does nothing", function()
    local r = crank.crank({ "--input", input, "--output", output, "--state", state, "--lock-dir", dir })
    assert.are.equal(1, r.code, r.stderr) -- a missing image and malformed rows: exit 1
    assert.matches("2 triggers, 5 images: 4 converted %(0 reused%), 1 failed, 2 malformed rows", r.stdout)

    local ins = files_under(input)
    local ts
    for k in pairs(ins) do ts = ts or k:match("^Counties/test_processed%-(%d+%-%d+)%.csv$") end
    assert.is_truthy(ts, "no processed report")
    for k in pairs(ins) do
      assert.is_falsy(k:match("raw%.csv$") or k:match("processing"), k)
      assert.is_falsy(k:match("%.aux%.xml$"), k)
    end
    assert.are.equal("Counties/WI/Wood/1band.tif,1\r\nCounties/WI/Wood/3band.tif,3\r\nDane/6band.tif,6\r\n",
      fs.read(input .. "/Counties/test_processed-" .. ts .. ".csv"))
    local failed = fs.read(input .. "/Counties/test_failed-" .. ts .. ".csv")
    local lines = {}
    for l in failed:gmatch("([^\r\n]*)\r\n") do lines[#lines + 1] = l end
    assert.are.equal(3, #lines, failed)
    assert.matches("^Dane/nothere%.tif,1,Counties/test_raw%.csv line 4: Dane/nothere%.tif: ", lines[1])
    assert.matches("^oops,\"Counties/test_raw%.csv line 5: expected 2 columns", lines[2])
    assert.matches("^Dane/6band%.tif,six,Counties/test_raw%.csv line 6: BANDS 'six' is not a positive integer", lines[3])
    -- the legacy 3-column root trigger: BANDS from the last column; a root report has no '/'
    assert.are.equal("Dane/6band.tif,6band.jpg,6\r\n", fs.read(input .. "/demo_processed-" .. ts .. ".csv"))
    assert.is_nil(ins["demo_failed-" .. ts .. ".csv"])

    local outs = files_under(output)
    local want = { "Counties/WI/Wood/1band.tif", "Counties/WI/Wood/1band.jpg",
      "Counties/WI/Wood/3band.tif", "Counties/WI/Wood/3band.jpg", "Dane/6band.tif", "Dane/6band.jpg" }
    local n = 0
    for _ in pairs(outs) do n = n + 1 end
    assert.are.equal(#want, n) -- no .aux.xml, nothing else
    for _, k in ipairs(want) do assert.is_true(outs[k], k) end

    for name, key in pairs({ ["1band"] = "Counties/WI/Wood/1band", ["3band"] = "Counties/WI/Wood/3band",
      ["6band"] = "Dane/6band" }) do
      local cog, jpg = output .. "/" .. key .. ".tif", output .. "/" .. key .. ".jpg"
      local valid, report = crank.validate(cog)
      if valid ~= nil then assert.is_true(valid, report) end
      assert.is_truthy(require("gf.raster").cog_layout(cog))
      local ref_dir = dir .. "/ref-" .. name
      assert(fs.mkdir_p(ref_dir))
      local rcog, rjpg = crank.reference(imgs[name], ref_dir, tonumber(name:sub(1, 1)))
      assert.are.same(crank.checksums(rcog), crank.checksums(cog))
      assert.are.same(crank.checksums(rjpg), crank.checksums(jpg))
      assert.are.equal(name == "1band" and 1 or 3, #crank.checksums(jpg))
    end

    -- a rerun finds nothing to claim and changes nothing
    local before = {}
    for k in pairs(outs) do before[k] = fs.stat(output .. "/" .. k).mtime end
    local r2 = crank.crank({ "--input", input, "--output", output, "--state", state, "--lock-dir", dir })
    assert.are.equal(0, r2.code, r2.stderr)
    assert.matches("no triggers matching", r2.stdout)
    for k, m in pairs(before) do assert.are.equal(m, fs.stat(output .. "/" .. k).mtime, k) end
    assert.are.same(ins, files_under(input))
  end)

  it("exits 0 and does nothing while another run holds the input's lock", function()
    local lock_path = ("%s/gfhost-crank-%s.lock"):format(dir, fs.sha256_string(input):sub(1, 16))
    local lock = assert(fs.lock(lock_path))
    local r = crank.crank({ "--input", input, "--output", output, "--state", state, "--lock-dir", dir })
    assert.are.equal(0, r.code, r.stderr)
    assert.matches("another run is live on", r.stdout)
    assert.is_true(fs.exists(input .. "/Counties/test_raw.csv"))
    assert.is_false(fs.exists(output))
    lock:unlock()
  end)

  it("--dry-run prints the claims, images and keys and touches nothing", function()
    local before = files_under(input)
    local r = crank.crank({ "--input", input, "--output", output, "--state", state, "--lock-dir", dir, "--dry-run" })
    assert.are.equal(0, r.code, r.stderr)
    assert.matches("claim  " .. input:gsub("%p", "%%%0") .. "/Counties/test_raw%.csv %-> .*/Counties/test_processing%-%d+%-%d+%.csv", r.stdout)
    assert.matches("image  .*/Dane/6band%.tif %-> " .. output:gsub("%p", "%%%0") .. "/Dane/6band%.tif %+ .*/Dane/6band%.jpg", r.stdout)
    assert.matches("bad    Counties/test_raw%.csv line 5", r.stdout)
    assert.matches("2 triggers, 5 images, 2 malformed rows; nothing written", r.stdout)
    assert.are.same(before, files_under(input))
    assert.is_false(fs.exists(output))
    assert.is_false(fs.exists(state))
  end)

  it("--crondor-submit writes the crondor description of the original", function()
    local sub = dir .. "/crondor.sub"
    local r = crank.crank({ "--input", "s3://in-b", "--output", "s3://out-b", "-p", "*raw.csv",
      "-a", "/k/a", "-s", "/k/s", "-e", "s3dev.chtc.wisc.edu", "--crondor-submit", sub })
    assert.are.equal(0, r.code, r.stderr)
    local text = fs.read(sub)
    for _, line in ipairs({ "universe = local", "cron_minute = */15", "cron_hour = *", "on_exit_remove = false",
      "getenv = true", "request_memory = 512", '+JobBatchName = "COG-Pipeline-Crondor-*raw.csv"' }) do
      assert.is_truthy(text:find(line, 1, true), line)
    end
    assert.matches('arguments = "run crank %-%-input s3://in%-b %-%-output s3://out%-b %-%-pattern \'%*raw%.csv\'', text)
    assert.matches("%-%-access%-key%-file /k/a %-%-secret%-key%-file /k/s %-%-endpoint s3dev%.chtc%.wisc%.edu", text)
  end)

  it("refuses a partial credential set with the original's message, and bad URLs", function()
    local r = crank.crank({ "--input", input, "--output", output, "-a", "/k/a" })
    assert.are.equal(2, r.code)
    assert.matches("Access/secret keys must be provided together with an endpoint.", r.stderr, 1, true)
    r = crank.crank({ "--input", "ftp://x", "--output", output })
    assert.are.equal(2, r.code)
    assert.matches("--input: location ftp://x", r.stderr, 1, true)
    r = crank.crank({ "--input", input })
    assert.are.equal(2, r.code)
  end)
end)
