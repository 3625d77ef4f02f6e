/*
** lgdaljob.h — the worker-job plumbing shared by the gf.raster and gf.grib bindings (included by
** lraster.c and lgrib.c only; it is binding code, so it may use Lua).
**
** A job is gathered on the loop thread while it sits in a "box" userdata (so an error raised
** while reading arguments frees it), then handed to gf_work: run() executes on a worker thread
** with GDAL's errors captured (gdalenv.h), and the result — a gf_rv tree, or a custom push — comes
** back as Lua values; a failure becomes `nil, "<op> <object>: <GDAL message>", code`.
*/
#ifndef GF_LGDALJOB_H
#define GF_LGDALJOB_H

#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "gdalenv.h"
#include "gf.h"
#include "rtree.h"

typedef struct gf_gjob gf_gjob;
struct gf_gjob {
  void (*run)(gf_gjob *j);               /* worker thread */
  int (*push)(lua_State *L, gf_gjob *j); /* optional: push a successful result yourself */
  void (*req_free)(void *req);
  void *req;        /* the operation's own request */
  char **kv;        /* thread-local GDAL config, KEY, VALUE, ..., NULL */
  char what[512];   /* "raster.info /path" for messages */
  const char *code; /* failure code, "gdal" unless run() says otherwise */
  gf_gdal_err err;
  gf_rv *result;
};

#define GF_JOBBOX "gf.gdal.jobbox"

static void gjob_free(gf_gjob *j)
{
  if (!j) return;
  if (j->req_free && j->req) j->req_free(j->req);
  if (j->kv) {
    for (size_t i = 0; j->kv[i]; i++) free(j->kv[i]);
    free(j->kv);
  }
  gf_rv_free(j->result);
  free(j);
}

static int jobbox_gc(lua_State *L)
{
  gf_gjob **box = luaL_checkudata(L, 1, GF_JOBBOX);
  gjob_free(*box);
  *box = NULL;
  return 0;
}

/* Push a box holding a new job; the job is freed with the box unless gjob_submit takes it. */
static gf_gjob *gjob_new(lua_State *L, void (*run)(gf_gjob *))
{
  gf_gjob **box = lua_newuserdatauv(L, sizeof *box, 0);
  *box = NULL;
  if (luaL_newmetatable(L, GF_JOBBOX)) {
    gf_set_finalizer(L, jobbox_gc);
  }
  lua_setmetatable(L, -2);
  gf_gjob *j = calloc(1, sizeof *j);
  if (!j) luaL_error(L, "not enough memory");
  j->run = run;
  j->code = "gdal";
  *box = j;
  return j;
}

/* GDAL set up with the defaults unless a script configured it first. */
static void gjob_ensure_setup(void)
{
  if (gf_gdal_is_setup()) return;
  gf_gdal_config c;
  gf_gdal_config_default(&c);
  gf_gdal_setup(&c);
}

/* The common start of an operation on an input: GDAL set up, a new job in its box (left on the
** stack) that owns `req` (freed with req_free, which must accept a zeroed request), and the
** message prefix "<module>.<name> <src>". */
static gf_gjob *gjob_begin(lua_State *L, void (*run)(gf_gjob *), size_t req_size,
                           void (*req_free)(void *), const char *module, const char *name,
                           const char *src)
{
  gjob_ensure_setup();
  gf_gjob *j = gjob_new(L, run);
  j->req = calloc(1, req_size);
  if (!j->req) luaL_error(L, "not enough memory");
  j->req_free = req_free;
  snprintf(j->what, sizeof j->what, "%s.%s %s", module, name, src);
  return j;
}

static char *gjob_strdup(lua_State *L, const char *s)
{
  char *p = strdup(s ? s : "");
  if (!p) luaL_error(L, "not enough memory");
  return p;
}

/* Read a {KEY = "value"} table at idx (or nil) into j->kv. */
static void gjob_config(lua_State *L, gf_gjob *j, int idx)
{
  if (lua_isnoneornil(L, idx)) return;
  luaL_checktype(L, idx, LUA_TTABLE);
  size_t n = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "GDAL config table: string keys and string values expected");
    n++;
    lua_pop(L, 1);
  }
  j->kv = calloc(2 * n + 1, sizeof *j->kv);
  if (!j->kv) luaL_error(L, "not enough memory");
  size_t i = 0;
  lua_pushnil(L);
  while (lua_next(L, idx) && i < 2 * n) {
    j->kv[i++] = gjob_strdup(L, lua_tostring(L, -2));
    j->kv[i++] = gjob_strdup(L, lua_tostring(L, -1));
    lua_pop(L, 1);
  }
}

static void gjob_work(void *ud)
{
  gf_gjob *j = ud;
  gf_gdal_begin(&j->err, j->kv);
  j->run(j);
  gf_gdal_end(&j->err, j->kv);
}

static void gjob_push_rv(lua_State *L, const gf_rv *v)
{
  luaL_checkstack(L, 4, "result too deep");
  if (v->broken) luaL_error(L, "not enough memory");
  switch (v->type) {
    case GF_RV_BOOL:
      lua_pushboolean(L, v->u.b);
      break;
    case GF_RV_INT:
      lua_pushinteger(L, (lua_Integer)v->u.i);
      break;
    case GF_RV_NUM:
      lua_pushnumber(L, (lua_Number)v->u.n);
      break;
    case GF_RV_STR:
      lua_pushlstring(L, v->u.s.p, v->u.s.len);
      break;
    default: {
      int list = v->type == GF_RV_LIST;
      lua_createtable(L, list ? (int)v->count : 0, list ? 0 : (int)v->count);
      lua_Integer i = 0;
      for (const gf_rv *c = v->first; c; c = c->next) {
        gjob_push_rv(L, c);
        if (list)
          lua_rawseti(L, -2, ++i);
        else
          lua_setfield(L, -2, c->key);
      }
    }
  }
}

static int gjob_push(lua_State *L, void *ud)
{
  gf_gjob *j = ud;
  /* Operations return no result when they fail; an error GDAL reported and recovered from
  ** (a probe, a fallback) does not fail a job that produced its result. */
  if (!j->result)
    return gf_fail(L, j->code, "%s: %s", j->what, j->err.failed ? j->err.msg : "failed");
  if (j->push) return j->push(L, j);
  gjob_push_rv(L, j->result);
  return 1;
}

static void gjob_release(void *ud)
{
  gjob_free(ud);
}

/* Take the job out of its box (at stack index `box`) and run it on the pool. */
static int gjob_submit(lua_State *L, int box)
{
  gf_gjob **b = luaL_checkudata(L, box, GF_JOBBOX);
  gf_gjob *j = *b;
  *b = NULL;
  return gf_work(L, gjob_work, gjob_push, gjob_release, j);
}

#endif
