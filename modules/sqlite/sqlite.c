/*
** sqlite.c — opening connections, the prepared-statement cache, result-code mapping.
*/
#include "sqlite.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int pragma(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
  int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
  if (rc != SQLITE_OK) snprintf(err, errlen, "%s", sqlite3_errmsg(db));
  return rc;
}

static int configure(sqlite3 *db, const gf_sqlite_opts *o, char *err, size_t errlen)
{
  char sql[64];
  int rc;
  sqlite3_extended_result_codes(db, 1);
  /* No busy handler: it would sleep on the loop thread. A locked database returns SQLITE_BUSY
  ** at once and the Lua facade retries with task sleeps, up to busy_ms. */
  sqlite3_busy_timeout(db, 0);
  /* Reading the schema version makes a file that is not a database fail here, at open. */
  rc = pragma(db, "PRAGMA schema_version", err, errlen);
  if (rc != SQLITE_OK) return rc;
  if (o->readonly) return SQLITE_OK;
  if (o->wal) {
    rc = pragma(db, "PRAGMA journal_mode=WAL", err, errlen);
    if (rc != SQLITE_OK) return rc;
  }
  if (o->synchronous) {
    snprintf(sql, sizeof sql, "PRAGMA synchronous=%s", o->synchronous);
    rc = pragma(db, sql, err, errlen);
    if (rc != SQLITE_OK) return rc;
  }
  return pragma(db, "PRAGMA foreign_keys=ON", err, errlen);
}

int gf_sqlite_open(gf_sqlite *s, const char *path, const gf_sqlite_opts *o, char *err,
                   size_t errlen)
{
  sqlite3 *db = NULL;
  int flags = o->readonly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  int rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_URI, NULL);
  if (rc != SQLITE_OK) {
    snprintf(err, errlen, "%s", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    goto fail;
  }
  rc = configure(db, o, err, errlen);
  if (rc != SQLITE_OK) goto fail;
  s->db = db;
  s->busy_ms = o->busy_ms;
  return SQLITE_OK;
fail:
  sqlite3_close_v2(db); /* NULL is a harmless no-op */
  return rc;
}

void gf_sqlite_close(gf_sqlite *s)
{
  for (int i = 0; i < GF_SQLITE_CACHE; i++) {
    sqlite3_finalize(s->cache[i].stmt);
    free(s->cache[i].sql);
    s->cache[i].stmt = NULL;
    s->cache[i].sql = NULL;
    s->cache[i].len = 0;
  }
  if (s->db) sqlite3_close_v2(s->db);
  s->db = NULL;
}

/* Only whitespace and semicolons left after the first statement? */
static int blank(const char *p, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    char c = p[i];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != ';') return 0;
  }
  return 1;
}

static gf_sqlite_cached *lookup(gf_sqlite *s, const char *sql, size_t len)
{
  for (int i = 0; i < GF_SQLITE_CACHE; i++) {
    gf_sqlite_cached *c = &s->cache[i];
    if (c->stmt && c->len == len && memcmp(c->sql, sql, len) == 0) return c;
  }
  return NULL;
}

int gf_sqlite_cached_stmt(gf_sqlite *s, const char *sql, size_t len, sqlite3_stmt **out)
{
  gf_sqlite_cached *c = lookup(s, sql, len);
  const char *tail = NULL;
  sqlite3_stmt *st = NULL;
  char *copy = NULL;
  int rc;
  *out = NULL;
  if (c) {
    sqlite3_reset(c->stmt);
    sqlite3_clear_bindings(c->stmt);
    *out = c->stmt;
    return SQLITE_OK;
  }
  if (len > (size_t)INT32_MAX) return SQLITE_TOOBIG;
  rc = sqlite3_prepare_v3(s->db, sql, (int)len, SQLITE_PREPARE_PERSISTENT, &st, &tail);
  if (rc != SQLITE_OK) return rc;
  if (!st) return SQLITE_OK; /* empty statement: nothing to cache */
  if (tail && !blank(tail, len - (size_t)(tail - sql))) {
    sqlite3_finalize(st); /* several statements: the caller reports it, nothing is cached */
    return SQLITE_MISUSE;
  }
  copy = malloc(len ? len : 1);
  if (!copy) {
    sqlite3_finalize(st);
    return SQLITE_NOMEM;
  }
  memcpy(copy, sql, len);
  c = &s->cache[s->next];
  s->next = (s->next + 1) % GF_SQLITE_CACHE;
  sqlite3_finalize(c->stmt);
  free(c->sql);
  c->sql = copy;
  c->len = len;
  c->stmt = st;
  *out = st;
  return SQLITE_OK;
}

const char *gf_sqlite_code(int rc)
{
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      return "conflict";
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return "timeout"; /* locked by another connection past the wait */
    case SQLITE_INTERRUPT:
      return "interrupted";
    case SQLITE_NOTFOUND:
      return "not_found";
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_PERM:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
    case SQLITE_AUTH:
      return "io";
    default:
      return "invalid_input"; /* SQL the database cannot run: syntax, missing table */
  }
}
