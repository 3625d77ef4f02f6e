/*
** lhttp.c — gf.http.core: HTTP transfers on the host's curl multi handle, URL helpers.
**
**   request(opts) -> response | nil, message, code     (see http.lua for opts and response)
**     a 2xx output_file download is not in place yet: response.file is a gf.http.file to commit
**   commit({file, ...}) -> {true | {message, code}, ...}   write, fsync and rename the files, as
**     one batch on a worker thread (each file at most once)
**   url_encode(s) -> s        url_decode(s [, form]) -> s | nil, message, "invalid_input"
**   parse_url(url) -> {scheme, user, password, host, port, path, query, fragment} | nil, msg, code
**   redact_url(url) -> url with secret query values and passwords replaced by ***
**   parse_date(http_date) -> epoch seconds | nil
**   now() -> monotonic seconds
**   configure{max_connections =, max_host_connections =}   the shared pool's bounds
*/
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>

#include "gf.h"
#include "http.h"

#define XFER_MT "gf.http.xfer"
#define FILE_MT "gf.http.file"

/* What a transfer carries besides the pure-C part: names for messages. */
typedef struct request_ctx {
  gf_http_xfer *x;
  char method[16];
  char url[2048]; /* redacted */
} request_ctx;

typedef struct box {
  request_ctx *ctx; /* NULL once the host owns it */
} box;

static void ctx_free(void *ud)
{
  request_ctx *c = ud;
  if (!c) return;
  gf_http_free(c->x);
  free(c);
}

static int box_gc(lua_State *L)
{
  box *b = luaL_checkudata(L, 1, XFER_MT);
  ctx_free(b->ctx);
  b->ctx = NULL;
  return 0;
}

typedef struct file_box {
  gf_http_file *f; /* NULL once handed to a commit */
} file_box;

static int file_gc(lua_State *L)
{
  file_box *b = luaL_checkudata(L, 1, FILE_MT);
  gf_http_file_free(b->f);
  b->f = NULL;
  return 0;
}

/* {====== reading options ====== */

static const char *const OPTIONS[] = {"method",
                                      "url",
                                      "headers",
                                      "body",
                                      "body_file",
                                      "body_offset",
                                      "body_length",
                                      "output_file",
                                      "resume",
                                      "range",
                                      "timeout",
                                      "connect_timeout",
                                      "idle_timeout",
                                      "follow_redirects",
                                      "max_redirects",
                                      "insecure",
                                      "ca_file",
                                      "proxy",
                                      "max_body",
                                      "sync",
                                      NULL};

static void check_keys(lua_State *L)
{
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "http.request: option names are strings");
    const char *k = lua_tostring(L, -1);
    int ok = 0;
    for (int i = 0; OPTIONS[i] && !ok; i++) ok = strcmp(OPTIONS[i], k) == 0;
    if (!ok) luaL_error(L, "http.request: unknown option '%s'", k);
  }
}

static const char *opt_string(lua_State *L, const char *name, size_t *len)
{
  int t = lua_getfield(L, 1, name);
  const char *s = NULL;
  if (t == LUA_TSTRING) {
    s = lua_tolstring(L, -1, len); /* anchored by the options table */
  } else if (t != LUA_TNIL) {
    luaL_error(L, "http.request: option '%s' must be a string (got %s)", name,
               luaL_typename(L, -1));
  }
  lua_pop(L, 1);
  return s;
}

static int opt_bool(lua_State *L, const char *name, int def)
{
  int t = lua_getfield(L, 1, name);
  int v = def;
  if (t == LUA_TBOOLEAN)
    v = lua_toboolean(L, -1);
  else if (t != LUA_TNIL)
    luaL_error(L, "http.request: option '%s' must be a boolean (got %s)", name,
               luaL_typename(L, -1));
  lua_pop(L, 1);
  return v;
}

/* Seconds (a non-negative number) as a double; def when absent. */
static double opt_seconds(lua_State *L, const char *name, double def)
{
  int t = lua_getfield(L, 1, name);
  double v = def;
  if (t == LUA_TNUMBER) {
    v = lua_tonumber(L, -1);
    if (!(v >= 0) || !isfinite(v))
      luaL_error(L, "http.request: option '%s' must be a non-negative number", name);
  } else if (t != LUA_TNIL) {
    luaL_error(L, "http.request: option '%s' must be a number (got %s)", name,
               luaL_typename(L, -1));
  }
  lua_pop(L, 1);
  return v;
}

static lua_Integer opt_count(lua_State *L, const char *name, lua_Integer def)
{
  int t = lua_getfield(L, 1, name);
  lua_Integer v = def;
  if (t != LUA_TNIL) {
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0)
      luaL_error(L, "http.request: option '%s' must be a non-negative integer", name);
    v = lua_tointeger(L, -1);
  }
  lua_pop(L, 1);
  return v;
}

static int bad_header_char(const char *s, int in_name)
{
  for (; *s; s++) {
    if (*s == '\r' || *s == '\n') return 1;
    if (in_name && (*s == ':' || *s == ' ' || *s == '\t')) return 1;
  }
  return 0;
}

/*
** headers = {name = value}: "Name: value" lines pushed in a new anchor table and their pointers
** in a userdata array (both garbage-collected). Leaves [anchor array] on the stack.
*/
static const char *const *read_headers(lua_State *L, size_t *n)
{
  *n = 0;
  int t = lua_getfield(L, 1, "headers");
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_newuserdatauv(L, sizeof(char *), 0);
    return lua_touserdata(L, -1);
  }
  if (t != LUA_TTABLE) luaL_error(L, "http.request: option 'headers' must be a table");
  int htab = lua_gettop(L);
  lua_newtable(L); /* anchor */
  int anchor = htab + 1;
  size_t count = 0;
  lua_pushnil(L);
  while (lua_next(L, htab)) {
    if (lua_type(L, -2) != LUA_TSTRING || bad_header_char(lua_tostring(L, -2), 1))
      luaL_error(L, "http.request: bad header name");
    int vt = lua_type(L, -1);
    if (vt != LUA_TSTRING && vt != LUA_TNUMBER)
      luaL_error(L, "http.request: header '%s' must be a string", lua_tostring(L, -2));
    const char *v = lua_tostring(L, -1);
    if (bad_header_char(v, 0))
      luaL_error(L, "http.request: header '%s' holds a line break", lua_tostring(L, -2));
    if (*v)
      lua_pushfstring(L, "%s: %s", lua_tostring(L, -2), v);
    else
      lua_pushfstring(L, "%s;", lua_tostring(L, -2)); /* libcurl's way to send it empty */
    lua_rawseti(L, anchor, (lua_Integer)++count);
    lua_pop(L, 1);
  }
  lua_remove(L, htab); /* [anchor] */
  const char **lines = lua_newuserdatauv(L, (count ? count : 1) * sizeof(char *), 0);
  for (size_t i = 0; i < count; i++) {
    lua_rawgeti(L, -2, (lua_Integer)i + 1);
    lines[i] = lua_tostring(L, -1); /* anchored */
    lua_pop(L, 1);
  }
  *n = count;
  return lines;
}

static void read_method(lua_State *L, char *out, size_t outlen)
{
  size_t len = 0;
  const char *m = opt_string(L, "method", &len);
  if (!m) m = "GET", len = 3;
  if (len == 0 || len >= outlen) luaL_error(L, "http.request: bad method");
  for (size_t i = 0; i < len; i++) {
    if (!isalpha((unsigned char)m[i])) luaL_error(L, "http.request: bad method");
    out[i] = (char)toupper((unsigned char)m[i]);
  }
  out[len] = '\0';
}

static void read_options(lua_State *L, gf_http_opts *o, char *method, size_t mlen)
{
  check_keys(L);
  read_method(L, method, mlen);
  o->method = method;
  o->url = opt_string(L, "url", NULL);
  if (!o->url) luaL_error(L, "http.request: option 'url' is required");
  o->body = opt_string(L, "body", &o->body_len);
  o->body_file = opt_string(L, "body_file", NULL);
  if (o->body && o->body_file) luaL_error(L, "http.request: give body or body_file, not both");
  lua_Integer off = opt_count(L, "body_offset", 0), blen = opt_count(L, "body_length", -1);
  if ((off || blen >= 0) && !o->body_file)
    luaL_error(L, "http.request: body_offset and body_length need body_file");
  o->body_offset = (uint64_t)off;
  o->body_length = (int64_t)blen;
  o->output_file = opt_string(L, "output_file", NULL);
  o->resume = opt_bool(L, "resume", 0);
  o->nosync = !opt_bool(L, "sync", 1);
  o->range = opt_string(L, "range", NULL);
  o->timeout_ms = (long)(opt_seconds(L, "timeout", 0) * 1000.0 + 0.5);
  o->connect_timeout_ms = (long)(opt_seconds(L, "connect_timeout", 30) * 1000.0 + 0.5);
  o->idle_timeout_ms = (long)(opt_seconds(L, "idle_timeout", 120) * 1000.0 + 0.5);
  o->follow_redirects = opt_bool(L, "follow_redirects", 1);
  o->max_redirects = (long)opt_count(L, "max_redirects", 10);
  o->insecure = opt_bool(L, "insecure", 0);
  o->ca_file = opt_string(L, "ca_file", NULL);
  o->proxy = opt_string(L, "proxy", NULL);
  o->max_body = (uint64_t)opt_count(L, "max_body", 0);
}

/* }====== */

/* {====== request ====== */

static void push_headers(lua_State *L, const gf_http_xfer *x)
{
  lua_createtable(L, 0, (int)gf_http_nheaders(x));
  for (size_t i = 0; i < gf_http_nheaders(x); i++) {
    const gf_http_header *h = gf_http_header_at(x, i);
    if (lua_getfield(L, -1, h->name) == LUA_TSTRING) {
      lua_pushliteral(L, ", ");
      lua_pushstring(L, h->value);
      lua_concat(L, 3);
    } else {
      lua_pop(L, 1);
      lua_pushstring(L, h->value);
    }
    lua_setfield(L, -2, h->name);
  }
}

static int request_push(lua_State *L, CURL *easy, CURLcode rc, void *ud)
{
  (void)easy;
  request_ctx *c = ud;
  gf_http_xfer *x = c->x;
  const char *code = "network";
  char msg[1024];
  if (gf_http_finish(x, rc, &code, msg, sizeof msg) != 0)
    return gf_fail(L, code, "http.request %s %s: %s", c->method, c->url, msg);
  file_box *fb = NULL;
  if (gf_http_output_path(x)) { /* the box first: nothing of ours is held if it raises */
    fb = lua_newuserdatauv(L, sizeof *fb, 0);
    fb->f = NULL;
    luaL_setmetatable(L, FILE_MT);
    if (gf_http_take_file(x, &fb->f, &code, msg, sizeof msg) != 0) {
      lua_pop(L, 1);
      return gf_fail(L, code, "http.request %s %s: %s", c->method, c->url, msg);
    }
  }
  size_t blen;
  const char *body = gf_http_body(x, &blen);
  lua_createtable(L, 0, 8);
  lua_pushinteger(L, gf_http_status(x));
  lua_setfield(L, -2, "status");
  push_headers(L, x);
  lua_setfield(L, -2, "headers");
  lua_pushlstring(L, body, blen);
  lua_setfield(L, -2, "body");
  lua_pushstring(L, gf_http_effective_url(x));
  lua_setfield(L, -2, "url");
  lua_pushinteger(L, (lua_Integer)gf_http_bytes(x));
  lua_setfield(L, -2, "bytes");
  lua_pushnumber(L, gf_http_total_time(x));
  lua_setfield(L, -2, "time");
  lua_pushstring(L, gf_http_version(x));
  lua_setfield(L, -2, "http_version");
  if (fb) {
    lua_pushstring(L, gf_http_output_path(x));
    lua_setfield(L, -2, "path");
    lua_rotate(L, -2, 1); /* [file response] */
    lua_setfield(L, -2, "file");
  }
  return 1;
}

static int l_request(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  if (!gf_curl_multi(L)) return luaL_error(L, "http.request: no host event loop");
  gf_http_opts o;
  memset(&o, 0, sizeof o);
  char method[16];
  read_options(L, &o, method, sizeof method);
  o.headers = read_headers(L, &o.nheaders); /* [opts anchor lines] */
  box *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->ctx = NULL;
  luaL_setmetatable(L, XFER_MT);
  request_ctx *c = calloc(1, sizeof *c);
  if (!c) return luaL_error(L, "not enough memory");
  b->ctx = c;
  memcpy(c->method, method, sizeof method);
  gf_http_redact_url(o.url, c->url, sizeof c->url);
  const char *code = "io";
  char err[512];
  c->x = gf_http_new(&o, &code, err, sizeof err);
  if (!c->x) return gf_fail(L, code, "http.request %s %s: %s", c->method, c->url, err);
  b->ctx = NULL; /* the host owns it from here */
  return gf_curl(L, gf_http_easy(c->x), request_push, ctx_free, c);
}

/* }====== */

/* {====== commit ====== */

typedef struct commit_job {
  size_t n;
  gf_http_file *files[];
} commit_job;

static void commit_work(void *ud)
{
  commit_job *j = ud;
  gf_http_commit(j->files, j->n);
}

static int commit_push(lua_State *L, void *ud)
{
  commit_job *j = ud;
  lua_createtable(L, (int)j->n, 0);
  for (size_t i = 0; i < j->n; i++) {
    const char *code = "io";
    const char *err = gf_http_file_error(j->files[i], &code);
    if (err) {
      lua_createtable(L, 2, 0);
      lua_pushstring(L, err);
      lua_rawseti(L, -2, 1);
      lua_pushstring(L, code);
      lua_rawseti(L, -2, 2);
    } else {
      lua_pushboolean(L, 1);
    }
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

static void commit_release(void *ud)
{
  commit_job *j = ud;
  for (size_t i = 0; i < j->n; i++) gf_http_file_free(j->files[i]);
  free(j);
}

static int l_commit(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TTABLE);
  size_t n = (size_t)luaL_len(L, 1);
  if (n == 0) {
    lua_newtable(L);
    return 1;
  }
  lua_settop(L, 1);
  lua_createtable(L, 0, (int)n);    /* seen */
  for (size_t i = 1; i <= n; i++) { /* check all before taking any */
    lua_rawgeti(L, 1, (lua_Integer)i);
    file_box *b = luaL_testudata(L, -1, FILE_MT);
    if (!b) return luaL_error(L, "http.commit: item %d is not a gf.http.file", (int)i);
    if (!b->f || lua_rawget(L, 2) != LUA_TNIL)
      return luaL_error(L, "http.commit: item %d was committed already", (int)i);
    lua_pop(L, 1);
    lua_rawgeti(L, 1, (lua_Integer)i);
    lua_pushboolean(L, 1);
    lua_rawset(L, 2);
  }
  commit_job *j = malloc(sizeof *j + n * sizeof(gf_http_file *));
  if (!j) return luaL_error(L, "not enough memory");
  j->n = 0;
  for (size_t i = 1; i <= n; i++) { /* no raise from here to gf_work */
    lua_rawgeti(L, 1, (lua_Integer)i);
    file_box *b = lua_touserdata(L, -1);
    lua_pop(L, 1);
    j->files[j->n++] = b->f;
    b->f = NULL;
  }
  return gf_work(L, commit_work, commit_push, commit_release, j);
}

/* }====== */

/* {====== URL helpers ====== */

static int l_url_encode(lua_State *L)
{
  size_t len, outlen;
  const char *s = luaL_checklstring(L, 1, &len);
  char *e = gf_http_url_encode(s, len, &outlen);
  if (!e) return luaL_error(L, "not enough memory");
  lua_pushlstring(L, e, outlen);
  free(e);
  return 1;
}

static int l_url_decode(lua_State *L)
{
  size_t len, outlen;
  const char *s = luaL_checklstring(L, 1, &len);
  int form = lua_toboolean(L, 2);
  char *d = gf_http_url_decode(s, len, form, &outlen);
  if (!d) return gf_fail(L, "invalid_input", "http.url_decode: malformed percent-escape");
  lua_pushlstring(L, d, outlen);
  free(d);
  return 1;
}

static int l_redact_url(lua_State *L)
{
  const char *s = luaL_checkstring(L, 1);
  luaL_Buffer b;
  size_t cap = strlen(s) + 64;
  char *out = luaL_buffinitsize(L, &b, cap);
  gf_http_redact_url(s, out, cap);
  luaL_pushresultsize(&b, strlen(out));
  return 1;
}

static void set_part(lua_State *L, CURLU *u, CURLUPart part, const char *name, unsigned flags)
{
  char *v = NULL;
  if (curl_url_get(u, part, &v, flags) == CURLUE_OK && v) {
    lua_pushstring(L, v); /* memory error: v leaks (tiny); no other raise is possible here */
    curl_free(v);
    lua_setfield(L, -2, name);
  }
}

static int l_parse_url(lua_State *L)
{
  const char *s = luaL_checkstring(L, 1);
  lua_createtable(L, 0, 8); /* before any C allocation */
  CURLU *u = curl_url();
  if (!u) return luaL_error(L, "not enough memory");
  CURLUcode rc = curl_url_set(u, CURLUPART_URL, s, CURLU_NON_SUPPORT_SCHEME);
  if (rc != CURLUE_OK) {
    curl_url_cleanup(u);
    char red[2048];
    gf_http_redact_url(s, red, sizeof red);
    return gf_fail(L, "invalid_input", "http.parse_url %s: %s", red, curl_url_strerror(rc));
  }
  set_part(L, u, CURLUPART_SCHEME, "scheme", 0);
  set_part(L, u, CURLUPART_USER, "user", 0);
  set_part(L, u, CURLUPART_PASSWORD, "password", 0);
  set_part(L, u, CURLUPART_HOST, "host", 0);
  set_part(L, u, CURLUPART_PATH, "path", 0);
  set_part(L, u, CURLUPART_QUERY, "query", 0);
  set_part(L, u, CURLUPART_FRAGMENT, "fragment", 0);
  char *port = NULL;
  if (curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK && port) {
    lua_Integer p = atoi(port);
    curl_free(port);
    lua_pushinteger(L, p);
    lua_setfield(L, -2, "port");
  }
  curl_url_cleanup(u);
  return 1;
}

static int l_parse_date(lua_State *L)
{
  long long t = gf_http_parse_date(luaL_checkstring(L, 1));
  if (t < 0)
    lua_pushnil(L);
  else
    lua_pushinteger(L, (lua_Integer)t);
  return 1;
}

/* }====== */

static int l_now(lua_State *L)
{
  lua_pushnumber(L, (lua_Number)gf_now_ms() / 1000.0);
  return 1;
}

static int l_configure(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TTABLE);
  static const struct {
    const char *name;
    CURLMoption opt;
  } knobs[] = {{"max_connections", CURLMOPT_MAX_TOTAL_CONNECTIONS},
               {"max_connections", CURLMOPT_MAXCONNECTS},
               {"max_host_connections", CURLMOPT_MAX_HOST_CONNECTIONS}};
  CURLM *m = gf_curl_multi(L);
  if (!m) return luaL_error(L, "http.configure: no host event loop");
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
    if (strcmp(k, "max_connections") != 0 && strcmp(k, "max_host_connections") != 0)
      return luaL_error(L, "http.configure: unknown option '%s'", k);
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1)
      return luaL_error(L, "http.configure: '%s' must be a positive integer", k);
    lua_pop(L, 1);
  }
  for (size_t i = 0; i < sizeof knobs / sizeof knobs[0]; i++) {
    if (lua_getfield(L, 1, knobs[i].name) == LUA_TNUMBER)
      curl_multi_setopt(m, knobs[i].opt, (long)lua_tointeger(L, -1));
    lua_pop(L, 1);
  }
  return 0;
}

int luaopen_gf_http_core(lua_State *L);
int luaopen_gf_http_core(lua_State *L)
{
  static const luaL_Reg funcs[] = {{"request", l_request},
                                   {"url_encode", l_url_encode},
                                   {"url_decode", l_url_decode},
                                   {"redact_url", l_redact_url},
                                   {"parse_url", l_parse_url},
                                   {"parse_date", l_parse_date},
                                   {"now", l_now},
                                   {"configure", l_configure},
                                   {"commit", l_commit},
                                   {NULL, NULL}};
  if (luaL_newmetatable(L, XFER_MT)) {
    gf_set_finalizer(L, box_gc);
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, FILE_MT)) {
    gf_set_finalizer(L, file_gc);
  }
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  lua_pushliteral(L, "libcurl");
  lua_setfield(L, -2, "_LIBRARY");
  lua_pushstring(L, curl_version_info(CURLVERSION_NOW)->version);
  lua_setfield(L, -2, "_LIBVERSION");
  return 1;
}
