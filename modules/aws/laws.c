/*
** laws.c — gf.aws.core: the SigV4 signer for Lua.
**
**   sign(request, credentials, opts) -> headers | url [, debug]
**       request = {method=, url=, headers=, body=}; headers is a map name -> string | number |
**       list of strings (a repeated header), or a list of {name, value} pairs.
**       credentials = {access_key=, secret_key=, session_token=}
**       opts = {region=, service=, time=, presign=, s3=, payload_hash=, normalize=, sign_body=,
**               omit_session_token=, debug=}; without opts.time the binding reads
**       the clock (the pure C signer never does).
**       Header mode returns the headers to add (Authorization, X-Amz-Date, and
**       X-Amz-Security-Token / x-amz-content-sha256 when they apply); presign returns the URL.
**       debug = true adds {canonical_request=, string_to_sign=, signature=, amz_date=}.
**   sha256_hex(s) -> hex
**   hmac_sha256(key, msg [, hex]) -> 32 raw bytes (or 64 hex digits)
**   uri_encode(s [, keep_slash]) -> AWS percent-encoding
**   sha1(s [, hex]) -> 20 raw bytes (or 40 hex digits), libcrypto's SHA-1 (for UUID version 5
**                      names, not for security)
**   cache_stats() -> hits, misses       signing-key cache of this Lua state
**
** One gf_sigv4_ctx per Lua state, held as an upvalue userdata: its buffers and key cache are
** freed (and wiped) by __gc, so an error raised halfway through a call leaks nothing.
*/
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "gf.h"
#include "sigv4.h"

#define CTX_TYPE "gf.aws.sigv4ctx"
#define MAX_EXPIRES 604800

/*
** The fields sign reads. The request and credential fields are read with lua_rawget on keys
** held as upvalues; the options table is walked once with lua_next (unknown names are misuse),
** each key identified by its lua_topointer identity (see option_index).
*/
enum {
  K_METHOD,
  K_URL,
  K_HEADERS,
  K_BODY,
  K_ACCESS_KEY,
  K_SECRET_KEY,
  K_SESSION_TOKEN,
  K_REGION,
  K_SERVICE,
  K_TIME,
  K_PRESIGN,
  K_S3,
  K_PAYLOAD_HASH,
  K_NORMALIZE,
  K_SIGN_BODY,
  K_OMIT_SESSION_TOKEN,
  K_DEBUG,
  NKEYS
};

static const char *const KEY_NAMES[NKEYS] = {
    "method",       "url",        "headers",       "body",
    "access_key",   "secret_key", "session_token", "region",
    "service",      "time",       "presign",       "s3",
    "payload_hash", "normalize",  "sign_body",     "omit_session_token",
    "debug"};

typedef struct {
  gf_sigv4_ctx *ctx;
  const void *ids[NKEYS]; /* lua_topointer of the interned field names */
  int64_t date_time;      /* the time whose X-Amz-Date string is upvalue U_DATE */
} state;

/*
** sign's upvalues: the state, the names of the fields it reads and of the headers it returns,
** the empty body's hash and the last X-Amz-Date value (no string is interned per call).
*/
enum {
  U_STATE = 1,
  U_METHOD, /* U_METHOD + K_x for the request and credential fields K_METHOD..K_SESSION_TOKEN */
  U_AUTHORIZATION = U_METHOD + K_REGION,
  U_DATE_NAME,
  U_TOKEN_NAME,
  U_CONTENT_NAME,
  U_EMPTY_SHA256,
  U_DATE,
  NUPVALUES = U_DATE
};
static const char *const OUT_NAMES[] = {"Authorization", "X-Amz-Date", "X-Amz-Security-Token",
                                        "x-amz-content-sha256"};
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static state *state_of(lua_State *L)
{
  return lua_touserdata(L, lua_upvalueindex(U_STATE));
}

static gf_sigv4_ctx *ctx_of(lua_State *L)
{
  return state_of(L)->ctx;
}

static int ctx_gc(lua_State *L)
{
  state *st = luaL_checkudata(L, 1, CTX_TYPE);
  gf_sigv4_ctx_free(st->ctx);
  st->ctx = NULL;
  return 0;
}

/* {====== argument readers ======} */

/*
** Every reader gets the stack index of a value and its type (known from lua_rawget or the
** option scan), so a field costs one lookup and one conversion.
*/
static const char *slot_string(lua_State *L, int idx, int ty, const char *k, size_t *len,
                               int required)
{
  if (ty == LUA_TSTRING) {
    const char *s = lua_tolstring(L, idx, len);
    if (required && *len == 0) luaL_error(L, "gf.aws.sign: '%s' must not be empty", k);
    return s;
  }
  if (ty != LUA_TNIL || required) luaL_error(L, "gf.aws.sign: '%s' must be a string", k);
  *len = 0;
  return NULL;
}

static int slot_bool(lua_State *L, int idx, int ty, const char *k, int dflt)
{
  if (ty == LUA_TBOOLEAN) return lua_toboolean(L, idx);
  if (ty != LUA_TNIL) luaL_error(L, "gf.aws.sign: option '%s' must be a boolean", k);
  return dflt;
}

static int64_t slot_int(lua_State *L, int idx, int ty, const char *k, int64_t dflt)
{
  if (ty == LUA_TNIL || (ty == LUA_TBOOLEAN && !lua_toboolean(L, idx))) return dflt;
  int ok = 0;
  int64_t v = ty == LUA_TNUMBER ? (int64_t)lua_tointegerx(L, idx, &ok) : 0;
  if (!ok) luaL_error(L, "gf.aws.sign: option '%s' must be an integer", k);
  return v;
}

/*
** The option whose name is the key at the top - 1, or -1. Names are short strings, which Lua
** interns: a key equal to a name is the very same object, so the first test compares the
** lua_topointer identities (no type test, no conversion); strcmp is only the fallback.
*/
static int option_index(lua_State *L, const state *st)
{
  const void *p = lua_topointer(L, -2);
  for (int i = K_REGION; i < NKEYS; i++)
    if (p == st->ids[i]) return i;
  if (lua_type(L, -2) != LUA_TSTRING) luaL_error(L, "gf.aws.sign: option names must be strings");
  const char *k = lua_tostring(L, -2);
  for (int i = K_REGION; i < NKEYS; i++)
    if (strcmp(k, KEY_NAMES[i]) == 0) return i;
  return luaL_error(L, "gf.aws.sign: unknown option '%s'", k);
}

/*
** One pass over the options table t: each value is copied to base + (K_x - K_REGION) and its
** type noted; the first key that is not an option raises (before any other check, as always).
*/
static void scan_options(lua_State *L, const state *st, int t, int base, int *types)
{
  lua_pushnil(L);
  while (lua_next(L, t)) {
    int i = option_index(L, st);
    types[i] = lua_type(L, -1);
    lua_copy(L, -1, base + i - K_REGION);
    lua_settop(L, -2);
  }
}

static void read_options(lua_State *L, int b, const int *ty, gf_sigv4_options *o, int *debug)
{
#define OPT(K) b + (K)-K_REGION, ty[K]
  o->region = slot_string(L, OPT(K_REGION), "region", &o->region_len, 1);
  o->service = slot_string(L, OPT(K_SERVICE), "service", &o->service_len, 1);
  o->time = slot_int(L, OPT(K_TIME), "time", INT64_MIN);
  if (o->time == INT64_MIN) o->time = (int64_t)time(NULL); /* the binding owns the clock */
  o->presign = slot_int(L, OPT(K_PRESIGN), "presign", 0);
  if (o->presign < 0 || o->presign > MAX_EXPIRES)
    luaL_error(L, "gf.aws.sign: option 'presign' must be 1 to %d seconds", MAX_EXPIRES);
  o->s3 = slot_bool(L, OPT(K_S3), "s3", 0);
  o->normalize = slot_bool(L, OPT(K_NORMALIZE), "normalize", !o->s3);
  o->sign_body = slot_bool(L, OPT(K_SIGN_BODY), "sign_body", 0);
  o->omit_session_token = slot_bool(L, OPT(K_OMIT_SESSION_TOKEN), "omit_session_token", 0);
  *debug = slot_bool(L, OPT(K_DEBUG), "debug", 0);
  o->payload_hash = slot_string(L, OPT(K_PAYLOAD_HASH), "payload_hash", &o->payload_hash_len, 0);
#undef OPT
}

/* A header value as a string; numbers are converted and anchored in the table at `anchor`. */
static const char *header_value(lua_State *L, int ty, size_t *len, int anchor)
{
  if (ty == LUA_TSTRING) return lua_tolstring(L, -1, len);
  if (ty != LUA_TNUMBER) luaL_error(L, "gf.aws.sign: header values must be strings or numbers");
  if (lua_type(L, anchor) == LUA_TNIL) {
    lua_createtable(L, 4, 0);
    lua_replace(L, anchor);
  }
  lua_pushvalue(L, -1);
  const char *s = lua_tolstring(L, -1, len);
  lua_rawseti(L, anchor, (lua_Integer)lua_rawlen(L, anchor) + 1);
  return s;
}

static gf_sigv4_header *add_header(lua_State *L, gf_sigv4_ctx *c, size_t n)
{
  gf_sigv4_header *h = gf_sigv4_ctx_headers(c, n + 1);
  if (!h) luaL_error(L, "not enough memory");
  return &h[n];
}

/* Header pairs of table t into the context's slots; strings stay anchored by t (or anchor). */
static size_t read_headers(lua_State *L, gf_sigv4_ctx *c, int t, int anchor)
{
  size_t n = 0;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    gf_sigv4_header *h;
    int vty = lua_type(L, -1);
    if (lua_type(L, -2) == LUA_TSTRING) {
      size_t nlen;
      const char *name = lua_tolstring(L, -2, &nlen);
      if (vty == LUA_TTABLE) {
        lua_Integer len = (lua_Integer)lua_rawlen(L, -1);
        for (lua_Integer i = 1; i <= len; i++) {
          int ety = lua_rawgeti(L, -1, i);
          h = add_header(L, c, n++);
          h->name = name;
          h->name_len = nlen;
          h->value = header_value(L, ety, &h->value_len, anchor);
          lua_settop(L, -2);
        }
      } else {
        h = add_header(L, c, n++);
        h->name = name;
        h->name_len = nlen;
        h->value = header_value(L, vty, &h->value_len, anchor);
      }
    } else if (vty == LUA_TTABLE) {
      if (lua_rawgeti(L, -1, 1) != LUA_TSTRING)
        luaL_error(L, "gf.aws.sign: header pairs must be {name, value}");
      h = add_header(L, c, n++);
      h->name = lua_tolstring(L, -1, &h->name_len);
      lua_settop(L, -2);
      int ety = lua_rawgeti(L, -1, 2);
      h->value = header_value(L, ety, &h->value_len, anchor);
      lua_settop(L, -2);
    } else {
      luaL_error(L, "gf.aws.sign: headers must map names to values");
    }
    lua_settop(L, -2);
  }
  return n;
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

/* Push the name of a returned header (then its value, then lua_rawset(L, -3)). */
static void out_key(lua_State *L, int name)
{
  lua_pushvalue(L, lua_upvalueindex(name));
}

#define NOPTS (NKEYS - K_REGION)

static int l_sign(lua_State *L)
{
  state *st = state_of(L);
  gf_sigv4_ctx *c = st->ctx;
  gf_sigv4_request r;
  gf_sigv4_credentials cr;
  gf_sigv4_options o;
  gf_sigv4_result res;
  int debug = 0, ty[NKEYS];
  for (int i = 0; i < NKEYS; i++) ty[i] = LUA_TNIL;
  for (int i = 1; i <= 3; i++) /* luaL_checktype's message, without its call per argument */
    if (lua_type(L, i) != LUA_TTABLE) luaL_checktype(L, i, LUA_TTABLE);
  if (!lua_checkstack(L, NOPTS + K_REGION + 16))
    luaL_checkstack(L, NOPTS + K_REGION + 16, "gf.aws.sign");
  /* 4: anchor for converted header values; 5..: the options; then the fields K_METHOD.. */
  const int ob = 5, fb = ob + NOPTS;
  lua_settop(L, fb - 1);
  scan_options(L, st, 3, ob, ty);
  for (int i = K_METHOD; i < K_REGION; i++) {
    lua_pushvalue(L, lua_upvalueindex(U_METHOD + i));
    ty[i] = lua_rawget(L, i < K_ACCESS_KEY ? 1 : 2);
  }
  r.method = slot_string(L, fb + K_METHOD, ty[K_METHOD], "method", &r.method_len, 1);
  r.url = slot_string(L, fb + K_URL, ty[K_URL], "url", &r.url_len, 1);
  r.body = slot_string(L, fb + K_BODY, ty[K_BODY], "body", &r.body_len, 0);
  cr.access_key =
      slot_string(L, fb + K_ACCESS_KEY, ty[K_ACCESS_KEY], "access_key", &cr.access_key_len, 1);
  cr.secret_key =
      slot_string(L, fb + K_SECRET_KEY, ty[K_SECRET_KEY], "secret_key", &cr.secret_key_len, 1);
  cr.session_token = slot_string(L, fb + K_SESSION_TOKEN, ty[K_SESSION_TOKEN], "session_token",
                                 &cr.session_token_len, 0);
  if (cr.session_token && cr.session_token_len == 0) cr.session_token = NULL;
  read_options(L, ob, ty, &o, &debug);
  r.headers = NULL;
  r.nheaders = 0;
  if (ty[K_HEADERS] == LUA_TTABLE) {
    r.nheaders = read_headers(L, c, fb + K_HEADERS, 4);
    r.headers = gf_sigv4_ctx_headers(c, r.nheaders);
  } else if (ty[K_HEADERS] != LUA_TNIL) {
    return luaL_error(L, "gf.aws.sign: 'headers' must be a table");
  }
  int rc = gf_sigv4_sign(c, &r, &cr, &o, &res);
  if (rc == GF_SIGV4_ENOMEM) return luaL_error(L, "not enough memory");
  if (rc != GF_SIGV4_OK) return luaL_error(L, "gf.aws.sign: %s", gf_sigv4_error(c));
  if (o.presign) {
    lua_pushlstring(L, res.url, res.url_len);
  } else {
    lua_createtable(L, 0, 2 + (cr.session_token != NULL) + (res.content_sha256 != NULL));
    out_key(L, U_AUTHORIZATION);
    lua_pushlstring(L, res.authorization, res.authorization_len);
    lua_rawset(L, -3);
    if (st->date_time != o.time) { /* one X-Amz-Date string per second, kept as an upvalue */
      lua_pushlstring(L, res.amz_date, 16);
      lua_replace(L, lua_upvalueindex(U_DATE));
      st->date_time = o.time;
    }
    out_key(L, U_DATE_NAME);
    lua_pushvalue(L, lua_upvalueindex(U_DATE));
    lua_rawset(L, -3);
    if (cr.session_token) { /* the caller's own string */
      out_key(L, U_TOKEN_NAME);
      lua_pushvalue(L, fb + K_SESSION_TOKEN);
      lua_rawset(L, -3);
    }
    if (res.content_sha256) {
      out_key(L, U_CONTENT_NAME);
      if (res.content_sha256_len == 64 && memcmp(res.content_sha256, EMPTY_SHA256, 64) == 0) {
        lua_pushvalue(L, lua_upvalueindex(U_EMPTY_SHA256));
      } else {
        lua_pushlstring(L, res.content_sha256, res.content_sha256_len);
      }
      lua_rawset(L, -3);
    }
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

static int l_sha1(lua_State *L)
{
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  int hex = lua_toboolean(L, 2);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  char h[2 * 20];
  if (EVP_Digest(s, n, out, &len, EVP_sha1(), NULL) != 1 || len != 20)
    return luaL_error(L, "sha1 failed");
  if (!hex) {
    lua_pushlstring(L, (const char *)out, 20);
    return 1;
  }
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < 20; i++) {
    h[2 * i] = digits[out[i] >> 4];
    h[2 * i + 1] = digits[out[i] & 15];
  }
  lua_pushlstring(L, h, sizeof h);
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

static const luaL_Reg funcs[] = {{"sha256_hex", l_sha256_hex},
                                 {"hmac_sha256", l_hmac_sha256},
                                 {"uri_encode", l_uri_encode},
                                 {"cache_stats", l_cache_stats},
                                 {"sha1", l_sha1},
                                 {NULL, NULL}};

int luaopen_gf_aws_core(lua_State *L);
int luaopen_gf_aws_core(lua_State *L)
{
  lua_createtable(L, 0, 9);
  state *st = lua_newuserdatauv(L, sizeof *st, 1);
  memset(st, 0, sizeof *st);
  if (luaL_newmetatable(L, CTX_TYPE)) {
    gf_set_finalizer(L, ctx_gc);
  }
  lua_setmetatable(L, -2);
  lua_createtable(L, NKEYS, 0); /* anchors the interned names for the life of the state */
  for (int i = 0; i < NKEYS; i++) {
    lua_pushstring(L, KEY_NAMES[i]);
    st->ids[i] = lua_topointer(L, -1);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setiuservalue(L, -2, 1);
  st->ctx = gf_sigv4_ctx_new();
  if (!st->ctx) return luaL_error(L, "gf.aws: cannot set up SHA-256 and HMAC (libcrypto)");
  st->date_time = INT64_MIN;
  lua_pushvalue(L, -1);
  for (int i = K_METHOD; i < K_REGION; i++) lua_pushstring(L, KEY_NAMES[i]);
  for (int i = 0; i < 4; i++) lua_pushstring(L, OUT_NAMES[i]);
  lua_pushliteral(L, EMPTY_SHA256);
  lua_pushnil(L); /* U_DATE */
  lua_pushcclosure(L, l_sign, NUPVALUES);
  lua_setfield(L, -3, "sign");
  luaL_setfuncs(L, funcs, 1);
  lua_pushliteral(L, "OpenSSL libcrypto");
  lua_setfield(L, -2, "_LIBRARY");
  lua_pushstring(L, OpenSSL_version(OPENSSL_VERSION));
  lua_setfield(L, -2, "_LIBVERSION");
  return 1;
}
