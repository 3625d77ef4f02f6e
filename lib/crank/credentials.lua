--- crank.credentials: the original's S3Config (source-systems §2.1) as gf.s3 client options.
--
--   resolve({access_key_file=, secret_key_file=, endpoint=}, {home=}) -> s3opts, how | nil, msg
--
-- All three of -a, -s and -e, or none. With none: ~/.chtc_s3/access.key and secret.key with
-- https://s3dev.chtc.wisc.edu when both files exist, else the standard AWS chain (environment,
-- profile, container, instance; AWS_ENDPOINT_URL for the endpoint). An endpoint is a host
-- (https, as the original's secure=True) or an http(s):// URL (local servers).
local M = {}

M.PARTIAL = "Access/secret keys must be provided together with an endpoint."
M.CHTC_HOST = "s3dev.chtc.wisc.edu"

function M.endpoint_url(e)
  if e:match("^https?://") then return (e:gsub("/+$", "")) end
  return "https://" .. e:gsub("/+$", "")
end

local function readable(path)
  local f = io.open(path, "r")
  if f then f:close() return true end
  return false
end

function M.resolve(o, env)
  env = env or {}
  local a, s, e = o.access_key_file, o.secret_key_file, o.endpoint
  local given = (a and 1 or 0) + (s and 1 or 0) + (e and 1 or 0)
  if given == 3 then
    return { endpoint = M.endpoint_url(e), credentials = { access_key_file = a, secret_key_file = s } },
      "key files"
  elseif given ~= 0 then
    return nil, M.PARTIAL
  end
  local home = env.home or os.getenv("HOME")
  if home and home ~= "" then
    local ak, sk = home .. "/.chtc_s3/access.key", home .. "/.chtc_s3/secret.key"
    if readable(ak) and readable(sk) then
      return { endpoint = M.endpoint_url(M.CHTC_HOST),
        credentials = { access_key_file = ak, secret_key_file = sk } }, "~/.chtc_s3"
    end
  end
  return {}, "AWS chain"
end

--- The same options as gf.flow parameters (strings) and back.
function M.to_params(o, params)
  params.access_key_file, params.secret_key_file, params.endpoint = o.access_key_file,
    o.secret_key_file, o.endpoint
  return params
end

return M
