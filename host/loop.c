/*
** loop.c — one thread drives every watcher, timer and worker completion. It waits in
** epoll_wait on every started watcher plus the wake-up pipe, with the next timer as timeout.
*/
#define _POSIX_C_SOURCE 200809L
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int64_t gf_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int gf_loop_init(gf_loop *loop, char *err, size_t errlen)
{
  int fds[2];
  memset(loop, 0, sizeof *loop);
  loop->wake_rd = loop->wake_wr = -1;
  loop->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (loop->epfd < 0) {
    snprintf(err, errlen, "event loop: epoll_create1: %s", strerror(errno));
    return -1;
  }
  if (pipe(fds) != 0) {
    snprintf(err, errlen, "event loop: pipe: %s", strerror(errno));
    return -1;
  }
  for (int i = 0; i < 2; i++) {
    fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
    fcntl(fds[i], F_SETFD, FD_CLOEXEC);
  }
  loop->wake_rd = fds[0];
  loop->wake_wr = fds[1];
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL}; /* NULL: the wake-up pipe */
  if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->wake_rd, &ev) != 0) {
    snprintf(err, errlen, "event loop: epoll_ctl: %s", strerror(errno));
    return -1;
  }
  pthread_mutex_init(&loop->done_mu, NULL);
  return 0;
}

void gf_loop_close(gf_loop *loop)
{
  if (loop->wake_rd >= 0) close(loop->wake_rd);
  if (loop->wake_wr >= 0) close(loop->wake_wr);
  if (loop->epfd >= 0) close(loop->epfd);
  loop->wake_rd = loop->wake_wr = loop->epfd = -1;
  free(loop->timers);
  loop->timers = NULL;
  pthread_mutex_destroy(&loop->done_mu);
}

void gf_loop_wake(gf_loop *loop)
{
  char b = 1;
  ssize_t r = write(loop->wake_wr, &b, 1); /* EAGAIN: a wake-up is already pending */
  (void)r;
}

void gf_loop_post(gf_loop *loop, gf_op *op)
{
  pthread_mutex_lock(&loop->done_mu);
  op->next = NULL;
  if (loop->done_tail)
    loop->done_tail->next = op;
  else
    loop->done_head = op;
  loop->done_tail = op;
  pthread_mutex_unlock(&loop->done_mu);
  gf_loop_wake(loop);
}

void gf_loop_complete(gf_loop *loop, gf_op *op)
{
  op->done = 1;
  if (op->orphan) {
    op->release(op);
  } else if (op->task && loop->on_ready) {
    loop->on_ready(loop->ctx, op->task);
  }
}

/* {====== timers: a binary min-heap on due_ms ====== */

static void heap_swap(gf_loop *loop, size_t a, size_t b)
{
  gf_timer *t = loop->timers[a];
  loop->timers[a] = loop->timers[b];
  loop->timers[b] = t;
  loop->timers[a]->heap_index = a;
  loop->timers[b]->heap_index = b;
}

static void heap_up(gf_loop *loop, size_t i)
{
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (loop->timers[parent]->due_ms <= loop->timers[i]->due_ms) break;
    heap_swap(loop, i, parent);
    i = parent;
  }
}

static void heap_down(gf_loop *loop, size_t i)
{
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < loop->ntimers && loop->timers[l]->due_ms < loop->timers[m]->due_ms) m = l;
    if (r < loop->ntimers && loop->timers[r]->due_ms < loop->timers[m]->due_ms) m = r;
    if (m == i) return;
    heap_swap(loop, i, m);
    i = m;
  }
}

void gf_loop_timer_add(gf_loop *loop, gf_timer *t)
{
  if (loop->ntimers == loop->cap_timers) {
    size_t cap = loop->cap_timers ? loop->cap_timers * 2 : 64;
    gf_timer **n = realloc(loop->timers, cap * sizeof *n);
    if (!n) abort(); /* out of memory in the loop itself: nothing sane to do */
    loop->timers = n;
    loop->cap_timers = cap;
  }
  t->heap_index = loop->ntimers;
  loop->timers[loop->ntimers++] = t;
  heap_up(loop, t->heap_index);
}

void gf_loop_timer_remove(gf_loop *loop, gf_timer *t)
{
  size_t i = t->heap_index;
  if (i >= loop->ntimers || loop->timers[i] != t) return;
  loop->ntimers--;
  if (i != loop->ntimers) {
    loop->timers[i] = loop->timers[loop->ntimers];
    loop->timers[i]->heap_index = i;
    heap_down(loop, i);
    heap_up(loop, i);
  }
  t->heap_index = (size_t)-1;
}

int64_t gf_loop_next_timer(gf_loop *loop)
{
  if (loop->ntimers == 0) return -1;
  int64_t d = loop->timers[0]->due_ms - gf_now_ms();
  return d < 0 ? 0 : d;
}

static void fire_timers(gf_loop *loop)
{
  int64_t now = gf_now_ms();
  /* A timer a callback re-arms for "now" fires on the next step, not in this one. */
  for (size_t n = loop->ntimers; n > 0 && loop->ntimers > 0 && loop->timers[0]->due_ms <= now;
       n--) {
    gf_timer *t = loop->timers[0];
    gf_loop_timer_remove(loop, t);
    if (t->fire) {
      int64_t t0 = gf_now_ms();
      t->fire(loop, t);
      gf_loop_check_stall(loop, t0, "a timer callback");
    } else {
      gf_loop_complete(loop, &t->op);
    }
  }
}

/* }====== */

/* {====== watchers ====== */

int gf_watch_start(gf_loop *loop, gf_watch *w, int events)
{
  struct epoll_event ev = {.events = 0, .data.ptr = w};
  if (events & GF_IO_READ) ev.events |= EPOLLIN;
  if (events & GF_IO_WRITE) ev.events |= EPOLLOUT;
  int op = w->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  if (epoll_ctl(loop->epfd, op, w->fd, &ev) != 0) {
    /* a descriptor closed while watched left the set: add it afresh */
    if (op == EPOLL_CTL_MOD && errno == ENOENT)
      op = EPOLL_CTL_ADD;
    else
      return -errno;
    if (epoll_ctl(loop->epfd, op, w->fd, &ev) != 0) return -errno;
  }
  if (!w->events && w->ref) loop->watch_refs++;
  w->events = events & (GF_IO_READ | GF_IO_WRITE);
  return 0;
}

void gf_watch_stop(gf_loop *loop, gf_watch *w)
{
  if (!w->events) return;
  /* the descriptor may be closed already: epoll then dropped it itself */
  (void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, w->fd, NULL);
  if (w->ref) loop->watch_refs--;
  w->events = 0;
  for (int i = 0; i < loop->nready; i++)
    if (loop->ready[i].w == w) loop->ready[i].w = NULL;
}

static int io_events(uint32_t e)
{
  int r = 0;
  if (e & (EPOLLIN | EPOLLRDHUP)) r |= GF_IO_READ;
  if (e & EPOLLOUT) r |= GF_IO_WRITE;
  if (e & (EPOLLERR | EPOLLHUP)) r |= GF_IO_ERROR;
  return r;
}

static void run_watchers(gf_loop *loop)
{
  for (int i = 0; i < loop->nready; i++) {
    gf_watch *w = loop->ready[i].w;
    if (!w) continue; /* stopped by an earlier callback of this step */
    loop->ready[i].w = NULL;
    if (w->oneshot) gf_watch_stop(loop, w);
    int64_t t0 = gf_now_ms();
    w->cb(loop, w, io_events(loop->ready[i].events));
    gf_loop_check_stall(loop, t0, w->name ? w->name : "a watcher callback");
  }
  loop->nready = 0;
}

/* }====== */

void gf_loop_ref(gf_loop *loop, int delta)
{
  loop->refs += delta;
}

void gf_loop_check_stall(gf_loop *loop, int64_t started_ms, const char *what)
{
  if (loop->stall_ms <= 0 || !loop->on_stall) return;
  int64_t ms = gf_now_ms() - started_ms;
  if (ms > loop->stall_ms) loop->on_stall(loop->ctx, ms, what);
}

int gf_loop_pending(const gf_loop *loop)
{
  return loop->jobs_running > 0 || loop->ntimers > 0 || loop->refs > 0 || loop->watch_refs > 0;
}
static void drain_wakeups(gf_loop *loop)
{
  char buf[256];
  while (read(loop->wake_rd, buf, sizeof buf) > 0) {
  }
}

static void drain_jobs(gf_loop *loop)
{
  pthread_mutex_lock(&loop->done_mu);
  gf_op *op = loop->done_head;
  loop->done_head = loop->done_tail = NULL;
  pthread_mutex_unlock(&loop->done_mu);
  while (op) {
    gf_op *next = op->next;
    loop->jobs_running--;
    gf_loop_complete(loop, op);
    op = next;
  }
}

void gf_loop_step(gf_loop *loop, int timeout_ms)
{
  int64_t next = gf_loop_next_timer(loop);
  if (next >= 0 && next < timeout_ms) timeout_ms = (int)next;
  if (timeout_ms < 0) timeout_ms = 0;
  struct epoll_event evs[GF_LOOP_MAX_EVENTS];
  int n = epoll_wait(loop->epfd, evs, GF_LOOP_MAX_EVENTS, timeout_ms);
  loop->nready = 0;
  for (int i = 0; i < n; i++) {
    if (!evs[i].data.ptr) continue; /* the wake-up pipe, drained below */
    loop->ready[loop->nready].w = evs[i].data.ptr;
    loop->ready[loop->nready].events = evs[i].events;
    loop->nready++;
  }
  drain_wakeups(loop);
  run_watchers(loop);
  drain_jobs(loop);
  fire_timers(loop);
}
