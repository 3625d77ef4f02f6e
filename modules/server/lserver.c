/*
** lserver.c — gf.server.core: the Lua binding of server.c. The facade gf.server adds the router,
** the handler tasks, JSON bodies, static files, logging and the graceful close.
**
**   listen(bind, port, max_body, max_connections, timeout_s) -> h | nil, msg, code
**   port(h) -> integer
**   accept(h) -> id, req | nil (no more requests: closing) | false (none queued now)
**   wait(h)        waits (yields the task) until accept has something to say
**       req = {method, path, version, remote, headers = {lower-case name = value}, query, body}
**   respond(h, id, status, {name, value, ...} | nil, body | nil, file | nil)
**       -> true | false (the request is gone) | nil, msg, code (file cannot be opened)
**       raises on a header MHD refuses (line breaks)
**   quiesce(h)            stop accepting; in_flight(h) -> requests not yet finished;
**   connections(h) -> open client connections
**   close(h)              stop now (unanswered requests get 503); also __gc / __close
**   realpath(path) -> absolute path | nil, msg, code
*/
#define _DEFAULT_SOURCE /* realpath */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "gf.h"
#include "server.h"

#define SRV_MT "gf.server.handle"

typedef struct srv_box {
  gf_srv *s; /* NULL once closed */
} srv_box;

static srv_box *check_box(lua_State *L, int idx)
{
  return luaL_checkudata(L, idx, SRV_MT);
}

static gf_srv *check_open(lua_State *L, int idx)
{
  srv_box *b = check_box(L, idx);
  if (!b->s) luaL_error(L, "attempt to use a closed gf.server");
  return b->s;
}

static int l_listen(lua_State *L)
{
  gf_srv_opts o;
  o.bind = luaL_checkstring(L, 1);
  lua_Integer port = luaL_checkinteger(L, 2);
  lua_Integer max_body = luaL_checkinteger(L, 3);
  lua_Integer max_conn = luaL_checkinteger(L, 4);
  lua_Number timeout = luaL_checknumber(L, 5);
  luaL_argcheck(L, port >= 0 && port <= 65535, 2, "port out of range");
  luaL_argcheck(L, max_body >= 0, 3, "negative max_body");
  luaL_argcheck(L, max_conn >= 1 && max_conn <= 100000, 4, "max_connections out of range");
  luaL_argcheck(L, timeout > 0 && timeout <= 86400, 5, "timeout out of range");
  o.port = (int)port;
  o.max_body = (size_t)max_body;
  o.max_connections = (unsigned)max_conn;
  o.timeout_ms = (int64_t)(timeout * 1000.0 + 0.5);
  srv_box *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->s = NULL;
  luaL_setmetatable(L, SRV_MT);
  char err[512];
  const char *code = "io";
  b->s = gf_srv_open(gf_host_loop(L), &o, err, sizeof err, &code);
  if (!b->s) return gf_fail(L, code, "%s", err);
  return 1;
}

static int l_port(lua_State *L)
{
  lua_pushinteger(L, gf_srv_port(check_open(L, 1)));
  return 1;
}

/* {====== accept ====== */

typedef struct push_ctx {
  lua_State *L;
  int t;
} push_ctx;

static void push_header(void *ud, const char *key, const char *value)
{
  push_ctx *c = ud;
  lua_State *L = c->L;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (const char *p = key; *p; p++) luaL_addchar(&b, (char)tolower((unsigned char)*p));
  luaL_pushresult(&b); /* [name] */
  lua_pushvalue(L, -1);
  if (lua_rawget(L, c->t) == LUA_TSTRING) { /* [name old] */
    lua_pushliteral(L, ", ");
    lua_pushstring(L, value);
    lua_concat(L, 3);
  } else {
    lua_pop(L, 1);
    lua_pushstring(L, value);
  }
  lua_rawset(L, c->t);
}

static void push_arg(void *ud, const char *key, const char *value)
{
  push_ctx *c = ud;
  lua_pushstring(c->L, value);
  lua_setfield(c->L, c->t, key);
}

static void push_request(lua_State *L, gf_srv_req *r)
{
  lua_pushinteger(L, (lua_Integer)gf_srv_req_id(r));
  lua_createtable(L, 0, 8);
  int t = lua_gettop(L);
  lua_pushstring(L, gf_srv_req_method(r));
  lua_setfield(L, t, "method");
  lua_pushstring(L, gf_srv_req_path(r));
  lua_setfield(L, t, "path");
  lua_pushstring(L, gf_srv_req_version(r));
  lua_setfield(L, t, "version");
  lua_pushstring(L, gf_srv_req_remote(r));
  lua_setfield(L, t, "remote");
  size_t len;
  const char *body = gf_srv_req_body(r, &len);
  lua_pushlstring(L, body, len);
  lua_setfield(L, t, "body");
  push_ctx c = {L, 0};
  lua_newtable(L);
  c.t = lua_gettop(L);
  gf_srv_req_each(r, 'h', push_header, &c);
  lua_setfield(L, t, "headers");
  lua_newtable(L);
  c.t = lua_gettop(L);
  gf_srv_req_each(r, 'q', push_arg, &c);
  lua_setfield(L, t, "query");
}

static int l_accept(lua_State *L)
{
  srv_box *b = check_box(L, 1);
  gf_srv_req *r = b->s ? gf_srv_next(b->s) : NULL;
  if (r) {
    luaL_checkstack(L, 8, NULL);
    push_request(L, r);
    return 2;
  }
  if (!b->s || gf_srv_drained(b->s))
    lua_pushnil(L);
  else
    lua_pushboolean(L, 0);
  return 1;
}

static int l_wait(lua_State *L)
{
  gf_srv *s = check_open(L, 1);
  return gf_wait_fd(L, gf_srv_event_fd(s), GF_IO_READ, -1);
}

/* }====== */

static int l_respond(lua_State *L)
{
  srv_box *b = check_box(L, 1);
  lua_Integer id = luaL_checkinteger(L, 2);
  lua_Integer status = luaL_checkinteger(L, 3);
  luaL_argcheck(L, status >= 100 && status <= 599, 3, "HTTP status out of range");
  size_t len = 0;
  const char *body = luaL_optlstring(L, 5, NULL, &len);
  const char *file = luaL_optstring(L, 6, NULL);
  const char **hdr = NULL;
  if (!lua_isnoneornil(L, 4)) {
    luaL_checktype(L, 4, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 4);
    hdr = lua_newuserdatauv(L, (size_t)(n + 1) * sizeof *hdr, 0); /* freed by the GC */
    for (lua_Integer i = 1; i <= n; i++) {
      if (lua_geti(L, 4, i) != LUA_TSTRING)
        return luaL_error(L, "header %d: string expected", (int)i);
      hdr[i - 1] = lua_tostring(L, -1); /* the table keeps it alive */
      lua_pop(L, 1);
    }
    hdr[n] = NULL;
  }
  if (!b->s) {
    lua_pushboolean(L, 0);
    return 1;
  }
  int fd = -1;
  uint64_t fsize = 0;
  if (file) {
    fd = open(file, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      int e = fd < 0 ? errno : EISDIR;
      if (fd >= 0) close(fd);
      return gf_fail(L, e == ENOENT || e == EISDIR || e == ENOTDIR ? "not_found" : "io",
                     "server: open %s: %s", file, strerror(e));
    }
    fsize = (uint64_t)st.st_size;
  }
  int rc = gf_srv_respond(b->s, (uint64_t)id, (int)status, hdr, body ? body : "", len, fd, fsize);
  if (rc == -2) return luaL_error(L, "gf.server: a response header was refused (line break?)");
  lua_pushboolean(L, rc == 0);
  return 1;
}

static int l_quiesce(lua_State *L)
{
  srv_box *b = check_box(L, 1);
  if (b->s) gf_srv_quiesce(b->s);
  return 0;
}

static int l_in_flight(lua_State *L)
{
  srv_box *b = check_box(L, 1);
  lua_pushinteger(L, b->s ? gf_srv_in_flight(b->s) : 0);
  return 1;
}

static int l_connections(lua_State *L)
{
  srv_box *b = check_box(L, 1);
  lua_pushinteger(L, b->s ? gf_srv_connections(b->s) : 0);
  return 1;
}

static int l_close(lua_State *L)
{
  srv_box *b = check_box(L, 1);
  gf_srv *s = b->s;
  b->s = NULL;
  gf_srv_free(s);
  return 0;
}

static int l_realpath(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  char *r = realpath(path, NULL);
  if (!r)
    return gf_fail(L, errno == ENOENT || errno == ENOTDIR ? "not_found" : "io",
                   "server: realpath %s: %s", path, strerror(errno));
  lua_pushstring(L, r);
  free(r);
  return 1;
}

int luaopen_gf_server_core(lua_State *L);
int luaopen_gf_server_core(lua_State *L)
{
  static const luaL_Reg methods[] = {{"__gc", l_close}, {"__close", l_close}, {NULL, NULL}};
  static const luaL_Reg fns[] = {{"listen", l_listen},
                                 {"port", l_port},
                                 {"accept", l_accept},
                                 {"wait", l_wait},
                                 {"respond", l_respond},
                                 {"quiesce", l_quiesce},
                                 {"in_flight", l_in_flight},
                                 {"connections", l_connections},
                                 {"close", l_close},
                                 {"realpath", l_realpath},
                                 {NULL, NULL}};
  luaL_newmetatable(L, SRV_MT);
  luaL_setfuncs(L, methods, 0);
  lua_pop(L, 1);
  luaL_newlib(L, fns);
  lua_pushliteral(L, "libmicrohttpd");
  lua_setfield(L, -2, "_LIBRARY");
  lua_pushstring(L, gf_srv_library_version() + sizeof "libmicrohttpd");
  lua_setfield(L, -2, "_LIBVERSION");
  return 1;
}
