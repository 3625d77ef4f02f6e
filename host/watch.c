/*
** watch.c — a task waits for a file descriptor (gf_wait_fd in gf.h): one one-shot watcher plus
** an optional timer, whichever comes first completes the wait.
*/
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "gf.h"
#include "host.h"

typedef struct fd_wait {
  gf_op op;
  gf_loop *loop;
  gf_watch w;
  gf_timer timer;
  int ready; /* GF_IO_* that came, 0 on timeout */
} fd_wait;

static void stop_both(fd_wait *fw)
{
  gf_watch_stop(fw->loop, &fw->w);
  if (fw->timer.due_ms >= 0) gf_loop_timer_remove(fw->loop, &fw->timer);
  fw->timer.due_ms = -1;
}

static void on_ready(gf_loop *loop, gf_watch *w, int events)
{
  fd_wait *fw = w->data;
  fw->ready = events;
  stop_both(fw);
  gf_loop_complete(loop, &fw->op);
}

static void on_timeout(gf_loop *loop, gf_timer *t)
{
  fd_wait *fw = (fd_wait *)((char *)t - offsetof(fd_wait, timer));
  fw->timer.due_ms = -1;
  stop_both(fw);
  gf_loop_complete(loop, &fw->op);
}

static int fw_push(void *L, gf_op *op)
{
  fd_wait *fw = (fd_wait *)op;
  if (fw->ready) {
    lua_pushinteger(L, fw->ready);
    return 1;
  }
  return gf_fail(L, "timeout", "timed out waiting for descriptor %d", fw->w.fd);
}

static void fw_release(gf_op *op)
{
  fd_wait *fw = (fd_wait *)op;
  stop_both(fw);
  free(fw);
}

int gf_wait_fd(lua_State *L, int fd, int events, double timeout_s)
{
  gf_host *h = gf_host_get(L);
  fd_wait *fw = calloc(1, sizeof *fw);
  if (!fw) return luaL_error(L, "not enough memory");
  fw->loop = &h->loop;
  fw->op.push = fw_push;
  fw->op.release = fw_release;
  fw->op.cancel = fw_release;
  fw->w.fd = fd;
  fw->w.oneshot = 1;
  fw->w.ref = 1;
  fw->w.cb = on_ready;
  fw->w.data = fw;
  fw->w.name = "a descriptor wait";
  fw->timer.due_ms = -1;
  fw->timer.fire = on_timeout;
  int rc = gf_watch_start(&h->loop, &fw->w, events);
  if (rc == -EPERM) {
    /* a regular file or /dev/null: always ready, as poll(2) says */
    free(fw);
    lua_pushinteger(L, events & (GF_IO_READ | GF_IO_WRITE));
    return 1;
  }
  if (rc != 0) {
    free(fw);
    return gf_fail(L, "io", "cannot watch descriptor %d: %s", fd, strerror(-rc));
  }
  if (timeout_s >= 0 && isfinite(timeout_s)) {
    fw->timer.due_ms = gf_now_ms() + (int64_t)(timeout_s * 1000.0 + 0.5);
    gf_loop_timer_add(&h->loop, &fw->timer);
  }
  return gf_op_await(L, &fw->op);
}

gf_loop *gf_host_loop(lua_State *L)
{
  return &gf_host_get(L)->loop;
}
