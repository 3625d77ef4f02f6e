/*
** lua_harness.h — a Lua state for the fuzz targets whose parser builds Lua values as it reads
** (gf.json and gf.yaml decode into Lua tables in their bindings; gf.xml is Lua). A new state
** per input, closed after it: every allocation is then freed, so LeakSanitizer's check after
** each input reports leaks of the module, not the Lua heap. A Lua error (the parser rejecting
** its input) is a normal outcome; a crash, a sanitizer report or a leak is a finding.
*/
#ifndef GF_FUZZ_LUA_HARNESS_H
#define GF_FUZZ_LUA_HARNESS_H

#include <stdio.h>
#include <stdlib.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

/* A state with the standard libraries and `name` preloaded from `open`; NULL name: none. */
static lua_State *fz_lua_new(const char *name, lua_CFunction open)
{
  lua_State *L = luaL_newstate();
  if (!L) abort();
  luaL_openlibs(L);
  if (name) {
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, open);
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
  }
  return L;
}

/* Run the Lua chunk `code` with the input as its only argument (...), then close the state.
   Errors are ignored. */
static void fz_lua_run(lua_State *L, const char *code, const unsigned char *data, size_t size)
{
  if (luaL_loadstring(L, code) != LUA_OK) {
    fprintf(stderr, "fuzz harness: %s\n", lua_tostring(L, -1));
    abort();
  }
  lua_pushlstring(L, (const char *)data, size);
  (void)lua_pcall(L, 1, 0, 0);
  lua_close(L);
}

#endif
