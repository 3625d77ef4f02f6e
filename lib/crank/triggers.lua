--- crank.triggers: trigger names, CSV rows and report rows (source-systems §2.3, §2.4, §2.7).
--
--   matches(pattern, key) -> bool            fnmatch on the whole key: `*` and `?` cross `/`
--   processing_key(raw_key, ts) -> key       "<x>raw.csv" -> "<x>processing-<ts>.csv" (nil if
--                                            the key does not end in raw.csv)
--   parse_processing(key) -> x, ts           the inverse: "<x>processing-<ts>.csv" -> x, ts
--   report_key(processing_key, kind) -> key  kind "processed" or "failed", same folder
--   timestamp(epoch) -> "%Y%m%d-%H%M%S" (UTC)
--   parse(text, name) -> rows, malformed, warnings
--     rows: {line=, fields=, tif=, bands=, cog=, jpg=}; malformed: {line=, fields=, error=}
--   crlf_csv(rows_of_fields) -> text         RFC 4180 with CRLF line ends (csv.writer's)
local M = {}

function M.matches(pattern, key)
  return require("gf.fs").match(pattern, key, { cross_slash = true })
end

function M.timestamp(epoch)
  return os.date("!%Y%m%d-%H%M%S", math.floor(epoch or os.time()))
end

function M.processing_key(raw_key, ts)
  local x = raw_key:match("^(.*)raw%.csv$")
  if not x then return nil end
  return x .. "processing-" .. ts .. ".csv"
end

function M.parse_processing(key)
  local x, ts = key:match("^(.*)processing%-(%d%d%d%d%d%d%d%d%-%d%d%d%d%d%d)%.csv$")
  return x, ts
end

function M.raw_key_of(processing_key)
  local x = M.parse_processing(processing_key)
  return x and x .. "raw.csv"
end

function M.report_key(processing_key, kind)
  local x, ts = M.parse_processing(processing_key)
  assert(x, "not a processing key: " .. tostring(processing_key))
  return x .. kind .. "-" .. ts .. ".csv"
end

--- Output keys of an input image: the COG at the same key, the JPEG beside it.
function M.outputs_of(tif)
  local stem = tif:match("^(.*)%.[Tt][Ii][Ff][Ff]?$")
  if not stem then return nil end
  return tif, stem .. ".jpg"
end

local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end

--- Parse a trigger CSV. name is used in messages ("<name> line <n>: ...").
function M.parse(text, name)
  local rows, malformed, warnings = {}, {}, {}
  local lines = {}
  local reader = require("gf.csv").from_string(text, { strict = false, name = name })
  while true do
    local row, err = reader:read()
    local line = reader:line()
    if row == nil and err == nil then break end
    if not row then
      -- An unterminated quote swallows the rest of the file: one failure naming where it began.
      malformed[#malformed + 1] = { line = line, fields = {}, error = tostring(err) }
      break
    end
    lines[#lines + 1] = { row = row, line = line }
  end
  reader:close()
  for _, e in ipairs(lines) do
    local row, line = e.row, e.line
    local blank = #row == 0 or (#row == 1 and trim(row[1]) == "")
    if not blank then
      local where = ("%s line %d"):format(name, line)
      local function bad(why) malformed[#malformed + 1] = { line = line, fields = row, error = where .. ": " .. why } end
      local tif, bands_s
      if #row == 2 then
        tif, bands_s = trim(row[1]), trim(row[2])
      elseif #row == 3 then
        tif, bands_s = trim(row[1]), trim(row[3])
        warnings[#warnings + 1] = where .. ": legacy 3-column row, BANDS taken from the last column"
      else
        bad(("expected 2 columns (path.tif,BANDS), got %d"):format(#row))
      end
      if tif then
        tif = tif:gsub("^/+", "")
        local bands = bands_s:match("^%d+$") and tonumber(bands_s)
        local cog, jpg = M.outputs_of(tif)
        if tif == "" then
          bad("empty image path")
        elseif not cog then
          bad(("image '%s' does not end in .tif"):format(tif))
        elseif tif:find("%.%./") or tif:find("/%.%.$") or tif == ".." then
          bad(("image '%s' leaves the input"):format(tif))
        elseif not bands or bands < 1 then
          bad(("BANDS '%s' is not a positive integer"):format(bands_s))
        else
          rows[#rows + 1] = { line = line, fields = row, tif = tif, bands = bands, cog = cog, jpg = jpg }
        end
      end
    end
  end
  return rows, malformed, warnings
end

function M.crlf_csv(rows)
  local csv = require("gf.csv")
  local out = {}
  for _, fields in ipairs(rows) do out[#out + 1] = csv.encode_row(fields) .. "\r\n" end
  return table.concat(out)
end

--- The JPEG band rule of generate_cogs.sh (§2.6): BANDS 1 or 3 keeps every band, anything else
-- takes bands 1, 2 and 3.
function M.jpeg_bands(bands)
  if bands == 1 or bands == 3 then return nil end
  return { 1, 2, 3 }
end

return M
