/* Fuzz target: gf.yaml load (libyaml's parser under modules/yaml/lyaml.c). */
#include <stddef.h>
#include <stdint.h>

#include "lua_harness.h"

int luaopen_gf_yaml_core(lua_State *L);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  lua_State *L = fz_lua_new("gf.yaml.core", luaopen_gf_yaml_core);
  /* every document of the stream (all = true), with the array and object metatables */
  fz_lua_run(L,
             "local yaml = require('gf.yaml.core')\n"
             "yaml.load(..., 'fuzz', true, {}, {})\n",
             data, size);
  return 0;
}
