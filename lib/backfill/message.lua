--- backfill.message: the Cumulus message of the HiTIDE backfill tool, one per need.
--
--   local message = require("backfill.message")
--   local b = message.builder{message_config = t, cumulus = "uat", collection_config = t,
--     collection = "MODIS_A-JPL-L2P-v2019.0", uuid = message.uuid4(), provider = "pocloud",
--     start_date = s|nil, end_date = s|nil, user = s|nil}   -> builder | nil, message, code
--   b:build(granule, need, s3, {size =, skip_opendap =, granule_start =, granule_end =}) -> JSON
--     need: "footprint" (forge = true) | "image" (tig = true) | "dmrpp" (dmrpp = true).
--     skip_cmr_opendap_update is true for footprint and image; for dmrpp it is opts.skip_opendap.
-- find_collection_config(dir, cumulus, collection) -> path | nil, message, "not_found"
--   **/{sit|uat|ops}/**/<collection>.json under dir; the folder is chosen by substring of the
--   cumulus environment (swot-uat looks in uat).
-- uuid4() -> "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" from /dev/urandom.
--
-- The constant parts (cumulus_meta, meta with the collection and its PNG file entry) are encoded
-- once per builder; a message costs one small encode for the granule and the cli params.
local json = require("gf.json")

local M = {}

function M.uuid4()
  local f = assert(io.open("/dev/urandom", "rb"))
  local b = { f:read(16):byte(1, 16) }
  f:close()
  b[7] = (b[7] & 0x0f) | 0x40
  b[9] = (b[9] & 0x3f) | 0x80
  local h = {}
  for i = 1, 16 do h[i] = ("%02x"):format(b[i]) end
  local s = table.concat(h)
  return ("%s-%s-%s-%s-%s"):format(s:sub(1, 8), s:sub(9, 12), s:sub(13, 16), s:sub(17, 20), s:sub(21, 32))
end

local function copy(t)
  if type(t) ~= "table" then return t end
  local out = {}
  for k, v in pairs(t) do out[k] = copy(v) end
  local mt = getmetatable(t)
  if mt then setmetatable(out, mt) end
  return out
end

local Builder = {}
Builder.__index = Builder

function M.builder(o)
  if type(o) ~= "table" then error("bad argument #1 to 'builder' (table expected)", 2) end
  for _, k in ipairs({ "message_config", "collection_config" }) do
    if type(o[k]) ~= "table" then error(("builder: %s must be a table"):format(k), 2) end
  end
  if type(o.cumulus) ~= "string" then error("builder: cumulus must be a string", 2) end
  local env = o.message_config[o.cumulus]
  if type(env) ~= "table" then
    return nil, ("message config has no environment '%s'"):format(o.cumulus), "invalid_input"
  end
  local internal = type(env.buckets) == "table" and type(env.buckets.internal) == "table"
    and env.buckets.internal.name
  if type(internal) ~= "string" then
    return nil, ("message config '%s' has no buckets.internal.name"):format(o.cumulus), "invalid_input"
  end
  local cc = copy(o.collection_config)
  local meta = copy(env)
  cc.dataType = o.collection
  local files = type(cc.files) == "table" and cc.files or json.array()
  files[#files + 1] = { bucket = "ia_public", regex = "^.*\\.png$", type = "metadata" }
  cc.files = files
  meta.collection = cc
  local prefix = '{"cumulus_meta":' .. json.encode({ system_bucket = internal })
    .. ',"meta":' .. json.encode(meta) .. ',"payload":'
  local self = setmetatable({
    prefix = prefix,
    data_type = o.collection_config.name,
    cli = {
      uuid = o.uuid or M.uuid4(),
      collection_short_name = o.collection,
      collection_version = o.collection_config.version or json.null,
      provider = o.provider or json.null,
      cmr_search_start = o.start_date or json.null,
      cmr_search_end = o.end_date or json.null,
      username = o.user or json.null,
    },
  }, Builder)
  return self
end

local FLAGS = {
  footprint = '"forge":true,"tig":false,"dmrpp":false',
  image = '"forge":false,"tig":true,"dmrpp":false',
  dmrpp = '"forge":false,"tig":false,"dmrpp":true',
}

function Builder:build(g, need, s3, opts)
  opts = opts or {}
  local flags = FLAGS[need]
  if not flags then error("build: need must be footprint, image or dmrpp", 2) end
  if type(s3) ~= "table" then error("build: s3 info required", 2) end
  local meta = type(g) == "table" and g.meta or {}
  local payload = { granules = { {
    cmrConceptId = meta["concept-id"] or json.null,
    granuleId = meta["native-id"] or json.null,
    dataType = self.data_type or json.null,
    files = { { bucket = s3.bucket, key = s3.key, fileName = s3.filename, type = "data",
      size = opts.size or 0 } },
  } } }
  local skip = true
  if need == "dmrpp" then skip = opts.skip_opendap and true or false end
  local cli = self.cli
  cli.granule_start = opts.granule_start or json.null
  cli.granule_end = opts.granule_end or json.null
  local out = self.prefix .. json.encode(payload) .. "," .. flags
    .. ',"skip_cmr_opendap_update":' .. tostring(skip)
    .. ',"cli_params":' .. json.encode(cli) .. "}"
  return out
end

function M.find_collection_config(dir, cumulus, collection)
  local fs = require("gf.fs")
  local sub
  for _, name in ipairs({ "sit", "uat", "ops" }) do
    if type(cumulus) == "string" and cumulus:find(name, 1, true) then sub = name break end
  end
  if sub then
    for _, rel in ipairs(fs.walk(dir) or {}) do
      local parts = {}
      for p in rel:gmatch("[^/]+") do parts[#parts + 1] = p end
      if parts[#parts] == collection .. ".json" then
        for i = 1, #parts - 1 do
          if parts[i] == sub then return dir .. "/" .. rel end
        end
      end
    end
  end
  return nil, ("Could not find collection config for %s (%s) under %s"):format(
    tostring(collection), tostring(cumulus), tostring(dir)), "not_found"
end

return M
