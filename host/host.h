/*
** host.h — the process-wide host: the Lua state, the loop, the worker pool and the tasks.
*/
#ifndef GF_HOST_H
#define GF_HOST_H

#include <limits.h>
#include <signal.h>

#include <lua.h>

#include "loop.h"
#include "pool.h"

enum { GF_TASK_READY, GF_TASK_RUNNING, GF_TASK_PARKED, GF_TASK_SUSPENDED, GF_TASK_DONE };

typedef struct gf_task {
  lua_State *co;
  int ref; /* registry reference anchoring the coroutine */
  int state;
  int nargs;     /* values waiting on co's stack for the next resume */
  int cancelled; /* cancel asked (signal or gf.task.cancel) */
  int cancel_seen;
  int shield;
  /* inside gf.task.shield: a cancel waits until it ends */ /* ... and raised once at a wait:
                                                               later waits (clean-up) run */
  int is_main;
  gf_op *op;                   /* what a PARKED task waits for */
  struct gf_task *prev, *next; /* every live task */
  struct gf_task *next_ready;
  char where[80]; /* "source:line" of its function, kept when GFHOST_STALL_MS is set */
} gf_task;

typedef struct gf_host {
  lua_State *L;
  gf_loop loop;
  gf_pool *pool;
  gf_task *tasks;
  gf_task *ready_head, *ready_tail;
  int ntasks;
  lua_State *volatile running; /* the coroutine being resumed (for the signal hook) */
  volatile sig_atomic_t interrupted;
  int cancelling;
  int grace_ms;         /* GFHOST_GRACE: how long clean-up may still wait after a signal */
  int64_t grace_end_ms; /* when the grace period ends (set at the first signal) */
  int exit_code;        /* set from the main task's outcome */
  int main_done;
  int task_failures; /* unobserved task errors */
  int verbose_errors;
  char root[4096];   /* scripts/, modules/, config/, workflows/, spec/ */
  char libdir[4096]; /* shared modules: <libdir>/gf/<name>/core.so */
} gf_host;

gf_host *gf_host_get(lua_State *L);
int gf_host_init(gf_host *h, char *err, size_t errlen);
void gf_host_close(gf_host *h);

/* Tasks (task.c). gf_task_spawn takes the function and nargs arguments from the top of L. */
gf_task *gf_task_spawn(gf_host *h, lua_State *L, int nargs);
gf_task *gf_task_of(lua_State *L);
void gf_task_ready(gf_host *h, gf_task *t);
/* Run until every task has finished. */
void gf_host_run(gf_host *h);
/* Wait for op from L: yields when L is a task that can yield, else drives the loop. */
int gf_op_await(lua_State *L, gf_op *op);
/* Ask one task to stop: its current or next wait raises 'interrupted'. */
void gf_task_cancel(gf_host *h, gf_task *t);
/* Ask every task to stop (signal, deadlock). */
void gf_host_cancel_all(gf_host *h);
/* Raise 'interrupted' if L may not start a wait now: its task's cancellation is raised once (at
** the wait it is parked in, or the next one); after that its clean-up code may wait until the
** grace period after a signal ends. Returns normally otherwise. */
void gf_check_wait(lua_State *L);

/* Error objects (errors.c). */
void gf_report(gf_host *h, lua_State *co, int status);
int gf_error_exit_code(lua_State *L, int idx);

/* Signals (signals.c). */
void gf_signals_install(gf_host *h);

/* Paths and the module searcher (paths.c). */
void gf_paths_detect(gf_host *h, const char *argv0);
void gf_paths_setup(lua_State *L, gf_host *h);

/* Opening: preload table (generated) and the host's own modules. */
void gf_preload_modules(lua_State *L);
int luaopen_gf_task_core(lua_State *L);
int luaopen_gf_host(lua_State *L);

#endif
