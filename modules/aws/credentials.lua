--- gf.aws.credentials: where AWS credentials, the region and service endpoints come from.
--
-- resolve(opts) -> credentials | nil, message, "auth"
--   credentials = {access_key =, secret_key =, session_token =, expiration = <epoch s> | nil,
--                  source = "explicit" | "files" | "env" | "profile" | "process" | "assume-role"
--                  | "container" | "instance"}
--   Tried in the AWS CLI's order; the first source that has credentials wins:
--     1. explicit opts.access_key + opts.secret_key (+ opts.session_token)
--     2. key files (the CHTC style): opts.access_key_file + opts.secret_key_file, read, trimmed
--     3. env AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN); skipped when
--        opts.profile names a profile explicitly (as `aws --profile` does)
--     4. the profile opts.profile or AWS_PROFILE, else "default", from
--        AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials, [name]) and AWS_CONFIG_FILE
--        (~/.aws/config, [profile name]): role_arn + source_profile | credential_source
--        (STS AssumeRole, query protocol, signed with the source's credentials), static keys,
--        or credential_process (its JSON: Version 1, AccessKeyId, SecretAccessKey,
--        SessionToken, Expiration). A profile named explicitly that does not exist is an error.
--     5. ECS/EKS container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (on
--        169.254.170.2) or _FULL_URI (https, or http to a loopback/ECS/EKS address), with
--        AWS_CONTAINER_AUTHORIZATION_TOKEN or _TOKEN_FILE as the Authorization header
--     6. EC2 instance metadata, IMDSv2 (PUT a token, GET the role, GET its credentials; 1 s
--        timeouts; AWS_EC2_METADATA_DISABLED=true skips it, AWS_EC2_METADATA_SERVICE_ENDPOINT
--        moves it)
--   Nothing found: nil, "aws credentials: none found (tried: explicit, env, profile 'x',
--   container, instance)", "auth". Messages never contain a key, secret or token.
--   Test seams (all optional): opts.getenv = fn(name) or opts.env = {name = value} (default
--   os.getenv), opts.http = fn{method, url, headers, body, timeout, connect_timeout} ->
--   {status, headers, body} | nil, msg, code (default require("gf.http").request),
--   opts.run = fn(command) -> stdout, ok (default gf.proc.run), opts.now = fn() -> epoch s
--   (default os.time), opts.home (default $HOME).
--
-- provider(opts) -> p          p:get() -> credentials | nil, message, code
--   Caches what resolve() returns; expiring credentials are resolved again 5 minutes before
--   their expiration (clock: opts.now). A failed refresh keeps returning the cached
--   credentials until they actually expire. p:invalidate() forgets them.
--
-- region(opts) -> region
--   opts.region -> AWS_REGION -> AWS_DEFAULT_REGION -> the profile's region -> "us-east-1".
--
-- endpoint(service, opts) -> url, path_style
--   opts.endpoint -> AWS_ENDPOINT_URL_<SERVICE> (service id in upper snake case: S3, SQS, SNS,
--   DYNAMODB, SFN, STS, CLOUDWATCH_LOGS, ...) -> AWS_ENDPOINT_URL -> the profile's services
--   section, then its endpoint_url -> the AWS default https://<prefix>.<region>.amazonaws.com
--   (S3: https://s3.<region>.amazonaws.com). AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true skips env
--   and config. path_style is true for every configured (custom) endpoint. Trailing '/' removed.
--
-- profile(opts) -> table of the merged profile settings (config, then credentials file)
local M = {}

local REFRESH_EARLY = 300 -- seconds before expiration that credentials count as stale

-- {====== small helpers ======

local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end

local function getenv_of(opts)
  if opts.getenv then return opts.getenv end
  if opts.env then
    local env = opts.env
    return function(k) return env[k] end
  end
  return os.getenv
end

local function nonempty(s)
  if s ~= nil and s ~= "" then return s end
  return nil
end

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("a")
  f:close()
  return s
end

-- Epoch seconds of an ISO 8601 UTC time (2024-01-02T03:04:05Z, fractions and offsets allowed).
local function parse_time(s)
  if type(s) == "number" then return s end
  if type(s) ~= "string" then return nil end
  local y, m, d, H, Mi, S, rest = s:match("^(%d%d%d%d)-(%d%d)-(%d%d)[T ](%d%d):(%d%d):(%d%d)(.*)$")
  if not y then return nil end
  y, m, d = tonumber(y), tonumber(m), tonumber(d)
  rest = rest:gsub("^%.%d+", "")
  local offset = 0
  if rest ~= "Z" and rest ~= "" then
    local sign, oh, om = rest:match("^([+-])(%d%d):?(%d%d)$")
    if not sign then return nil end
    offset = (tonumber(oh) * 3600 + tonumber(om) * 60) * (sign == "+" and 1 or -1)
  end
  if m <= 2 then y = y - 1 end
  local era = y // 400
  local yoe = y - era * 400
  local doy = (153 * ((m + 9) % 12) + 2) // 5 + d - 1
  local days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
  return days * 86400 + tonumber(H) * 3600 + tonumber(Mi) * 60 + tonumber(S) - offset
end
M._parse_time = parse_time

-- The credential documents (container endpoint, IMDS, credential_process): a JSON object or nil.
local function json_decode(s)
  local ok, v = pcall(require("gf.json").decode, s)
  if not ok or type(v) ~= "table" then return nil end
  return v
end
M._json_decode = json_decode

local function xml_field(body, name)
  local v = body:match("<" .. name .. ">(.-)</" .. name .. ">")
  return v and require("gf.xml").unescape(trim(v)) or nil
end

-- }======

-- {====== config files ======

-- INI as the AWS CLI reads it: [section], key = value, '#'/';' comments, and indented
-- "sub = value" lines under a key with an empty value (nested settings such as s3 = ...).
local function parse_ini(text)
  local sections, cur, parent = {}, nil, nil
  for line in (text .. "\n"):gmatch("(.-)\r?\n") do
    local indented = line:match("^%s") ~= nil
    local l = trim(line)
    if l == "" or l:match("^[#;]") then
      -- skip
    elseif l:match("^%[.*%]$") then
      local name = trim(l:sub(2, -2))
      sections[name] = sections[name] or {}
      cur, parent = sections[name], nil
    elseif cur then
      local k, v = l:match("^([^=]-)%s*=%s*(.*)$")
      if k then
        k = trim(k)
        v = trim(v:gsub("%s+[#;].*$", ""))
        if indented and parent then
          cur[parent][k] = v
        elseif v == "" then
          cur[k] = {}
          parent = k
        else
          cur[k] = v
          parent = nil
        end
      end
    end
  end
  return sections
end
M._parse_ini = parse_ini

local function home_of(opts, getenv)
  return opts.home or getenv("HOME") or "~"
end

local function config_paths(opts, getenv)
  local home = home_of(opts, getenv)
  return nonempty(getenv("AWS_SHARED_CREDENTIALS_FILE")) or (home .. "/.aws/credentials"),
    nonempty(getenv("AWS_CONFIG_FILE")) or (home .. "/.aws/config")
end

local function load_files(opts, getenv)
  local cpath, fpath = config_paths(opts, getenv)
  local creds = read_file(cpath)
  local conf = read_file(fpath)
  return creds and parse_ini(creds) or {}, conf and parse_ini(conf) or {}, cpath, fpath
end

-- The merged settings of one profile (config file first, the credentials file overrides).
local function profile_section(creds, conf, name)
  local c = creds[name]
  local f = conf["profile " .. name] or (name == "default" and conf.default) or nil
  if not c and not f then return nil end
  local out = {}
  for k, v in pairs(f or {}) do out[k] = v end
  for k, v in pairs(c or {}) do out[k] = v end
  return out
end

local function profile_name(opts, getenv)
  return opts.profile or nonempty(getenv("AWS_PROFILE")) or "default"
end

function M.profile(opts)
  opts = opts or {}
  local getenv = getenv_of(opts)
  local creds, conf = load_files(opts, getenv)
  return profile_section(creds, conf, profile_name(opts, getenv))
end

-- }======

-- {====== providers ======
-- Each returns credentials, or nil and nothing (not configured), or nil, message, code.

local function fail(msg, code) return nil, "aws credentials: " .. msg, code or "auth" end

local function make(ak, sk, token, expiration, source)
  return { access_key = ak, secret_key = sk, session_token = nonempty(token),
           expiration = expiration, source = source }
end

local function http_of(opts)
  if opts.http then return opts.http end
  return require("gf.http").request
end

-- The credential JSON of the container endpoint, IMDS and credential_process.
local function from_json_doc(doc, source)
  if type(doc) ~= "table" or type(doc.AccessKeyId) ~= "string" or
      type(doc.SecretAccessKey) ~= "string" then
    return nil
  end
  local exp
  if doc.Expiration then
    exp = parse_time(doc.Expiration)
    if not exp then return nil end
  end
  return make(doc.AccessKeyId, doc.SecretAccessKey, doc.Token or doc.SessionToken, exp, source)
end

local function from_explicit(opts)
  if opts.access_key == nil and opts.secret_key == nil then return nil end
  if type(opts.access_key) ~= "string" or type(opts.secret_key) ~= "string" then
    error("gf.aws.credentials: access_key and secret_key must both be strings", 4)
  end
  return make(opts.access_key, opts.secret_key, opts.session_token, nil, "explicit")
end

local function from_key_files(opts)
  if not opts.access_key_file and not opts.secret_key_file then return nil end
  if not opts.access_key_file or not opts.secret_key_file then
    error("gf.aws.credentials: access_key_file and secret_key_file go together", 4)
  end
  local ak, e1 = read_file(opts.access_key_file)
  if not ak then return fail("cannot read access_key_file: " .. tostring(e1), "io") end
  local sk, e2 = read_file(opts.secret_key_file)
  if not sk then return fail("cannot read secret_key_file: " .. tostring(e2), "io") end
  ak, sk = trim(ak), trim(sk)
  if ak == "" or sk == "" then return fail("empty key file", "auth") end
  return make(ak, sk, nil, nil, "files")
end

local function from_env(getenv)
  local ak, sk = nonempty(getenv("AWS_ACCESS_KEY_ID")), nonempty(getenv("AWS_SECRET_ACCESS_KEY"))
  if not ak or not sk then return nil end
  local exp = nonempty(getenv("AWS_CREDENTIAL_EXPIRATION"))
  return make(ak, sk, getenv("AWS_SESSION_TOKEN"), exp and parse_time(exp), "env")
end

-- credential_process: run by the shell as the AWS CLI does, its output read through the loop.
local function run_command(cmd)
  local r, err = require("gf.proc").run(cmd, { timeout = 60 })
  if not r then return nil, false, err end
  return r.stdout, r.code == 0, r.code
end

local function from_process(cmd, name, opts)
  local run = opts.run or run_command
  local out, ok, status = run(cmd)
  if not ok then
    return fail(("credential_process of profile '%s' failed (exit %s)"):format(name,
      tostring(status or "?")))
  end
  local doc = json_decode(out or "")
  if not doc then
    return fail(("credential_process of profile '%s' printed no JSON object"):format(name), "parse")
  end
  if doc.Version ~= 1 then
    return fail(("credential_process of profile '%s': unsupported Version %s"):format(name,
      tostring(doc.Version)), "parse")
  end
  local c = from_json_doc(doc, "process")
  if not c then
    return fail(("credential_process of profile '%s': AccessKeyId/SecretAccessKey missing or bad "
      .. "Expiration"):format(name), "parse")
  end
  return c
end

local function from_container(getenv, opts)
  local rel, full = nonempty(getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")),
    nonempty(getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI"))
  if not rel and not full then return nil end
  local url = rel and ("http://169.254.170.2" .. rel) or full
  if not rel then
    local scheme, host = url:match("^(%a+)://%[?([^/%]]+)")
    local ok_host = host and (host:match("^127%.") or host == "localhost" or host == "::1" or
      host == "169.254.170.2" or host == "169.254.170.23" or host:lower() == "fd00:ec2::23")
    if not scheme or (scheme ~= "https" and not (scheme == "http" and ok_host)) then
      return fail("AWS_CONTAINER_CREDENTIALS_FULL_URI must be https or a loopback/ECS/EKS address",
        "invalid_input")
    end
  end
  local headers = {}
  local token = nonempty(getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN"))
  local tfile = nonempty(getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"))
  if tfile then
    local t, err = read_file(tfile)
    if not t then return fail("cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: " .. tostring(err), "io") end
    token = trim(t)
  end
  if token then headers.Authorization = token end
  local res, msg, code = http_of(opts)({ method = "GET", url = url, headers = headers,
    timeout = opts.timeout or 2, connect_timeout = opts.timeout or 2, retry = false })
  if not res then return fail("container endpoint: " .. tostring(msg), code or "network") end
  if res.status ~= 200 then return fail("container endpoint: HTTP " .. tostring(res.status)) end
  local c = from_json_doc(json_decode(res.body or ""), "container")
  if not c then return fail("container endpoint: no credentials in the response", "parse") end
  return c
end

local function from_instance(getenv, opts)
  if (getenv("AWS_EC2_METADATA_DISABLED") or ""):lower() == "true" then return nil end
  local base = (nonempty(getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT")) or "http://169.254.169.254")
    :gsub("/+$", "")
  local http = http_of(opts)
  local t = opts.timeout or 1
  local res, msg = http({ method = "PUT", url = base .. "/latest/api/token",
    headers = { ["X-aws-ec2-metadata-token-ttl-seconds"] = "21600" }, body = "",
    timeout = t, connect_timeout = t, retry = false })
  if not res then return nil, "instance metadata: " .. tostring(msg) end
  if res.status ~= 200 or not nonempty(res.body) then
    return nil, "instance metadata: token HTTP " .. tostring(res.status)
  end
  local h = { ["X-aws-ec2-metadata-token"] = trim(res.body) }
  local path = base .. "/latest/meta-data/iam/security-credentials/"
  res, msg = http({ method = "GET", url = path, headers = h, timeout = t, connect_timeout = t,
    retry = false })
  if not res then return nil, "instance metadata: " .. tostring(msg) end
  local role = res.status == 200 and (res.body or ""):match("^%s*([^\r\n]+)")
  if not role then return nil, "instance metadata: no instance profile" end
  res, msg = http({ method = "GET", url = path .. trim(role), headers = h, timeout = t,
    connect_timeout = t, retry = false })
  if not res then return nil, "instance metadata: " .. tostring(msg) end
  local doc = res.status == 200 and json_decode(res.body or "")
  if not doc or (doc.Code and doc.Code ~= "Success") then
    return fail("instance metadata: role credentials unavailable (HTTP " .. tostring(res.status) .. ")")
  end
  local c = from_json_doc(doc, "instance")
  if not c then return fail("instance metadata: malformed credentials", "parse") end
  return c
end

local function form_encode(params)
  return require("gf.http").query(params)
end

local function assume_role(source, prof, name, opts, getenv)
  local aws = require("gf.aws")
  local now = (opts.now or os.time)()
  local region = nonempty(prof.region) or M.region({ getenv = getenv, profile = opts.profile,
    region = opts.region, home = opts.home })
  local url = M.endpoint("sts", { getenv = getenv, profile = opts.profile, region = region,
    home = opts.home })
  local params = { Action = "AssumeRole", Version = "2011-06-15", RoleArn = prof.role_arn,
    RoleSessionName = nonempty(prof.role_session_name) or ("gfhost-" .. now) }
  if nonempty(prof.external_id) then params.ExternalId = prof.external_id end
  if nonempty(prof.duration_seconds) then params.DurationSeconds = prof.duration_seconds end
  local body = form_encode(params)
  local headers = { ["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8" }
  local add = aws.sign({ method = "POST", url = url .. "/", headers = headers, body = body },
    source, { region = region, service = "sts", time = now })
  for k, v in pairs(add) do headers[k] = v end
  local res, msg, code = http_of(opts)({ method = "POST", url = url .. "/", headers = headers,
    body = body, timeout = opts.timeout or 10, connect_timeout = opts.timeout or 5 })
  local what = ("sts AssumeRole %s (profile '%s')"):format(prof.role_arn, name)
  if not res then return fail(what .. ": " .. tostring(msg), code or "network") end
  local b = res.body or ""
  if res.status ~= 200 then
    local ecode, emsg = xml_field(b, "Code"), xml_field(b, "Message")
    return fail(("%s: %s %s: %s"):format(what, tostring(res.status), ecode or "Error",
      emsg or "no message"), res.status == 429 and "throttled" or "auth")
  end
  local ak, sk = xml_field(b, "AccessKeyId"), xml_field(b, "SecretAccessKey")
  if not ak or not sk then return fail(what .. ": no credentials in the response", "parse") end
  return make(ak, sk, xml_field(b, "SessionToken"), parse_time(xml_field(b, "Expiration")),
    "assume-role")
end

local from_profile

-- Credentials of a profile's role source: another profile or credential_source.
local function role_source(prof, name, files, opts, getenv, seen)
  if nonempty(prof.source_profile) then
    local src = prof.source_profile
    if seen[src] and src ~= name then return fail(("profile '%s': source_profile loop"):format(name), "invalid_input") end
    local sp = profile_section(files[1], files[2], src)
    if not sp then return fail(("profile '%s': source_profile '%s' not found"):format(name, src)) end
    -- Another profile with a role is assumed first (role chaining); a profile that names
    -- itself as its source uses its own static keys.
    if src ~= name and nonempty(sp.role_arn) then
      seen[src] = true
      return from_profile(sp, src, files, opts, getenv, seen)
    end
    if nonempty(sp.aws_access_key_id) and nonempty(sp.aws_secret_access_key) then
      return make(sp.aws_access_key_id, sp.aws_secret_access_key, sp.aws_session_token, nil, "profile")
    end
    if nonempty(sp.credential_process) then return from_process(sp.credential_process, src, opts) end
    return fail(("profile '%s': source_profile '%s' has no credentials"):format(name, src))
  end
  local cs = nonempty(prof.credential_source)
  if cs == "Environment" then
    return from_env(getenv) or fail(("profile '%s': credential_source Environment: no AWS_ACCESS_KEY_ID"):format(name))
  elseif cs == "EcsContainer" then
    local c, msg, code = from_container(getenv, opts)
    if c or msg then return c, msg, code end
    return fail(("profile '%s': credential_source EcsContainer: not in a container"):format(name))
  elseif cs == "Ec2InstanceMetadata" then
    local c, msg = from_instance(getenv, opts)
    if c then return c end
    return fail(("profile '%s': credential_source Ec2InstanceMetadata: %s"):format(name, tostring(msg)))
  end
  return fail(("profile '%s': role_arn needs source_profile or credential_source"):format(name),
    "invalid_input")
end

function from_profile(prof, name, files, opts, getenv, seen)
  if nonempty(prof.role_arn) then
    seen[name] = true
    local src, msg, code = role_source(prof, name, files, opts, getenv, seen)
    if not src then return nil, msg, code end
    return assume_role(src, prof, name, opts, getenv)
  end
  if nonempty(prof.aws_access_key_id) and nonempty(prof.aws_secret_access_key) then
    return make(prof.aws_access_key_id, prof.aws_secret_access_key, prof.aws_session_token, nil,
      "profile")
  end
  if nonempty(prof.credential_process) then return from_process(prof.credential_process, name, opts) end
  if nonempty(prof.sso_start_url) or nonempty(prof.sso_session) then
    return fail(("profile '%s' uses SSO, which gfhost does not support; run `aws configure "
      .. "export-credentials` or use credential_process"):format(name), "invalid_input")
  end
  return nil
end

-- }======

function M.resolve(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("bad argument #1 to 'resolve' (table expected)", 2) end
  local getenv = getenv_of(opts)
  local c, msg, code = from_explicit(opts)
  if c then return c end
  c, msg, code = from_key_files(opts)
  if c or msg then return c, msg, code end
  if not opts.profile then
    c = from_env(getenv)
    if c then return c end
  end
  local name = profile_name(opts, getenv)
  local creds, conf, cpath, fpath = load_files(opts, getenv)
  local prof = profile_section(creds, conf, name)
  if prof then
    c, msg, code = from_profile(prof, name, { creds, conf }, opts, getenv, {})
    if c or msg then return c, msg, code end
  elseif name ~= "default" then
    return fail(("profile '%s' not found in %s or %s"):format(name, cpath, fpath))
  end
  c, msg, code = from_container(getenv, opts)
  if c or msg then return c, msg, code end
  c, msg, code = from_instance(getenv, opts)
  if c then return c end
  if code then return nil, msg, code end
  return fail(("none found (tried: explicit, env, profile '%s', container, instance)"):format(name))
end

-- {====== provider ======

local Provider = {}
Provider.__index = Provider
Provider.__name = "gf.aws.credentials.provider"

function M.provider(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("bad argument #1 to 'provider' (table expected)", 2) end
  return setmetatable({ _opts = opts, _now = opts.now or os.time }, Provider)
end

function Provider:get()
  local c, now = self._creds, self._now()
  if c and (not c.expiration or now < c.expiration - REFRESH_EARLY) then return c end
  local fresh, msg, code = M.resolve(self._opts)
  if fresh then
    self._creds = fresh
    return fresh
  end
  if c and c.expiration and now < c.expiration then return c end -- still valid: keep it
  self._creds = nil
  return nil, msg, code
end

function Provider:invalidate()
  self._creds = nil
end

-- }======

-- {====== region and endpoints ======

function M.region(opts)
  opts = opts or {}
  if opts.region then return opts.region end
  local getenv = getenv_of(opts)
  local r = nonempty(getenv("AWS_REGION")) or nonempty(getenv("AWS_DEFAULT_REGION"))
  if r then return r end
  local prof = M.profile(opts)
  if prof and type(prof.region) == "string" and prof.region ~= "" then return prof.region end
  return "us-east-1"
end

-- Service ids (the env-var suffix, lower case) for signing names people also use.
local SERVICE_IDS = { logs = "cloudwatch_logs", states = "sfn", events = "eventbridge",
  monitoring = "cloudwatch", email = "ses" }
-- Host prefixes that differ from the service id.
local HOST_PREFIX = { cloudwatch_logs = "logs", sfn = "states", eventbridge = "events",
  cloudwatch = "monitoring" }

local function service_id(service)
  local id = service:lower():gsub("[%s%-]+", "_")
  return SERVICE_IDS[id] or id
end

local function strip(url) return (url:gsub("/+$", "")) end

function M.endpoint(service, opts)
  if type(service) ~= "string" or service == "" then
    error("bad argument #1 to 'endpoint' (service name expected)", 2)
  end
  opts = opts or {}
  local override = opts.endpoint or opts.endpoint_url
  if override then return strip(override), true end
  local getenv = getenv_of(opts)
  local id = service_id(service)
  if (getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") or ""):lower() ~= "true" then
    local e = nonempty(getenv("AWS_ENDPOINT_URL_" .. id:upper())) or nonempty(getenv("AWS_ENDPOINT_URL"))
    if e then return strip(e), true end
    local creds, conf = load_files(opts, getenv)
    local prof = profile_section(creds, conf, profile_name(opts, getenv))
    if prof then
      local svc = type(prof.services) == "string" and conf["services " .. prof.services]
      local sub = svc and svc[id]
      if type(sub) == "table" and nonempty(sub.endpoint_url) then return strip(sub.endpoint_url), true end
      if type(prof.endpoint_url) == "string" and prof.endpoint_url ~= "" then
        return strip(prof.endpoint_url), true
      end
    end
  end
  local region = M.region(opts)
  local suffix = region:match("^cn%-") and "amazonaws.com.cn" or "amazonaws.com"
  if id == "s3" then return ("https://s3.%s.%s"):format(region, suffix), false end
  return ("https://%s.%s.%s"):format(HOST_PREFIX[id] or id, region, suffix), false
end

-- }======

return M
