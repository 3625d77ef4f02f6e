--- datamart_gaps: per model and forecast hour, the expected GRIB files of a day vs what the listener recorded vs what the object store holds.
--
--   gfhost run datamart_gaps --date 20240105 [--profile current] [--db sqlite:////data/event_database.db]
--                            [--store-prefix cmc/gribs/{datestr}/] [--all] [--format text|json]
--
-- Expected: the profile's files (config/datamart/profiles.lua). Recorded: rows of the
-- listener's message_events for that day (DB_FILE_PATH or --db); a day the listener already
-- dispatched (its rows cleared) counts as fully recorded. Stored: basenames under
-- --store-prefix in OBJ_STORE_BUCKET on OBJ_STORE_HOST (skipped, with a note, when the
-- OBJ_STORE_* variables are not set). Text output lists the rows with a gap (--all: every row)
-- and totals; exit 0 when nothing is missing, 1 when something is, 2 for bad options.
local args = require("gf.args")
local host = require("gf.host")
local log = require("gf.log")
local sqlite = require("gf.sqlite")
local tz = require("datamart.tz")
local expected = require("datamart.expected")
local store_mod = require("datamart.store")
local gaps = require("datamart.gaps")
local templates = require("datamart.templates")

local opts = args.parse({
  name = "datamart_gaps", version = "1.0.0", env_prefix = "GF_DATAMART_GAPS",
  description = "Expected files of a day vs the listener's records vs the object store, per model and forecast hour.",
  options = {
    { name = "date", type = "string", required = true, help = "the day, YYYYMMDD" },
    { name = "profile", type = "string", env = "DATAMART_PROFILE", help = "profile of config/datamart/profiles.lua (default: its default)" },
    { name = "profiles", type = "file", help = "profiles file (default config/datamart/profiles.lua)" },
    { name = "db", type = "string", env = "DB_FILE_PATH", default = "sqlite:///event_cache.db", help = "the listener's SQLite (sqlite:/// URL or path)" },
    { name = "store-prefix", type = "string", default = "cmc/gribs/{datestr}/", help = "where grib_copy puts the day's GRIB files" },
    { name = "all", type = "boolean", help = "print every row, not only the gaps" },
    { name = "format", type = "choice", choices = { "text", "json" }, default = "text" },
  },
}, ...)

if not tz.valid_date(opts.date) then host.fail(("--date: expected YYYYMMDD, got '%s'"):format(opts.date), 2) end
local cfg, err = expected.load(opts.profiles)
if not cfg then host.fail(err, 2) end
local profile, perr = expected.profile(cfg, opts.profile)
if not profile then host.fail("--profile: " .. perr, 2) end
local files = expected.files(profile, opts.date)

-- recorded
local db_path, derr = store_mod.db_path(opts.db)
if not db_path then host.fail(derr, 2) end
local recorded_set, dispatched, db_note = {}, false, nil
local f = io.open(db_path, "r")
if f then
  f:close()
  local db, oerr = sqlite.open(db_path, { readonly = true, wal = false })
  if not db then host.fail(oerr, 1) end
  local rows = db:query("SELECT event_message FROM message_events WHERE event_idempotency_key = ?", opts.date)
  if not rows then host.fail(("%s: no message_events table"):format(db_path), 1) end
  for _, r in ipairs(rows) do recorded_set[r.event_message] = true end
  local d = db:first("SELECT 1 AS x FROM sqlite_master WHERE name = 'gf_dispatched_days'")
  if d and db:first("SELECT 1 AS x FROM gf_dispatched_days WHERE event_idempotency_key = ?", opts.date) then
    dispatched = true
  end
  db:close()
else
  db_note = ("no listener database at %s: nothing recorded"):format(db_path)
end
local function recorded(relpath) return dispatched or recorded_set[relpath] == true end

-- stored
local stored, store_note
local need = { "OBJ_STORE_BUCKET", "OBJ_STORE_USER", "OBJ_STORE_SECRET", "OBJ_STORE_HOST" }
local missing_var
for _, n in ipairs(need) do if (os.getenv(n) or "") == "" then missing_var = missing_var or n end end
if missing_var then
  store_note = ("object store not checked: %s is not set"):format(missing_var)
else
  log.secret(os.getenv("OBJ_STORE_SECRET"))
  local hostv = os.getenv("OBJ_STORE_HOST")
  if not hostv:match("^https?://") then hostv = "https://" .. hostv end
  local client = require("gf.s3").client({ endpoint = hostv, region = os.getenv("OBJ_STORE_REGION") or "us-east-1",
    credentials = { access_key = os.getenv("OBJ_STORE_USER"), secret_key = os.getenv("OBJ_STORE_SECRET") } })
  local prefix = templates.render(opts.store_prefix, { datestr = opts.date }, "--store-prefix")
  local objs, lerr = client:list("s3://" .. os.getenv("OBJ_STORE_BUCKET") .. "/" .. prefix)
  if not objs then host.fail("object store: " .. tostring(lerr), 1) end
  local names = {}
  for _, o in ipairs(objs) do names[o.key:match("[^/]*$")] = true end
  stored = function(file) return names[file] == true end
end

local notes = {}
if db_note then notes[#notes + 1] = db_note end
if store_note then notes[#notes + 1] = store_note end

local rows, totals = gaps.compare(files, recorded, stored)
local any_gap = false
for _, r in ipairs(rows) do if gaps.gap(r) then any_gap = true end end

if opts.format == "json" then
  local json = require("gf.json")
  local out = { date = opts.date, profile = opts.profile or cfg.default, dispatched = dispatched, totals = totals,
    rows = rows, notes = notes }
  for _, r in ipairs(rows) do
    r.not_recorded = json.array(r.not_recorded)
    r.not_stored = json.array(r.not_stored)
  end
  out.rows = json.array(rows)
  out.notes = json.array(out.notes)
  io.stdout:write(json.encode(out, { sort_keys = true }), "\n")
else
  local w = io.stdout
  w:write(("%-14s %4s %9s %9s %7s  %s\n"):format("model", "hour", "expected", "recorded", "stored", "missing"))
  for _, r in ipairs(rows) do
    if opts.all or gaps.gap(r) then
      local miss = {}
      for _, x in ipairs(r.not_recorded) do miss[#miss + 1] = "unrecorded " .. x end
      for _, x in ipairs(r.not_stored) do miss[#miss + 1] = "unstored " .. x end
      w:write(("%-14s %4s %9d %9d %7s  %s\n"):format(r.model, r.hour, r.expected, r.recorded,
        r.stored and tostring(r.stored) or "-", table.concat(miss, ", ")))
    end
  end
  w:write(("%s (%s): expected %d, recorded %d%s, stored %s\n"):format(opts.date, opts.profile or cfg.default,
    totals.expected, totals.recorded, dispatched and " (day dispatched)" or "",
    totals.stored and tostring(totals.stored) or "-"))
  for _, n in ipairs(notes) do io.stderr:write(n, "\n") end
end
if any_gap then host.fail(("datamart_gaps: %s has gaps"):format(opts.date), 1) end
return 0
