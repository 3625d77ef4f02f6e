--- viirs.month: one month of the SEZ-U VIIRS job (one node of workflows/viirs.lua).
--
-- 1. discover the month's tiles: the HTML listing at host + provider_path matched with the
--    collection's regex, or the explicit tile list;
-- 2. skip the tiles whose radiance CSVs exist for every zone (a rerun redoes only what is missing);
-- 3. download the others in parallel (gf.http: at most `downloads` transfers per process,
--    retried, resumed from their .part file, size-checked against Content-Length, renamed when
--    complete) into work/<YYYYMM>/;
-- 4. read the radiance (avg_rade9*) and coverage (cf_cvg*) rasters inside each .tgz through
--    GDAL's /vsitar/ (with extract: copied out of the archive first, then removed), and compute
--    the zonal statistics of every zone with one gf.raster.zonal_stats call per raster
--    (tif_stats' semantics: nodata 0; min,max,mean,stddev,skew,count);
-- 5. write one CSV per zone, month and tile (coverage first, radiance last: a radiance CSV means
--    the tile is done), then remove the .tgz unless keep.
-- A failed tile (404, corrupt .tgz) fails the month after the other tiles are done; their CSVs
-- stay, so the retry or the rerun does only the failed tile.
--
-- run(item, params, log) -> {month, tiles, skipped, done, csvs, bytes, seconds}, raises on failure
-- discover(item, params) -> list of {name, url} | nil, msg, code
-- plan_outputs(item, tiles, zones) -> list of CSV names
-- csv_text(stats) -> the CSV (header min,max,mean,stddev,skew,count and one row)
-- tile_stats(tgz, name, groups, params, workdir) -> list of {zone, kind, stats}   one tile's rasters
-- download(tile, dest, params) -> {bytes, seconds, reused}   one tile (bench/viirs_bench.sh uses both)
local collection = require("viirs.collection")
local listing = require("viirs.listing")
local names = require("viirs.names")
local store_mod = require("viirs.store")
local zones_mod = require("viirs.zones")

local M = {}

M.HEADER = "min,max,mean,stddev,skew,count"

-- Per process: the download slots shared by the months running here, and the progress meter.
local shared = { slots = nil, n = nil, tiles = 0, months = 0, bytes = 0, t0 = nil }

local function now()
  local ok, time = pcall(require, "gf.time")
  if ok and time.monotonic then return time.monotonic() end
  return os.time()
end

local function num(v)
  if v == nil or v ~= v then return "" end
  if math.type(v) == "integer" then return tostring(v) end
  if v == math.floor(v) and math.abs(v) < 2 ^ 53 then return ("%d"):format(v) end
  return ("%.17g"):format(v)
end

function M.csv_text(st)
  local row = { num(st.min), num(st.max), num(st.mean), num(st.stddev), num(st.skew),
    tostring(math.tointeger(st.count) or st.count or 0) }
  return M.HEADER .. "\n" .. table.concat(row, ",") .. "\n"
end

--- The tile list of a month: explicit names, or the directory listing matched with the regex.
function M.discover(item, p)
  local base = collection.join(p.host, item.provider_path)
  if not base:match("/$") then base = base .. "/" end
  local list = {}
  if p.tiles and #p.tiles > 0 then
    for _, t in ipairs(p.tiles) do
      local name = t:gsub("{{%s*pointInTime%s*}}", item.month)
      list[#list + 1] = { name = name, url = base .. name }
    end
    return list
  end
  local http = require("gf.http")
  local res, err, code = http.get(base, { timeout = 120 })
  if not res then return nil, ("listing %s: %s"):format(base, err), code end
  if res.status ~= 200 then
    return nil, ("listing %s: HTTP %d"):format(base, res.status), res.status == 404 and "not_found" or "network"
  end
  local matched, rerr = listing.match(listing.names(res.body), item.regex)
  if not matched then return nil, rerr, "invalid_input" end
  if #matched == 0 then
    return nil, ("listing %s: no file matches %s"):format(base, item.regex), "not_found"
  end
  for _, name in ipairs(matched) do list[#list + 1] = { name = name, url = base .. name } end
  return list
end

--- The CSV names a month writes for its radiance rasters (what a rerun checks).
function M.plan_outputs(item, tiles, zones)
  local out = {}
  for _, t in ipairs(tiles) do
    local info = names.parse(t.name)
    for _, z in ipairs(zones) do
      out[#out + 1] = names.csv_name(z.name, item.month, info and info.tile or t.name, "radiance")
    end
  end
  return out
end

local function mb(bytes) return bytes / 1048576 end

local function tile_done(store, zones, month, tile)
  for _, z in ipairs(zones) do
    local ok, err = store:exists(names.csv_name(z.name, month, tile, "radiance"))
    if ok == nil then error(err, 0) end
    if not ok then return false end
  end
  return true
end

-- Zonal statistics of every raster in one downloaded .tgz -> list of {zone, kind, stats}.
function M.tile_stats(path, tname, groups, p, workdir)
  local raster = require("gf.raster")
  local members, err = raster.list(path)
  if not members then
    os.remove(path) -- downloaded again by the retry
    error(("tile %s: corrupt or unreadable .tgz (%s)"):format(tname, err), 0)
  end
  local rasters = {}
  for _, m in ipairs(members) do
    local kind = names.kind(m.name)
    if kind then rasters[#rasters + 1] = { name = m.name, kind = kind } end
  end
  table.sort(rasters, function(a, b) return a.kind < b.kind end) -- coverage before radiance
  local has_radiance = false
  for _, r in ipairs(rasters) do has_radiance = has_radiance or r.kind == "radiance" end
  if not has_radiance then
    error(("tile %s: no radiance raster (avg_rade9*.tif) in the .tgz (%d members)"):format(tname,
      #members), 0)
  end
  local rows = {}
  for _, r in ipairs(rasters) do
    local src = raster.archive_path(path) .. "/" .. r.name
    local extracted
    if p.extract then
      extracted = workdir .. "/" .. (r.name:match("([^/]+)$"))
      local ok, xerr = raster.extract(src, extracted)
      if not ok then
        os.remove(path)
        error(("tile %s: corrupt or unreadable .tgz: %s"):format(tname, xerr), 0)
      end
      src = extracted
    end
    for _, g in ipairs(groups) do
      local res, zerr = raster.zonal_stats(src, g, { nodata = 0 })
      if not res then
        if extracted then os.remove(extracted) end
        os.remove(path) -- a truncated or damaged member: downloaded again by the retry
        error(("tile %s: corrupt or unreadable .tgz: %s: %s"):format(tname, r.name, zerr), 0)
      end
      for _, z in ipairs(res) do
        rows[#rows + 1] = { zone = z.properties.gfhost_zone, kind = r.kind, stats = z }
      end
    end
    if extracted then os.remove(extracted) end
  end
  return rows
end

function M.download(t, dest, p)
  local http, fs = require("gf.http"), require("gf.fs")
  if fs.exists(dest) then -- committed by an earlier attempt: complete and size-checked
    return { bytes = fs.stat(dest).size, seconds = 0, reused = true }
  end
  if not shared.slots or shared.n ~= p.downloads then
    shared.slots, shared.n = http.slots(p.downloads), p.downloads
  end
  local t0 = now()
  -- sync = false: a tile is scratch data, read once and removed; the rename stays atomic, and a
  -- file a machine crash left corrupt fails its tile_stats, which removes it for the retry.
  local res, err = http.download(t.url, dest, { slots = shared.slots, connect_timeout = 30,
    idle_timeout = 120, sync = false, retry = { attempts = p.retries + 1, base = 0.5, max_delay = 30 } })
  if not res then error(("tile %s: %s"):format(t.name, err), 0) end
  return { bytes = res.bytes or fs.stat(dest).size, seconds = now() - t0 }
end

function M.run(item, p, log)
  local fs, task = require("gf.fs"), require("gf.task")
  log = log or require("gf.log")
  local t0 = now()
  shared.t0 = shared.t0 or t0
  local zones = assert(zones_mod.load(p.zones))
  local groups = zones_mod.groups(zones)
  local store, serr = store_mod.open(p.out)
  if not store then error(serr, 0) end
  local tiles, derr = M.discover(item, p)
  if not tiles then error(("%s: %s"):format(item.month, derr), 0) end
  for _, t in ipairs(tiles) do
    local info, nerr = names.parse(t.name)
    if not info then error(("%s: %s"):format(item.month, nerr), 0) end
    t.tile = info.tile
  end
  -- which tiles are done (a stat each locally, HEADs on S3: checked for all tiles at once)
  local done, dfail = task.map(tiles, function(t) return tile_done(store, zones, item.month, t.tile) end,
    { concurrency = 8 })
  if dfail and #dfail > 0 then
    error(("%s: checking %s: %s"):format(item.month, p.out, tostring(dfail[1].error):gsub("\nstack traceback:.*$", "")), 0)
  end
  local todo, skipped = {}, 0
  for i, t in ipairs(tiles) do
    if done[i] then skipped = skipped + 1 else todo[#todo + 1] = t end
  end
  local workdir = p.work .. "/" .. item.month
  if #todo > 0 then assert(fs.mkdir_p(workdir)) end
  local csvs, bytes = 0, 0
  local _, failures = task.map(todo, function(t)
    local dest = workdir .. "/" .. t.name
    local d = M.download(t, dest, p)
    bytes = bytes + d.bytes
    local rows = M.tile_stats(dest, t.name, groups, p, workdir)
    for _, r in ipairs(rows) do
      local name = names.csv_name(r.zone, item.month, t.tile, r.kind)
      local ok, err = store:put(name, M.csv_text(r.stats))
      if not ok then error(("tile %s: %s: %s"):format(t.name, store:url(name), err), 0) end
      csvs = csvs + 1
    end
    if not p.keep then os.remove(dest) end
    shared.tiles, shared.bytes = shared.tiles + 1, shared.bytes + (d.reused and 0 or d.bytes)
    local elapsed = math.max(now() - shared.t0, 1e-6)
    log.info(("viirs %s %s: %.1f MB in %.2f s%s, %d CSVs; %d tiles done, %.1f MB/s overall"):format(
      item.month, t.tile, mb(d.bytes), d.seconds,
      d.reused and " (already downloaded)" or (" (%.1f MB/s)"):format(mb(d.bytes) / math.max(d.seconds, 1e-6)),
      #rows, shared.tiles, mb(shared.bytes) / elapsed))
    return true
  end, { concurrency = p.downloads })
  local nfail = 0
  local msgs = {}
  for _, f in ipairs(failures or {}) do
    nfail = nfail + 1
    local e = type(f) == "table" and f.error or f
    e = type(e) == "table" and (e.message or e[1]) or e
    msgs[#msgs + 1] = (tostring(e):gsub("\nstack traceback:.*$", ""))
  end
  if nfail > 0 then
    table.sort(msgs)
    error(("%s: %d of %d tiles failed: %s"):format(item.month, nfail, #tiles, table.concat(msgs, "; ")), 0)
  end
  if #todo > 0 and not p.keep then fs.remove(workdir) end
  shared.months = shared.months + 1
  log.info(("viirs %s: %d tiles (%d done before), %d CSVs written; %d months done"):format(
    item.month, #tiles, skipped, csvs, shared.months))
  return { month = item.month, tiles = #tiles, skipped = skipped, done = #todo, csvs = csvs,
    bytes = bytes, seconds = now() - t0 }
end

return M
