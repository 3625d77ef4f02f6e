--- The listener's environment (source-systems §3.4), with the original's three bugs fixed.
local M = {}

local function get(env, name)
  local v = env(name)
  if v == nil then return nil end
  v = v:match("^%s*(.-)%s*$")
  if v == "" then return nil end
  return v
end

local function first(env, ...)
  for i = 1, select("#", ...) do
    local v = get(env, (select(i, ...)))
    if v then return v, (select(i, ...)) end
  end
end

--- broker(env) -> url, user or nil, msg. CLOUDAMQP_URL wins; else
-- amqps://{AMPQ_USERNAME|anonymous}:{AMPQ_PASSWORD|anonymous}@{AMPQ_DOMAIN} (the original's URL
-- ends in "/", pika's default vhost; rabbitmq-c's URI has no path for it) (AMQP_* spellings
-- accepted too; AMPQ_* first, as the original's deployment sets them). AMQP_PORT/AMPQ_PORT and
-- AMQP_SCHEME (amqp for a plain local broker) are gfhost additions.
function M.broker(env)
  env = env or os.getenv
  local user = first(env, "AMPQ_USERNAME", "AMQP_USERNAME") or "anonymous"
  local url = get(env, "CLOUDAMQP_URL")
  if url then
    -- pika reads a bare trailing "/" as the default vhost "/"; rabbitmq-c's URI rules read it
    -- as the vhost "" (refused): drop it so that the original's URLs keep working
    url = url:gsub("^(amqps?://[^/?#]+)/([?#].*)$", "%1%2"):gsub("^(amqps?://[^/?#]+)/$", "%1")
    local u = url:match("^amqps?://([^:@/]+)@") or url:match("^amqps?://([^:@/]+):[^@/]*@")
    return url, u or "guest"
  end
  local domain = first(env, "AMPQ_DOMAIN", "AMQP_DOMAIN")
  if not domain then
    return nil, "the broker is not configured: set CLOUDAMQP_URL or AMPQ_DOMAIN (or AMQP_DOMAIN)"
  end
  local pass = first(env, "AMPQ_PASSWORD", "AMQP_PASSWORD") or "anonymous"
  local scheme = first(env, "AMPQ_SCHEME", "AMQP_SCHEME") or "amqps"
  local port = first(env, "AMPQ_PORT", "AMQP_PORT")
  local http = require("gf.http")
  return ("%s://%s:%s@%s%s"):format(scheme, http.url_encode(user), http.url_encode(pass), domain,
    port and (":" .. port) or ""), user
end

local function truthy(v)
  return v ~= nil and ({ ["1"] = true, ["true"] = true, yes = true, on = true, ["True"] = true, TRUE = true })[v] == true
end
M.truthy = truthy

--- queue_name(user, env) -> q_{user}.bcgov_listener.cmc_gems.bcgov_rfc-{ZONE}[-debug]
function M.queue_name(user, env)
  env = env or os.getenv
  local zone = get(env, "ZONE") or "DEV"
  local name = ("q_%s.bcgov_listener.cmc_gems.bcgov_rfc-%s"):format(user, zone)
  if truthy(get(env, "DEBUG")) then name = name .. "-debug" end
  return name
end

--- github(env) -> {org, repo, token} or nil, missing_name. The original's required-variable
-- check was dead code (os.getenv(x).strip() raised first); here a missing one is named.
function M.github(env)
  env = env or os.getenv
  local out = {}
  for _, n in ipairs({ "GH_ORG", "GH_REPO", "GH_TOKEN" }) do
    local v = get(env, n)
    if not v then return nil, n end
    out[n:sub(4):lower()] = v
  end
  return out
end

--- days_to_stale(env) -> integer or nil, msg (the original passed the string to timedelta)
function M.days_to_stale(env)
  env = env or os.getenv
  local v = get(env, "DAYS_TO_STALE")
  if not v then return 3 end
  local n = tonumber(v)
  if not n or math.type(n) ~= "integer" and n ~= math.floor(n) or n < 0 then
    return nil, ("DAYS_TO_STALE: expected a whole number of days, got '%s'"):format(v)
  end
  return math.tointeger(n)
end

return M
