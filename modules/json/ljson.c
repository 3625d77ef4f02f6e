/*
** ljson.c — gf.json.core: JSON text <-> Lua values, in one pass each way.
**
**   decode(text) -> value | nil, message, "parse"
**   encode(value, pretty, sort_keys) -> text      raises on values JSON cannot hold
**   null                                          light userdata NULL
**   array_mt, object_mt                           marker metatables (kind of a table)
**
** Decoding walks the text once and builds Lua values directly (no intermediate tree), so strings
** keep NUL bytes and integer literals keep all 64 bits. Encoding walks the Lua value and appends
** to one C buffer. Both keep their C memory in a userdata on the stack, so an error raised
** mid-way (out of memory, bad value) leaks nothing.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "gf.h"
#include "gfnum.h"
#include <lua.h>

#include "json.h"

#define MAX_DEPTH 1000
#define ARRAY_MT lua_upvalueindex(1)
#define OBJECT_MT lua_upvalueindex(2)

/* {====== decoding ====== */

typedef struct {
  const char *start, *p, *end;
  int depth;
  const char *err; /* static problem text */
  const char *errpos;
  gf_jbuf scratch; /* unescaped string bytes */
} jdec;

static int dec_gc(lua_State *L)
{
  jdec *d = lua_touserdata(L, 1);
  gf_jbuf_free(&d->scratch);
  return 0;
}

static int dec_fail(jdec *d, const char *msg, const char *at)
{
  d->err = msg;
  d->errpos = at;
  return -1;
}

static void skip_ws(jdec *d)
{
  const char *p = d->p, *e = d->end;
  while (p < e && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
  d->p = p;
}

static int dec_value(lua_State *L, jdec *d);

/* A \uXXXX escape (after the backslash-u); handles surrogate pairs. */
static int dec_unicode(jdec *d, const char **pp)
{
  const char *p = *pp;
  if (d->end - p < 4) return dec_fail(d, "truncated \\u escape", p - 2);
  long cp = gf_json_hex4(p);
  if (cp < 0) return dec_fail(d, "invalid \\u escape", p - 2);
  p += 4;
  if (cp >= 0xDC00 && cp <= 0xDFFF) return dec_fail(d, "lone low surrogate in \\u escape", p - 6);
  if (cp >= 0xD800 && cp <= 0xDBFF) {
    long lo = -1;
    if (d->end - p >= 6 && p[0] == '\\' && p[1] == 'u') lo = gf_json_hex4(p + 2);
    if (lo < 0xDC00 || lo > 0xDFFF)
      return dec_fail(d, "unpaired high surrogate in \\u escape", p - 6);
    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    p += 6;
  }
  char u[4];
  size_t n = gf_json_utf8(u, (uint32_t)cp);
  if (gf_jbuf_add(&d->scratch, u, n) != 0) return dec_fail(d, "out of memory", p);
  *pp = p;
  return 0;
}

/* The slow path of a string with escapes; d->p is at the first backslash. */
static int dec_string_escaped(lua_State *L, jdec *d, const char *start)
{
  d->scratch.len = 0;
  if (gf_jbuf_add(&d->scratch, start, (size_t)(d->p - start)) != 0)
    return dec_fail(d, "out of memory", d->p);
  const char *p = d->p, *e = d->end;
  for (;;) {
    const char *run = p;
    while (p < e && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20) p++;
    if (gf_jbuf_add(&d->scratch, run, (size_t)(p - run)) != 0)
      return dec_fail(d, "out of memory", p);
    if (p >= e) return dec_fail(d, "unterminated string", start - 1);
    if (*p == '"') break;
    if ((unsigned char)*p < 0x20) return dec_fail(d, "control character in string", p);
    if (e - p < 2) return dec_fail(d, "unterminated string", start - 1);
    char c = p[1], out;
    p += 2;
    switch (c) {
      case '"':
        out = '"';
        break;
      case '\\':
        out = '\\';
        break;
      case '/':
        out = '/';
        break;
      case 'b':
        out = '\b';
        break;
      case 'f':
        out = '\f';
        break;
      case 'n':
        out = '\n';
        break;
      case 'r':
        out = '\r';
        break;
      case 't':
        out = '\t';
        break;
      case 'u':
        if (dec_unicode(d, &p) != 0) return -1;
        continue;
      default:
        return dec_fail(d, "invalid escape in string", p - 2);
    }
    if (gf_jbuf_add(&d->scratch, &out, 1) != 0) return dec_fail(d, "out of memory", p);
  }
  d->p = p + 1;
  lua_pushlstring(L, d->scratch.data, d->scratch.len);
  return 0;
}

/* d->p is at the opening quote. */
static int dec_string(lua_State *L, jdec *d)
{
  const char *start = ++d->p, *p = start, *e = d->end;
  while (p < e && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20) p++;
  if (p < e && *p == '"') {
    lua_pushlstring(L, start, (size_t)(p - start));
    d->p = p + 1;
    return 0;
  }
  if (p >= e) return dec_fail(d, "unterminated string", start - 1);
  if (*p != '\\') return dec_fail(d, "control character in string", p);
  d->p = p;
  return dec_string_escaped(L, d, start);
}

static int is_digit(char c)
{
  return c >= '0' && c <= '9';
}

/* Integers without fraction or exponent that fit in 64 bits become Lua integers. */
static int dec_number(lua_State *L, jdec *d)
{
  const char *s = d->p, *p = s, *e = d->end;
  int neg = 0, isfloat = 0;
  if (*p == '-') neg = 1, p++;
  if (p >= e || !is_digit(*p)) return dec_fail(d, "invalid number", s);
  if (*p == '0' && p + 1 < e && is_digit(p[1])) return dec_fail(d, "leading zero in number", s);
  unsigned long long u = 0;
  int overflow = 0;
  for (; p < e && is_digit(*p); p++) {
    unsigned d10 = (unsigned)(*p - '0');
    if (u > (~0ULL - d10) / 10) overflow = 1;
    u = u * 10 + d10;
  }
  if (p < e && *p == '.') {
    isfloat = 1;
    if (++p >= e || !is_digit(*p)) return dec_fail(d, "invalid number", s);
    while (p < e && is_digit(*p)) p++;
  }
  if (p < e && (*p == 'e' || *p == 'E')) {
    isfloat = 1;
    p++;
    if (p < e && (*p == '+' || *p == '-')) p++;
    if (p >= e || !is_digit(*p)) return dec_fail(d, "invalid number", s);
    while (p < e && is_digit(*p)) p++;
  }
  d->p = p;
  unsigned long long lim = neg ? (1ULL << 63) : (1ULL << 63) - 1;
  if (!isfloat && !overflow && u <= lim) {
    lua_pushinteger(L, neg ? (lua_Integer)(0ULL - u) : (lua_Integer)u);
    return 0;
  }
  /* lua_stringtonumber converts with the C locale's decimal point handled for us. */
  lua_pushlstring(L, s, (size_t)(p - s));
  if (lua_stringtonumber(L, lua_tostring(L, -1)) == 0) return dec_fail(d, "invalid number", s);
  lua_remove(L, -2);
  if (lua_isinteger(L, -1)) { /* cannot happen for a literal we flagged, but keep floats float */
    lua_Number n = (lua_Number)lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_pushnumber(L, n);
  }
  return 0;
}

static int dec_literal(lua_State *L, jdec *d, const char *word, size_t n)
{
  if ((size_t)(d->end - d->p) < n || memcmp(d->p, word, n) != 0)
    return dec_fail(d, "unexpected character", d->p);
  d->p += n;
  if (word[0] == 'n') {
    lua_pushlightuserdata(L, NULL);
  } else {
    lua_pushboolean(L, word[0] == 't');
  }
  return 0;
}

/*
** Containers collect their first members on the Lua stack and create the table once the count
** is known (or the batch is full): no rehash chain for small objects, exact array parts.
*/
#define ARRAY_BATCH 256
#define OBJECT_BATCH 32

static int dec_enter(lua_State *L, jdec *d)
{
  if (++d->depth > MAX_DEPTH) return dec_fail(d, "nesting deeper than 1000 levels", d->p);
  luaL_checkstack(L, 8, "json.decode: nesting too deep");
  d->p++;
  lua_pushnil(L); /* placeholder for the table */
  skip_ws(d);
  return 0;
}

/* Move the n pending elements above the table at t into it, from index first. */
static void flush_array(lua_State *L, int t, int n, lua_Integer first)
{
  if (lua_isnil(L, t)) {
    lua_createtable(L, n, 0);
    lua_replace(L, t);
  }
  for (int i = n - 1; i >= 0; i--) lua_rawseti(L, t, first + i);
}

static void flush_object(lua_State *L, int t, int n)
{
  if (lua_isnil(L, t)) {
    lua_createtable(L, 0, n);
    lua_replace(L, t);
  }
  for (int i = 0; i < n; i++) { /* in order, so a repeated key keeps its last value */
    lua_pushvalue(L, t + 1 + 2 * i);
    lua_pushvalue(L, t + 2 + 2 * i);
    lua_rawset(L, t);
  }
  lua_settop(L, t);
}

static void dec_leave(lua_State *L, jdec *d, int t, int mt)
{
  lua_pushvalue(L, mt);
  lua_setmetatable(L, t);
  d->depth--;
}

static int dec_array(lua_State *L, jdec *d)
{
  if (dec_enter(L, d) != 0) return -1;
  int t = lua_gettop(L), pending = 0;
  lua_Integer first = 1;
  if (d->p < d->end && *d->p == ']') {
    d->p++;
  } else {
    for (;;) {
      luaL_checkstack(L, 4, "json.decode: nesting too deep");
      if (dec_value(L, d) != 0) return -1;
      if (++pending == ARRAY_BATCH) {
        flush_array(L, t, pending, first);
        first += pending;
        pending = 0;
      }
      skip_ws(d);
      if (d->p >= d->end) return dec_fail(d, "unexpected end of input", d->p);
      char c = *d->p++;
      if (c == ']') break;
      if (c != ',') return dec_fail(d, "expected ',' or ']'", d->p - 1);
    }
  }
  flush_array(L, t, pending, first);
  dec_leave(L, d, t, ARRAY_MT);
  return 0;
}

static int dec_member(lua_State *L, jdec *d)
{
  skip_ws(d);
  if (d->p >= d->end) return dec_fail(d, "unexpected end of input", d->p);
  if (*d->p != '"') return dec_fail(d, "expected string key", d->p);
  if (dec_string(L, d) != 0) return -1;
  skip_ws(d);
  if (d->p >= d->end) return dec_fail(d, "unexpected end of input", d->p);
  if (*d->p != ':') return dec_fail(d, "expected ':'", d->p);
  d->p++;
  return dec_value(L, d);
}

static int dec_object(lua_State *L, jdec *d)
{
  if (dec_enter(L, d) != 0) return -1;
  int t = lua_gettop(L), pending = 0;
  if (d->p < d->end && *d->p == '}') {
    d->p++;
  } else {
    for (;;) {
      luaL_checkstack(L, 4, "json.decode: nesting too deep");
      if (dec_member(L, d) != 0) return -1;
      if (++pending == OBJECT_BATCH) {
        flush_object(L, t, pending);
        pending = 0;
      }
      skip_ws(d);
      if (d->p >= d->end) return dec_fail(d, "unexpected end of input", d->p);
      char c = *d->p++;
      if (c == '}') break;
      if (c != ',') return dec_fail(d, "expected ',' or '}'", d->p - 1);
    }
  }
  flush_object(L, t, pending);
  dec_leave(L, d, t, OBJECT_MT);
  return 0;
}

static int dec_value(lua_State *L, jdec *d)
{
  skip_ws(d);
  if (d->p >= d->end) return dec_fail(d, "unexpected end of input", d->p);
  switch (*d->p) {
    case '{':
      return dec_object(L, d);
    case '[':
      return dec_array(L, d);
    case '"':
      return dec_string(L, d);
    case 't':
      return dec_literal(L, d, "true", 4);
    case 'f':
      return dec_literal(L, d, "false", 5);
    case 'n':
      return dec_literal(L, d, "null", 4);
    default:
      if (*d->p == '-' || is_digit(*d->p)) return dec_number(L, d);
      return dec_fail(d, "unexpected character", d->p);
  }
}

static int dec_error(lua_State *L, jdec *d)
{
  size_t off = (size_t)(d->errpos - d->start);
  long line = 1;
  const char *bol = d->start;
  for (const char *q = d->start; q < d->errpos; q++)
    if (*q == '\n') line++, bol = q + 1;
  long col = (long)(d->errpos - bol) + 1;
  lua_pushnil(L);
  if (d->errpos < d->end) {
    unsigned char c = (unsigned char)*d->errpos;
    char shown[8];
    if (c >= 0x20 && c < 0x7f) {
      snprintf(shown, sizeof shown, "'%c'", c);
    } else {
      snprintf(shown, sizeof shown, "0x%02x", c);
    }
    lua_pushfstring(L, "json.decode: %s (%s) at line %d, column %d (byte %d)", d->err, shown,
                    (int)line, (int)col, (int)off + 1);
  } else {
    lua_pushfstring(L, "json.decode: %s at line %d, column %d (byte %d)", d->err, (int)line,
                    (int)col, (int)off + 1);
  }
  lua_pushliteral(L, "parse");
  return 3;
}

static int l_decode(lua_State *L)
{
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  luaL_argcheck(L, lua_isnoneornil(L, 2), 2, "no options expected");
  lua_settop(L, 1);
  jdec *d = lua_newuserdatauv(L, sizeof *d, 0);
  memset(d, 0, sizeof *d);
  lua_pushvalue(L, lua_upvalueindex(3)); /* metatable with __gc */
  lua_setmetatable(L, -2);
  d->start = d->p = s;
  d->end = s + len;
  if (dec_value(L, d) == 0) {
    skip_ws(d);
    if (d->p == d->end) return 1;
    dec_fail(d, "unexpected data after the value", d->p);
  }
  lua_settop(L, 2);
  return dec_error(L, d);
}

/* }====== */

/* {====== encoding ====== */

typedef struct {
  const void *table;
  const char *key; /* object member being written, or NULL for an array element */
  size_t keylen;
  lua_Integer index;
} jframe;

typedef struct {
  gf_jbuf out;
  int pretty, sort_keys, depth;
  jframe frames[MAX_DEPTH + 1];
} jenc;

static int enc_gc(lua_State *L)
{
  jenc *e = lua_touserdata(L, 1);
  gf_jbuf_free(&e->out);
  return 0;
}

/* Raise "json.encode: <what> at $.a[2].b". */
static int enc_raise(lua_State *L, jenc *e, const char *what)
{
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "json.encode: ");
  luaL_addstring(&b, what);
  luaL_addstring(&b, " at $");
  for (int i = 1; i <= e->depth; i++) {
    jframe *f = &e->frames[i];
    if (f->key) {
      luaL_addchar(&b, '.');
      luaL_addlstring(&b, f->key, f->keylen > 64 ? 64 : f->keylen);
    } else if (f->index > 0) {
      lua_pushfstring(L, "[%I]", (LUAI_UACINT)f->index);
      luaL_addvalue(&b);
    }
  }
  luaL_pushresult(&b);
  return lua_error(L);
}

static void enc_add(lua_State *L, jenc *e, const char *s, size_t n)
{
  if (gf_jbuf_add(&e->out, s, n) != 0) luaL_error(L, "json.encode: not enough memory");
}

static void enc_newline(lua_State *L, jenc *e)
{
  if (!e->pretty) return;
  if (gf_jbuf_reserve(&e->out, 1 + 2 * (size_t)e->depth) != 0)
    luaL_error(L, "json.encode: not enough memory");
  e->out.data[e->out.len++] = '\n';
  memset(e->out.data + e->out.len, ' ', 2 * (size_t)e->depth);
  e->out.len += 2 * (size_t)e->depth;
}

static void enc_value(lua_State *L, jenc *e, int idx);

static void enc_string(lua_State *L, jenc *e, const char *s, size_t n)
{
  if (gf_jbuf_add_string(&e->out, s, n) != 0) luaL_error(L, "json.encode: not enough memory");
}

static void enc_number(lua_State *L, jenc *e, int idx)
{
  if (lua_isinteger(L, idx)) {
    if (gf_jbuf_add_integer(&e->out, (long long)lua_tointeger(L, idx)) != 0)
      luaL_error(L, "json.encode: not enough memory");
    return;
  }
  double v = (double)lua_tonumber(L, idx);
  if (!isfinite(v)) enc_raise(L, e, isnan(v) ? "cannot encode NaN" : "cannot encode infinity");
  char tmp[32];
  size_t n = gf_format_double(tmp, v);
  enc_add(L, e, tmp, n);
}

/* Kind of the table at idx: 'a' array (n elements), 'o' object; raises for mixed tables. */
static char enc_kind(lua_State *L, jenc *e, int idx, lua_Integer *n)
{
  char marked = 0;
  if (lua_getmetatable(L, idx)) {
    if (lua_rawequal(L, -1, ARRAY_MT)) marked = 'a';
    if (lua_rawequal(L, -1, OBJECT_MT)) marked = 'o';
    lua_pop(L, 1);
  }
  lua_pushnil(L);
  if (!lua_next(L, idx)) return marked ? marked : 'o'; /* empty */
  int first_is_string = lua_type(L, -2) == LUA_TSTRING;
  lua_pop(L, 2);
  if (marked == 'o' || (marked == 0 && first_is_string)) return 'o';
  /* An array: exactly the keys 1..n. */
  lua_Integer len = (lua_Integer)lua_rawlen(L, idx), count = 0;
  int holes = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (!lua_isinteger(L, -1)) {
      lua_pop(L, 1);
      enc_raise(L, e, "table mixes array and object keys");
    }
    lua_Integer k = lua_tointeger(L, -1);
    if (k < 1 || k > len) holes = 1; /* keep looking for non-integer keys first */
    count++;
  }
  if (holes || count != len) enc_raise(L, e, "array has holes or keys outside 1..n");
  *n = len;
  return 'a';
}

static void enc_array(lua_State *L, jenc *e, int idx, lua_Integer n)
{
  jframe *f = &e->frames[e->depth];
  enc_add(L, e, "[", 1);
  for (lua_Integer i = 1; i <= n; i++) {
    if (i > 1) enc_add(L, e, ",", 1);
    enc_newline(L, e);
    f->key = NULL;
    f->index = i;
    lua_rawgeti(L, idx, i);
    enc_value(L, e, lua_gettop(L));
    lua_pop(L, 1);
  }
  f->index = 0;
  e->depth--;
  if (n > 0) enc_newline(L, e);
  e->depth++;
  enc_add(L, e, "]", 1);
}

static void enc_member(lua_State *L, jenc *e, int first, int kidx, int vidx)
{
  jframe *f = &e->frames[e->depth];
  f->key = NULL; /* a bad key is reported at the table itself */
  if (lua_type(L, kidx) != LUA_TSTRING)
    enc_raise(L, e,
              lua_type(L, kidx) == LUA_TNUMBER ? "table mixes array and object keys"
                                               : "object key is not a string");
  if (!first) enc_add(L, e, ",", 1);
  enc_newline(L, e);
  f->key = lua_tolstring(L, kidx, &f->keylen);
  enc_string(L, e, f->key, f->keylen);
  enc_add(L, e, e->pretty ? ": " : ":", e->pretty ? 2 : 1);
  enc_value(L, e, vidx);
}

typedef struct {
  const char *s;
  size_t n;
} jkey;

static int key_cmp(const void *a, const void *b)
{
  const jkey *x = a, *y = b;
  int c = memcmp(x->s, y->s, x->n < y->n ? x->n : y->n);
  if (c) return c;
  return (x->n > y->n) - (x->n < y->n);
}

static void enc_object_sorted(lua_State *L, jenc *e, int idx)
{
  size_t count = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) enc_raise(L, e, "object key is not a string");
    count++;
  }
  jkey *keys = lua_newuserdatauv(L, count * sizeof *keys + 1, 0); /* GC-owned scratch */
  size_t i = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    keys[i].s = lua_tolstring(L, -1, &keys[i].n); /* the table keeps the string alive */
    i++;
  }
  qsort(keys, count, sizeof *keys, key_cmp);
  for (i = 0; i < count; i++) {
    lua_pushlstring(L, keys[i].s, keys[i].n);
    lua_pushvalue(L, -1);
    lua_rawget(L, idx);
    int top = lua_gettop(L);
    enc_member(L, e, i == 0, top - 1, top);
    lua_pop(L, 2);
  }
  lua_pop(L, 1);
}

static void enc_object(lua_State *L, jenc *e, int idx)
{
  enc_add(L, e, "{", 1);
  int any = 0;
  if (e->sort_keys) {
    lua_pushnil(L);
    any = lua_next(L, idx);
    if (any) lua_pop(L, 2);
    enc_object_sorted(L, e, idx);
  } else {
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      int top = lua_gettop(L);
      enc_member(L, e, !any, top - 1, top);
      any = 1;
      lua_pop(L, 1);
    }
  }
  e->frames[e->depth].key = NULL;
  e->depth--;
  if (any) enc_newline(L, e);
  e->depth++;
  enc_add(L, e, "}", 1);
}

static void enc_table(lua_State *L, jenc *e, int idx)
{
  const void *t = lua_topointer(L, idx);
  for (int i = 1; i <= e->depth; i++)
    if (e->frames[i].table == t) enc_raise(L, e, "table refers to itself (cycle)");
  if (e->depth >= MAX_DEPTH) enc_raise(L, e, "nesting deeper than 1000 levels");
  luaL_checkstack(L, 6, "json.encode: nesting too deep");
  lua_Integer n = 0;
  char kind = enc_kind(L, e, idx, &n);
  jframe *f = &e->frames[++e->depth];
  f->table = t;
  f->key = NULL;
  f->index = 0;
  if (kind == 'a') {
    enc_array(L, e, idx, n);
  } else {
    enc_object(L, e, idx);
  }
  e->depth--;
}

static void enc_value(lua_State *L, jenc *e, int idx)
{
  switch (lua_type(L, idx)) {
    case LUA_TNIL:
      enc_add(L, e, "null", 4);
      break;
    case LUA_TBOOLEAN:
      if (lua_toboolean(L, idx)) {
        enc_add(L, e, "true", 4);
      } else {
        enc_add(L, e, "false", 5);
      }
      break;
    case LUA_TNUMBER:
      enc_number(L, e, idx);
      break;
    case LUA_TSTRING: {
      size_t n;
      const char *s = lua_tolstring(L, idx, &n);
      enc_string(L, e, s, n);
      break;
    }
    case LUA_TLIGHTUSERDATA:
      if (lua_touserdata(L, idx) == NULL) {
        enc_add(L, e, "null", 4);
        break;
      }
      enc_raise(L, e, "cannot encode a light userdata other than json.null");
      break;
    case LUA_TTABLE:
      enc_table(L, e, idx);
      break;
    default: {
      const char *what = lua_pushfstring(L, "cannot encode a %s", luaL_typename(L, idx));
      enc_raise(L, e, what);
    }
  }
}

static int l_encode(lua_State *L)
{
  luaL_checkany(L, 1);
  int pretty = lua_toboolean(L, 2), sort_keys = lua_toboolean(L, 3);
  lua_settop(L, 1);
  jenc *e = lua_newuserdatauv(L, sizeof *e, 0);
  memset(e, 0, sizeof *e);
  lua_pushvalue(L, lua_upvalueindex(4));
  lua_setmetatable(L, -2);
  e->pretty = pretty;
  e->sort_keys = sort_keys;
  enc_value(L, e, 1);
  lua_pushlstring(L, e->out.data, e->out.len);
  gf_jbuf_free(&e->out);
  return 1;
}

/* }====== */

static void new_marker(lua_State *L, const char *name)
{
  lua_createtable(L, 0, 1);
  lua_pushstring(L, name);
  lua_setfield(L, -2, "__name");
}

static void new_gc_mt(lua_State *L, lua_CFunction gc)
{
  lua_createtable(L, 0, 2);
  gf_set_finalizer(L, gc);
}

int luaopen_gf_json_core(lua_State *L);
int luaopen_gf_json_core(lua_State *L)
{
  static const luaL_Reg funcs[] = {{"decode", l_decode}, {"encode", l_encode}, {NULL, NULL}};
  lua_newtable(L);
  new_marker(L, "gf.json.array");
  new_marker(L, "gf.json.object");
  new_gc_mt(L, dec_gc);
  new_gc_mt(L, enc_gc);
  lua_pushvalue(L, -4);
  lua_setfield(L, -6, "array_mt");
  lua_pushvalue(L, -3);
  lua_setfield(L, -6, "object_mt");
  luaL_setfuncs(L, funcs, 4);
  lua_pushlightuserdata(L, NULL);
  lua_setfield(L, -2, "null");
  return 1;
}
