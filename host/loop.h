/*
** loop.h — the event loop: timers + worker completions + a self-pipe that signal handlers and
** worker threads write to, plus one optional poller for network I/O (libcurl's multi handle,
** registered by host/curlloop.c when gf.http is first loaded, so that scripts which do no HTTP
** never load libcurl). Pure C; knows nothing of Lua except the task pointer it wakes.
*/
#ifndef GF_LOOP_H
#define GF_LOOP_H

#include <pthread.h>
#include <signal.h>
#include <stdint.h>

struct gf_task;

/* Something a task waits for. Embedded as the first member of each kind of operation. */
typedef struct gf_op gf_op;
struct gf_op {
  struct gf_task *task;                /* the parked task, or NULL for a synchronous waiter */
  int done;                            /* set by the loop when the result is ready */
  int orphan;                          /* its waiter is gone: release when done */
  int (*push)(void *L, gf_op *op);     /* push results (lua_State *), return count */
  void (*release)(gf_op *op);          /* free; exactly once */
  void (*cancel)(gf_op *op);           /* stop it now if possible (then it is released) */
  gf_op *next;                         /* completion queue link */
};

typedef struct gf_timer {
  gf_op op;
  int64_t due_ms;
  size_t heap_index;
} gf_timer;

/* Network I/O plugged into the loop. wait() blocks until I/O, wake_fd readable or timeout;
** process() completes finished operations (gf_loop_complete); pending() counts those in flight. */
typedef struct gf_poller {
  void *ctx;
  void (*wait)(void *ctx, int wake_fd, int timeout_ms);
  void (*process)(void *ctx);
  int (*pending)(void *ctx);
} gf_poller;

typedef struct gf_loop {
  gf_poller *poller;
  int wake_rd, wake_wr;
  int jobs_running;            /* worker jobs not yet completed */
  pthread_mutex_t done_mu;     /* guards done_head/done_tail (written by workers) */
  gf_op *done_head, *done_tail;
  gf_timer **timers;           /* min-heap on due_ms */
  size_t ntimers, cap_timers;
  void (*on_ready)(void *ctx, struct gf_task *t);
  void *ctx;
} gf_loop;

int gf_loop_init(gf_loop *loop, char *err, size_t errlen);
void gf_loop_close(gf_loop *loop);
int64_t gf_now_ms(void);

/* Install (or, with NULL, remove) the network poller. */
void gf_loop_set_poller(gf_loop *loop, gf_poller *poller);

/* Signal-safe and thread-safe: make a waiting gf_loop_step return. */
void gf_loop_wake(gf_loop *loop);

/* Called from a worker thread when a job finished. */
void gf_loop_post(gf_loop *loop, gf_op *op);

/* Mark an op finished on the loop thread (wake its task, or release an orphan). */
void gf_loop_complete(gf_loop *loop, gf_op *op);

void gf_loop_timer_add(gf_loop *loop, gf_timer *t);
void gf_loop_timer_remove(gf_loop *loop, gf_timer *t);

/* Milliseconds until the next timer is due (-1: none). */
int64_t gf_loop_next_timer(gf_loop *loop);

/* Anything in flight that will complete by itself? */
int gf_loop_pending(const gf_loop *loop);

/* Wait up to timeout_ms for I/O, worker completions or timers, and process what is done. */
void gf_loop_step(gf_loop *loop, int timeout_ms);

#endif
