/*
** lsqlite.c — gf.sqlite.core: the Lua binding of SQLite. The facade gf.sqlite checks the option
** table of open() and adds db:transaction().
**
**   open(path, readonly, wal, busy_ms, synchronous|nil) -> db | nil, msg, "io"|"timeout"|...
**   blob(string) -> blob                 bind a string as a BLOB instead of TEXT
**
**   db:exec(sql) -> true | nil, msg, code                 several statements, no parameters
**   db:prepare(sql) -> stmt | nil, msg, code
**   db:query(sql, ...) -> {row, ...} | nil, msg, code     cached statement, every row
**   db:first(sql, ...) -> row | nil | nil, msg, code      first row only (nil when none)
**   db:execute(sql, ...) -> changes | nil, msg, code
**   db:last_insert_id(), db:changes(), db:autocommit(), db:busy_timeout([ms]) -> previous ms
**   db:close() -> true                                    idempotent; also __gc / __close
**
**   stmt:bind(...) -> stmt                 positional values, or one table of named values
**   stmt:step() -> row | nil (done) | nil, msg, code
**   stmt:rows(...) -> iterator over rows   binds ... when given; raises on failure
**   stmt:reset() -> stmt, stmt:columns() -> {names}, stmt:close(), also __gc / __close
**
** Parameters: nil -> NULL, boolean -> 0/1, integer -> INTEGER, float -> REAL, string -> TEXT
** (binary-safe), blob(s) -> BLOB. A row is a table keyed by column name; NULL columns are absent.
** Codes: "conflict" (constraint), "timeout" (busy/locked), "io", "interrupted", "invalid_input"
*(anything
** else: syntax, missing table, ...). Misuse (closed objects, bad parameter types, more values
** than parameters, several statements where one is expected) raises.
*/
#include <stdint.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "gf.h"
#include "sqlite.h"

#define DB_MT "gf.sqlite.db"
#define STMT_MT "gf.sqlite.stmt"
#define BLOB_MT "gf.sqlite.blob"

typedef struct {
  sqlite3_stmt *st; /* owned; NULL once closed */
  gf_sqlite *owner; /* inside the db userdata, which the stmt keeps alive as its user value */
} stmt_box;

/* {====== helpers ====== */

static gf_sqlite *check_db(lua_State *L, int idx)
{
  gf_sqlite *s = luaL_checkudata(L, idx, DB_MT);
  if (!s->db) luaL_error(L, "attempt to use a closed sqlite database");
  return s;
}

static stmt_box *check_stmt(lua_State *L, int idx)
{
  stmt_box *b = luaL_checkudata(L, idx, STMT_MT);
  if (!b->st) luaL_error(L, "attempt to use a closed sqlite statement");
  if (!b->owner->db) luaL_error(L, "attempt to use a statement of a closed sqlite database");
  return b;
}

static const char *db_name(sqlite3 *db)
{
  const char *f = sqlite3_db_filename(db, "main");
  return (f && *f) ? f : ":memory:";
}

/* nil, "sqlite.<op> <file>: <message>", code */
static int fail_rc(lua_State *L, sqlite3 *db, const char *op, int rc)
{
  const char *msg = sqlite3_errmsg(db);
  if (!msg || !*msg || sqlite3_errcode(db) != rc) msg = sqlite3_errstr(rc);
  return gf_fail(L, gf_sqlite_code(rc), "sqlite.%s %s: %s", op, db_name(db), msg);
}

static void bind_value(lua_State *L, sqlite3_stmt *st, int i, int idx)
{
  int rc = SQLITE_OK;
  size_t len;
  const char *p;
  switch (lua_type(L, idx)) {
    case LUA_TNIL:
    case LUA_TNONE:
      rc = sqlite3_bind_null(st, i);
      break;
    case LUA_TBOOLEAN:
      rc = sqlite3_bind_int(st, i, lua_toboolean(L, idx));
      break;
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) {
        rc = sqlite3_bind_int64(st, i, (sqlite3_int64)lua_tointeger(L, idx));
      } else {
        rc = sqlite3_bind_double(st, i, (double)lua_tonumber(L, idx));
      }
      break;
    case LUA_TSTRING:
      p = lua_tolstring(L, idx, &len);
      rc = sqlite3_bind_text64(st, i, p, len, SQLITE_TRANSIENT, SQLITE_UTF8);
      break;
    default:
      if (luaL_testudata(L, idx, BLOB_MT)) {
        lua_getiuservalue(L, idx, 1);
        p = lua_tolstring(L, -1, &len);
        rc = sqlite3_bind_blob64(st, i, p, len, SQLITE_TRANSIENT);
        lua_pop(L, 1);
        break;
      }
      luaL_error(L, "sqlite: cannot bind a %s to parameter %d", luaL_typename(L, idx), i);
  }
  if (rc != SQLITE_OK) luaL_error(L, "sqlite: binding parameter %d: %s", i, sqlite3_errstr(rc));
}

/* Named parameters (:name, @name, $name) from the table at idx; `?NNN` from its array part. */
static void bind_named(lua_State *L, sqlite3_stmt *st, int idx)
{
  int n = sqlite3_bind_parameter_count(st);
  for (int i = 1; i <= n; i++) {
    const char *name = sqlite3_bind_parameter_name(st, i);
    if (name && name[0] != '?') {
      lua_getfield(L, idx, name + 1);
    } else {
      lua_geti(L, idx, i);
    }
    bind_value(L, st, i, lua_gettop(L));
    lua_pop(L, 1);
  }
}

/* Bind the values at first..top: one plain table means named values. Raises on misuse. */
static void bind_args(lua_State *L, sqlite3_stmt *st, int first)
{
  int top = lua_gettop(L);
  if (top == first && lua_type(L, first) == LUA_TTABLE) {
    bind_named(L, st, first);
    return;
  }
  int n = top - first + 1;
  int want = sqlite3_bind_parameter_count(st);
  if (n > want) luaL_error(L, "sqlite: %d values for %d parameters", n, want);
  for (int i = 0; i < n; i++) bind_value(L, st, i + 1, first + i);
}

static void push_column(lua_State *L, sqlite3_stmt *st, int i)
{
  const void *p;
  switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
      lua_pushinteger(L, (lua_Integer)sqlite3_column_int64(st, i));
      break;
    case SQLITE_FLOAT:
      lua_pushnumber(L, (lua_Number)sqlite3_column_double(st, i));
      break;
    case SQLITE_TEXT:
      p = sqlite3_column_text(st, i);
      lua_pushlstring(L, (const char *)p, (size_t)sqlite3_column_bytes(st, i));
      break;
    case SQLITE_BLOB:
      p = sqlite3_column_blob(st, i);
      lua_pushlstring(L, p ? (const char *)p : "", (size_t)sqlite3_column_bytes(st, i));
      break;
    default:
      lua_pushnil(L);
  }
}

static void push_row(lua_State *L, sqlite3_stmt *st)
{
  int n = sqlite3_column_count(st);
  lua_createtable(L, 0, n);
  for (int i = 0; i < n; i++) {
    if (sqlite3_column_type(st, i) == SQLITE_NULL) continue;
    push_column(L, st, i);
    lua_setfield(L, -2, sqlite3_column_name(st, i));
  }
}

/* A cached statement for the SQL at arg 2, with the values from arg 3 on bound. */
static sqlite3_stmt *cached(lua_State *L, gf_sqlite *s, const char *op, int *rc)
{
  size_t len;
  const char *sql = luaL_checklstring(L, 2, &len);
  sqlite3_stmt *st = NULL;
  *rc = gf_sqlite_cached_stmt(s, sql, len, &st);
  if (*rc == SQLITE_MISUSE)
    luaL_error(L, "sqlite.%s: one statement expected (db:exec runs several)", op);
  if (*rc != SQLITE_OK) return NULL;
  if (!st) luaL_error(L, "sqlite.%s: empty statement", op);
  bind_args(L, st, 3);
  return st;
}

/* }====== */

/* {====== database ====== */

static int l_open(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  gf_sqlite_opts o = {0};
  o.readonly = lua_toboolean(L, 2);
  o.wal = lua_toboolean(L, 3);
  lua_Integer busy = luaL_optinteger(L, 4, 5000);
  luaL_argcheck(L, busy >= 0 && busy <= INT32_MAX, 4, "busy timeout out of range");
  o.busy_ms = (int)busy;
  o.synchronous = luaL_optstring(L, 5, NULL);
  if (o.synchronous) {
    static const char *const modes[] = {"off", "normal", "full", "extra", NULL};
    luaL_checkoption(L, 5, NULL, modes);
  }
  gf_sqlite *s = lua_newuserdatauv(L, sizeof *s, 0);
  memset(s, 0, sizeof *s);
  luaL_setmetatable(L, DB_MT);
  char err[256];
  int rc = gf_sqlite_open(s, path, &o, err, sizeof err);
  if (rc != SQLITE_OK) return gf_fail(L, gf_sqlite_code(rc), "sqlite.open %s: %s", path, err);
  return 1;
}

static int l_blob(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TSTRING);
  lua_newuserdatauv(L, 0, 1);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  luaL_setmetatable(L, BLOB_MT);
  return 1;
}

static int db_close(lua_State *L)
{
  gf_sqlite *s = luaL_checkudata(L, 1, DB_MT);
  gf_sqlite_close(s);
  lua_pushboolean(L, 1);
  return 1;
}

static int db_exec(lua_State *L)
{
  gf_sqlite *s = check_db(L, 1);
  const char *sql = luaL_checkstring(L, 2);
  int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
  if (rc != SQLITE_OK) return fail_rc(L, s->db, "exec", rc);
  lua_pushboolean(L, 1);
  return 1;
}

static int db_prepare(lua_State *L)
{
  gf_sqlite *s = check_db(L, 1);
  size_t len;
  const char *sql = luaL_checklstring(L, 2, &len);
  luaL_argcheck(L, len < (size_t)INT32_MAX, 2, "statement too long");
  stmt_box *b = lua_newuserdatauv(L, sizeof *b, 1);
  b->st = NULL;
  b->owner = s;
  luaL_setmetatable(L, STMT_MT);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  const char *tail = NULL;
  int rc = sqlite3_prepare_v2(s->db, sql, (int)len, &b->st, &tail);
  if (rc != SQLITE_OK) return fail_rc(L, s->db, "prepare", rc);
  if (!b->st) return luaL_error(L, "sqlite.prepare: empty statement");
  return 1;
}

/* Step a cached statement to the end; push the rows (want_rows 1: all, 2: the first only). */
static int run_cached(lua_State *L, const char *op, int want_rows)
{
  gf_sqlite *s = check_db(L, 1);
  int rc;
  sqlite3_stmt *st = cached(L, s, op, &rc);
  if (!st) return fail_rc(L, s->db, op, rc);
  int n = 0;
  if (want_rows == 1) lua_newtable(L);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (want_rows == 1) {
      push_row(L, st);
      lua_rawseti(L, -2, ++n);
    } else if (want_rows == 2) {
      push_row(L, st);
      n = 1;
      rc = SQLITE_DONE;
      break;
    }
  }
  if (rc != SQLITE_DONE) {
    int r = fail_rc(L, s->db, op, rc);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return r;
  }
  sqlite3_reset(st); /* ends the read transaction now, not at the next use */
  sqlite3_clear_bindings(st);
  if (want_rows == 0) {
    lua_pushinteger(L, (lua_Integer)sqlite3_changes64(s->db));
  } else if (want_rows == 2 && n == 0) {
    lua_pushnil(L);
  }
  return 1;
}

static int db_query(lua_State *L)
{
  return run_cached(L, "query", 1);
}

static int db_first(lua_State *L)
{
  return run_cached(L, "first", 2);
}

static int db_execute(lua_State *L)
{
  return run_cached(L, "execute", 0);
}

static int db_last_insert_id(lua_State *L)
{
  lua_pushinteger(L, (lua_Integer)sqlite3_last_insert_rowid(check_db(L, 1)->db));
  return 1;
}

static int db_changes(lua_State *L)
{
  lua_pushinteger(L, (lua_Integer)sqlite3_changes64(check_db(L, 1)->db));
  return 1;
}

static int db_autocommit(lua_State *L)
{
  lua_pushboolean(L, sqlite3_get_autocommit(check_db(L, 1)->db));
  return 1;
}

static int db_busy_timeout(lua_State *L)
{
  gf_sqlite *s = check_db(L, 1);
  int old = s->busy_ms;
  if (!lua_isnoneornil(L, 2)) {
    lua_Integer ms = luaL_checkinteger(L, 2);
    luaL_argcheck(L, ms >= 0 && ms <= INT32_MAX, 2, "busy timeout out of range");
    s->busy_ms = (int)ms; /* the facade's retry budget: SQLite's own busy handler stays off */
  }
  lua_pushinteger(L, old);
  return 1;
}

static int db_tostring(lua_State *L)
{
  gf_sqlite *s = luaL_checkudata(L, 1, DB_MT);
  if (s->db) {
    lua_pushfstring(L, "gf.sqlite.db (%s)", db_name(s->db));
  } else {
    lua_pushliteral(L, "gf.sqlite.db (closed)");
  }
  return 1;
}

/* }====== */

/* {====== statements ====== */

static int stmt_close(lua_State *L)
{
  stmt_box *b = luaL_checkudata(L, 1, STMT_MT);
  sqlite3_finalize(b->st); /* valid even when the connection was closed: it was kept as zombie */
  b->st = NULL;
  lua_pushboolean(L, 1);
  return 1;
}

static int stmt_bind(lua_State *L)
{
  stmt_box *b = check_stmt(L, 1);
  sqlite3_reset(b->st);
  sqlite3_clear_bindings(b->st);
  bind_args(L, b->st, 2);
  lua_settop(L, 1);
  return 1;
}

/* 1 row pushed, 0 when done (statement reset), or -rc on failure (statement reset). */
static int step_once(lua_State *L, stmt_box *b)
{
  int rc = sqlite3_step(b->st);
  if (rc == SQLITE_ROW) {
    push_row(L, b->st);
    return 1;
  }
  if (rc == SQLITE_DONE) {
    sqlite3_reset(b->st);
    return 0;
  }
  return -rc;
}

static int stmt_step(lua_State *L)
{
  stmt_box *b = check_stmt(L, 1);
  int r = step_once(L, b);
  if (r >= 0) {
    if (r == 0) lua_pushnil(L);
    return 1;
  }
  int n = fail_rc(L, b->owner->db, "step", -r);
  sqlite3_reset(b->st);
  return n;
}

static int rows_next(lua_State *L)
{
  stmt_box *b = check_stmt(L, lua_upvalueindex(1));
  int r = step_once(L, b);
  if (r > 0) return 1;
  if (r == 0) return 0;
  sqlite3 *db = b->owner->db;
  const char *msg = sqlite3_errcode(db) == -r ? sqlite3_errmsg(db) : sqlite3_errstr(-r);
  lua_pushfstring(L, "sqlite.rows %s: %s", db_name(db), msg);
  sqlite3_reset(b->st);
  return lua_error(L);
}

static int stmt_rows(lua_State *L)
{
  stmt_box *b = check_stmt(L, 1);
  sqlite3_reset(b->st);
  if (lua_gettop(L) > 1) {
    sqlite3_clear_bindings(b->st);
    bind_args(L, b->st, 2);
  }
  lua_settop(L, 1);
  lua_pushcclosure(L, rows_next, 1);
  return 1;
}

static int stmt_reset(lua_State *L)
{
  sqlite3_reset(check_stmt(L, 1)->st);
  lua_settop(L, 1);
  return 1;
}

static int stmt_columns(lua_State *L)
{
  stmt_box *b = check_stmt(L, 1);
  int n = sqlite3_column_count(b->st);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_pushstring(L, sqlite3_column_name(b->st, i));
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

/* }====== */

static void new_type(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction gc)
{
  luaL_newmetatable(L, name);
  if (methods) {
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
  }
  if (gc) {
    gf_set_finalizer(L, gc);
  }
}

int luaopen_gf_sqlite_core(lua_State *L);

int luaopen_gf_sqlite_core(lua_State *L)
{
  static const luaL_Reg db_methods[] = {
      {"exec", db_exec},
      {"prepare", db_prepare},
      {"query", db_query},
      {"first", db_first},
      {"execute", db_execute},
      {"last_insert_id", db_last_insert_id},
      {"changes", db_changes},
      {"autocommit", db_autocommit},
      {"busy_timeout", db_busy_timeout},
      {"close", db_close},
      {NULL, NULL},
  };
  static const luaL_Reg stmt_methods[] = {
      {"bind", stmt_bind},       {"step", stmt_step},   {"rows", stmt_rows}, {"reset", stmt_reset},
      {"columns", stmt_columns}, {"close", stmt_close}, {NULL, NULL},
  };
  static const luaL_Reg funcs[] = {{"open", l_open}, {"blob", l_blob}, {NULL, NULL}};

  luaL_newlib(L, funcs);
  new_type(L, DB_MT, db_methods, db_close);
  lua_pushcfunction(L, db_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_getfield(L, -1, "__index");
  lua_setfield(L, -3, "Db"); /* the facade adds db:transaction() to this method table */
  lua_pop(L, 1);
  new_type(L, STMT_MT, stmt_methods, stmt_close);
  lua_pop(L, 1);
  new_type(L, BLOB_MT, NULL, NULL);
  lua_pop(L, 1);
  lua_pushliteral(L, "SQLite");
  lua_setfield(L, -2, "_LIBRARY");
  lua_pushstring(L, sqlite3_libversion());
  lua_setfield(L, -2, "_LIBVERSION");
  return 1;
}
