/*
** ltask.c — gf.task.core: the scheduler primitives. The Lua facade gf.task builds wait, map
** and channels on these.
**
**   spawn(fn, ...) -> thread        start a task; it runs when the current one waits or yields
**   suspend() -> ...                park the calling task until wake(thread, ...) (values returned)
**   wake(thread, ...) -> boolean    resume a suspended task with values; false if not suspended
**   sleep(seconds)                  park for a while (other tasks run)
**   yield()                         let other ready tasks run first
**   current() -> thread|nil         the calling task, nil outside a task
**   cancel(thread) -> boolean       make the task's current or next wait raise 'interrupted'
**   interrupted() -> boolean        SIGINT/SIGTERM received
**   workers() -> integer            worker threads in the pool
*/
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "gf.h"
#include "host.h"

static int t_spawn(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TFUNCTION);
  gf_host *h = gf_host_get(L);
  gf_check_wait(L);
  int nargs = lua_gettop(L) - 1;
  gf_task *t = gf_task_spawn(h, L, nargs);
  lua_pushthread(t->co);
  lua_xmove(t->co, L, 1);
  return 1;
}

static int suspend_continue(lua_State *L, int status, lua_KContext ctx)
{
  (void)status;
  gf_check_wait(L);
  return lua_gettop(L) - (int)ctx;
}

static int t_suspend(lua_State *L)
{
  gf_task *t = gf_task_of(L);
  if (!t || t->co != L || !lua_isyieldable(L))
    return luaL_error(L,
                      "gf.task: cannot wait here (not inside a task, or inside a plain "
                      "coroutine or metamethod)");
  gf_check_wait(L);
  t->state = GF_TASK_SUSPENDED;
  return lua_yieldk(L, 0, lua_gettop(L), suspend_continue);
}

static int t_wake(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TTHREAD);
  lua_State *co = lua_tothread(L, 1);
  gf_task *t = gf_task_of(co);
  if (!t || t->state != GF_TASK_SUSPENDED || co == L) {
    lua_pushboolean(L, 0);
    return 1;
  }
  int n = lua_gettop(L) - 1;
  if (!lua_checkstack(co, n + 1)) return luaL_error(L, "gf.task.wake: too many values");
  lua_xmove(L, co, n);
  t->nargs = n; /* continuation counts them from the stack top */
  gf_task_ready(gf_host_get(L), t);
  lua_pushboolean(L, 1);
  return 1;
}

static int timer_push(void *L, gf_op *op)
{
  (void)L;
  (void)op;
  return 0;
}

static void timer_release(gf_op *op)
{
  free(op);
}

typedef struct {
  gf_timer timer;
  gf_loop *loop;
} sleep_op;

static void sleep_cancel(gf_op *op)
{
  sleep_op *s = (sleep_op *)op;
  gf_loop_timer_remove(s->loop, &s->timer);
  free(s);
}

static int t_sleep(lua_State *L)
{
  lua_Number secs = luaL_checknumber(L, 1);
  luaL_argcheck(L, secs >= 0 && isfinite(secs), 1, "seconds must be a non-negative number");
  gf_host *h = gf_host_get(L);
  sleep_op *s = calloc(1, sizeof *s);
  if (!s) return luaL_error(L, "not enough memory");
  s->loop = &h->loop;
  s->timer.op.push = timer_push;
  s->timer.op.release = timer_release;
  s->timer.op.cancel = sleep_cancel;
  s->timer.due_ms = gf_now_ms() + (int64_t)(secs * 1000.0 + 0.5);
  gf_loop_timer_add(&h->loop, &s->timer);
  return gf_op_await(L, &s->timer.op);
}

static int yield_continue(lua_State *L, int status, lua_KContext ctx)
{
  (void)status;
  (void)ctx;
  gf_check_wait(L);
  return 0;
}

static int t_yield(lua_State *L)
{
  gf_task *t = gf_task_of(L);
  if (!t || t->co != L || !lua_isyieldable(L)) return 0;
  gf_task_ready(gf_host_get(L), t);
  return lua_yieldk(L, 0, 0, yield_continue);
}

static int t_cancel(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TTHREAD);
  gf_task *t = gf_task_of(lua_tothread(L, 1));
  if (!t || t->state == GF_TASK_DONE || t->cancelled) {
    lua_pushboolean(L, 0);
    return 1;
  }
  gf_task_cancel(gf_host_get(L), t);
  lua_pushboolean(L, 1);
  return 1;
}

static int t_current(lua_State *L)
{
  gf_task *t = gf_task_of(L);
  if (!t || t->co != L) {
    lua_pushnil(L);
  } else {
    lua_pushthread(L);
  }
  return 1;
}

static int t_interrupted(lua_State *L)
{
  lua_pushboolean(L, gf_host_get(L)->interrupted != 0);
  return 1;
}

static int t_cancelled(lua_State *L)
{
  gf_task *t = gf_task_of(L);
  lua_pushboolean(L, gf_host_get(L)->interrupted != 0 || (t && t->cancelled));
  return 1;
}

/* shield(fn, ...) -> fn's results: a cancel that comes meanwhile is raised at the first wait after
 */
static int shield_done(lua_State *L, int status, lua_KContext ctx)
{
  (void)ctx;
  gf_task *t = gf_task_of(L);
  if (t && t->shield > 0) t->shield--;
  if (status != LUA_OK && status != LUA_YIELD) return lua_error(L);
  return lua_gettop(L);
}

static int t_shield(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TFUNCTION);
  gf_task *t = gf_task_of(L);
  if (t) t->shield++;
  return shield_done(L, lua_pcallk(L, lua_gettop(L) - 1, LUA_MULTRET, 0, 0, shield_done), 0);
}

/* wait_fd(fd, "r" | "w" | "rw" [, timeout]) -> events (1 read, 2 write, 4 error) | nil, msg,
 * "timeout" */
static int t_wait_fd(lua_State *L)
{
  int fd = (int)luaL_checkinteger(L, 1);
  const char *mode = luaL_optstring(L, 2, "r");
  double timeout = luaL_optnumber(L, 3, -1);
  int events = (strchr(mode, 'r') ? GF_IO_READ : 0) | (strchr(mode, 'w') ? GF_IO_WRITE : 0);
  luaL_argcheck(L, fd >= 0, 1, "descriptor expected");
  luaL_argcheck(L, events != 0, 2, "mode must be \"r\", \"w\" or \"rw\"");
  return gf_wait_fd(L, fd, events, timeout);
}

/* read_fd(fd [, max]) -> data | "" at end of input | nil, msg, "io". Call it once wait_fd said
** the descriptor is readable: one read(2) of a pipe, terminal or file then never blocks. */
static int t_read_fd(lua_State *L)
{
  int fd = (int)luaL_checkinteger(L, 1);
  lua_Integer max = luaL_optinteger(L, 2, 65536);
  luaL_argcheck(L, max > 0 && max <= (1 << 24), 2, "max must be within 1..16 MiB");
  luaL_Buffer b;
  char *p = luaL_buffinitsize(L, &b, (size_t)max);
  ssize_t n;
  do {
    n = read(fd, p, (size_t)max);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return gf_fail(L, "io", "read descriptor %d: %s", fd, strerror(errno));
  luaL_pushresultsize(&b, (size_t)n);
  return 1;
}

static int t_workers(lua_State *L)
{
  lua_pushinteger(L, gf_pool_size(L));
  return 1;
}

static int t_count(lua_State *L)
{
  lua_pushinteger(L, gf_host_get(L)->ntasks);
  return 1;
}

int luaopen_gf_task_core(lua_State *L)
{
  static const luaL_Reg funcs[] = {{"spawn", t_spawn},
                                   {"suspend", t_suspend},
                                   {"wake", t_wake},
                                   {"sleep", t_sleep},
                                   {"yield", t_yield},
                                   {"current", t_current},
                                   {"interrupted", t_interrupted},
                                   {"workers", t_workers},
                                   {"count", t_count},
                                   {"cancel", t_cancel},
                                   {"cancelled", t_cancelled},
                                   {"wait_fd", t_wait_fd},
                                   {"read_fd", t_read_fd},
                                   {"shield", t_shield},
                                   {NULL, NULL}};
  luaL_newlib(L, funcs);
  return 1;
}
