/*
** lcsv.c — gf.csv.core: streaming CSV reader and writer objects over files and strings.
**
**   reader(kind, source, name, delim, quote, header, strict) -> reader | nil, msg, code
**       kind "path" (source is a path), "file" (an open Lua file), "string" (the text itself)
**   reader:read() -> row | nil (end) | nil, msg, "parse"|"io"
**   reader:header() -> list | nil      reader:line() -> integer      reader:close()
**   writer(kind, target, name, delim, quote, eol, header) -> writer | nil, msg, "io"
**   writer:write(row) -> true | nil, msg, "io"      writer:close() -> true | nil, msg, "io"
**   encode_row(list, delim, quote) -> string
*/
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "csv.h"
#include "gf.h"
#include "gfnum.h"

#define READER "gf.csv.reader"
#define WRITER "gf.csv.writer"

/* {====== reader ====== */

typedef struct {
  gf_csv_reader *r;
  FILE *f;       /* for kinds path and file */
  int owns_file; /* path: we close it */
  const char *s; /* for kind string: the text, kept alive by uservalue 1 */
  size_t slen, spos;
  int header, strict, closed;
  long expected; /* field count every record must have, -1 before the first */
} creader;

static int read_file(void *ctx, char *buf, size_t cap, size_t *got)
{
  creader *cr = ctx;
  errno = 0;
  *got = fread(buf, 1, cap, cr->f);
  if (*got == 0 && ferror(cr->f)) return -1;
  return 0;
}

static int read_string(void *ctx, char *buf, size_t cap, size_t *got)
{
  creader *cr = ctx;
  size_t n = cr->slen - cr->spos;
  if (n > cap) n = cap;
  memcpy(buf, cr->s + cr->spos, n);
  cr->spos += n;
  *got = n;
  return 0;
}

static void creader_release(creader *cr)
{
  if (cr->closed) return;
  cr->closed = 1;
  gf_csv_reader_free(cr->r);
  cr->r = NULL;
  if (cr->owns_file && cr->f) fclose(cr->f);
  cr->f = NULL;
}

static int reader_close(lua_State *L)
{
  creader_release(luaL_checkudata(L, 1, READER));
  return 0;
}

static creader *check_reader(lua_State *L)
{
  creader *cr = luaL_checkudata(L, 1, READER);
  if (cr->closed) luaL_error(L, "csv.reader: attempt to use a closed reader");
  return cr;
}

static FILE *lua_file(lua_State *L, int idx)
{
  luaL_Stream *p = luaL_checkudata(L, idx, LUA_FILEHANDLE);
  if (p->closef == NULL) luaL_argerror(L, idx, "attempt to use a closed file");
  return p->f;
}

/* Push the name (uservalue 3) prefix "csv <name>:<line>: " and the problem. */
static int reader_fail(lua_State *L, creader *cr, const char *code, const char *problem)
{
  lua_getiuservalue(L, 1, 3);
  const char *name = lua_tostring(L, -1);
  return gf_fail(L, code, "csv %s:%ld: %s", name, gf_csv_line(cr->r), problem);
}

/* Read one record; 1 = row ready, 0 = end, or pushes a failure triple and returns -3. */
static int next_record(lua_State *L, creader *cr)
{
  int rc = gf_csv_next(cr->r);
  if (rc == GF_CSV_ROW) return 1;
  if (rc == GF_CSV_EOF) return 0;
  if (rc == GF_CSV_ENOMEM) luaL_error(L, "csv: not enough memory");
  if (rc == GF_CSV_EIO) {
    reader_fail(L, cr, "io", strerror(gf_csv_errno(cr->r)));
  } else {
    reader_fail(L, cr, "parse", gf_csv_problem(cr->r));
  }
  return -3;
}

static void push_field(lua_State *L, creader *cr, size_t i)
{
  size_t n;
  const char *s = gf_csv_field(cr->r, i, &n);
  lua_pushlstring(L, s, n);
}

static int reader_read(lua_State *L)
{
  creader *cr = check_reader(L);
  lua_settop(L, 1);
  int rc = next_record(L, cr);
  if (rc <= 0) return rc == 0 ? 0 : 3;
  long nf = (long)gf_csv_nfields(cr->r);
  if (cr->expected < 0) cr->expected = nf;
  if (nf != cr->expected && cr->strict) {
    char msg[96];
    snprintf(msg, sizeof msg, "expected %ld fields, got %ld", cr->expected, nf);
    return reader_fail(L, cr, "parse", msg);
  }
  if (!cr->header) {
    lua_createtable(L, (int)nf, 0);
    for (long i = 0; i < nf; i++) {
      push_field(L, cr, (size_t)i);
      lua_rawseti(L, -2, i + 1);
    }
    return 1;
  }
  lua_getiuservalue(L, 1, 2); /* header names */
  lua_createtable(L, 0, (int)nf);
  for (long i = 0; i < nf; i++) {
    if (i < cr->expected) {
      lua_rawgeti(L, -2, i + 1);
    } else {
      lua_pushinteger(L, i + 1); /* extra field of a ragged row (strict = false) */
    }
    push_field(L, cr, (size_t)i);
    lua_rawset(L, -3);
  }
  return 1;
}

/* Read the header record into uservalue 2; 0 on success or a failure triple count. */
static int read_header(lua_State *L, creader *cr)
{
  int rc = next_record(L, cr);
  if (rc < 0) return 3;
  long nf = rc ? (long)gf_csv_nfields(cr->r) : 0;
  lua_createtable(L, (int)nf, 0); /* names */
  lua_createtable(L, 0, (int)nf); /* seen */
  for (long i = 0; i < nf; i++) {
    push_field(L, cr, (size_t)i);
    lua_pushvalue(L, -1);
    if (lua_rawget(L, -3) != LUA_TNIL) {
      char msg[160];
      snprintf(msg, sizeof msg, "duplicate column name '%.100s' in the header",
               lua_tostring(L, -2));
      return reader_fail(L, cr, "parse", msg);
    }
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    lua_pushboolean(L, 1);
    lua_rawset(L, -4);
    lua_rawseti(L, -3, i + 1);
  }
  lua_pop(L, 1);
  lua_setiuservalue(L, 1, 2);
  cr->expected = rc ? nf : -1;
  return 0;
}

static char opt_char(lua_State *L, int idx, const char *what)
{
  size_t n;
  const char *s = luaL_checklstring(L, idx, &n);
  if (n != 1 || s[0] == '\n' || s[0] == '\r')
    luaL_error(L, "csv: %s must be one character other than CR or LF", what);
  return s[0];
}

static int l_reader(lua_State *L)
{
  const char *kind = luaL_checkstring(L, 1);
  const char *name = luaL_checkstring(L, 3);
  char delim = opt_char(L, 4, "delimiter"), quote = opt_char(L, 5, "quote");
  int header = lua_toboolean(L, 6), strict = lua_toboolean(L, 7);
  if (delim == quote) return luaL_error(L, "csv: delimiter and quote must differ");
  FILE *f = NULL;
  if (strcmp(kind, "file") == 0) {
    f = lua_file(L, 2);
  } else {
    luaL_checkstring(L, 2);
  }
  creader *cr = lua_newuserdatauv(L, sizeof *cr, 3);
  memset(cr, 0, sizeof *cr);
  cr->closed = 1; /* until fully opened */
  cr->header = header;
  cr->strict = strict;
  cr->expected = -1;
  luaL_setmetatable(L, READER);
  lua_replace(L, 1); /* the reader is argument 1 from here on */
  lua_pushvalue(L, 2);
  lua_setiuservalue(L, 1, 1);
  lua_pushvalue(L, 3);
  lua_setiuservalue(L, 1, 3);
  gf_csv_read_fn fn = read_file;
  if (strcmp(kind, "path") == 0) {
    cr->f = fopen(lua_tostring(L, 2), "rb");
    if (!cr->f) return gf_fail(L, "io", "csv.reader %s: %s", name, strerror(errno));
    cr->owns_file = 1;
  } else if (f) {
    cr->f = f;
  } else {
    cr->s = lua_tolstring(L, 2, &cr->slen);
    fn = read_string;
  }
  cr->r = gf_csv_reader_new(delim, quote, strict, fn, cr);
  cr->closed = 0;
  if (!cr->r) return luaL_error(L, "csv: not enough memory");
  lua_settop(L, 1);
  if (header && read_header(L, cr) != 0) {
    creader_release(cr);
    return 3; /* nil, message, code on top */
  }
  lua_settop(L, 1);
  return 1;
}

/* The iterator of reader:rows(): a row, nil at the end; raises a failure's message. */
static int rows_iter(lua_State *L)
{
  lua_settop(L, 0);
  lua_pushvalue(L, lua_upvalueindex(1));
  int n = reader_read(L);
  if (n == 3) { /* nil, message, code: raise the message */
    lua_pop(L, 1);
    return lua_error(L);
  }
  return n;
}

static int reader_rows(lua_State *L)
{
  check_reader(L);
  lua_settop(L, 1);
  lua_pushcclosure(L, rows_iter, 1);
  return 1;
}

static int reader_header(lua_State *L)
{
  creader *cr = check_reader(L);
  if (!cr->header) return 0;
  lua_getiuservalue(L, 1, 2);
  lua_Integer n = luaL_len(L, -1);
  lua_createtable(L, (int)n, 0);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, -2, i);
    lua_rawseti(L, -2, i);
  }
  return 1;
}

static int reader_line(lua_State *L)
{
  creader *cr = check_reader(L);
  lua_pushinteger(L, gf_csv_line(cr->r));
  return 1;
}

static int reader_tostring(lua_State *L)
{
  creader *cr = luaL_checkudata(L, 1, READER);
  lua_getiuservalue(L, 1, 3);
  lua_pushfstring(L, READER " (%s%s)", lua_tostring(L, -1), cr->closed ? ", closed" : "");
  return 1;
}

/* }====== */

/* {====== writer ====== */

typedef struct {
  FILE *f;
  int owns_file, closed, failed;
  char delim, quote;
  gf_csv_buf buf;
} cwriter;

static int writer_release(cwriter *w)
{
  int rc = 0;
  if (w->closed) return 0;
  w->closed = 1;
  if (w->f) {
    if (w->owns_file) {
      rc = fclose(w->f);
    } else {
      rc = fflush(w->f);
    }
  }
  w->f = NULL;
  gf_csv_buf_free(&w->buf);
  return rc;
}

static int writer_gc(lua_State *L)
{
  writer_release(luaL_checkudata(L, 1, WRITER));
  return 0;
}

static cwriter *check_writer(lua_State *L)
{
  cwriter *w = luaL_checkudata(L, 1, WRITER);
  if (w->closed) luaL_error(L, "csv.writer: attempt to use a closed writer");
  return w;
}

/* Append the value at idx as a field (field number i for messages). */
static void add_value(lua_State *L, gf_csv_buf *b, int idx, lua_Integer i, char delim, char quote)
{
  char tmp[32];
  const char *s = tmp;
  size_t n = 0;
  switch (lua_type(L, idx)) {
    case LUA_TNIL:
      break;
    case LUA_TLIGHTUSERDATA:
      if (lua_touserdata(L, idx) != NULL) goto bad;
      break;
    case LUA_TSTRING:
      s = lua_tolstring(L, idx, &n);
      break;
    case LUA_TBOOLEAN:
      s = lua_toboolean(L, idx) ? "true" : "false";
      n = strlen(s);
      break;
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) {
        n = (size_t)snprintf(tmp, sizeof tmp, "%lld", (long long)lua_tointeger(L, idx));
      } else {
        n = gf_format_double(tmp, (double)lua_tonumber(L, idx));
      }
      break;
    default:
      goto bad;
  }
  if (gf_csv_add_field(b, s, n, delim, quote) != 0) luaL_error(L, "csv: not enough memory");
  return;
bad:
  luaL_error(L, "csv: cannot write a %s (field %d)", luaL_typename(L, idx), (int)i);
}

/* Encode the row at idx (a list, or keyed by the names list at hidx when hidx != 0) into b. */
static void encode_row(lua_State *L, gf_csv_buf *b, int idx, int hidx, char delim, char quote)
{
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_Integer n = (lua_Integer)lua_rawlen(L, hidx ? hidx : idx);
  for (lua_Integer i = 1; i <= n; i++) {
    if (i > 1 && gf_csv_buf_add(b, &delim, 1) != 0) luaL_error(L, "csv: not enough memory");
    if (hidx) {
      lua_rawgeti(L, hidx, i);
      lua_gettable(L, idx);
    } else {
      lua_geti(L, idx, i);
    }
    add_value(L, b, lua_gettop(L), i, delim, quote);
    lua_pop(L, 1);
  }
}

static int writer_put(lua_State *L, cwriter *w)
{
  lua_getiuservalue(L, 1, 3); /* eol */
  size_t eoln;
  const char *eol = lua_tolstring(L, -1, &eoln);
  if (gf_csv_buf_add(&w->buf, eol, eoln) != 0) return luaL_error(L, "csv: not enough memory");
  lua_pop(L, 1);
  size_t len = w->buf.len;
  w->buf.len = 0;
  if (fwrite(w->buf.data, 1, len, w->f) != len) {
    w->failed = 1;
    lua_getiuservalue(L, 1, 4);
    return gf_fail(L, "io", "csv.write %s: %s", lua_tostring(L, -1), strerror(errno));
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int writer_write(lua_State *L)
{
  cwriter *w = check_writer(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  w->buf.len = 0;
  if (lua_getiuservalue(L, 1, 2) == LUA_TTABLE) {
    encode_row(L, &w->buf, 2, 3, w->delim, w->quote);
  } else {
    encode_row(L, &w->buf, 2, 0, w->delim, w->quote);
  }
  return writer_put(L, w);
}

static int writer_close(lua_State *L)
{
  cwriter *w = luaL_checkudata(L, 1, WRITER);
  if (w->closed) {
    lua_pushboolean(L, 1);
    return 1;
  }
  if (writer_release(w) != 0) {
    lua_getiuservalue(L, 1, 4);
    return gf_fail(L, "io", "csv.close %s: %s", lua_tostring(L, -1), strerror(errno));
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int l_writer(lua_State *L)
{
  const char *kind = luaL_checkstring(L, 1);
  const char *name = luaL_checkstring(L, 3);
  char delim = opt_char(L, 4, "delimiter"), quote = opt_char(L, 5, "quote");
  luaL_checkstring(L, 6);
  if (delim == quote) return luaL_error(L, "csv: delimiter and quote must differ");
  int has_header = !lua_isnoneornil(L, 7);
  if (has_header) luaL_checktype(L, 7, LUA_TTABLE);
  FILE *f = strcmp(kind, "file") == 0 ? lua_file(L, 2) : NULL;
  if (!f) luaL_checkstring(L, 2);
  cwriter *w = lua_newuserdatauv(L, sizeof *w, 4);
  memset(w, 0, sizeof *w);
  w->closed = 1;
  w->delim = delim;
  w->quote = quote;
  luaL_setmetatable(L, WRITER);
  int ud = lua_gettop(L);
  lua_pushvalue(L, 2);
  lua_setiuservalue(L, ud, 1);
  lua_pushvalue(L, 7);
  lua_setiuservalue(L, ud, 2);
  lua_pushvalue(L, 6);
  lua_setiuservalue(L, ud, 3);
  lua_pushvalue(L, 3);
  lua_setiuservalue(L, ud, 4);
  if (!f) {
    f = fopen(lua_tostring(L, 2), "wb");
    if (!f) return gf_fail(L, "io", "csv.writer %s: %s", name, strerror(errno));
    w->owns_file = 1;
  }
  w->f = f;
  w->closed = 0;
  lua_replace(L, 1);
  lua_settop(L, 1);
  if (has_header) { /* the header line: the names themselves */
    lua_getiuservalue(L, 1, 2);
    encode_row(L, &w->buf, 2, 0, delim, quote);
    lua_settop(L, 1);
    if (writer_put(L, w) != 1) return 3;
    lua_settop(L, 1);
  }
  return 1;
}

static int l_encode_row(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TTABLE);
  char delim = opt_char(L, 2, "delimiter"), quote = opt_char(L, 3, "quote");
  lua_settop(L, 1);
  luaL_Buffer lb;
  /* The row is encoded into a userdata-owned buffer so an error frees it. */
  cwriter *w = lua_newuserdatauv(L, sizeof *w, 0);
  memset(w, 0, sizeof *w);
  luaL_setmetatable(L, WRITER);
  encode_row(L, &w->buf, 1, 0, delim, quote);
  luaL_buffinit(L, &lb);
  luaL_addlstring(&lb, w->buf.data ? w->buf.data : "", w->buf.len);
  luaL_pushresult(&lb);
  return 1;
}

/* }====== */

int luaopen_gf_csv_core(lua_State *L);
int luaopen_gf_csv_core(lua_State *L)
{
  static const luaL_Reg reader_methods[] = {{"read", reader_read},   {"header", reader_header},
                                            {"rows", reader_rows},   {"line", reader_line},
                                            {"close", reader_close}, {NULL, NULL}};
  static const luaL_Reg writer_methods[] = {
      {"write", writer_write}, {"close", writer_close}, {NULL, NULL}};
  static const luaL_Reg funcs[] = {
      {"reader", l_reader}, {"writer", l_writer}, {"encode_row", l_encode_row}, {NULL, NULL}};
  luaL_newmetatable(L, READER);
  luaL_newlib(L, reader_methods);
  lua_setfield(L, -2, "__index");
  gf_set_finalizer(L, reader_close);
  lua_pushcfunction(L, reader_tostring);
  lua_setfield(L, -2, "__tostring");
  luaL_newmetatable(L, WRITER);
  luaL_newlib(L, writer_methods);
  lua_setfield(L, -2, "__index");
  gf_set_finalizer(L, writer_gc);
  lua_pop(L, 2);
  luaL_newlib(L, funcs);
  return 1;
}
