--- cirrus.uuid: RFC 4122 version 5 UUIDs (SHA-1 from libcrypto, through gf.aws.sha1), as
-- Python's uuid.uuid5 makes them, and Cirrus' deterministic execution names.
--
-- NAMESPACE_URL                      "6ba7b811-9dad-11d1-80b4-00c04fd430c8"
-- uuid5(namespace, name) -> "xxxxxxxx-xxxx-5xxx-yxxx-xxxxxxxxxxxx"
-- execution_name(payload_id, executions) -> uuid5(NAMESPACE_URL, payload_id .. "/" ..
--                 repr(executions)); executions: the record's list as Cirrus renders it
--                 (console URLs, see cirrus.core.console_url), {} for a new payload
-- uuid4() -> a random version 4 UUID (names of oversized-payload objects)
local aws = require("gf.aws")
local py = require("cirrus.py")

local M = {}

M.NAMESPACE_URL = "6ba7b811-9dad-11d1-80b4-00c04fd430c8"

local function bytes_of(u)
  local hex = u:gsub("-", "")
  if not hex:match("^%x+$") or #hex ~= 32 then
    error("bad argument #1 to 'uuid5' (a UUID expected, got '" .. tostring(u) .. "')", 3)
  end
  return (hex:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end))
end

local function format(b)
  local h = b:gsub(".", function(c) return ("%02x"):format(c:byte()) end)
  return ("%s-%s-%s-%s-%s"):format(h:sub(1, 8), h:sub(9, 12), h:sub(13, 16), h:sub(17, 20), h:sub(21, 32))
end

function M.uuid5(namespace, name)
  if type(name) ~= "string" then error("bad argument #2 to 'uuid5' (string expected, got " .. type(name) .. ")", 2) end
  local d = aws.sha1(bytes_of(namespace) .. name):sub(1, 16)
  local b = { d:byte(1, 16) }
  b[7] = (b[7] & 0x0f) | 0x50
  b[9] = (b[9] & 0x3f) | 0x80
  return format(string.char(table.unpack(b)))
end

function M.execution_name(payload_id, executions)
  return M.uuid5(M.NAMESPACE_URL, payload_id .. "/" .. py.repr_list(executions or {}))
end

function M.uuid4()
  local f = io.open("/dev/urandom", "rb")
  local raw = f and f:read(16)
  if f then f:close() end
  if not raw or #raw ~= 16 then
    local t = {}
    for i = 1, 16 do t[i] = string.char(math.random(0, 255)) end
    raw = table.concat(t)
  end
  local b = { raw:byte(1, 16) }
  b[7] = (b[7] & 0x0f) | 0x40
  b[9] = (b[9] & 0x3f) | 0x80
  return format(string.char(table.unpack(b)))
end

return M
