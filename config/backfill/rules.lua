--- Backfill rules: which work a granule needs (operator policy: edit freely, or pass another
--- file with --rules). The facts about a granule come from lib/backfill/granule.lua
--- (require "backfill.granule"); this file only decides.
--
-- The backfill script loads this file with require("backfill.rules"). decide(g, o, ctx) receives
-- the UMM-G search item `g` and the run's settings `o`:
--   o.footprint, o.image, o.dmrpp   "off" | "on" | "force"
--   o.geometries                    geometry keys that count as a footprint
--   o.use_data_url                  derive the S3 bucket/key from the https GET DATA URL
--   o.dmrpp_min_version             {X, Y, Z, B}
-- ctx.read_dmrpp(bucket, key) -> text | nil, msg, code reads s3://bucket/key (the script supplies
-- it; specs pass a fake).
-- decide returns {needs = {"footprint"|"image"|"dmrpp", ...}, errors = {{need =, message =}},
--   footprint_and_bbox = bool, s3 = {bucket, key, filename} | nil,
--   skip_opendap = {dmrpp = bool}}.
-- Unlike the original tool, a granule that fails one need is still checked for the others.
local G = require("backfill.granule")
local R = {}

local function needs(mode, has)
  return mode == "force" or (mode == "on" and not has)
end

function R.decide(g, o, ctx)
  local out = { needs = {}, errors = {}, skip_opendap = {} }
  out.footprint_and_bbox = G.has_footprint_and_bbox(g, o)
  local s3 = G.s3_info(g, o)
  out.s3 = s3
  local function need(what)
    if s3 then
      out.needs[#out.needs + 1] = what
    else
      out.errors[#out.errors + 1] = { need = what,
        message = ("Could not process %s for granule %s because of missing S3 bucket info"):format(
          what, tostring(g.meta and g.meta["native-id"])) }
    end
  end
  if needs(o.footprint, G.has_footprint(g, o)) then need("footprint") end
  if needs(o.image, G.has_image(g)) then need("image") end
  if o.dmrpp == "force" then
    need("dmrpp")
    out.skip_opendap.dmrpp = G.opendap_url(g) ~= nil
  elseif o.dmrpp == "on" then
    if not G.opendap_url(g) then
      need("dmrpp")
      out.skip_opendap.dmrpp = false
    elseif s3 then
      local text, msg = ctx.read_dmrpp(s3.bucket, s3.key .. ".dmrpp")
      if text == nil then
        out.errors[#out.errors + 1] = { need = "dmrpp", message = msg }
      else
        local state = G.dmrpp_state(text, o.dmrpp_min_version)
        out.dmrpp_state = state
        if state == "older" or state == "missing" then
          need("dmrpp")
          out.skip_opendap.dmrpp = true
        end
      end
    else
      need("dmrpp") -- records the missing-S3 error
    end
  end
  return out
end

return R
