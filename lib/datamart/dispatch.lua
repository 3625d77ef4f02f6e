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

local function shquote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

--- command(template) -> emit(key): runs `sh -c template` with {key} replaced, in the
-- background, and waits for it by polling (the loop keeps serving). Exit 0 is success.
function M.command(template, o)
  o = o or {}
  local fs = require("gf.fs")
  local task = require("gf.task")
  return function(key)
    local cmd = template:gsub("{key}", key)
    local dir = assert(fs.tempdir("gf-oncomplete-"))
    local status = dir .. "/status"
    os.execute(("( sh -c %s </dev/null; echo $? > %s.tmp; mv %s.tmp %s ) &")
      :format(shquote(cmd), status, status, status))
    local deadline = o.timeout and (require("gf.time").monotonic() + o.timeout)
    while not fs.exists(status) do
      if deadline and require("gf.time").monotonic() > deadline then
        return nil, ("--on-complete command still running after %d s"):format(o.timeout)
      end
      task.sleep(o.poll or 0.2)
    end
    local code = tonumber((fs.read(status) or ""):match("%d+"))
    fs.remove_tree(dir)
    if code == 0 then return true end
    return nil, ("--on-complete command exited %s: %s"):format(tostring(code), cmd)
  end
end

return M
