/* Fuzz target: gf.json decode (modules/json/ljson.c builds the Lua values as it parses). */
#include <stddef.h>
#include <stdint.h>

#include "lua_harness.h"

int luaopen_gf_json_core(lua_State *L);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  lua_State *L = fz_lua_new("gf.json.core", luaopen_gf_json_core);
  fz_lua_run(L, "require('gf.json.core').decode(...)", data, size);
  return 0;
}
