--- gf.aws: AWS Signature Version 4 (native, OpenSSL) plus credentials, region and endpoints.
--
-- sign(request, credentials, opts) -> headers | url [, debug]
--     request     = {method =, url =, headers =, body =}
--                   headers: name -> string | number | {values...} (a repeated header), or a
--                   list of {name, value} pairs. Every header is signed except Authorization,
--                   User-Agent, Expect and X-Amzn-Trace-Id; Host is taken from the URL when absent.
--     credentials = {access_key =, secret_key =, session_token =}
--     opts        = {region =, service =,            (required)
--                    time = <epoch s>,               (default os.time())
--                    presign = <expires s>,          (1..604800: return a presigned URL)
--                    s3 = bool,                      (S3 rules: no path normalisation, keys not
--                                                     double-encoded, x-amz-content-sha256)
--                    payload_hash = "UNSIGNED-PAYLOAD" | <hex>,  (default: sha256 of body;
--                                                     UNSIGNED-PAYLOAD for an S3 presign)
--                    normalize = bool,               (default: not s3)
--                    sign_body = bool,               (add/sign x-amz-content-sha256)
--                    omit_session_token = bool,      (token added but not signed)
--                    debug = bool}                   (2nd result: {canonical_request =,
--                                                     string_to_sign =, signature =, amz_date =})
--     Header mode returns the headers to add to the request: Authorization, X-Amz-Date, and
--     X-Amz-Security-Token / x-amz-content-sha256 when they apply. With presign it returns the
--     presigned URL (query parameters in canonical order, X-Amz-Signature last).
--     URLs should be percent-encoded as they will be sent. Query parameters are decoded and
--     re-encoded the AWS way ('+' is a literal plus). Misuse (missing region, unknown option,
--     relative URL) raises; the message never contains credentials.
-- canonical_request(request, credentials, opts) -> string
-- string_to_sign(request, credentials, opts) -> string
-- sha256_hex(s) -> hex;  hmac_sha256(key, msg [, hex]) -> raw | hex
-- sha1(s [, hex]) -> 20 raw bytes | 40 hex digits (libcrypto; for UUID v5 names)
-- uri_encode(s [, keep_slash]) -> every byte but A-Z a-z 0-9 - _ . ~ as %XX (S3 keys: keep_slash)
-- cache_stats() -> hits, misses   of the signing-key cache (per (secret, date, region, service))
--
-- credentials(opts) -> provider    gf.aws.credentials.provider(opts): p:get() -> credentials |
--                                  nil, message, code (cached, refreshed before expiry)
-- resolve_credentials(opts) -> credentials | nil, message, code   (one-shot chain)
-- region(opts) -> region;  endpoint(service, opts) -> url, path_style
--   See gf.aws.credentials for the order of sources.
local core = require("gf.aws.core")

local M = {}

local core_sign = core.sign

M.sign = core_sign

local function debug_of(request, credentials, opts)
  if type(opts) ~= "table" then error("bad argument #3 (table expected)", 3) end
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  o.debug = true
  local _, dbg = core_sign(request, credentials, o)
  return dbg
end

function M.canonical_request(request, credentials, opts)
  return debug_of(request, credentials, opts).canonical_request
end

function M.string_to_sign(request, credentials, opts)
  return debug_of(request, credentials, opts).string_to_sign
end

M.sha256_hex = core.sha256_hex
M.hmac_sha256 = core.hmac_sha256
M.sha1 = core.sha1
M.uri_encode = core.uri_encode
M.cache_stats = core.cache_stats

local function creds() return require("gf.aws.credentials") end

function M.credentials(opts) return creds().provider(opts) end
function M.resolve_credentials(opts) return creds().resolve(opts) end
function M.region(opts) return creds().region(opts) end
function M.endpoint(service, opts) return creds().endpoint(service, opts) end

return M
