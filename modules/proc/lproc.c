/*
** lproc.c — gf.proc.core: child processes whose pipes and exit the loop watches (proc.h).
**
**   spawn(argv) -> proc | nil, msg, code        argv: {"prog", "arg", ...}; PATH is searched
**   proc:read(1|2) -> data | false (nothing yet) | nil (end of output) | nil, msg, "io"
**   proc:write(data) -> bytes written (0: the pipe is full) | nil, msg, "io"
**   proc:close(0|1|2)                           close our end of stdin, stdout or stderr
**   proc:wait(0|1|2|"exit", timeout) -> events | nil, msg, "timeout"   (parks the task)
**   proc:reap() -> nil (running) | exit code, signal number (0 when it exited)
**   proc:kill([signal]) -> true | nil, msg, "io"
**   proc:pid() -> integer
**   __gc / __close: a child still running is killed (SIGKILL) and reaped
*/
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "gf.h"
#include "proc.h"

#define PROC_MT "gf.proc.proc"

static gf_proc *check_proc(lua_State *L)
{
  gf_proc *p = luaL_checkudata(L, 1, PROC_MT);
  return p;
}

static int check_which(lua_State *L, int arg, int lo)
{
  lua_Integer w = luaL_checkinteger(L, arg);
  luaL_argcheck(L, w >= lo && w <= 2, arg, "0 (stdin), 1 (stdout) or 2 (stderr) expected");
  return (int)w;
}

static int l_spawn(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_Integer n = luaL_len(L, 1);
  luaL_argcheck(L, n >= 1 && n < 4096, 1, "argv must hold 1 to 4095 strings");
  gf_proc *p = lua_newuserdatauv(L, sizeof *p, 0);
  memset(p, 0, sizeof *p);
  p->pidfd = p->fd[0] = p->fd[1] = p->fd[2] = -1;
  luaL_setmetatable(L, PROC_MT);
  /* argv points into Lua strings anchored by the table at index 1 */
  const char **argv = lua_newuserdatauv(L, sizeof(char *) * (size_t)(n + 1), 0);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, 1, i);
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    if (!s || strlen(s) != len)
      luaL_error(L, "bad argument #1 to 'spawn' (argv[%d]: a string without NUL bytes expected)",
                 (int)i);
    argv[i - 1] = s;
    lua_pop(L, 1);
  }
  argv[n] = NULL;
  char err[512];
  int rc = gf_proc_spawn(p, (char *const *)argv, NULL, err, sizeof err);
  lua_pop(L, 1); /* argv */
  if (rc != 0) return gf_fail(L, rc == ENOENT ? "not_found" : "io", "proc.spawn: %s", err);
  return 1;
}

static int l_read(lua_State *L)
{
  gf_proc *p = check_proc(L);
  int w = check_which(L, 2, 1);
  if (p->fd[w] < 0) return 0;
  char buf[65536];
  ssize_t n = read(p->fd[w], buf, sizeof buf);
  if (n > 0) {
    lua_pushlstring(L, buf, (size_t)n);
    return 1;
  }
  if (n == 0) {
    gf_proc_close_fd(p, w);
    return 0;
  }
  if (errno == EAGAIN || errno == EINTR) {
    lua_pushboolean(L, 0);
    return 1;
  }
  return gf_fail(L, "io", "proc.read: %s", strerror(errno));
}

static int l_write(lua_State *L)
{
  gf_proc *p = check_proc(L);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  if (p->fd[0] < 0) return gf_fail(L, "io", "proc.write: stdin is closed");
  ssize_t n = write(p->fd[0], data, len);
  if (n >= 0) {
    lua_pushinteger(L, n);
    return 1;
  }
  if (errno == EAGAIN || errno == EINTR) {
    lua_pushinteger(L, 0);
    return 1;
  }
  return gf_fail(L, "io", "proc.write: %s", strerror(errno));
}

static int l_close(lua_State *L)
{
  gf_proc_close_fd(check_proc(L), check_which(L, 2, 0));
  return 0;
}

static int l_wait(lua_State *L)
{
  gf_proc *p = check_proc(L);
  double timeout = luaL_optnumber(L, 3, -1);
  if (lua_type(L, 2) == LUA_TSTRING && strcmp(lua_tostring(L, 2), "exit") == 0) {
    if (p->pidfd < 0 || p->pid == 0) { /* no pidfd: the caller polls reap() */
      lua_pushinteger(L, GF_IO_READ);
      return 1;
    }
    return gf_wait_fd(L, p->pidfd, GF_IO_READ, timeout);
  }
  int w = check_which(L, 2, 0);
  if (p->fd[w] < 0) return gf_fail(L, "io", "proc.wait: descriptor %d is closed", w);
  return gf_wait_fd(L, p->fd[w], w == 0 ? GF_IO_WRITE : GF_IO_READ, timeout);
}

static int l_reap(lua_State *L)
{
  gf_proc *p = check_proc(L);
  if (!gf_proc_reap(p)) return 0;
  int st = p->status;
  lua_pushinteger(L, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
  lua_pushinteger(L, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  return 2;
}

static int l_kill(lua_State *L)
{
  gf_proc *p = check_proc(L);
  int sig = (int)luaL_optinteger(L, 2, SIGTERM);
  if (p->pid == 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  if (kill(p->pid, sig) != 0) return gf_fail(L, "io", "proc.kill: %s", strerror(errno));
  lua_pushboolean(L, 1);
  return 1;
}

static int l_pid(lua_State *L)
{
  lua_pushinteger(L, check_proc(L)->pid);
  return 1;
}

static int l_gc(lua_State *L)
{
  gf_proc_free(check_proc(L));
  return 0;
}

int luaopen_gf_proc_core(lua_State *L);

int luaopen_gf_proc_core(lua_State *L)
{
  static const luaL_Reg methods[] = {
      {"read", l_read}, {"write", l_write}, {"close", l_close}, {"wait", l_wait},
      {"reap", l_reap}, {"kill", l_kill},   {"pid", l_pid},     {NULL, NULL},
  };
  static const luaL_Reg funcs[] = {{"spawn", l_spawn}, {NULL, NULL}};
  if (luaL_newmetatable(L, PROC_MT)) {
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    gf_set_finalizer(L, l_gc);
  }
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  return 1;
}
