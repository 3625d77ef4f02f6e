/*
** errors.c — how a failed task is reported.
**
** A script signals an expected failure with an error *table* {message = ..., exit = n} (see
** gf.host.fail and gf.args): it is printed as `gfhost: <message>` and the process exits with
** `exit` (default 1). Any other error value is a bug: the message and the task's traceback.
*/
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "host.h"

int gf_error_exit_code(lua_State *L, int idx)
{
  int code = 1;
  if (lua_type(L, idx) == LUA_TTABLE) {
    lua_getfield(L, idx, "exit");
    if (lua_isinteger(L, -1)) code = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
  }
  if (lua_type(L, idx) == LUA_TSTRING) {
    const char *msg = lua_tostring(L, idx);
    if (strcmp(msg, "interrupted") == 0 || strstr(msg, ": interrupted") != NULL) code = 130;
  }
  return code;
}

void gf_report(gf_host *h, lua_State *co, int status)
{
  (void)status;
  lua_State *L = h->L;
  if (lua_type(co, -1) == LUA_TTABLE) {
    lua_getfield(co, -1, "message");
    const char *msg = lua_tostring(co, -1);
    if (msg && *msg) fprintf(stderr, "gfhost: %s\n", msg); /* empty: already said (--help) */
    lua_pop(co, 1);
    return;
  }
  const char *msg = lua_tostring(co, -1);
  if (!msg) {
    if (luaL_callmeta(co, -1, "__tostring") && lua_type(co, -1) == LUA_TSTRING) {
      msg = lua_tostring(co, -1);
    } else {
      msg = lua_pushfstring(co, "(error object is a %s value)", luaL_typename(co, -1));
    }
  }
  if (h->interrupted && strstr(msg, "interrupted") != NULL) {
    return; /* main reports the interruption once */
  }
  luaL_traceback(L, co, msg, 0);
  fprintf(stderr, "gfhost: %s\n", lua_tostring(L, -1));
  lua_pop(L, 1);
}
