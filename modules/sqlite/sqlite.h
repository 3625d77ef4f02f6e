/*
** sqlite.h — the pure C part of gf.sqlite: opening a connection with gfhost's defaults, a small
** cache of prepared statements, and the mapping of SQLite result codes to gfhost error codes.
** No Lua types here; the binding (lsqlite.c) owns the structures below inside userdata.
*/
#ifndef GF_SQLITE_H
#define GF_SQLITE_H

#include <stddef.h>

#include <sqlite3.h>

#define GF_SQLITE_CACHE 32

typedef struct {
  char *sql; /* owned: malloc'd copy of the statement text */
  size_t len;
  sqlite3_stmt *stmt; /* owned */
} gf_sqlite_cached;

typedef struct {
  sqlite3 *db; /* NULL once closed */
  int busy_ms;
  unsigned next; /* round-robin eviction slot */
  gf_sqlite_cached cache[GF_SQLITE_CACHE];
} gf_sqlite;

/* Open options; zero-initialised means read-write, create, WAL off, default synchronous. */
typedef struct {
  int readonly;
  int wal;
  int busy_ms;
  const char *synchronous; /* "off", "normal", "full", "extra" or NULL (SQLite's default) */
} gf_sqlite_opts;

/*
** Open `path` into `s` (which must be zeroed). Returns SQLITE_OK, or an SQLite result code with a
** message in err (then `s` holds nothing to free).
*/
int gf_sqlite_open(gf_sqlite *s, const char *path, const gf_sqlite_opts *o, char *err,
                   size_t errlen);

/* Finalise the cached statements and close (sqlite3_close_v2: statements still owned elsewhere
** keep the connection alive until they are finalised). Idempotent. */
void gf_sqlite_close(gf_sqlite *s);

/*
** A prepared statement for `sql` from the cache (prepared and cached on a miss), reset and with
** its bindings cleared; the cache keeps ownership. Returns an SQLite result code: SQLITE_MISUSE
** when sql holds more than one statement; SQLITE_OK with *out NULL for an empty statement.
*/
int gf_sqlite_cached_stmt(gf_sqlite *s, const char *sql, size_t len, sqlite3_stmt **out);

/* The gfhost error code for an SQLite result code: "conflict", "timeout" (locked), "io",
 *"interrupted",
 ** "not_found" or "invalid_input" (SQL the database cannot run). */
const char *gf_sqlite_code(int rc);

#endif
