/*
** lraster.c — gf.raster.core: GDAL raster operations run on the worker pool.
**
**   configure{cache_mb =, threads =, normalize_units =}   before the first operation only
**   config() -> {cache_mb, threads, normalize_units, setup}
**   info(path, cfg) -> table                              | nil, msg, "gdal"
**   translate(src, dst, argv, cfg) -> true                gdal_translate argv
**   warp(src, dst, argv, cfg) -> true                     gdalwarp argv
**   preview(src, dst, {format, quality, max_size, resampling, bands, scale}, cfg) -> table
**   stats(path, band|0, nodata, cfg) -> list              nodata: nil file's, false none, number
**   zonal(path, geojson, band, nodata, all_touched, cfg) -> list
**   footprint(path, band, nodata, max_size, tolerance, cfg) -> {geojson, crs, tolerance}
**   list(path, cfg) -> {{name, size}...}                 files in a directory or archive
**   extract(src, dst, cfg) -> {path}                      byte copy of a (virtual) file
**
** `cfg` is a {KEY = "value"} table of GDAL options set thread-locally for that job only (the
** facade builds it: AWS credentials and endpoint for /vsis3/). Paths are GDAL paths.
*/
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include <gdal.h>
#include <lauxlib.h>
#include <lua.h>

#include "lgdaljob.h"
#include "raster.h"

enum {
  OP_INFO,
  OP_TRANSLATE,
  OP_WARP,
  OP_PREVIEW,
  OP_STATS,
  OP_ZONAL,
  OP_FOOTPRINT,
  OP_LIST,
  OP_EXTRACT
};

typedef struct {
  int op;
  char *src, *dst, *geojson, *format, *resampling;
  char **argv;
  gf_preview_req pv;
  int band, all_touched, max_size;
  gf_nodata nd;
  double tolerance;
} rreq;

static void rreq_free(void *p)
{
  rreq *r = p;
  free(r->src);
  free(r->dst);
  free(r->geojson);
  free(r->format);
  free(r->resampling);
  if (r->argv) {
    for (size_t i = 0; r->argv[i]; i++) free(r->argv[i]);
    free(r->argv);
  }
  free(r);
}

static void rrun(gf_gjob *j)
{
  rreq *r = j->req;
  gf_gdal_err *e = &j->err;
  switch (r->op) {
    case OP_INFO:
      j->result = gf_raster_info(r->src, e);
      break;
    case OP_TRANSLATE:
    case OP_WARP: {
      int rc = r->op == OP_WARP ? gf_raster_warp(r->src, r->dst, r->argv, e)
                                : gf_raster_translate(r->src, r->dst, r->argv, e);
      if (rc == 0) {
        j->result = gf_rv_root(GF_RV_MAP);
        gf_rv_str(j->result, "path", r->dst);
      }
      break;
    }
    case OP_PREVIEW:
      j->result = gf_raster_preview(&r->pv, e);
      break;
    case OP_STATS:
      j->result = gf_raster_stats(r->src, r->band, r->nd, e);
      break;
    case OP_ZONAL:
      j->result = gf_raster_zonal(r->src, r->geojson, r->band, r->nd, r->all_touched, e);
      break;
    case OP_FOOTPRINT:
      j->result = gf_raster_footprint(r->src, r->band, r->nd, r->max_size, r->tolerance, e);
      break;
    case OP_LIST:
      j->result = gf_raster_list(r->src, e);
      break;
    case OP_EXTRACT:
      if (gf_raster_extract(r->src, r->dst, e) == 0) {
        j->result = gf_rv_root(GF_RV_MAP);
        gf_rv_str(j->result, "path", r->dst);
      }
      break;
  }
  if (!j->result && !e->failed) gf_gdal_fail(e, "failed");
  if (!e->failed) return;
  /* an unreadable input is the caller's data, not GDAL's fault */
}

/* Start a job for `op` on the string at index 1; the box is left on the stack. */
static rreq *begin(lua_State *L, int op, const char *name, gf_gjob **jp)
{
  const char *src = luaL_checkstring(L, 1);
  gf_gjob *j = gjob_begin(L, rrun, sizeof(rreq), rreq_free, "raster", name, src);
  rreq *r = j->req;
  r->op = op;
  r->src = gjob_strdup(L, src);
  *jp = j;
  return r;
}

static char **read_argv(lua_State *L, int idx)
{
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_Integer n = luaL_len(L, idx);
  for (lua_Integer i = 1; i <= n; i++) {
    if (lua_geti(L, idx, i) != LUA_TSTRING) luaL_error(L, "argv[%d]: string expected", (int)i);
    lua_pop(L, 1);
  }
  return NULL;
}

static void fill_argv(lua_State *L, int idx, rreq *r)
{
  lua_Integer n = luaL_len(L, idx);
  r->argv = calloc((size_t)n + 1, sizeof *r->argv);
  if (!r->argv) luaL_error(L, "not enough memory");
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, idx, i);
    r->argv[i - 1] = gjob_strdup(L, lua_tostring(L, -1));
    lua_pop(L, 1);
  }
}

static gf_nodata check_nodata(lua_State *L, int idx)
{
  gf_nodata nd = {GF_NODATA_FILE, 0};
  if (lua_isnoneornil(L, idx)) return nd;
  if (lua_isboolean(L, idx)) {
    luaL_argcheck(L, !lua_toboolean(L, idx), idx, "nodata: number, false or nil expected");
    nd.mode = GF_NODATA_NONE;
    return nd;
  }
  nd.mode = GF_NODATA_VALUE;
  nd.value = luaL_checknumber(L, idx);
  return nd;
}

static int r_info(lua_State *L)
{
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
  gf_gjob *j;
  begin(L, OP_INFO, "info", &j);
  gjob_config(L, j, 2);
  return gjob_submit(L, lua_gettop(L));
}

static int translate_or_warp(lua_State *L, int op, const char *name)
{
  luaL_checkstring(L, 1);
  const char *dst = luaL_checkstring(L, 2);
  read_argv(L, 3);
  if (!lua_isnoneornil(L, 4)) luaL_checktype(L, 4, LUA_TTABLE);
  gf_gjob *j;
  rreq *r = begin(L, op, name, &j);
  r->dst = gjob_strdup(L, dst);
  fill_argv(L, 3, r);
  gjob_config(L, j, 4);
  return gjob_submit(L, lua_gettop(L));
}

static int r_translate(lua_State *L)
{
  return translate_or_warp(L, OP_TRANSLATE, "translate");
}

static int r_warp(lua_State *L)
{
  return translate_or_warp(L, OP_WARP, "warp");
}

static const char *opt_string(lua_State *L, int t, const char *k, const char *def)
{
  lua_getfield(L, t, k);
  const char *s = lua_isnil(L, -1) ? def : lua_tostring(L, -1);
  if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "%s: string expected", k);
  lua_pop(L, 1); /* the table keeps the string alive */
  return s;
}

static lua_Integer opt_int(lua_State *L, int t, const char *k, lua_Integer def)
{
  lua_getfield(L, t, k);
  lua_Integer v = def;
  if (!lua_isnil(L, -1)) {
    int ok = 0;
    v = lua_tointegerx(L, -1, &ok);
    if (!ok) luaL_error(L, "%s: integer expected", k);
  }
  lua_pop(L, 1);
  return v;
}

static void preview_opts(lua_State *L, int t, gf_preview_req *pv, int *has_bands)
{
  pv->quality = (int)opt_int(L, t, "quality", 75);
  pv->max_size = (int)opt_int(L, t, "max_size", 0);
  if (lua_getfield(L, t, "bands") == LUA_TTABLE) {
    lua_Integer n = luaL_len(L, -1);
    if (n < 1 || n > 3) luaL_error(L, "bands: 1 to 3 band numbers expected");
    for (lua_Integer i = 1; i <= n; i++) {
      lua_geti(L, -1, i);
      int ok = 0;
      pv->bands[i - 1] = (int)lua_tointegerx(L, -1, &ok);
      if (!ok) luaL_error(L, "bands: integers expected");
      lua_pop(L, 1);
    }
    pv->nbands = (int)n;
    *has_bands = 1;
  }
  lua_pop(L, 1);
  if (lua_getfield(L, t, "scale") == LUA_TTABLE) {
    lua_geti(L, -1, 1);
    lua_geti(L, -2, 2);
    if (!lua_isnumber(L, -2) || !lua_isnumber(L, -1)) luaL_error(L, "scale: {min, max} expected");
    pv->has_scale = 1;
    pv->scale_min = lua_tonumber(L, -2);
    pv->scale_max = lua_tonumber(L, -1);
    lua_pop(L, 2);
  }
  lua_pop(L, 1);
}

static int r_preview(lua_State *L)
{
  luaL_checkstring(L, 1);
  const char *dst = luaL_checkstring(L, 2);
  luaL_checktype(L, 3, LUA_TTABLE);
  if (!lua_isnoneornil(L, 4)) luaL_checktype(L, 4, LUA_TTABLE);
  gf_preview_req pv = {0};
  int has_bands = 0;
  preview_opts(L, 3, &pv, &has_bands);
  const char *format = opt_string(L, 3, "format", "JPEG");
  const char *resampling = opt_string(L, 3, "resampling", NULL);
  gf_gjob *j;
  rreq *r = begin(L, OP_PREVIEW, "preview", &j);
  r->dst = gjob_strdup(L, dst);
  r->format = gjob_strdup(L, format);
  if (resampling) r->resampling = gjob_strdup(L, resampling);
  r->pv = pv;
  r->pv.src = r->src;
  r->pv.dst = r->dst;
  r->pv.format = r->format;
  r->pv.resampling = r->resampling;
  gjob_config(L, j, 4);
  return gjob_submit(L, lua_gettop(L));
}

static int r_stats(lua_State *L)
{
  luaL_checkstring(L, 1);
  int band = (int)luaL_optinteger(L, 2, 0);
  gf_nodata nd = check_nodata(L, 3);
  if (!lua_isnoneornil(L, 4)) luaL_checktype(L, 4, LUA_TTABLE);
  gf_gjob *j;
  rreq *r = begin(L, OP_STATS, "stats", &j);
  r->band = band;
  r->nd = nd;
  gjob_config(L, j, 4);
  return gjob_submit(L, lua_gettop(L));
}

static int r_zonal(lua_State *L)
{
  luaL_checkstring(L, 1);
  const char *geojson = luaL_checkstring(L, 2);
  int band = (int)luaL_optinteger(L, 3, 1);
  gf_nodata nd = check_nodata(L, 4);
  int all_touched = lua_toboolean(L, 5);
  if (!lua_isnoneornil(L, 6)) luaL_checktype(L, 6, LUA_TTABLE);
  gf_gjob *j;
  rreq *r = begin(L, OP_ZONAL, "zonal_stats", &j);
  r->geojson = gjob_strdup(L, geojson);
  r->band = band;
  r->nd = nd;
  r->all_touched = all_touched;
  gjob_config(L, j, 6);
  return gjob_submit(L, lua_gettop(L));
}

static int r_footprint(lua_State *L)
{
  luaL_checkstring(L, 1);
  int band = (int)luaL_optinteger(L, 2, 1);
  gf_nodata nd = check_nodata(L, 3);
  int max_size = (int)luaL_optinteger(L, 4, 1024);
  double tolerance = luaL_optnumber(L, 5, -1);
  if (!lua_isnoneornil(L, 6)) luaL_checktype(L, 6, LUA_TTABLE);
  gf_gjob *j;
  rreq *r = begin(L, OP_FOOTPRINT, "footprint", &j);
  r->band = band;
  r->nd = nd;
  r->max_size = max_size;
  r->tolerance = tolerance;
  gjob_config(L, j, 6);
  return gjob_submit(L, lua_gettop(L));
}

static int r_list(lua_State *L)
{
  if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
  gf_gjob *j;
  begin(L, OP_LIST, "list", &j);
  gjob_config(L, j, 2);
  return gjob_submit(L, lua_gettop(L));
}

static int r_extract(lua_State *L)
{
  luaL_checkstring(L, 1);
  const char *dst = luaL_checkstring(L, 2);
  if (!lua_isnoneornil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
  gf_gjob *j;
  rreq *r = begin(L, OP_EXTRACT, "extract", &j);
  r->dst = gjob_strdup(L, dst);
  gjob_config(L, j, 3);
  return gjob_submit(L, lua_gettop(L));
}

static int r_configure(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TTABLE);
  if (gf_gdal_is_setup())
    return luaL_error(L,
                      "gf.raster.configure: GDAL is already set up (configure before the "
                      "first raster or grib operation)");
  gf_gdal_config c;
  gf_gdal_config_default(&c);
  c.cache_mb = (long)opt_int(L, 1, "cache_mb", c.cache_mb);
  luaL_argcheck(L, c.cache_mb > 0, 1, "cache_mb must be positive");
  lua_getfield(L, 1, "threads");
  if (lua_isinteger(L, -1) && lua_tointeger(L, -1) > 0)
    snprintf(c.threads, sizeof c.threads, "%lld", (long long)lua_tointeger(L, -1));
  else if (lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "all") == 0)
    snprintf(c.threads, sizeof c.threads, "ALL_CPUS");
  else if (!lua_isnil(L, -1))
    return luaL_argerror(L, 1, "threads: positive integer or \"all\" expected");
  lua_pop(L, 1);
  lua_getfield(L, 1, "normalize_units");
  c.normalize_units = lua_toboolean(L, -1);
  lua_pop(L, 1);
  gf_gdal_setup(&c);
  return 0;
}

static int r_config(lua_State *L)
{
  gf_gdal_config c;
  int setup = gf_gdal_is_setup();
  if (setup)
    gf_gdal_current(&c);
  else
    gf_gdal_config_default(&c);
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, c.cache_mb);
  lua_setfield(L, -2, "cache_mb");
  lua_pushstring(L, c.threads);
  lua_setfield(L, -2, "threads");
  lua_pushboolean(L, c.normalize_units);
  lua_setfield(L, -2, "normalize_units");
  lua_pushboolean(L, setup);
  lua_setfield(L, -2, "setup");
  return 1;
}

int luaopen_gf_raster_core(lua_State *L);

int luaopen_gf_raster_core(lua_State *L)
{
  static const luaL_Reg funcs[] = {
      {"configure", r_configure}, {"config", r_config},   {"info", r_info},
      {"translate", r_translate}, {"warp", r_warp},       {"preview", r_preview},
      {"stats", r_stats},         {"zonal", r_zonal},     {"footprint", r_footprint},
      {"list", r_list},           {"extract", r_extract}, {NULL, NULL}};
  luaL_newlib(L, funcs);
  lua_pushstring(L, "GDAL");
  lua_setfield(L, -2, "_LIBRARY");
  lua_pushstring(L, GDALVersionInfo("RELEASE_NAME"));
  lua_setfield(L, -2, "_LIBVERSION");
  return 1;
}
