/*
** Fuzz target: gf.xml parse. gf.xml is Lua (modules/xml/xml.lua, no C): it runs in a Lua
** state; a Lua error is the parser refusing its input, a crash or sanitizer report a finding.
*/
#include <stddef.h>
#include <stdint.h>

#include "lua_harness.h"

#ifndef GF_XML_LUA
#error "GF_XML_LUA: the path of modules/xml/xml.lua"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int open_xml(lua_State *L)
{
  if (luaL_dofile(L, GF_XML_LUA) != LUA_OK) lua_error(L);
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  lua_State *L = fz_lua_new("gf.xml", open_xml);
  fz_lua_run(L,
             "local xml = require('gf.xml')\n"
             "local root = xml.parse(...)\n"
             "if root then xml.simplify(root) end\n",
             data, size);
  return 0;
}
