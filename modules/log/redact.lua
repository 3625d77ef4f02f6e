--- gf.log.redact: keep secrets out of log output.
--
-- new() -> r                   a redactor with its own registry of secret strings
-- r:add(value) -> value        register a secret (strings; numbers are registered as strings;
--                              nil, false and "" are ignored) and return it unchanged
-- r:text(s) -> s               replace every registered secret by "***", then mask secret-looking
--                              `name=value` / `name="value"` pairs (this covers `Signature=`,
--                              `X-Amz-Signature=`, `X-Amz-Security-Token=`), `"name": "value"`
--                              JSON pairs, `Bearer xxx`, and `Authorization: ...`,
--                              `Cookie: ...`, `X-Amz-Security-Token: ...` header lines
-- r:secrets_only(s) -> s      only the registered secrets
-- r:clear()                    forget every registered secret
-- secret_name(name) -> bool    does a field name look secret (case-insensitive substring of
--                              authorization, token, secret, password, passwd, api_key,
--                              access_key, session, signature, x-amz-security-token, cookie)
local M = {}

local MASK = "***"

-- Lower-case fragments; a name matches when it contains one. `-` and `_` are equivalent.
local SECRET_FRAGMENTS = {
  "authorization", "token", "secret", "password", "passwd", "api_key", "apikey", "access_key",
  "session", "signature", "x_amz_security_token", "cookie", "credential", "private_key",
}

-- Field names repeat, so answers are remembered (up to a bound, then forgotten wholesale).
local name_memo, memo_size = {}, 0

function M.secret_name(name)
  if type(name) ~= "string" then return false end
  local known = name_memo[name]
  if known ~= nil then return known end
  local n = name:lower():gsub("%-", "_")
  local answer = false
  for _, frag in ipairs(SECRET_FRAGMENTS) do
    if n:find(frag, 1, true) then answer = true break end
  end
  if memo_size >= 4096 then name_memo, memo_size = {}, 0 end
  name_memo[name], memo_size = answer, memo_size + 1
  return answer
end

local secret_name = M.secret_name

local function replace_plain(s, needle)
  local out, pos = {}, 1
  while true do
    local i, j = s:find(needle, pos, true)
    if not i then break end
    out[#out + 1] = s:sub(pos, i - 1)
    out[#out + 1] = MASK
    pos = j + 1
  end
  if pos == 1 then return s end
  out[#out + 1] = s:sub(pos)
  return table.concat(out)
end

-- Headers whose whole value is a credential, when written as `Name: value` in a message.
local SECRET_HEADERS = {
  ["authorization"] = true, ["proxy-authorization"] = true, ["x-amz-security-token"] = true,
  ["cookie"] = true, ["set-cookie"] = true, ["x-api-key"] = true,
}

local function mask_pair(name, eq, value)
  if value ~= MASK and secret_name(name) then return name .. eq .. MASK end
  return nil
end

-- `Authorization: ...` and the like: mask up to the end of the line or a quote. Scanned by
-- position so that a preceding `name: value` cannot hide a later header.
local function mask_headers(s)
  local lower = s:lower()
  for name in pairs(SECRET_HEADERS) do
    local pos = 1
    while true do
      local i, j = lower:find(name .. ":", pos, true)
      if not i then break end
      local before = i > 1 and lower:sub(i - 1, i - 1) or ""
      local vs, ve = lower:find("^[ \t]*[^\r\n\"']+", j + 1)
      if before:match("[%w%-]") or not vs then
        pos = j + 1
      else
        local lead = lower:match("^[ \t]*", j + 1)
        local value_start = j + 1 + #lead
        if s:sub(value_start, ve) == MASK then
          pos = ve + 1
        else
          s = s:sub(1, value_start - 1) .. MASK .. s:sub(ve + 1)
          lower = s:lower()
          pos = value_start + #MASK
        end
      end
    end
  end
  return s
end

-- Mask what looks like a credential in free text. Each pass runs only when the text has the
-- character it needs, and names are matched from the start of a word (%f), so plain messages
-- cost a few linear scans.
local NAME = "%f[%w_%.%-]([%w_%.%-]+)"

local function mask_patterns(s)
  if s:find(":", 1, true) then
    s = mask_headers(s)
    -- "name": "value" (JSON inside a message)
    s = s:gsub('("([%w_%-%.]+)"%s*:%s*")([^"]*)(")', function(head, name, value, tail)
      if value ~= MASK and secret_name(name) then return head .. MASK .. tail end
      return nil
    end)
  end
  if s:find("=", 1, true) then
    -- name="value with spaces"
    s = s:gsub(NAME .. '(%s*=%s*")([^"]*)"', function(name, eq, value)
      local r = mask_pair(name, eq, value)
      return r and (r .. '"')
    end)
    -- name=value (query strings, key=value text, AWS Authorization parameters)
    s = s:gsub(NAME .. "(%s*=%s*)([^%s&,;\"'<>]+)", mask_pair)
  end
  if s:find("[Bb][Ee][Aa][Rr][Ee][Rr]%s") then
    s = s:gsub("(%f[%w][Bb][Ee][Aa][Rr][Ee][Rr]%s+)([^%s,;\"']+)", function(head, value)
      if value == MASK then return nil end
      return head .. MASK
    end)
  end
  return s
end

local Redactor = {}
Redactor.__index = Redactor

function M.new()
  return setmetatable({ secrets = {}, set = {} }, Redactor)
end

function Redactor:add(value)
  if value == nil or value == false then return value end
  local s = value
  if type(s) == "number" then s = tostring(s) end
  if type(s) ~= "string" then
    error(("log.secret: expected a string, got %s"):format(type(value)), 3)
  end
  if s == "" or self.set[s] then return value end
  self.set[s] = true
  local list = self.secrets
  list[#list + 1] = s
  -- Longest first, so a secret that contains another is masked whole.
  table.sort(list, function(a, b) return #a > #b end)
  return value
end

function Redactor:clear()
  self.secrets, self.set = {}, {}
end

function Redactor:secrets_only(s)
  for _, secret in ipairs(self.secrets) do s = replace_plain(s, secret) end
  return s
end

function Redactor:text(s)
  return mask_patterns(self:secrets_only(s))
end

M.MASK = MASK

return M
