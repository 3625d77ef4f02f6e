/*
** loop.h — the event loop: file-descriptor watchers, timers, and completions posted by worker
** threads, all on one epoll set with a self-pipe that signal handlers and worker threads write
** to. Every event source plugs into the watchers: libcurl's sockets (host/curlloop.c), AMQP and
** HTTP-server sockets, child-process pipes, stdin. Pure C; knows nothing of Lua except the task
** pointer it wakes.
*/
#ifndef GF_LOOP_H
#define GF_LOOP_H

#include <pthread.h>
#include <signal.h>
#include <stdint.h>

struct gf_task;
typedef struct gf_loop gf_loop;

/* Something a task waits for. Embedded as the first member of each kind of operation. */
typedef struct gf_op gf_op;
struct gf_op {
  struct gf_task *task;            /* the parked task, or NULL for a synchronous waiter */
  int done;                        /* set by the loop when the result is ready */
  int orphan;                      /* its waiter is gone: release when done */
  int (*push)(void *L, gf_op *op); /* push results (lua_State *), return count */
  void (*release)(gf_op *op);      /* free; exactly once */
  void (*cancel)(gf_op *op);       /* stop it now if possible (then it is released) */
  gf_op *next;                     /* completion queue link */
};

/* A timer completes its op when due, or, with fire set, calls fire instead (a C event source). */
typedef struct gf_timer gf_timer;
struct gf_timer {
  gf_op op;
  int64_t due_ms;
  size_t heap_index;
  void (*fire)(gf_loop *loop, gf_timer *t);
};

/* {====== watchers: a file descriptor the loop waits on ====== */

enum { GF_IO_READ = 1, GF_IO_WRITE = 2, GF_IO_ERROR = 4 };

typedef struct gf_watch gf_watch;
/* Called on the loop thread with the ready events (GF_IO_*). It may stop, restart or modify
** any watcher, this one included, and free this one after stopping it. */
typedef void (*gf_watch_fn)(gf_loop *loop, gf_watch *w, int events);

struct gf_watch {
  int fd;
  int events;  /* GF_IO_READ and/or GF_IO_WRITE while started; 0 when stopped */
  int oneshot; /* stopped before its callback runs */
  int ref;     /* counts as pending work (a task waits on it): see gf_loop_pending */
  gf_watch_fn cb;
  void *data;       /* the source's own */
  const char *name; /* what runs, for GFHOST_STALL_MS reports */
};

/* Watch w->fd for events (GF_IO_READ | GF_IO_WRITE). Starting a started watcher modifies it.
** Returns 0, or -errno (e.g. -EPERM for a regular file, which epoll cannot watch). */
int gf_watch_start(gf_loop *loop, gf_watch *w, int events);
/* Stop watching (idempotent). The descriptor is not closed. */
void gf_watch_stop(gf_loop *loop, gf_watch *w);

/* }====== */

#define GF_LOOP_MAX_EVENTS 64

struct gf_loop {
  int epfd; /* every started watcher and the wake-up pipe */
  int wake_rd, wake_wr;
  int jobs_running;        /* worker jobs not yet completed */
  int refs;                /* work in flight that sources announced (gf_loop_ref) */
  int watch_refs;          /* started watchers with ref set */
  pthread_mutex_t done_mu; /* guards done_head/done_tail (written by workers) */
  gf_op *done_head, *done_tail;
  gf_timer **timers; /* min-heap on due_ms */
  size_t ntimers, cap_timers;
  void (*on_ready)(void *ctx, struct gf_task *t);
  void *ctx;
  /* GFHOST_STALL_MS: steps longer than stall_ms (0: off) are reported through on_stall. */
  int stall_ms;
  void (*on_stall)(void *ctx, int64_t ms, const char *what);
  /* the events of the current step; a stopped watcher is cleared from here */
  int nready;
  struct gf_ready {
    gf_watch *w;
    uint32_t events;
  } ready[GF_LOOP_MAX_EVENTS];
};

int gf_loop_init(gf_loop *loop, char *err, size_t errlen);
void gf_loop_close(gf_loop *loop);

/* Milliseconds on the monotonic clock (the one clock every part of gfhost measures with). */
int64_t gf_now_ms(void);

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

/* A source with work in flight that will complete by itself (libcurl's running transfers) holds
** a reference, so that the scheduler does not take its waiting tasks for a deadlock. */
void gf_loop_ref(gf_loop *loop, int delta);

/* Anything in flight that will complete by itself? */
int gf_loop_pending(const gf_loop *loop);

/* Report a step of `ms` milliseconds spent in `what` if it passed GFHOST_STALL_MS. */
void gf_loop_check_stall(gf_loop *loop, int64_t started_ms, const char *what);

/* Wait up to timeout_ms for I/O, worker completions or timers, and process what is done. */
void gf_loop_step(gf_loop *loop, int timeout_ms);

#endif
