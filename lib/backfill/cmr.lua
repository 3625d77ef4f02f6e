--- backfill.cmr: CMR granule search for the backfill (granules.umm_json, CMR-Search-After paging).
--
-- base_url(env_or_url) -> url | nil, "Improper environment specified: <x>", "invalid_input"
--   ops | uat | sit, or any http(s) URL (used as given, trailing / removed).
-- search_url{base =, provider =, page_size =, sort_order = "ascending"|"descending",
--   collection =, start_date =, end_date =, cycles = {n...}} -> url (every value URL-encoded)
-- parse_cycles(text) -> {n...} | nil, message, "invalid_input"   "[1, 2]", "(1,2)", "3"
-- headers{edl_token =, launchpad_token =} -> headers   Authorization: Bearer <edl> or the raw
--   launchpad token (register tokens with gf.log.secret so logs mask them)
-- fetch(url, {search_after =, headers =, http =}) -> page | nil, message, code
--   page = {items =, hits =, search_after = header value or nil}. A status >= 400 or a body
--   without hits/items is a failure with code "service" (body cut to 500 bytes).
-- pages{url =, page_limit =, search_after =, headers =, prefetch = 2} -> iterator, stop
--   `for page, err in cmr.pages(o) do ... end`; stop() ends the fetching early: pages are fetched by a task ahead of the
--   consumer (bounded by prefetch); after a failure the iterator yields nil, message once and
--   stops. Ends when the page limit is reached or a page carries no search-after header (or
--   comes back empty).
-- lookup(base, item, {provider =, collection =, headers =}) -> item | nil, message, code
--   one --granule-list-file line: "G<digits>-<PROVIDER>" is a concept id (any digit count),
--   anything else a GranuleUR (readable_granule_name).
local http = require("gf.http")
local json = require("gf.json")

local M = {}

local ENVS = {
  ops = "https://cmr.earthdata.nasa.gov",
  uat = "https://cmr.uat.earthdata.nasa.gov",
  sit = "https://cmr.sit.earthdata.nasa.gov",
}

function M.base_url(env)
  if type(env) == "string" then
    if ENVS[env] then return ENVS[env] end
    if env:match("^https?://") then return (env:gsub("/+$", "")) end
  end
  return nil, ("Improper environment specified: %s"):format(tostring(env)), "invalid_input"
end

local enc = http.url_encode

function M.search_url(o)
  local q = {
    "provider=" .. enc(tostring(o.provider)),
    "page_size=" .. enc(tostring(o.page_size or 2000)),
    enc("sort_key[]") .. "=" .. enc(o.sort_order == "descending" and "-start_date" or "start_date"),
    "short_name=" .. enc(tostring(o.collection)),
  }
  if o.start_date or o.end_date then
    q[#q + 1] = "temporal=" .. enc((o.start_date or "") .. "," .. (o.end_date or ""))
  end
  for _, c in ipairs(o.cycles or {}) do q[#q + 1] = enc("cycle[]") .. "=" .. enc(tostring(c)) end
  return o.base .. "/search/granules.umm_json?" .. table.concat(q, "&")
end

function M.parse_cycles(text)
  local bad = function()
    return nil, ("Invalid --cycles '%s': give a number or a list such as [1,2]"):format(tostring(text)),
      "invalid_input"
  end
  if type(text) ~= "string" then return bad() end
  local s = text:match("^%s*(.-)%s*$")
  local inner = s:match("^%[(.*)%]$") or s:match("^%((.*)%)$")
  local out = {}
  if inner then
    if inner:match("^%s*$") then return out end
    inner = inner:gsub(",%s*$", "")
    for item in (inner .. ","):gmatch("([^,]*),") do
      local n = item:match("^%s*(%d+)%s*$")
      if not n then return bad() end
      out[#out + 1] = tonumber(n)
    end
    return out
  end
  local n = s:match("^(%d+)$")
  if not n then return bad() end
  return { tonumber(n) }
end

function M.headers(o)
  local h = { Accept = "application/json" }
  if o.edl_token then
    h.Authorization = "Bearer " .. o.edl_token
  elseif o.launchpad_token then
    h.Authorization = o.launchpad_token
  end
  return h
end

local function copy_headers(h, extra)
  local out = {}
  for k, v in pairs(h or {}) do out[k] = v end
  for k, v in pairs(extra or {}) do out[k] = v end
  return out
end

function M.fetch(url, o)
  o = o or {}
  local hdr = copy_headers(o.headers, o.search_after and { ["CMR-Search-After"] = o.search_after } or nil)
  local res, msg, code = (o.http or http).get(url, { headers = hdr, timeout = o.timeout or 300 })
  if not res then return nil, msg, code end
  local body = res.body or ""
  local doc = res.status < 400 and json.decode(body) or nil
  if res.status >= 400 or type(doc) ~= "table" or doc.items == nil or doc.hits == nil then
    return nil, ("CMR problem: %s status %d (search-after %s): %s"):format(http.redact_url(url),
      res.status, tostring(o.search_after), body:sub(1, 500)), "service"
  end
  return { items = doc.items, hits = doc.hits, search_after = res.headers["cmr-search-after"] }
end

function M.pages(o)
  local task = require("gf.task")
  local ch = task.channel(o.prefetch or 2)
  local producer = task.spawn(function()
    local sa, n = o.search_after, 0
    while true do
      if o.page_limit and n >= o.page_limit then break end
      local page, msg = M.fetch(o.url, { search_after = sa, headers = o.headers, http = o.http })
      if not page then
        ch:send({ err = msg })
        break
      end
      n = n + 1
      ch:send({ page = page })
      sa = page.search_after
      if not sa or #page.items == 0 then break end
    end
    ch:close()
  end)
  local done = false
  local function stop()
    if not done then
      done = true
      task.cancel(producer)
      task.wait(producer) -- observe its "interrupted" so it is not reported as a failure
    end
  end
  return function()
    if done then return nil end
    local v = ch:recv()
    if v == nil or v.err then
      done = true
      task.wait(producer)
      if v then return nil, v.err end
      return nil
    end
    return v.page
  end, stop
end

function M.lookup(base, item, o)
  local url
  if item:match("^G%d+%-[%w_]+$") then
    url = base .. "/search/granules.umm_json?concept_id=" .. enc(item)
  else
    url = base .. "/search/granules.umm_json?provider=" .. enc(tostring(o.provider)) .. "&short_name="
      .. enc(tostring(o.collection)) .. "&readable_granule_name=" .. enc(item)
  end
  local page, msg, code = M.fetch(url, { headers = o.headers, http = o.http })
  if not page then return nil, msg, code end
  if not page.items[1] then return nil, ("granule %s not found in CMR"):format(item), "not_found" end
  return page.items[1]
end

return M
