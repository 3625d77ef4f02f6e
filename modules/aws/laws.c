/*
** laws.c — gf.aws.core: the SigV4 signer for Lua.
**
**   sign(request, credentials, opts, now) -> headers | url [, debug]
**       request = {method=, url=, headers=, body=}; headers is a map name -> string | number |
**       list of strings (a repeated header), or a list of {name, value} pairs.
**       credentials = {access_key=, secret_key=, session_token=}
**       opts = {region=, service=, time=, presign=, s3=, payload_hash=, normalize=, sign_body=,
**               omit_session_token=, debug=}; time defaults to `now`.
**       Header mode returns the headers to add (Authorization, X-Amz-Date, and
**       X-Amz-Security-Token / x-amz-content-sha256 when they apply); presign returns the URL.
**       debug = true adds {canonical_request=, string_to_sign=, signature=, amz_date=}.
**   sha256_hex(s) -> hex
**   hmac_sha256(key, msg [, hex]) -> 32 raw bytes (or 64 hex digits)
**   uri_encode(s [, keep_slash]) -> AWS percent-encoding
**   cache_stats() -> hits, misses       signing-key cache of this Lua state
**
** One gf_sigv4_ctx per Lua state, held as an upvalue userdata: its buffers and key cache are
** freed (and wiped) by __gc, so an error raised halfway through a call leaks nothing.
*/
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include <openssl/crypto.h>

#include "sigv4.h"

#define CTX_TYPE "gf.aws.sigv4ctx"
#define MAX_EXPIRES 604800

static gf_sigv4_ctx *ctx_of(lua_State *L)
{
  gf_sigv4_ctx **box = lua_touserdata(L, lua_upvalueindex(1));
  return *box;
}

static int ctx_gc(lua_State *L)
{
  gf_sigv4_ctx **box = luaL_checkudata(L, 1, CTX_TYPE);
  gf_sigv4_ctx_free(*box);
  *box = NULL;
  return 0;
}

/* {====== argument readers ======} */

static const char *opt_string(lua_State *L, int t, const char *k, size_t *len, int required)
{
  int ty = lua_getfield(L, t, k);
  const char *s = NULL;
  if (ty == LUA_TSTRING) {
    s = lua_tolstring(L, -1, len);
  } else if (ty != LUA_TNIL || required) {
    luaL_error(L, "gf.aws.sign: '%s' must be a string", k);
  }
  lua_pop(L, 1); /* the string stays alive: the table holds it */
  if (required && *len == 0) luaL_error(L, "gf.aws.sign: '%s' must not be empty", k);
  return s;
}

static int opt_bool(lua_State *L, int t, const char *k, int dflt, int *seen)
{
  int ty = lua_getfield(L, t, k);
  int v = dflt;
  if (ty == LUA_TBOOLEAN) {
    v = lua_toboolean(L, -1);
  } else if (ty != LUA_TNIL) {
    luaL_error(L, "gf.aws.sign: option '%s' must be a boolean", k);
  }
  if (ty != LUA_TNIL) (*seen)++;
  lua_pop(L, 1);
  return v;
}

static int64_t opt_int(lua_State *L, int t, const char *k, int64_t dflt, int *seen)
{
  int ty = lua_getfield(L, t, k);
  int64_t v = dflt;
  if (ty == LUA_TNUMBER) {
    int ok = 0;
    v = (int64_t)lua_tointegerx(L, -1, &ok);
    if (!ok) luaL_error(L, "gf.aws.sign: option '%s' must be an integer", k);
  } else if (ty != LUA_TNIL && !(ty == LUA_TBOOLEAN && !lua_toboolean(L, -1))) {
    luaL_error(L, "gf.aws.sign: option '%s' must be an integer", k);
  }
  if (ty != LUA_TNIL) (*seen)++;
  lua_pop(L, 1);
  return v;
}

static const char *const OPTION_NAMES[] = {"region",    "service",   "time",
                                           "presign",   "s3",        "payload_hash",
                                           "normalize", "sign_body", "omit_session_token",
                                           "debug",     NULL};

/* Raise on a key that is not an option (called only when the counts disagree). */
static void unknown_option(lua_State *L, int t)
{
  lua_pushnil(L);
  while (lua_next(L, t)) {
    lua_pop(L, 1);
    int known = 0;
    if (lua_type(L, -1) == LUA_TSTRING) {
      const char *k = lua_tostring(L, -1);
      for (int i = 0; OPTION_NAMES[i]; i++)
        if (strcmp(k, OPTION_NAMES[i]) == 0) known = 1;
      if (!known) luaL_error(L, "gf.aws.sign: unknown option '%s'", k);
    } else {
      luaL_error(L, "gf.aws.sign: option names must be strings");
    }
  }
}

static void read_options(lua_State *L, int t, gf_sigv4_options *o, int *debug)
{
  int seen = 2;
  o->region = opt_string(L, t, "region", &o->region_len, 1);
  o->service = opt_string(L, t, "service", &o->service_len, 1);
  o->time = opt_int(L, t, "time", (int64_t)luaL_checkinteger(L, 4), &seen);
  o->presign = opt_int(L, t, "presign", 0, &seen);
  if (o->presign < 0 || o->presign > MAX_EXPIRES)
    luaL_error(L, "gf.aws.sign: option 'presign' must be 1 to %d seconds", MAX_EXPIRES);
  o->s3 = opt_bool(L, t, "s3", 0, &seen);
  o->normalize = opt_bool(L, t, "normalize", !o->s3, &seen);
  o->sign_body = opt_bool(L, t, "sign_body", 0, &seen);
  o->omit_session_token = opt_bool(L, t, "omit_session_token", 0, &seen);
  *debug = opt_bool(L, t, "debug", 0, &seen);
  o->payload_hash = opt_string(L, t, "payload_hash", &o->payload_hash_len, 0);
  if (o->payload_hash) seen++;
  int n = 0;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    lua_pop(L, 1);
    n++;
  }
  if (n != seen) unknown_option(L, t);
}

/* A header value as a string; numbers are converted and anchored in the table at `anchor`. */
static const char *header_value(lua_State *L, int idx, size_t *len, int anchor)
{
  int ty = lua_type(L, idx);
  if (ty == LUA_TSTRING) return lua_tolstring(L, idx, len);
  if (ty != LUA_TNUMBER) luaL_error(L, "gf.aws.sign: header values must be strings or numbers");
  if (lua_isnil(L, anchor)) {
    lua_newtable(L);
    lua_replace(L, anchor);
  }
  lua_pushvalue(L, idx);
  const char *s = lua_tolstring(L, -1, len);
  lua_rawseti(L, anchor, (lua_Integer)lua_rawlen(L, anchor) + 1);
  return s;
}

static void add_header(lua_State *L, gf_sigv4_ctx *c, size_t *n, const char *name, size_t nlen,
                       const char *v, size_t vlen)
{
  gf_sigv4_header *h = gf_sigv4_ctx_headers(c, *n + 1);
  if (!h) luaL_error(L, "not enough memory");
  h[*n].name = name;
  h[*n].name_len = nlen;
  h[*n].value = v;
  h[*n].value_len = vlen;
  (*n)++;
}

/* Header pairs of table t into the context's slots; strings stay anchored by t (or anchor). */
static size_t read_headers(lua_State *L, gf_sigv4_ctx *c, int t, int anchor)
{
  size_t n = 0, nlen, vlen;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    const char *name, *v;
    if (lua_type(L, -2) == LUA_TSTRING) {
      name = lua_tolstring(L, -2, &nlen);
      if (lua_type(L, -1) == LUA_TTABLE) {
        lua_Integer len = (lua_Integer)lua_rawlen(L, -1);
        for (lua_Integer i = 1; i <= len; i++) {
          lua_rawgeti(L, -1, i);
          v = header_value(L, lua_gettop(L), &vlen, anchor);
          lua_pop(L, 1);
          add_header(L, c, &n, name, nlen, v, vlen);
        }
      } else {
        v = header_value(L, lua_gettop(L), &vlen, anchor);
        add_header(L, c, &n, name, nlen, v, vlen);
      }
    } else if (lua_type(L, -1) == LUA_TTABLE) {
      if (lua_rawgeti(L, -1, 1) != LUA_TSTRING)
        luaL_error(L, "gf.aws.sign: header pairs must be {name, value}");
      name = lua_tolstring(L, -1, &nlen);
      lua_pop(L, 1);
      lua_rawgeti(L, -1, 2);
      v = header_value(L, lua_gettop(L), &vlen, anchor);
      lua_pop(L, 1);
      add_header(L, c, &n, name, nlen, v, vlen);
    } else {
      luaL_error(L, "gf.aws.sign: headers must map names to values");
    }
    lua_pop(L, 1);
  }
  return n;
}

static void read_credentials(lua_State *L, int t, gf_sigv4_credentials *cr)
{
  cr->access_key = opt_string(L, t, "access_key", &cr->access_key_len, 1);
  cr->secret_key = opt_string(L, t, "secret_key", &cr->secret_key_len, 1);
  cr->session_token = opt_string(L, t, "session_token", &cr->session_token_len, 0);
  if (cr->session_token && cr->session_token_len == 0) cr->session_token = NULL;
}

static void push_field(lua_State *L, const char *k, const char *v, size_t n)
{
  lua_pushlstring(L, v, n);
  lua_setfield(L, -2, k);
}

static void push_debug(lua_State *L, const gf_sigv4_result *res)
{
  lua_createtable(L, 0, 4);
  push_field(L, "canonical_request", res->canonical_request, res->canonical_request_len);
  push_field(L, "string_to_sign", res->string_to_sign, res->string_to_sign_len);
  push_field(L, "signature", res->signature, 64);
  push_field(L, "amz_date", res->amz_date, 16);
}

static int l_sign(lua_State *L)
{
  gf_sigv4_ctx *c = ctx_of(L);
  gf_sigv4_request r;
  gf_sigv4_credentials cr;
  gf_sigv4_options o;
  gf_sigv4_result res;
  int debug = 0;
  memset(&r, 0, sizeof r);
  memset(&cr, 0, sizeof cr);
  memset(&o, 0, sizeof o);
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TTABLE);
  luaL_checktype(L, 3, LUA_TTABLE);
  lua_settop(L, 4);
  lua_pushnil(L); /* 5: anchor for converted header values */
  r.method = opt_string(L, 1, "method", &r.method_len, 1);
  r.url = opt_string(L, 1, "url", &r.url_len, 1);
  r.body = opt_string(L, 1, "body", &r.body_len, 0);
  read_credentials(L, 2, &cr);
  read_options(L, 3, &o, &debug);
  int ty = lua_getfield(L, 1, "headers"); /* 6 */
  if (ty == LUA_TTABLE) {
    r.nheaders = read_headers(L, c, 6, 5);
    r.headers = gf_sigv4_ctx_headers(c, r.nheaders);
  } else if (ty != LUA_TNIL) {
    return luaL_error(L, "gf.aws.sign: 'headers' must be a table");
  }
  int rc = gf_sigv4_sign(c, &r, &cr, &o, &res);
  if (rc == GF_SIGV4_ENOMEM) return luaL_error(L, "not enough memory");
  if (rc != GF_SIGV4_OK) return luaL_error(L, "gf.aws.sign: %s", gf_sigv4_error(c));
  if (o.presign) {
    lua_pushlstring(L, res.url, res.url_len);
  } else {
    lua_createtable(L, 0, 4);
    push_field(L, "Authorization", res.authorization, res.authorization_len);
    push_field(L, "X-Amz-Date", res.amz_date, 16);
    if (cr.session_token)
      push_field(L, "X-Amz-Security-Token", cr.session_token, cr.session_token_len);
    if (res.content_sha256)
      push_field(L, "x-amz-content-sha256", res.content_sha256, res.content_sha256_len);
  }
  if (!debug) return 1;
  push_debug(L, &res);
  return 2;
}

static int l_sha256_hex(lua_State *L)
{
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  char hex[65];
  if (gf_sigv4_sha256_hex(ctx_of(L), s, n, hex) != 0) return luaL_error(L, "sha256 failed");
  lua_pushlstring(L, hex, 64);
  return 1;
}

static int l_hmac_sha256(lua_State *L)
{
  size_t kn, mn;
  const char *k = luaL_checklstring(L, 1, &kn);
  const char *m = luaL_checklstring(L, 2, &mn);
  int hex = lua_toboolean(L, 3);
  unsigned char out[32];
  char h[65];
  if (gf_sigv4_hmac(ctx_of(L), k, kn, m, mn, out) != 0) return luaL_error(L, "hmac failed");
  if (!hex) {
    lua_pushlstring(L, (const char *)out, 32);
    return 1;
  }
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) {
    h[2 * i] = digits[out[i] >> 4];
    h[2 * i + 1] = digits[out[i] & 15];
  }
  lua_pushlstring(L, h, 64);
  return 1;
}

static int l_uri_encode(lua_State *L)
{
  size_t n, on = 0;
  const char *s = luaL_checklstring(L, 1, &n);
  const char *o = gf_sigv4_uri_encode(ctx_of(L), s, n, lua_toboolean(L, 2), &on);
  if (!o) return luaL_error(L, "not enough memory");
  lua_pushlstring(L, o, on);
  return 1;
}

static int l_cache_stats(lua_State *L)
{
  uint64_t hits, misses;
  gf_sigv4_cache_stats(ctx_of(L), &hits, &misses);
  lua_pushinteger(L, (lua_Integer)hits);
  lua_pushinteger(L, (lua_Integer)misses);
  return 2;
}

static const luaL_Reg funcs[] = {{"sign", l_sign},
                                 {"sha256_hex", l_sha256_hex},
                                 {"hmac_sha256", l_hmac_sha256},
                                 {"uri_encode", l_uri_encode},
                                 {"cache_stats", l_cache_stats},
                                 {NULL, NULL}};

int luaopen_gf_aws_core(lua_State *L);
int luaopen_gf_aws_core(lua_State *L)
{
  lua_createtable(L, 0, 8);
  gf_sigv4_ctx **box = lua_newuserdatauv(L, sizeof *box, 0);
  *box = NULL;
  if (luaL_newmetatable(L, CTX_TYPE)) {
    lua_pushcfunction(L, ctx_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, ctx_gc);
    lua_setfield(L, -2, "__close");
  }
  lua_setmetatable(L, -2);
  *box = gf_sigv4_ctx_new();
  if (!*box) return luaL_error(L, "gf.aws: cannot set up SHA-256 (libcrypto)");
  luaL_setfuncs(L, funcs, 1);
  lua_pushliteral(L, "OpenSSL libcrypto");
  lua_setfield(L, -2, "_LIBRARY");
  lua_pushstring(L, OpenSSL_version(OPENSSL_VERSION));
  lua_setfield(L, -2, "_LIBVERSION");
  return 1;
}
