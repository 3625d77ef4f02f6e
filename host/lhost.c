/*
** lhost.c — gf.host.core: facts about the running host for the gf.host facade.
**
**   version() -> string             gfhost's version
**   root() -> string                the Lua tree (scripts/, modules/, config/, ...)
**   libdir() -> string              where shared modules live
**   lua_version (string)
**   isatty(fd) -> boolean
**   pid() -> integer
**   exe() -> string                 the running executable
*/
#define _POSIX_C_SOURCE 200809L
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "host.h"

#ifndef GF_VERSION
#define GF_VERSION "0.0.0"
#endif

static int h_version(lua_State *L)
{
  lua_pushstring(L, GF_VERSION);
  return 1;
}

static int h_root(lua_State *L)
{
  lua_pushstring(L, gf_host_get(L)->root);
  return 1;
}

static int h_libdir(lua_State *L)
{
  lua_pushstring(L, gf_host_get(L)->libdir);
  return 1;
}

static int h_isatty(lua_State *L)
{
  lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
  return 1;
}

static int h_exe(lua_State *L)
{
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return 0;
  lua_pushlstring(L, buf, (size_t)n);
  return 1;
}

static int h_pid(lua_State *L)
{
  lua_pushinteger(L, (lua_Integer)getpid());
  return 1;
}

int luaopen_gf_host(lua_State *L)
{
  static const luaL_Reg funcs[] = {
      {"version", h_version}, {"root", h_root}, {"libdir", h_libdir}, {"isatty", h_isatty},
      {"pid", h_pid},         {"exe", h_exe},   {NULL, NULL}};
  luaL_newlib(L, funcs);
  lua_pushstring(L, LUA_RELEASE);
  lua_setfield(L, -2, "lua_version");
  return 1;
}
