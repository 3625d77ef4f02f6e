/*
** lgrib.c — gf.grib.core: GRIB reading on GDAL's GRIB driver, on the worker pool.
**
**   inventory(path, cfg) -> {messages, grid = {...}, fields = {{band, message, ...}}}
**   values_at(path, lons, lats, bands|nil, cfg) -> {points = {...}, messages = {{..., values}}}
**   csv(path, dst, bands|nil, cfg) -> {path}
**
** Failures: nil, "grib.<op> <path>: <why>", "gdal". GDAL set-up is shared with gf.raster.
*/
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <gdal.h>
#include <lauxlib.h>
#include <lua.h>

#include "grib.h"
#include "lgdaljob.h"

enum { OP_INVENTORY, OP_VALUES, OP_CSV };

typedef struct {
  int op;
  char *src, *dst;
  int *bands, nbands;
  gf_grib_points pts;
} greq;

static void greq_free(void *p)
{
  greq *r = p;
  free(r->src);
  free(r->dst);
  free(r->bands);
  gf_grib_points_free(&r->pts);
  free(r);
}

/*
** GDAL's GRIB driver (degrib) keeps process-wide state: two decodes at once on the worker pool
** occasionally failed with a spurious "Out of memory." (seen in CI). GRIB jobs therefore take
** turns; they still run off the loop thread, and raster jobs still run in parallel.
*/
static pthread_mutex_t grib_mu = PTHREAD_MUTEX_INITIALIZER;

static void grun(gf_gjob *j)
{
  greq *r = j->req;
  pthread_mutex_lock(&grib_mu);
  switch (r->op) {
    case OP_INVENTORY:
      j->result = gf_grib_inventory(r->src, &j->err);
      break;
    case OP_VALUES:
      if (gf_grib_values_at(r->src, r->bands, r->nbands, &r->pts, &j->err) == 0)
        j->result = gf_rv_root(GF_RV_MAP);
      break;
    case OP_CSV:
      if (gf_grib_csv(r->src, r->dst, r->bands, r->nbands, &j->err) == 0) {
        j->result = gf_rv_root(GF_RV_MAP);
        gf_rv_str(j->result, "path", r->dst);
      }
      break;
  }
  pthread_mutex_unlock(&grib_mu);
  if (!j->result && !j->err.failed) gf_gdal_fail(&j->err, "failed");
}

static void setnum(lua_State *L, const char *k, double v)
{
  if (isnan(v)) return;
  lua_pushnumber(L, v);
  lua_setfield(L, -2, k);
}

static int push_values(lua_State *L, gf_gjob *j)
{
  gf_grib_points *p = &((greq *)j->req)->pts;
  lua_createtable(L, 0, 2);
  lua_createtable(L, p->npts, 0);
  for (int i = 0; i < p->npts; i++) {
    lua_createtable(L, 0, 7);
    setnum(L, "lon", p->lon[i]);
    setnum(L, "lat", p->lat[i]);
    setnum(L, "grid_lon", p->glon[i]);
    setnum(L, "grid_lat", p->glat[i]);
    if (p->col[i] >= 0) {
      lua_pushinteger(L, p->col[i]);
      lua_setfield(L, -2, "col");
      lua_pushinteger(L, p->row[i]);
      lua_setfield(L, -2, "row");
    } else {
      lua_pushboolean(L, 1);
      lua_setfield(L, -2, "outside");
    }
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "points");
  gjob_push_rv(L, p->messages);
  int k = 0;
  for (const gf_rv *m = p->messages->first; m; m = m->next, k++) {
    lua_rawgeti(L, -1, k + 1);
    lua_createtable(L, p->npts, 0);
    const double *v = p->values + (size_t)k * (size_t)p->npts;
    for (int i = 0; i < p->npts; i++) {
      if (isnan(v[i])) continue; /* outside the grid or missing: nil */
      lua_pushnumber(L, v[i]);
      lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "values");
    lua_pop(L, 1);
  }
  lua_setfield(L, -2, "messages");
  return 1;
}

static greq *begin(lua_State *L, int op, const char *name, gf_gjob **jp)
{
  const char *src = luaL_checkstring(L, 1);
  gf_gjob *j = gjob_begin(L, grun, sizeof(greq), greq_free, "grib", name, src);
  greq *r = j->req;
  r->op = op;
  r->src = gjob_strdup(L, src);
  *jp = j;
  return r;
}

static lua_Integer check_list(lua_State *L, int idx, int integers)
{
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_Integer n = luaL_len(L, idx);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, idx, i);
    int ok = integers ? lua_isinteger(L, -1) : lua_type(L, -1) == LUA_TNUMBER;
    if (!ok)
      luaL_argerror(L, idx, integers ? "list of integers expected" : "list of numbers expected");
    lua_pop(L, 1);
  }
  return n;
}

static void read_bands(lua_State *L, int idx, greq *r)
{
  if (lua_isnoneornil(L, idx)) return;
  lua_Integer n = luaL_len(L, idx);
  r->bands = malloc(sizeof(int) * (size_t)(n + 1));
  if (!r->bands) luaL_error(L, "not enough memory");
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, idx, i);
    r->bands[i - 1] = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
  }
  r->nbands = (int)n;
}

static double *read_numbers(lua_State *L, int idx, lua_Integer n)
{
  double *v = malloc(sizeof(double) * (size_t)(n + 1));
  if (!v) luaL_error(L, "not enough memory");
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, idx, i);
    v[i - 1] = lua_tonumber(L, -1);
    lua_pop(L, 1);
  }
  return v;
}

static int g_inventory(lua_State *L)
{
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
  gf_gjob *j;
  begin(L, OP_INVENTORY, "inventory", &j);
  gjob_config(L, j, 2);
  return gjob_submit(L, lua_gettop(L));
}

static int g_values_at(lua_State *L)
{
  luaL_checkstring(L, 1);
  lua_Integer n = check_list(L, 2, 0);
  luaL_argcheck(L, check_list(L, 3, 0) == n, 3, "as many latitudes as longitudes expected");
  luaL_argcheck(L, n > 0 && n < 100000000, 2, "1 or more points expected");
  if (!lua_isnoneornil(L, 4)) check_list(L, 4, 1);
  if (!lua_isnoneornil(L, 5)) luaL_checktype(L, 5, LUA_TTABLE);
  gf_gjob *j;
  greq *r = begin(L, OP_VALUES, "values_at", &j);
  j->push = push_values;
  r->pts.lon = read_numbers(L, 2, n);
  r->pts.lat = read_numbers(L, 3, n);
  r->pts.npts = (int)n;
  read_bands(L, 4, r);
  gjob_config(L, j, 5);
  return gjob_submit(L, lua_gettop(L));
}

static int g_csv(lua_State *L)
{
  luaL_checkstring(L, 1);
  const char *dst = luaL_checkstring(L, 2);
  if (!lua_isnoneornil(L, 3)) check_list(L, 3, 1);
  if (!lua_isnoneornil(L, 4)) luaL_checktype(L, 4, LUA_TTABLE);
  gf_gjob *j;
  greq *r = begin(L, OP_CSV, "extract", &j);
  r->dst = gjob_strdup(L, dst);
  read_bands(L, 3, r);
  gjob_config(L, j, 4);
  return gjob_submit(L, lua_gettop(L));
}

int luaopen_gf_grib_core(lua_State *L);

int luaopen_gf_grib_core(lua_State *L)
{
  static const luaL_Reg funcs[] = {
      {"inventory", g_inventory}, {"values_at", g_values_at}, {"csv", g_csv}, {NULL, NULL}};
  luaL_newlib(L, funcs);
  lua_pushstring(L, "GDAL");
  lua_setfield(L, -2, "_LIBRARY");
  lua_pushstring(L, GDALVersionInfo("RELEASE_NAME"));
  lua_setfield(L, -2, "_LIBVERSION");
  return 1;
}
