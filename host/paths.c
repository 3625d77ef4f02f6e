/*
** paths.c — where the Lua tree is, and how `require` finds it.
**
** The root holds scripts/, workflows/, config/, modules/ and spec/. In order:
**   1. $GFHOST_ROOT;
**   2. <exe dir>/../share/gfhost when that holds scripts/ (an installed gfhost);
**   3. the source tree the executable was built from (GF_SOURCE_DIR).
** Shared modules (GDAL) live in <exe dir>/lib (build tree) or <exe dir>/../lib/gfhost.
**
** require("gf.X") loads the facade modules/X/X.lua, require("gf.X.Y") modules/X/Y.lua; the native
** cores "gf.X.core" are in package.preload or, for shared modules, found on package.cpath.
*/
#define _XOPEN_SOURCE 700
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "host.h"

#ifndef GF_SOURCE_DIR
#define GF_SOURCE_DIR "."
#endif
#ifndef GF_SHARE_REL
#define GF_SHARE_REL "../share/gfhost"
#endif
#ifndef GF_LIB_REL
#define GF_LIB_REL "../lib/gfhost"
#endif

static int is_dir(const char *p)
{
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void exe_dir(char *out, size_t len, const char *argv0)
{
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n > 0) {
    buf[n] = '\0';
  } else if (!realpath(argv0, buf)) {
    snprintf(buf, sizeof buf, "./gfhost");
  }
  char *slash = strrchr(buf, '/');
  if (slash) *slash = '\0';
  snprintf(out, len, "%s", buf);
}

void gf_paths_detect(gf_host *h, const char *argv0)
{
  char dir[PATH_MAX], probe[PATH_MAX + 64];
  exe_dir(dir, sizeof dir, argv0);
  const char *env = getenv("GFHOST_ROOT");
  snprintf(probe, sizeof probe, "%s/%s/scripts", dir, GF_SHARE_REL);
  int installed = is_dir(probe);
  if (env && *env) {
    snprintf(h->root, sizeof h->root, "%s", env);
  } else if (installed) {
    snprintf(probe, sizeof probe, "%s/%s", dir, GF_SHARE_REL);
    if (!realpath(probe, h->root)) snprintf(h->root, sizeof h->root, "%s", probe);
  } else {
    snprintf(h->root, sizeof h->root, "%s", GF_SOURCE_DIR);
  }
  snprintf(probe, sizeof probe, "%s/lib", dir);
  if (!installed && is_dir(probe)) {
    snprintf(h->libdir, sizeof h->libdir, "%s", probe);
  } else {
    snprintf(probe, sizeof probe, "%s/%s", dir, GF_LIB_REL);
    if (!realpath(probe, h->libdir)) snprintf(h->libdir, sizeof h->libdir, "%s", probe);
  }
}

/* package.searchers entry for gf.X and gf.X.Y facades under <root>/modules. */
static int gf_searcher(lua_State *L)
{
  const char *name = luaL_checkstring(L, 1);
  gf_host *h = gf_host_get(L);
  if (strncmp(name, "gf.", 3) != 0) return 0;
  const char *rest = name + 3;
  const char *dot = strchr(rest, '.');
  char path[PATH_MAX + 256];
  if (!dot) {
    snprintf(path, sizeof path, "%s/modules/%s/%s.lua", h->root, rest, rest);
  } else {
    if (strchr(dot + 1, '.')) return 0;
    snprintf(path, sizeof path, "%s/modules/%.*s/%s.lua", h->root, (int)(dot - rest), rest,
             dot + 1);
  }
  if (access(path, R_OK) != 0) {
    lua_pushfstring(L, "no file '%s'", path);
    return 1;
  }
  if (luaL_loadfilex(L, path, "t") != LUA_OK) return lua_error(L);
  lua_pushstring(L, path);
  return 2;
}

void gf_paths_setup(lua_State *L, gf_host *h)
{
  luaL_Buffer b;
  lua_getglobal(L, "package"); /* [package] */
  luaL_buffinit(L, &b);
  const char *dirs[] = {"scripts", "lib", "workflows", "config", ""};
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
    const char *sep = *dirs[i] ? "/" : "";
    lua_pushfstring(L, "%s/%s%s?.lua;%s/%s%s?/init.lua;", h->root, dirs[i], sep, h->root, dirs[i],
                    sep);
    luaL_addvalue(&b);
  }
  lua_getfield(L, -2, "path");
  luaL_addvalue(&b);
  luaL_pushresult(&b); /* [package path] */
  lua_setfield(L, -2, "path");
  lua_getfield(L, -1, "cpath");
  lua_pushfstring(L, "%s/?.so;%s", h->libdir, lua_tostring(L, -1));
  lua_setfield(L, -3, "cpath");
  lua_pop(L, 1);
  lua_getfield(L, -1, "searchers"); /* [package searchers] */
  lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
  for (lua_Integer i = n; i >= 2; i--) { /* insert at 2, after preload */
    lua_rawgeti(L, -1, i);
    lua_rawseti(L, -2, i + 1);
  }
  lua_pushcfunction(L, gf_searcher);
  lua_rawseti(L, -2, 2);
  lua_pop(L, 2);
}
