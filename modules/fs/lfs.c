/*
** lfs.c — gf.fs.core: the Lua binding of the file-system core (fs.h). The facade gf.fs turns
** option tables into the plain arguments taken here.
**
**   read(path) -> string | nil, msg, code
**   write(path, data, mode|nil) / append(...) / write_atomic(...) -> true | nil, msg, code
**   copy(src, dst) / rename(src, dst) -> true | nil, msg, code
**   list(dir) -> {names} | nil, msg, code
**   walk(dir, with_dirs, max_depth) -> {relative paths} | nil, msg, code
**   glob(pattern, cross_slash) -> {paths} | nil, msg, code
**   match(pattern, name, cross_slash) -> boolean
**   mkdir_p(path, mode|nil) -> true | nil, msg, code
**   tempdir(base, prefix) -> path | nil, msg, code
**   remove(path) / remove_tree(path) -> true | nil, msg, code    remove_tree raises on "" and "/"
**   stat(path) -> {size=, mtime=, type=, mode=} | nil, msg, code   (lstat)
**   exists(path) -> boolean
**   sha256(path) -> hex | nil, msg, code
**   sha256_string(data) -> hex
**   lock(path) -> lock | nil, msg, code   flock(LOCK_EX|LOCK_NB); "conflict" when held elsewhere;
**                                         lock:unlock(), also on __close/__gc and at process exit
**
** list, read, write, append, write_atomic, rename (a copy across file systems), copy, sha256, walk,
** glob and remove_tree run on the worker pool: the calling task waits, the loop does not.
**
** Codes: "not_found" (ENOENT, ENOTDIR), "io" (anything else). Messages: "fs.<op> <path>: <why>".
** Misuse (wrong types, NUL bytes in paths, modes out of range) raises.
*/
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "fs.h"
#include "gf.h"

#define LOCK_MT "gf.fs.lock"

static const char *code_of(int err)
{
  return (err == ENOENT || err == ENOTDIR) ? "not_found" : "io";
}

static int fail1(lua_State *L, const char *op, const char *path, int err)
{
  return gf_fail(L, code_of(err), "fs.%s %s: %s", op, path, strerror(err));
}

static int fail2(lua_State *L, const char *op, const char *a, const char *b, int err)
{
  return gf_fail(L, code_of(err), "fs.%s %s -> %s: %s", op, a, b, strerror(err));
}

static int push_true(lua_State *L)
{
  lua_pushboolean(L, 1);
  return 1;
}

static const char *check_path(lua_State *L, int arg)
{
  size_t len;
  const char *p = luaL_checklstring(L, arg, &len);
  luaL_argcheck(L, strlen(p) == len, arg, "path contains a NUL byte");
  return p;
}

/* Optional permission bits: nil -> -1. */
static int opt_mode(lua_State *L, int arg)
{
  if (lua_isnoneornil(L, arg)) return -1;
  lua_Integer m = luaL_checkinteger(L, arg);
  luaL_argcheck(L, m >= 0 && m <= 07777, arg, "mode must be within 0..0o7777");
  return (int)m;
}

/* [] -> [table] */
static void push_list(lua_State *L, gf_fs_list *l)
{
  lua_createtable(L, (int)(l->n < INT_MAX ? l->n : INT_MAX), 0);
  for (size_t i = 0; i < l->n; i++) {
    lua_pushstring(L, l->items[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

static int l_match(lua_State *L)
{
  size_t plen, nlen;
  const char *pattern = luaL_checklstring(L, 1, &plen);
  const char *name = luaL_checklstring(L, 2, &nlen);
  lua_pushboolean(L, gf_fs_match(pattern, plen, name, nlen, lua_toboolean(L, 3)));
  return 1;
}

static int l_mkdir_p(lua_State *L)
{
  const char *path = check_path(L, 1);
  int mode = opt_mode(L, 2);
  int err = gf_fs_mkdir_p(path, mode);
  return err ? fail1(L, "mkdir_p", path, err) : push_true(L);
}

static int l_tempdir(lua_State *L)
{
  const char *base = check_path(L, 1);
  const char *prefix = check_path(L, 2);
  luaL_argcheck(L, strchr(prefix, '/') == NULL, 2, "prefix must not contain '/'");
  char out[PATH_MAX];
  int err = gf_fs_tempdir(base, prefix, out, sizeof out);
  if (err) return fail1(L, "tempdir", base, err);
  lua_pushstring(L, out);
  return 1;
}

static int l_remove(lua_State *L)
{
  const char *path = check_path(L, 1);
  int err = gf_fs_remove(path);
  return err ? fail1(L, "remove", path, err) : push_true(L);
}

static int l_stat(lua_State *L)
{
  static const char *const types[] = {"file", "dir", "link", "other"};
  const char *path = check_path(L, 1);
  gf_fs_stat st;
  int err = gf_fs_lstat(path, &st);
  if (err) return fail1(L, "stat", path, err);
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, (lua_Integer)st.size);
  lua_setfield(L, -2, "size");
  lua_pushnumber(L, st.mtime);
  lua_setfield(L, -2, "mtime");
  lua_pushstring(L, types[st.type]);
  lua_setfield(L, -2, "type");
  lua_pushinteger(L, st.mode);
  lua_setfield(L, -2, "mode");
  return 1;
}

static int l_exists(lua_State *L)
{
  const char *path = check_path(L, 1);
  gf_fs_stat st;
  lua_pushboolean(L, gf_fs_lstat(path, &st) == 0);
  return 1;
}

static int l_sha256_string(lua_State *L)
{
  size_t len;
  const char *data = luaL_checklstring(L, 1, &len);
  char hex[65];
  if (gf_fs_sha256_data(data, len, hex) != 0)
    return luaL_error(L, "fs.sha256_string: OpenSSL failed");
  lua_pushlstring(L, hex, 64);
  return 1;
}

/* {====== worker-pool jobs: everything that reads or writes file data, or walks a tree ====== */

enum {
  J_LIST,
  J_READ,
  J_WRITE,
  J_APPEND,
  J_WRITE_ATOMIC,
  J_RENAME,
  J_COPY,
  J_SHA256,
  J_WALK,
  J_GLOB,
  J_REMOVE_TREE
};
static const char *const JOB_NAMES[] = {"list",         "read",   "write",      "append",
                                        "write_atomic", "rename", "copy",       "sha256",
                                        "walk",         "glob",   "remove_tree"};

typedef struct {
  int op, err;
  int mode;      /* write*: permission bits or -1 */
  int with_dirs; /* walk */
  int depth;     /* walk; glob: cross_slash */
  char *data;    /* write*: a copy of the caller's bytes; read: the file */
  size_t len;
  gf_fs_list list; /* walk, glob */
  char hex[65];    /* sha256 */
  char *b;         /* second path (rename, copy): points into a's allocation */
  char a[];        /* the path */
} fs_job;

static void job_work(void *ud)
{
  fs_job *j = ud;
  switch (j->op) {
    case J_LIST:
      j->err = gf_fs_list_dir(j->a, &j->list);
      break;
    case J_READ:
      j->err = gf_fs_read(j->a, &j->data, &j->len);
      break;
    case J_WRITE:
      j->err = gf_fs_write(j->a, j->data, j->len, j->mode);
      break;
    case J_APPEND:
      j->err = gf_fs_append(j->a, j->data, j->len, j->mode);
      break;
    case J_WRITE_ATOMIC:
      j->err = gf_fs_write_atomic(j->a, j->data, j->len, j->mode);
      break;
    case J_RENAME:
      j->err = gf_fs_rename(j->a, j->b);
      break;
    case J_COPY:
      j->err = gf_fs_copy(j->a, j->b);
      break;
    case J_SHA256:
      j->err = gf_fs_sha256_file(j->a, j->hex);
      break;
    case J_WALK:
      j->err = gf_fs_walk(j->a, j->with_dirs, j->depth, &j->list);
      break;
    case J_GLOB:
      j->err = gf_fs_glob(j->a, j->depth, &j->list);
      break;
    case J_REMOVE_TREE:
      j->err = gf_fs_remove_tree(j->a);
      break;
  }
}

static int job_push(lua_State *L, void *ud)
{
  fs_job *j = ud;
  const char *op = JOB_NAMES[j->op];
  if (j->err) return j->b ? fail2(L, op, j->a, j->b, j->err) : fail1(L, op, j->a, j->err);
  switch (j->op) {
    case J_READ:
      lua_pushlstring(L, j->data ? j->data : "", j->len);
      return 1;
    case J_SHA256:
      lua_pushlstring(L, j->hex, 64);
      return 1;
    case J_LIST:
    case J_WALK:
    case J_GLOB:
      push_list(L, &j->list);
      return 1;
    default:
      return push_true(L);
  }
}

static void job_release(void *ud)
{
  fs_job *j = ud;
  free(j->data);
  gf_fs_list_free(&j->list);
  free(j);
}

/* A job for op on path a (and b); the caller fills the rest, then start_job runs it. */
static fs_job *new_job(lua_State *L, int op, const char *a, const char *b)
{
  size_t al = strlen(a), bl = b ? strlen(b) : 0;
  fs_job *j = calloc(1, sizeof *j + al + 1 + bl + 1);
  if (!j) {
    luaL_error(L, "not enough memory"); /* does not return */
    return NULL;
  }
  j->op = op;
  j->mode = -1;
  memcpy(j->a, a, al + 1);
  if (b) {
    j->b = j->a + al + 1;
    memcpy(j->b, b, bl + 1);
  }
  return j;
}

static int start_job(lua_State *L, fs_job *j)
{
  return gf_work(L, job_work, job_push, job_release, j); /* j now belongs to the host */
}

static int l_list(lua_State *L)
{
  return start_job(L, new_job(L, J_LIST, check_path(L, 1), NULL));
}

static int l_read(lua_State *L)
{
  return start_job(L, new_job(L, J_READ, check_path(L, 1), NULL));
}

static int do_write(lua_State *L, int op)
{
  const char *path = check_path(L, 1);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  int mode = opt_mode(L, 3);
  fs_job *j = new_job(L, op, path, NULL);
  j->mode = mode;
  j->len = len;
  j->data = malloc(len ? len : 1); /* a copy: the job may outlive a cancelled caller */
  if (!j->data) {
    free(j);
    return luaL_error(L, "not enough memory");
  }
  memcpy(j->data, data, len);
  return start_job(L, j);
}

static int l_write(lua_State *L)
{
  return do_write(L, J_WRITE);
}

static int l_append(lua_State *L)
{
  return do_write(L, J_APPEND);
}

static int l_write_atomic(lua_State *L)
{
  return do_write(L, J_WRITE_ATOMIC);
}

static int l_rename(lua_State *L)
{
  return start_job(L, new_job(L, J_RENAME, check_path(L, 1), check_path(L, 2)));
}

static int l_copy(lua_State *L)
{
  return start_job(L, new_job(L, J_COPY, check_path(L, 1), check_path(L, 2)));
}

static int l_sha256(lua_State *L)
{
  return start_job(L, new_job(L, J_SHA256, check_path(L, 1), NULL));
}

static int l_walk(lua_State *L)
{
  const char *dir = check_path(L, 1);
  int with_dirs = lua_toboolean(L, 2);
  lua_Integer depth = luaL_optinteger(L, 3, -1);
  luaL_argcheck(L, depth >= -1 && depth <= INT_MAX, 3, "depth must be -1 (unlimited) or >= 0");
  fs_job *j = new_job(L, J_WALK, dir, NULL);
  j->with_dirs = with_dirs;
  j->depth = (int)depth;
  return start_job(L, j);
}

static int l_glob(lua_State *L)
{
  const char *pattern = check_path(L, 1);
  int cross = lua_toboolean(L, 2);
  fs_job *j = new_job(L, J_GLOB, pattern, NULL);
  j->depth = cross;
  return start_job(L, j);
}

static int l_remove_tree(lua_State *L)
{
  const char *path = check_path(L, 1);
  luaL_argcheck(L, *path != '\0', 1, "refusing to remove an empty path");
  char real[PATH_MAX]; /* checked here: a push must not raise (the job would never be freed) */
  luaL_argcheck(L, !(realpath(path, real) && strcmp(real, "/") == 0), 1, "refusing to remove '/'");
  return start_job(L, new_job(L, J_REMOVE_TREE, path, NULL));
}

/* }====== */

/* {====== lock ====== */

static int lock_release(lua_State *L)
{
  int *fd = luaL_checkudata(L, 1, LOCK_MT);
  gf_fs_unlock(*fd);
  *fd = -1;
  return 0;
}

static int lock_held(lua_State *L)
{
  int *fd = luaL_checkudata(L, 1, LOCK_MT);
  lua_pushboolean(L, *fd >= 0);
  return 1;
}

static int l_lock(lua_State *L)
{
  const char *path = check_path(L, 1);
  int *fd = lua_newuserdatauv(L, sizeof(int), 0);
  *fd = -1;
  luaL_setmetatable(L, LOCK_MT);
  int err = gf_fs_lock(path, fd);
  if (err == EWOULDBLOCK)
    return gf_fail(L, "conflict", "fs.lock %s: held by another process", path);
  if (err) return fail1(L, "lock", path, err);
  return 1;
}

/* }====== */

int luaopen_gf_fs_core(lua_State *L);

int luaopen_gf_fs_core(lua_State *L)
{
  static const luaL_Reg funcs[] = {
      {"read", l_read},       {"write", l_write},
      {"append", l_append},   {"write_atomic", l_write_atomic},
      {"copy", l_copy},       {"rename", l_rename},
      {"list", l_list},       {"walk", l_walk},
      {"glob", l_glob},       {"match", l_match},
      {"mkdir_p", l_mkdir_p}, {"tempdir", l_tempdir},
      {"remove", l_remove},   {"remove_tree", l_remove_tree},
      {"stat", l_stat},       {"exists", l_exists},
      {"sha256", l_sha256},   {"sha256_string", l_sha256_string},
      {"lock", l_lock},       {NULL, NULL},
  };
  if (luaL_newmetatable(L, LOCK_MT)) {
    lua_pushcfunction(L, lock_release);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, lock_release);
    lua_setfield(L, -2, "__close");
    lua_newtable(L);
    lua_pushcfunction(L, lock_release);
    lua_setfield(L, -2, "unlock");
    lua_pushcfunction(L, lock_held);
    lua_setfield(L, -2, "held");
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  return 1;
}
