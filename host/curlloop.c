/*
** curlloop.c — HTTP transfers as loop operations (gf_curl in gf.h).
**
** Built as the static library gfcurl and linked only into modules that use libcurl (gf.http,
** itself loaded on first require), so a script that does no HTTP never loads libcurl and its
** two dozen dependencies (about 4 ms of dynamic linking per start on this machine).
**
** On first use it creates the multi handle and installs it as the loop's poller, driven through
** libcurl's socket interface: libcurl names the sockets it wants watched (socket callback) and
** when it next needs a call (timer callback); the loop waits in epoll_wait on those sockets and
** its wake-up pipe, then hands each ready socket to curl_multi_socket_action. Only transfers
** with something to do are touched: curl_multi_perform would poll every transfer's socket on
** every step (a dozen poll calls per request at 16 in flight). The state lives in a userdata in
** the registry; its __gc (run by lua_close, before the module is unloaded) removes the poller
** and cleans up libcurl.
*/
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <curl/curl.h>
#include <lauxlib.h>
#include <lua.h>

#include "gf.h"
#include "host.h"

#define MAX_EVENTS 64

typedef struct curl_loop {
  gf_poller poller;
  gf_loop *loop;
  CURLM *multi;
  int running;     /* easy handles attached */
  int epfd;        /* libcurl's sockets and the loop's wake-up pipe */
  int wake_fd;     /* the pipe, once added (-1 before) */
  int64_t due_ms;  /* when libcurl wants its timeout call (-1: no timer) */
  int64_t tick_ms; /* next curl_multi_perform over every transfer (see cl_process) */
  int nready;      /* events of the last wait, for cl_process */
  struct epoll_event ready[MAX_EVENTS];
} curl_loop;

typedef struct gf_curlop {
  gf_op op;
  curl_loop *cl;
  CURL *easy;
  CURLcode result;
  int attached;
  gf_curl_push_fn push;
  gf_release_fn release;
  void *ud;
} gf_curlop;

static const char CURL_LOOP_KEY = 'c';
static char WATCHED; /* socketp of a socket in the epoll set */

/* libcurl: watch s for what (CURL_POLL_IN / OUT / INOUT), or stop (CURL_POLL_REMOVE). */
static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
  (void)easy;
  curl_loop *cl = userp;
  if (what == CURL_POLL_REMOVE) {
    /* the socket may be closed already: epoll then dropped it itself */
    (void)epoll_ctl(cl->epfd, EPOLL_CTL_DEL, s, NULL);
    curl_multi_assign(cl->multi, s, NULL);
    return 0;
  }
  struct epoll_event ev = {.events = 0, .data.fd = s};
  if (what & CURL_POLL_IN) ev.events |= EPOLLIN;
  if (what & CURL_POLL_OUT) ev.events |= EPOLLOUT;
  int op = socketp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  if (epoll_ctl(cl->epfd, op, s, &ev) != 0) {
    /* a reused descriptor number: the registration is the other kind */
    op = errno == EEXIST ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(cl->epfd, op, s, &ev) != 0) return -1;
  }
  if (!socketp) curl_multi_assign(cl->multi, s, &WATCHED);
  return 0;
}

/* libcurl: call curl_multi_socket_action(CURL_SOCKET_TIMEOUT) in timeout_ms (-1: never). */
static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
  (void)multi;
  curl_loop *cl = userp;
  cl->due_ms = timeout_ms < 0 ? -1 : gf_now_ms() + timeout_ms;
  return 0;
}

static void cl_wait(void *ctx, int wake_fd, int timeout_ms)
{
  curl_loop *cl = ctx;
  if (cl->wake_fd != wake_fd) {
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = wake_fd};
    if (epoll_ctl(cl->epfd, EPOLL_CTL_ADD, wake_fd, &ev) == 0 || errno == EEXIST)
      cl->wake_fd = wake_fd;
  }
  int64_t due = cl->due_ms;
  if (cl->running > 0 && (due < 0 || cl->tick_ms < due)) due = cl->tick_ms;
  if (due >= 0) {
    int64_t left = due - gf_now_ms();
    if (left < timeout_ms || timeout_ms < 0) timeout_ms = left < 0 ? 0 : (int)left;
  }
  int n = epoll_wait(cl->epfd, cl->ready, MAX_EVENTS, timeout_ms);
  cl->nready = n < 0 ? 0 : n;
}

static int cselect(uint32_t events)
{
  int mask = 0;
  if (events & EPOLLIN) mask |= CURL_CSELECT_IN;
  if (events & EPOLLOUT) mask |= CURL_CSELECT_OUT;
  if (events & (EPOLLERR | EPOLLHUP)) mask |= CURL_CSELECT_ERR;
  return mask;
}

static void cl_process(void *ctx)
{
  curl_loop *cl = ctx;
  int still, left;
  for (int i = 0; i < cl->nready; i++) {
    int fd = cl->ready[i].data.fd;
    if (fd == cl->wake_fd) continue; /* drained by the loop */
    curl_multi_socket_action(cl->multi, fd, cselect(cl->ready[i].events), &still);
  }
  cl->nready = 0;
  int64_t now = gf_now_ms();
  if (cl->due_ms >= 0 && now >= cl->due_ms) {
    cl->due_ms = -1; /* the call sets the next one */
    curl_multi_socket_action(cl->multi, CURL_SOCKET_TIMEOUT, 0, &still);
  }
  /* Once a second every transfer gets a turn even when its socket is silent: the progress
     callbacks then run, and gf.http's idle timeout sees a stalled transfer. */
  if (cl->running > 0 && now >= cl->tick_ms) {
    cl->tick_ms = now + 1000;
    curl_multi_perform(cl->multi, &still);
  }
  CURLMsg *m;
  while ((m = curl_multi_info_read(cl->multi, &left)) != NULL) {
    if (m->msg != CURLMSG_DONE) continue;
    CURL *easy = m->easy_handle;
    CURLcode rc = m->data.result;
    gf_curlop *op = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&op);
    curl_multi_remove_handle(cl->multi, easy);
    cl->running--;
    if (op) {
      op->result = rc;
      op->attached = 0;
      gf_loop_complete(cl->loop, &op->op);
    }
  }
}

static int cl_pending(void *ctx)
{
  return ((curl_loop *)ctx)->running > 0;
}

static int cl_gc(lua_State *L)
{
  curl_loop *cl = lua_touserdata(L, 1);
  if (!cl->multi) return 0;
  if (cl->loop->poller == &cl->poller) gf_loop_set_poller(cl->loop, NULL);
  curl_multi_cleanup(cl->multi);
  cl->multi = NULL;
  curl_global_cleanup();
  if (cl->epfd >= 0) close(cl->epfd);
  cl->epfd = -1;
  return 0;
}

/* The process's curl loop, created on first use. */
static curl_loop *get_curl_loop(lua_State *L)
{
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &CURL_LOOP_KEY) == LUA_TUSERDATA) {
    curl_loop *cl = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return cl;
  }
  lua_pop(L, 1);
  gf_host *h = gf_host_get(L);
  curl_loop *cl = lua_newuserdatauv(L, sizeof *cl, 0);
  cl->multi = NULL;
  cl->epfd = -1;
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, cl_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) luaL_error(L, "curl_global_init failed");
  cl->multi = curl_multi_init();
  if (!cl->multi) {
    curl_global_cleanup();
    luaL_error(L, "curl_multi_init failed");
  }
  cl->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (cl->epfd < 0) {
    int err = errno;
    curl_multi_cleanup(cl->multi);
    cl->multi = NULL;
    curl_global_cleanup();
    luaL_error(L, "epoll_create1: %s", strerror(err));
  }
  cl->wake_fd = -1;
  cl->due_ms = -1;
  cl->tick_ms = 0;
  cl->nready = 0;
  curl_multi_setopt(cl->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(cl->multi, CURLMOPT_SOCKETDATA, cl);
  curl_multi_setopt(cl->multi, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(cl->multi, CURLMOPT_TIMERDATA, cl);
  curl_multi_setopt(cl->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, 256L);
  curl_multi_setopt(cl->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 128L);
  curl_multi_setopt(cl->multi, CURLMOPT_MAXCONNECTS, 256L);
  cl->loop = &h->loop;
  cl->running = 0;
  cl->poller.ctx = cl;
  cl->poller.wait = cl_wait;
  cl->poller.process = cl_process;
  cl->poller.pending = cl_pending;
  gf_loop_set_poller(&h->loop, &cl->poller);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &CURL_LOOP_KEY);
  return cl;
}

static int curl_push(void *L, gf_op *op)
{
  gf_curlop *c = (gf_curlop *)op;
  return c->push((lua_State *)L, c->easy, c->result, c->ud);
}

static void curl_release(gf_op *op)
{
  gf_curlop *c = (gf_curlop *)op;
  if (c->attached) {
    curl_multi_remove_handle(c->cl->multi, c->easy);
    c->cl->running--;
    c->attached = 0;
  }
  if (c->release) c->release(c->ud);
  free(c);
}

static int ensure_curl_loop(lua_State *L)
{
  lua_pushlightuserdata(L, get_curl_loop(L));
  return 1;
}

int gf_curl(lua_State *L, CURL *easy, gf_curl_push_fn push, gf_release_fn release, void *ud)
{
  curl_loop *cl = NULL;
  gf_curlop *c = NULL;
  gf_host *h = gf_host_get(L);
  /* Set-up can raise; ud is ours from the call on, so release it before re-raising. */
  lua_pushcfunction(L, ensure_curl_loop);
  if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
    if (release) release(ud);
    return lua_error(L);
  }
  cl = lua_touserdata(L, -1);
  lua_pop(L, 1);
  c = calloc(1, sizeof *c);
  if (!c) {
    if (release) release(ud);
    return luaL_error(L, "not enough memory");
  }
  c->cl = cl;
  c->easy = easy;
  c->push = push;
  c->release = release;
  c->ud = ud;
  c->op.push = curl_push;
  c->op.release = curl_release;
  c->op.cancel = curl_release;
  if (h->interrupted) {
    curl_release(&c->op);
    return luaL_error(L, "interrupted");
  }
  curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)c);
  CURLMcode mc = curl_multi_add_handle(cl->multi, easy);
  if (mc != CURLM_OK) {
    curl_release(&c->op);
    return luaL_error(L, "curl_multi_add_handle: %s", curl_multi_strerror(mc));
  }
  c->attached = 1;
  cl->running++;
  return gf_op_await(L, &c->op);
}

CURLM *gf_curl_multi(lua_State *L)
{
  return get_curl_loop(L)->multi;
}
