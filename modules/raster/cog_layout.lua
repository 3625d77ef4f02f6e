--- gf.raster.cog_layout: check a local file's Cloud-Optimized GeoTIFF layout by reading its TIFF
-- structure directly (no GDAL), with the rules of GDAL's validate_cloud_optimized_geotiff.py
-- (full check), so a job can accept an output per image without a Python process.
--
--   check(path) -> details | nil, message, code
--
-- Overviews are numbered from 0, as in the validator. details = {bigtiff=, ifd_offsets = {main, ovr1, ...}, data_offsets = {...}, sizes =
-- {{w, h}, ...}, tiled=, ghost = {BLOCK_ORDER=..., ...}}. The message lists every error:
-- "cog layout <path>: <error>; <error>" (code "invalid_input"); an unreadable file gives
-- "io" / "not_found". Rules:
--   * classic TIFF or BigTIFF, byte order II or MM;
--   * the first IFD right after the header, or right after GDAL's ghost header
--     (GDAL_STRUCTURAL_METADATA_SIZE=...), which must not say KNOWN_INCOMPATIBLE_EDITION=YES;
--   * an image wider or taller than 512 is tiled (the validator's test: not a strip layout wider
--     than 1024), and so is every overview;
--   * overviews (reduced-resolution IFDs; masks are skipped) by decreasing size, their IFDs at
--     increasing offsets after the main one;
--   * imagery from the smallest overview to the full resolution: each level's first block after
--     the next smaller level's, the smallest level's after its IFD;
--   * with the ghost header's BLOCK_ORDER=ROW_MAJOR, blocks at increasing offsets within a level;
--     BLOCK_LEADER=SIZE_AS_UINT4: the 4 bytes before each block hold its size;
--     BLOCK_TRAILER=LAST_4_BYTES_REPEATED: the 4 bytes after it repeat its last 4;
--   * every block inside the file.
local M = {}

local TYPE_SIZE = { [1] = 1, [2] = 1, [3] = 2, [4] = 4, [5] = 8, [6] = 1, [7] = 1, [8] = 2,
  [9] = 4, [10] = 8, [11] = 4, [12] = 8, [16] = 8, [17] = 8, [18] = 8 }
local INT_FMT = { [1] = "I1", [3] = "I2", [4] = "I4", [16] = "I8", [6] = "i1", [8] = "i2",
  [9] = "i4", [17] = "i8", [13] = "I4", [18] = "I8" }

local Reader = {}
Reader.__index = Reader

function Reader:at(offset, n)
  if offset < 0 or offset + n > self.size then
    error({ layout = ("read of %d bytes at %d beyond the end of the file (%d bytes)"):format(n, offset, self.size) })
  end
  self.f:seek("set", offset)
  local s = self.f:read(n)
  if not s or #s ~= n then error({ layout = ("short read at %d"):format(offset) }) end
  return s
end

function Reader:uint(offset, n)
  return (string.unpack(self.e .. "I" .. n, self:at(offset, n)))
end

-- Values of one IFD entry as a list of integers (or the raw string for ASCII).
function Reader:values(typ, count, value_pos)
  local size = TYPE_SIZE[typ]
  if not size then error({ layout = ("unknown TIFF field type %d"):format(typ) }) end
  local total = size * count
  local inline = self.big and 8 or 4
  local pos = total <= inline and value_pos or self:uint(value_pos, self.big and 8 or 4)
  if total > 64 * 1024 * 1024 then error({ layout = "an IFD entry larger than 64 MiB" }) end
  local raw = self:at(pos, total)
  if typ == 2 then return raw end
  local fmt = INT_FMT[typ]
  if not fmt then return {} end
  local out, p = {}, 1
  for i = 1, count do
    out[i], p = string.unpack(self.e .. fmt, raw, p)
  end
  return out
end

local WANT = { [254] = true, [256] = true, [257] = true, [273] = true, [278] = true, [279] = true,
  [322] = true, [323] = true, [324] = true, [325] = true }

function Reader:ifd(offset)
  local count_size, entry_size, next_size = 2, 12, 4
  if self.big then count_size, entry_size, next_size = 8, 20, 8 end
  local n = self:uint(offset, count_size)
  if n == 0 or n > 4096 then error({ layout = ("IFD at %d has %d entries"):format(offset, n) }) end
  local tags = {}
  for i = 0, n - 1 do
    local p = offset + count_size + i * entry_size
    local tag = self:uint(p, 2)
    if WANT[tag] then
      local typ = self:uint(p + 2, 2)
      local count = self:uint(p + 4, self.big and 8 or 4)
      tags[tag] = self:values(typ, count, p + (self.big and 12 or 8))
    end
  end
  local next_ifd = self:uint(offset + count_size + n * entry_size, next_size)
  local function one(tag) return tags[tag] and tags[tag][1] end
  local d = { offset = offset, next = next_ifd, width = one(256), height = one(257),
    subfile = one(254) or 0, tiled = tags[322] ~= nil }
  if not (d.width and d.height) then error({ layout = ("IFD at %d has no image size"):format(offset) }) end
  if d.tiled then
    d.block_w, d.block_h = one(322), one(323)
    d.offsets, d.counts = tags[324] or {}, tags[325] or {}
  else
    d.block_w, d.block_h = d.width, one(278) or d.height
    d.offsets, d.counts = tags[273] or {}, tags[279] or {}
  end
  return d
end

local function first_offset(d)
  for _, o in ipairs(d.offsets) do
    if o ~= 0 then return o end
  end
  return 0
end

local function analyse(r, path)
  local errors = {}
  local function err(fmt, ...) errors[#errors + 1] = fmt:format(...) end
  local bo = r:at(0, 2)
  if bo == "II" then r.e = "<" elseif bo == "MM" then r.e = ">" else
    return nil, { "not a TIFF file (byte order mark " .. ("%q"):format(bo) .. ")" }
  end
  local magic = r:uint(2, 2)
  if magic == 43 then
    r.big = true
    if r:uint(4, 2) ~= 8 then return nil, { "BigTIFF with an offset size other than 8" } end
  elseif magic ~= 42 then
    return nil, { ("not a TIFF file (magic %d)"):format(magic) }
  end
  local first = r.big and r:uint(8, 8) or r:uint(4, 4)
  local expected = r.big and 16 or 8
  local ghost = {}
  local pattern_len = #"GDAL_STRUCTURAL_METADATA_SIZE=000000 bytes\n"
  if first ~= expected then
    local ok, head = pcall(r.at, r, expected, pattern_len)
    local size = ok and head:match("^GDAL_STRUCTURAL_METADATA_SIZE=(%d%d%d%d%d%d) bytes\n$")
    if size then
      size = tonumber(size)
      local md = r:at(expected + pattern_len, size)
      for k, v in md:gmatch("([%u_]+)=([%w_]+)") do ghost[k] = v end
      if ghost.KNOWN_INCOMPATIBLE_EDITION == "YES" then
        err("KNOWN_INCOMPATIBLE_EDITION=YES is declared in the file")
      end
      expected = expected + pattern_len + size
      expected = expected + expected % 2
    end
    if expected ~= first then
      err("the offset of the main IFD should be %d; it is %d instead", expected, first)
    end
  end
  -- The IFD chain: the main image, then its overviews (masks are skipped).
  local levels, seen, off = {}, {}, first
  while off ~= 0 do
    if seen[off] then err("the IFD chain loops at %d", off) break end
    seen[off] = true
    local d = r:ifd(off)
    if #levels == 0 then
      levels[1] = d
    elseif d.subfile & 4 == 0 and d.subfile & 1 == 1 then
      levels[#levels + 1] = d
    end
    off = d.next
  end
  local main = levels[1]
  if (main.width > 512 or main.height > 512) and not main.tiled and main.width > 1024 then
    err("the file is greater than 512xH or Wx512, but is not tiled")
  end
  for i = 2, #levels do
    local d, prev = levels[i], levels[i - 1]
    if d.width > prev.width or d.height > prev.height then
      err("overview %d (%dx%d) is larger than the level before it (%dx%d)", i - 2, d.width,
        d.height, prev.width, prev.height)
    end
    if not d.tiled and d.width > 1024 then err("overview %d is not tiled", i - 2) end
    if d.offset < prev.offset then
      err("the IFD of overview %d is at byte %d, before the previous level's IFD at %d", i - 2,
        d.offset, prev.offset)
    end
  end
  local data = {}
  for i, d in ipairs(levels) do data[i] = first_offset(d) end
  local n = #levels
  if data[n] ~= 0 and data[n] < levels[n].offset then
    err(n > 1 and "the first block of the smallest overview should be after its IFD"
      or "the first block of the image should be after its IFD")
  end
  for i = n - 1, 1, -1 do
    if data[i] ~= 0 and data[i] < data[i + 1] then
      err("the first block of %s should be after the one of overview %d",
        i == 1 and "the main resolution image" or ("overview " .. (i - 2)), i - 1)
    end
  end
  -- Blocks: inside the file; order, leader and trailer as the ghost header declares.
  for i, d in ipairs(levels) do
    local name = i == 1 and "the main image" or ("overview " .. (i - 2))
    if #d.offsets ~= #d.counts then err("%s has %d block offsets but %d byte counts", name, #d.offsets, #d.counts) end
    local last = 0
    for b, o in ipairs(d.offsets) do
      local c = d.counts[b] or 0
      if o ~= 0 then
        if o + c > r.size then
          err("%s block %d (%d bytes at %d) runs past the end of the file", name, b - 1, c, o)
          break
        end
        if ghost.BLOCK_ORDER == "ROW_MAJOR" and o < last then
          err("%s block %d is before block %d (BLOCK_ORDER=ROW_MAJOR)", name, b - 1, b - 2)
          break
        end
        last = o
        if ghost.BLOCK_LEADER == "SIZE_AS_UINT4" and c > 0 then
          if o < 4 or r:uint(o - 4, 4) ~= c then
            err("%s block %d: its leader does not hold its size %d", name, b - 1, c)
            break
          end
        end
        if ghost.BLOCK_TRAILER == "LAST_4_BYTES_REPEATED" and c >= 4 then
          if o + c + 4 > r.size or r:at(o + c - 4, 4) ~= r:at(o + c, 4) then
            err("%s block %d: its trailer does not repeat its last 4 bytes", name, b - 1)
            break
          end
        end
      end
    end
  end
  local sizes, ifds = {}, {}
  for i, d in ipairs(levels) do
    sizes[i] = { d.width, d.height }
    ifds[i] = d.offset
  end
  local details = { bigtiff = r.big == true, ifd_offsets = ifds, data_offsets = data, sizes = sizes,
    tiled = main.tiled, block = { main.block_w, main.block_h }, ghost = ghost }
  return details, errors
end

function M.check(path)
  if type(path) ~= "string" then error("bad argument #1 to 'check' (string expected)", 2) end
  local f, msg = io.open(path, "rb")
  if not f then
    return nil, ("cog layout %s: %s"):format(path, msg), msg:find("No such file", 1, true) and "not_found" or "io"
  end
  local size = f:seek("end")
  local r = setmetatable({ f = f, size = size, e = "<", big = false }, Reader)
  local ok, details, errors = pcall(analyse, r, path)
  f:close()
  if not ok then
    local e = details
    local text = type(e) == "table" and e.layout or tostring(e)
    return nil, ("cog layout %s: %s"):format(path, text), "invalid_input"
  end
  if #errors > 0 then
    return nil, ("cog layout %s: %s"):format(path, table.concat(errors, "; ")), "invalid_input"
  end
  return details
end

return M
