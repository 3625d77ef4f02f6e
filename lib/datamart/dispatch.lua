--- Emitting a complete day: the GitHub repository_dispatch of the original, or a command.
local M = {}

M.EVENT_TYPE = "run-cmc-grib-download"

--- body(key) -> the original's JSON, byte for byte (requests' json= uses ", " and ": ")
function M.body(key)
  return ('{"event_type": "%s", "client_payload": {"idem_key": "%s", "message": "demo"}}')
    :format(M.EVENT_TYPE, key)
end

function M.url(org, repo)
  return ("https://api.github.com/repos/%s/%s/dispatches"):format(org, repo)
end

--- github{url, token, timeout} -> emit(key) -> true | nil, why
-- 2xx is success; anything else (or a transport failure) is a failure to retry later.
function M.github(o)
  local http = require("gf.http")
  return function(key)
    local res, err = http.request({
      url = o.url, method = "POST", body = M.body(key), retry = false,
      timeout = o.timeout or 30,
      headers = {
        ["Accept"] = "application/vnd.github+json",
        ["Authorization"] = "token " .. o.token,
        ["Content-Type"] = "application/json",
        ["User-Agent"] = "gfhost-datamart-listener",
      },
    })
    if not res then return nil, err end
    if res.status >= 200 and res.status < 300 then return true end
    return nil, ("HTTP %d from %s: %s"):format(res.status, require("gf.http").redact_url(o.url),
      (res.body or ""):sub(1, 200))
  end
end

--- command(template, {timeout}) -> emit(key): runs `sh -c template` with {key} replaced,
-- through gf.proc (the loop keeps serving while it runs). Exit 0 is success; otherwise the
-- failure names the exit status and the end of the command's stderr.
function M.command(template, o)
  o = o or {}
  local proc = require("gf.proc")
  return function(key)
    local cmd = template:gsub("{key}", key)
    local r, err = proc.run(cmd, { timeout = o.timeout })
    if not r then return nil, ("--on-complete %s: %s"):format(cmd, tostring(err)) end
    if r.code == 0 then return true end
    local tail = (r.stderr or ""):sub(-300):gsub("%s+$", "")
    return nil, ("--on-complete command exited %d: %s%s"):format(r.code, cmd, tail ~= "" and (": " .. tail) or "")
  end
end

return M
