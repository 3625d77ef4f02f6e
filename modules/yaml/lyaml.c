/*
** lyaml.c — gf.yaml.core: YAML text -> Lua values (libyaml parser events) and back (emitter).
**
**   load(text, name, all, array_mt, object_mt) -> value | list | nil, "<name>:<l>:<c>: ...",
*"parse"
**   dump(value, array_mt, object_mt) -> text        raises on values YAML cannot hold
**
** The parser and emitter live in userdata with __gc, so an error raised mid-way leaks nothing.
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <yaml.h>

#include "gf.h"
#include "gfgrow.h"
#include "yaml.h"

#define MAX_DEPTH 1000
#define LOADER "gf.yaml.loader"
#define DUMPER "gf.yaml.dumper"

/* {====== loading ====== */

typedef struct {
  yaml_parser_t parser;
  yaml_event_t event;
  int parser_ok, has_event, depth;
  int anchors, array_mt, object_mt; /* stack indexes */
  char err[256];
  yaml_mark_t mark;
} loader;

static int loader_gc(lua_State *L)
{
  loader *ld = luaL_checkudata(L, 1, LOADER);
  if (ld->has_event) yaml_event_delete(&ld->event);
  ld->has_event = 0;
  if (ld->parser_ok) yaml_parser_delete(&ld->parser);
  ld->parser_ok = 0;
  return 0;
}

static int ld_fail(loader *ld, yaml_mark_t mark, const char *msg)
{
  snprintf(ld->err, sizeof ld->err, "%s", msg);
  ld->mark = mark;
  return -1;
}

/* Fetch the next event into ld->event; -1 on a parser error. */
static int ld_next(loader *ld)
{
  if (ld->has_event) yaml_event_delete(&ld->event);
  ld->has_event = 0;
  if (!yaml_parser_parse(&ld->parser, &ld->event)) {
    yaml_parser_t *p = &ld->parser;
    if (p->context) {
      snprintf(ld->err, sizeof ld->err, "%s (%s)", p->problem ? p->problem : "parse error",
               p->context);
    } else {
      snprintf(ld->err, sizeof ld->err, "%s", p->problem ? p->problem : "parse error");
    }
    ld->mark = p->problem_mark;
    return -1;
  }
  ld->has_event = 1;
  return 0;
}

static void ld_anchor(lua_State *L, loader *ld, const yaml_char_t *anchor)
{
  if (!anchor) return;
  lua_pushstring(L, (const char *)anchor);
  lua_pushvalue(L, -2);
  lua_rawset(L, ld->anchors);
}

static void ld_scalar(lua_State *L, loader *ld)
{
  yaml_event_t *ev = &ld->event;
  const char *s = (const char *)ev->data.scalar.value;
  size_t n = ev->data.scalar.length;
  const char *tag = (const char *)ev->data.scalar.tag;
  int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
  if (!plain || (tag && strcmp(tag, YAML_STR_TAG) == 0)) {
    lua_pushlstring(L, s, n);
  } else {
    gf_yaml_scalar v;
    gf_yaml_resolve(s, n, &v);
    switch (v.kind) {
      case GF_YAML_NULL:
        lua_pushlightuserdata(L, NULL);
        break;
      case GF_YAML_BOOL:
        lua_pushboolean(L, v.boolean);
        break;
      case GF_YAML_INT:
        lua_pushinteger(L, (lua_Integer)v.integer);
        break;
      case GF_YAML_FLOAT:
        lua_pushnumber(L, (lua_Number)v.number);
        break;
      default:
        lua_pushlstring(L, s, n);
    }
  }
  ld_anchor(L, ld, ev->data.scalar.anchor);
}

static int ld_node(lua_State *L, loader *ld);

static int ld_sequence(lua_State *L, loader *ld)
{
  lua_newtable(L);
  lua_pushvalue(L, ld->array_mt);
  lua_setmetatable(L, -2);
  ld_anchor(L, ld, ld->event.data.sequence_start.anchor);
  for (lua_Integer i = 1;; i++) {
    if (ld_next(ld) != 0) return -1;
    if (ld->event.type == YAML_SEQUENCE_END_EVENT) return 0;
    if (ld_node(L, ld) != 0) return -1;
    lua_rawseti(L, -2, i);
  }
}

/* Apply the `<<` merge sources (list at idx) to the mapping at -1: keys it lacks. */
static int ld_merge(lua_State *L, loader *ld, int idx, yaml_mark_t mark)
{
  lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, idx, i);
    if (!lua_istable(L, -1)) return ld_fail(ld, mark, "merge key '<<' needs a mapping");
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      lua_pushvalue(L, -2);
      if (lua_rawget(L, -5) == LUA_TNIL) {
        lua_pop(L, 1);
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -5);
      } else {
        lua_pop(L, 2);
      }
    }
    lua_pop(L, 1);
  }
  return 0;
}

static int ld_key_check(lua_State *L, loader *ld)
{
  int t = lua_type(L, -1);
  if (t == LUA_TTABLE) return ld_fail(ld, ld->mark, "mapping keys must be scalars");
  if (t == LUA_TLIGHTUSERDATA) return ld_fail(ld, ld->mark, "mapping key is null");
  if (t == LUA_TNUMBER && isnan(lua_tonumber(L, -1)))
    return ld_fail(ld, ld->mark, "mapping key is NaN");
  return 0;
}

static int ld_mapping(lua_State *L, loader *ld)
{
  yaml_mark_t start = ld->event.start_mark;
  lua_newtable(L);
  lua_pushvalue(L, ld->object_mt);
  lua_setmetatable(L, -2);
  ld_anchor(L, ld, ld->event.data.mapping_start.anchor);
  int merges = 0; /* stack index of the list of merge sources, once there is one */
  for (;;) {
    if (ld_next(ld) != 0) return -1;
    if (ld->event.type == YAML_MAPPING_END_EVENT) break;
    int is_merge = ld->event.type == YAML_SCALAR_EVENT &&
                   ld->event.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                   strcmp((const char *)ld->event.data.scalar.value, "<<") == 0;
    ld->mark = ld->event.start_mark;
    if (ld_node(L, ld) != 0) return -1;
    if (ld_key_check(L, ld) != 0) return -1;
    if (ld_next(ld) != 0) return -1;
    if (ld_node(L, ld) != 0) return -1;
    if (!is_merge) {
      lua_rawset(L, -3);
      continue;
    }
    lua_remove(L, -2); /* the "<<" key */
    if (!merges) {
      lua_newtable(L);
      lua_insert(L, -3); /* below the mapping: [merges mapping value] */
      merges = lua_gettop(L) - 2;
    }
    if (lua_istable(L, -1) && lua_getmetatable(L, -1)) {
      int is_seq = lua_rawequal(L, -1, ld->array_mt);
      lua_pop(L, 1);
      if (is_seq) { /* a list of mappings: each in order */
        lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
        for (lua_Integer i = 1; i <= n; i++) {
          lua_rawgeti(L, -1, i);
          lua_rawseti(L, merges, (lua_Integer)lua_rawlen(L, merges) + 1);
        }
        lua_pop(L, 1);
        continue;
      }
    }
    lua_rawseti(L, merges, (lua_Integer)lua_rawlen(L, merges) + 1);
  }
  if (merges) {
    if (ld_merge(L, ld, merges, start) != 0) return -1;
    lua_remove(L, merges);
  }
  return 0;
}

/* Push the value of the node whose first event is in ld->event. */
static int ld_node(lua_State *L, loader *ld)
{
  yaml_event_t *ev = &ld->event;
  luaL_checkstack(L, 8, "yaml.load: nesting too deep");
  switch (ev->type) {
    case YAML_SCALAR_EVENT:
      ld_scalar(L, ld);
      return 0;
    case YAML_ALIAS_EVENT:
      lua_pushstring(L, (const char *)ev->data.alias.anchor);
      if (lua_rawget(L, ld->anchors) == LUA_TNIL) {
        char msg[160];
        snprintf(msg, sizeof msg, "unknown alias *%.100s", (const char *)ev->data.alias.anchor);
        return ld_fail(ld, ev->start_mark, msg);
      }
      return 0;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
      if (++ld->depth > MAX_DEPTH)
        return ld_fail(ld, ev->start_mark, "nesting deeper than 1000 levels");
      int rc = ev->type == YAML_SEQUENCE_START_EVENT ? ld_sequence(L, ld) : ld_mapping(L, ld);
      ld->depth--;
      return rc;
    }
    default:
      return ld_fail(ld, ev->start_mark, "unexpected event");
  }
}

/* Load documents: the first (all = 0) or a list of all. */
static int ld_stream(lua_State *L, loader *ld, int all)
{
  int list = 0;
  if (all) {
    lua_newtable(L);
    list = lua_gettop(L);
  }
  lua_Integer count = 0;
  for (;;) {
    if (ld_next(ld) != 0) return -1;
    yaml_event_type_t t = ld->event.type;
    if (t == YAML_STREAM_END_EVENT) break;
    if (t != YAML_DOCUMENT_START_EVENT) continue; /* STREAM_START */
    lua_newtable(L);                              /* anchors are per document */
    ld->anchors = lua_gettop(L);
    if (ld_next(ld) != 0) return -1;
    if (ld_node(L, ld) != 0) return -1;
    if (ld_next(ld) != 0) return -1; /* DOCUMENT_END */
    lua_remove(L, ld->anchors);
    count++;
    if (!all) return 0;
    lua_rawseti(L, list, count);
  }
  if (!all) lua_pushlightuserdata(L, NULL); /* an empty stream is null */
  return 0;
}

static int l_load(lua_State *L)
{
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  const char *name = luaL_checkstring(L, 2);
  int all = lua_toboolean(L, 3);
  luaL_checktype(L, 4, LUA_TTABLE);
  luaL_checktype(L, 5, LUA_TTABLE);
  lua_settop(L, 5);
  loader *ld = lua_newuserdatauv(L, sizeof *ld, 0);
  memset(ld, 0, sizeof *ld);
  luaL_setmetatable(L, LOADER);
  ld->array_mt = 4;
  ld->object_mt = 5;
  if (!yaml_parser_initialize(&ld->parser)) return luaL_error(L, "yaml.load: not enough memory");
  ld->parser_ok = 1;
  yaml_parser_set_input_string(&ld->parser, (const unsigned char *)s, len);
  if (ld_stream(L, ld, all) == 0) return 1;
  lua_pushnil(L);
  lua_pushfstring(L, "%s:%d:%d: %s", name, (int)ld->mark.line + 1, (int)ld->mark.column + 1,
                  ld->err);
  lua_pushliteral(L, "parse");
  return 3;
}

/* }====== */

/* {====== dumping ====== */

typedef struct {
  yaml_emitter_t emitter;
  yaml_event_t event;
  int emitter_ok, depth;
  int array_mt, object_mt;
  luaL_Buffer *out;
  char *data;
  size_t len, cap;
  const void *stack[MAX_DEPTH + 1];
} dumper;

static int dumper_gc(lua_State *L)
{
  dumper *d = luaL_checkudata(L, 1, DUMPER);
  if (d->emitter_ok) yaml_emitter_delete(&d->emitter);
  d->emitter_ok = 0;
  free(d->data);
  d->data = NULL;
  return 0;
}

static int dm_write(void *ud, unsigned char *buf, size_t size)
{
  dumper *d = ud;
  char *p = size > SIZE_MAX - d->len ? NULL : gf_grow(d->data, &d->cap, d->len + size, 1, 1024);
  if (!p) return 0;
  d->data = p;
  memcpy(d->data + d->len, buf, size);
  d->len += size;
  return 1;
}

static void dm_emit(lua_State *L, dumper *d)
{
  if (!yaml_emitter_emit(&d->emitter, &d->event))
    luaL_error(L, "yaml.dump: %s", d->emitter.problem ? d->emitter.problem : "emitter error");
}

static void dm_scalar(lua_State *L, dumper *d, const char *s, size_t n, yaml_scalar_style_t style)
{
  if (!yaml_scalar_event_initialize(&d->event, NULL, NULL, (yaml_char_t *)s, (int)n, 1, 1, style))
    luaL_error(L, "yaml.dump: string is not valid UTF-8");
  dm_emit(L, d);
}

/* Words a YAML 1.1 reader (PyYAML and others) takes as booleans: quoted on output. */
static int yaml11_bool(const char *s, size_t n)
{
  static const char *const words[] = {"y", "n", "yes", "no", "on", "off"};
  for (size_t i = 0; i < sizeof words / sizeof *words; i++) {
    size_t wn = strlen(words[i]);
    if (wn != n) continue;
    size_t j = 0;
    while (j < n && (s[j] | 0x20) == words[i][j]) j++;
    if (j == n) return 1;
  }
  return 0;
}

static void dm_string(lua_State *L, dumper *d, int idx)
{
  size_t n;
  const char *s = lua_tolstring(L, idx, &n);
  if (n > 0x7fffffff) luaL_error(L, "yaml.dump: string too long");
  gf_yaml_scalar v;
  gf_yaml_resolve(s, n, &v);
  int needs_quotes =
      v.kind != GF_YAML_STR || (n == 2 && memcmp(s, "<<", 2) == 0) || yaml11_bool(s, n);
  dm_scalar(L, d, s, n, needs_quotes ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
}

static void dm_value(lua_State *L, dumper *d, int idx);

typedef struct {
  int rank; /* 0 number, 1 string, 2 boolean */
  lua_Number num;
  const char *s;
  size_t n;
  int ref; /* position among the keys pushed on the stack */
} dkey;

static int dkey_cmp(const void *a, const void *b)
{
  const dkey *x = a, *y = b;
  if (x->rank != y->rank) return x->rank - y->rank;
  if (x->rank != 1) return (x->num > y->num) - (x->num < y->num);
  int c = memcmp(x->s, y->s, x->n < y->n ? x->n : y->n);
  return c ? c : (x->n > y->n) - (x->n < y->n);
}

static void dm_mapping(lua_State *L, dumper *d, int idx)
{
  int count = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    int t = lua_type(L, -1);
    if (t != LUA_TSTRING && t != LUA_TNUMBER && t != LUA_TBOOLEAN)
      luaL_error(L, "yaml.dump: cannot dump a %s as a mapping key", luaL_typename(L, -1));
    count++;
  }
  dkey *keys = lua_newuserdatauv(L, (size_t)count * sizeof *keys + 1, 0);
  int i = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    dkey *k = &keys[i++];
    int t = lua_type(L, -1);
    k->rank = t == LUA_TNUMBER ? 0 : t == LUA_TSTRING ? 1 : 2;
    k->num = t == LUA_TBOOLEAN ? lua_toboolean(L, -1) : t == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
    if (t == LUA_TSTRING) k->s = lua_tolstring(L, -1, &k->n); /* kept alive by the table */
  }
  qsort(keys, (size_t)count, sizeof *keys, dkey_cmp);
  if (!yaml_mapping_start_event_initialize(&d->event, NULL, NULL, 1, YAML_ANY_MAPPING_STYLE))
    luaL_error(L, "yaml.dump: not enough memory");
  dm_emit(L, d);
  for (i = 0; i < count; i++) {
    dkey *k = &keys[i];
    if (k->rank == 1) {
      lua_pushlstring(L, k->s, k->n);
    } else if (k->rank == 2) {
      lua_pushboolean(L, (int)k->num);
    } else {
      lua_pushnumber(L, k->num); /* integral floats are normalised to integers as keys */
      lua_Integer ik;
      if (lua_numbertointeger(k->num, &ik)) {
        lua_pop(L, 1);
        lua_pushinteger(L, ik);
      }
    }
    lua_pushvalue(L, -1);
    lua_rawget(L, idx);
    dm_value(L, d, lua_gettop(L) - 1);
    dm_value(L, d, lua_gettop(L));
    lua_pop(L, 2);
  }
  lua_pop(L, 1);
  yaml_mapping_end_event_initialize(&d->event);
  dm_emit(L, d);
}

/* Number of elements if the table at idx is a sequence, -1 if a mapping. */
static lua_Integer dm_kind(lua_State *L, dumper *d, int idx)
{
  int marked = 0;
  if (lua_getmetatable(L, idx)) {
    if (lua_rawequal(L, -1, d->array_mt)) marked = 'a';
    if (lua_rawequal(L, -1, d->object_mt)) marked = 'o';
    lua_pop(L, 1);
  }
  if (marked == 'o') return -1;
  lua_Integer n = (lua_Integer)lua_rawlen(L, idx), count = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    lua_Integer k;
    if (!lua_isinteger(L, -1) || (k = lua_tointeger(L, -1)) < 1 || k > n) {
      lua_pop(L, 1);
      if (marked == 'a') luaL_error(L, "yaml.dump: array has keys other than 1..n");
      return -1;
    }
    count++;
  }
  if (count == 0 && !marked) return -1; /* an unmarked empty table is a mapping */
  if (count != n) return -1;
  return n;
}

static void dm_table(lua_State *L, dumper *d, int idx)
{
  const void *t = lua_topointer(L, idx);
  for (int i = 0; i < d->depth; i++)
    if (d->stack[i] == t) luaL_error(L, "yaml.dump: table refers to itself (cycle)");
  if (d->depth >= MAX_DEPTH) luaL_error(L, "yaml.dump: nesting deeper than 1000 levels");
  luaL_checkstack(L, 8, "yaml.dump: nesting too deep");
  d->stack[d->depth++] = t;
  lua_Integer n = dm_kind(L, d, idx);
  if (n < 0) {
    dm_mapping(L, d, idx);
  } else {
    if (!yaml_sequence_start_event_initialize(&d->event, NULL, NULL, 1, YAML_ANY_SEQUENCE_STYLE))
      luaL_error(L, "yaml.dump: not enough memory");
    dm_emit(L, d);
    for (lua_Integer i = 1; i <= n; i++) {
      lua_rawgeti(L, idx, i);
      dm_value(L, d, lua_gettop(L));
      lua_pop(L, 1);
    }
    yaml_sequence_end_event_initialize(&d->event);
    dm_emit(L, d);
  }
  d->depth--;
}

static void dm_value(lua_State *L, dumper *d, int idx)
{
  char tmp[32];
  switch (lua_type(L, idx)) {
    case LUA_TNIL:
      dm_scalar(L, d, "null", 4, YAML_PLAIN_SCALAR_STYLE);
      break;
    case LUA_TBOOLEAN:
      if (lua_toboolean(L, idx)) {
        dm_scalar(L, d, "true", 4, YAML_PLAIN_SCALAR_STYLE);
      } else {
        dm_scalar(L, d, "false", 5, YAML_PLAIN_SCALAR_STYLE);
      }
      break;
    case LUA_TNUMBER: {
      size_t n;
      if (lua_isinteger(L, idx)) {
        n = (size_t)snprintf(tmp, sizeof tmp, "%lld", (long long)lua_tointeger(L, idx));
      } else {
        n = gf_yaml_format_double(tmp, (double)lua_tonumber(L, idx));
      }
      dm_scalar(L, d, tmp, n, YAML_PLAIN_SCALAR_STYLE);
      break;
    }
    case LUA_TSTRING:
      dm_string(L, d, idx);
      break;
    case LUA_TLIGHTUSERDATA:
      if (lua_touserdata(L, idx) == NULL) {
        dm_scalar(L, d, "null", 4, YAML_PLAIN_SCALAR_STYLE);
        break;
      }
      luaL_error(L, "yaml.dump: cannot dump a light userdata other than yaml.null");
      break;
    case LUA_TTABLE:
      dm_table(L, d, idx);
      break;
    default:
      luaL_error(L, "yaml.dump: cannot dump a %s", luaL_typename(L, idx));
  }
}

static int l_dump(lua_State *L)
{
  luaL_checkany(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  luaL_checktype(L, 3, LUA_TTABLE);
  lua_settop(L, 3);
  dumper *d = lua_newuserdatauv(L, sizeof *d, 0);
  memset(d, 0, sizeof *d);
  luaL_setmetatable(L, DUMPER);
  d->array_mt = 2;
  d->object_mt = 3;
  if (!yaml_emitter_initialize(&d->emitter)) return luaL_error(L, "yaml.dump: not enough memory");
  d->emitter_ok = 1;
  yaml_emitter_set_output(&d->emitter, dm_write, d);
  yaml_emitter_set_unicode(&d->emitter, 1);
  yaml_emitter_set_width(&d->emitter, 1 << 20);
  yaml_emitter_set_indent(&d->emitter, 2);
  yaml_stream_start_event_initialize(&d->event, YAML_UTF8_ENCODING);
  dm_emit(L, d);
  yaml_document_start_event_initialize(&d->event, NULL, NULL, NULL, 1);
  dm_emit(L, d);
  dm_value(L, d, 1);
  yaml_document_end_event_initialize(&d->event, 1);
  dm_emit(L, d);
  yaml_stream_end_event_initialize(&d->event);
  dm_emit(L, d);
  lua_pushlstring(L, d->data ? d->data : "", d->len);
  return 1;
}

/* }====== */

int luaopen_gf_yaml_core(lua_State *L);
int luaopen_gf_yaml_core(lua_State *L)
{
  static const luaL_Reg funcs[] = {{"load", l_load}, {"dump", l_dump}, {NULL, NULL}};
  luaL_newmetatable(L, LOADER);
  gf_set_finalizer(L, loader_gc);
  luaL_newmetatable(L, DUMPER);
  gf_set_finalizer(L, dumper_gc);
  lua_pop(L, 2);
  luaL_newlib(L, funcs);
  lua_pushliteral(L, "libyaml");
  lua_setfield(L, -2, "_LIBRARY");
  lua_pushstring(L, yaml_get_version_string());
  lua_setfield(L, -2, "_LIBVERSION");
  return 1;
}
