/*
** task.c — tasks are coroutines resumed by the loop. A task's gf_task lives in the coroutine's
** extra space (LUA_EXTRASPACE), so any lua_State tells whether it is a task; plain coroutines
** inherit the main thread's NULL and are not.
*/
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "host.h"

gf_task *gf_task_of(lua_State *L)
{
  return *(gf_task **)lua_getextraspace(L);
}

static void link_task(gf_host *h, gf_task *t)
{
  t->prev = NULL;
  t->next = h->tasks;
  if (h->tasks) h->tasks->prev = t;
  h->tasks = t;
  h->ntasks++;
}

static void unlink_task(gf_host *h, gf_task *t)
{
  if (t->prev)
    t->prev->next = t->next;
  else
    h->tasks = t->next;
  if (t->next) t->next->prev = t->prev;
  h->ntasks--;
}

void gf_task_ready(gf_host *h, gf_task *t)
{
  if (t->state == GF_TASK_READY || t->state == GF_TASK_DONE) return;
  t->state = GF_TASK_READY;
  t->next_ready = NULL;
  if (h->ready_tail)
    h->ready_tail->next_ready = t;
  else
    h->ready_head = t;
  h->ready_tail = t;
}

static void on_ready(void *ctx, gf_task *t)
{
  gf_task_ready(ctx, t);
}

/* For GFHOST_STALL_MS reports: where the task's function is defined. gf.task.spawn runs the
** user's function through its own runner, so the first Lua function among the values on co's
** stack that is not in gf.task's facade names the task. */
static void name_task(gf_task *t, lua_State *co, int nargs)
{
  lua_Debug ar;
  for (int i = 1; i <= nargs + 1; i++) {
    if (lua_type(co, i) != LUA_TFUNCTION || lua_iscfunction(co, i)) continue;
    lua_pushvalue(co, i);
    if (!lua_getinfo(co, ">S", &ar)) continue;
    size_t n = strlen(ar.short_src);
    if (n >= 13 && strcmp(ar.short_src + n - 13, "task/task.lua") == 0) continue;
    snprintf(t->where, sizeof t->where, "task %s:%d", ar.short_src, ar.linedefined);
    return;
  }
}

gf_task *gf_task_spawn(gf_host *h, lua_State *L, int nargs)
{
  luaL_checkstack(L, 2, NULL);
  gf_task *t = calloc(1, sizeof *t);
  if (!t) luaL_error(L, "not enough memory");
  lua_State *co = lua_newthread(L); /* [fn args... co] */
  *(gf_task **)lua_getextraspace(co) = t;
  t->co = co;
  t->ref = luaL_ref(L, LUA_REGISTRYINDEX); /* [fn args...] */
  lua_xmove(L, co, nargs + 1);             /* co: [fn args...] */
  t->nargs = nargs;
  t->state = GF_TASK_SUSPENDED;
  if (h->loop.stall_ms > 0) name_task(t, co, nargs);
  link_task(h, t);
  gf_task_ready(h, t);
  return t;
}

static void finish_task(gf_host *h, gf_task *t, int status)
{
  if (t->is_main) {
    h->main_done = 1;
    if (status == LUA_OK) {
      int n = lua_gettop(t->co);
      if (n > 0 && lua_isinteger(t->co, 1))
        h->exit_code = (int)lua_tointeger(t->co, 1);
      else if (n > 0 && lua_isboolean(t->co, 1) && !lua_toboolean(t->co, 1))
        h->exit_code = 1;
      else
        h->exit_code = 0;
    } else {
      gf_report(h, t->co, status);
      h->exit_code = gf_error_exit_code(t->co, -1);
      /* A failed script ends the run: tasks it left (a server's, a consumer's) are cancelled
      ** and clean up, instead of keeping a failed process alive. */
      gf_host_cancel_all(h);
    }
  } else if (status != LUA_OK) {
    gf_report(h, t->co, status);
    h->task_failures++;
  }
  t->state = GF_TASK_DONE;
  /* An error leaves to-be-closed variables open: close them now. (lua_resetthread reports
  ** the original error again, already reported above.) */
  if (status != LUA_OK) (void)lua_resetthread(t->co);
  *(gf_task **)lua_getextraspace(t->co) = NULL;
  lua_settop(t->co, 0);
  unlink_task(h, t);
  luaL_unref(h->L, LUA_REGISTRYINDEX, t->ref);
  free(t);
}

static void resume_task(gf_host *h, gf_task *t)
{
  int nres = 0;
  t->state = GF_TASK_RUNNING;
  h->running = t->co;
  int nargs = t->nargs;
  t->nargs = 0;
  int64_t t0 = h->loop.stall_ms > 0 ? gf_now_ms() : 0;
  int status = lua_resume(t->co, h->L, nargs, &nres);
  h->running = NULL;
  if (t0) gf_loop_check_stall(&h->loop, t0, t->where[0] ? t->where : "a task");
  if (status == LUA_YIELD) {
    lua_pop(t->co, nres);
    /* A plain coroutine.yield() in a task body is a cooperative yield: run again later. */
    if (t->state == GF_TASK_RUNNING) gf_task_ready(h, t);
    return;
  }
  finish_task(h, t, status);
}

void gf_task_cancel(gf_host *h, gf_task *t)
{
  if (t->cancelled || t->state == GF_TASK_DONE) return;
  t->cancelled = 1;
  if (t->shield > 0) return; /* raised at its first wait after the shielded call */
  if (t->state == GF_TASK_PARKED && t->op) {
    gf_op *op = t->op;
    if (op->done) { /* finished but not yet resumed: the continuation releases it */
    } else if (op->cancel) {
      op->cancel(op); /* releases it */
      t->op = NULL;
    } else {
      op->orphan = 1; /* a worker job cannot be stopped: released when it ends */
      op->task = NULL;
      t->op = NULL;
    }
    gf_task_ready(h, t);
  } else if (t->state == GF_TASK_SUSPENDED) {
    gf_task_ready(h, t);
  }
}

void gf_host_cancel_all(gf_host *h)
{
  h->cancelling = 1;
  for (gf_task *t = h->tasks; t; t = t->next) gf_task_cancel(h, t);
}

static void report_deadlock(gf_host *h)
{
  fprintf(stderr, "gfhost: %d task(s) wait for something that can never happen (deadlock)\n",
          h->ntasks);
  gf_host_cancel_all(h);
}

static void report_grace_over(gf_host *h)
{
  static int reported;
  if (reported++) return;
  fprintf(stderr, "gfhost: interrupted: %d task(s) still running after the grace period of %g s\n",
          h->ntasks, h->grace_ms / 1000.0);
}

/* After the first signal: cancel every task once, then give clean-up until the grace ends. */
static int grace_left_ms(gf_host *h)
{
  if (!h->interrupted) return 1000;
  if (!h->cancelling) {
    h->grace_end_ms = gf_now_ms() + h->grace_ms;
    gf_host_cancel_all(h);
  }
  int64_t left = h->grace_end_ms - gf_now_ms();
  if (left <= 0) {
    fprintf(stderr,
            "gfhost: interrupted: %d task(s) still running after the grace period of %g s\n",
            h->ntasks, h->grace_ms / 1000.0);
    fflush(NULL);
    _exit(130);
  }
  return left < 1000 ? (int)left : 1000;
}

void gf_host_run(gf_host *h)
{
  while (h->ntasks > 0) {
    int wait_ms = grace_left_ms(h);
    while (h->ready_head) {
      gf_task *t = h->ready_head;
      h->ready_head = t->next_ready;
      if (!h->ready_head) h->ready_tail = NULL;
      resume_task(h, t);
    }
    if (h->ntasks == 0) break;
    if (!gf_loop_pending(&h->loop) && !h->ready_head && !h->interrupted) {
      report_deadlock(h);
      continue;
    }
    gf_loop_step(&h->loop, h->ready_head ? 0 : wait_ms);
  }
}

/* {====== waiting ====== */

void gf_check_wait(lua_State *L)
{
  gf_host *h = gf_host_get(L);
  gf_task *t = gf_task_of(L);
  if (t && t->cancelled && !t->cancel_seen && !t->shield) {
    t->cancel_seen = 1;
    luaL_error(L, "interrupted");
  }
  if (h->interrupted && gf_now_ms() >= h->grace_end_ms && h->cancelling) {
    report_grace_over(h);
    luaL_error(L, "interrupted");
  }
}

static int op_continue(lua_State *L, int status, lua_KContext ctx)
{
  (void)status;
  (void)ctx;
  gf_task *t = gf_task_of(L);
  gf_op *op = t->op;
  t->op = NULL;
  if (t->cancelled && !t->cancel_seen && !t->shield) {
    t->cancel_seen = 1;
    if (op) op->release(op);
    return luaL_error(L, "interrupted");
  }
  int n = op->push(L, op);
  op->release(op);
  return n;
}

/* Stop op and raise if L may not wait (see gf_check_wait). */
static void check_or_cancel(lua_State *L, gf_op *op)
{
  gf_host *h = gf_host_get(L);
  gf_task *t = gf_task_of(L);
  int refuse = (t && t->cancelled && !t->cancel_seen && !t->shield) ||
               (h->interrupted && h->cancelling && gf_now_ms() >= h->grace_end_ms);
  if (!refuse) return;
  if (op->cancel)
    op->cancel(op);
  else if (op->done)
    op->release(op);
  else
    op->orphan = 1;
  gf_check_wait(L); /* raises */
}

int gf_op_await(lua_State *L, gf_op *op)
{
  gf_host *h = gf_host_get(L);
  gf_task *t = gf_task_of(L);
  check_or_cancel(L, op);
  if (t && t->co == L && lua_isyieldable(L)) {
    op->task = t;
    t->op = op;
    t->state = GF_TASK_PARKED;
    return lua_yieldk(L, 0, 0, op_continue);
  }
  /* Not a task (or cannot yield here): drive the loop's I/O until this op is done. */
  op->task = NULL;
  while (!op->done) {
    if (h->interrupted && !h->cancelling) (void)grace_left_ms(h);
    check_or_cancel(L, op);
    gf_loop_step(&h->loop, 100);
  }
  int n = op->push(L, op);
  op->release(op);
  return n;
}

/* }====== */

static void on_stall(void *ctx, int64_t ms, const char *what)
{
  (void)ctx;
  char stamp[32];
  time_t now = time(NULL);
  struct tm tm;
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
  const char *fmt = getenv("GFHOST_LOG_FORMAT");
  if (fmt && strcmp(fmt, "json") == 0)
    fprintf(stderr,
            "{\"time\":\"%s\",\"level\":\"warn\",\"msg\":\"loop stalled\",\"ms\":%lld,"
            "\"in\":\"%s\"}\n",
            stamp, (long long)ms, what);
  else
    fprintf(stderr, "%s WARN loop: stalled %lld ms in %s\n", stamp, (long long)ms, what);
}

static int env_int(const char *name, int dflt, int scale)
{
  const char *v = getenv(name);
  if (!v || !*v) return dflt;
  char *end;
  double d = strtod(v, &end);
  if (*end || d < 0 || d > 86400) {
    fprintf(stderr, "gfhost: %s='%s' is not a number of %s: ignored\n", name, v,
            scale == 1 ? "milliseconds" : "seconds");
    return dflt;
  }
  return (int)(d * scale);
}

static void loop_ready_init(gf_host *h)
{
  h->loop.on_ready = on_ready;
  h->loop.ctx = h;
  h->loop.on_stall = on_stall;
  h->loop.stall_ms = env_int("GFHOST_STALL_MS", 0, 1);
  h->grace_ms = env_int("GFHOST_GRACE", 10000, 1000);
}

int gf_host_init(gf_host *h, char *err, size_t errlen)
{
  if (gf_loop_init(&h->loop, err, errlen) != 0) return -1;
  loop_ready_init(h);
  return 0;
}
