/*
** curlloop.c — HTTP transfers as loop operations (gf_curl in gf.h).
**
** Built as the static library gfcurl and linked only into modules that use libcurl (gf.http,
** itself loaded on first require), so a script that does no HTTP never loads libcurl and its
** two dozen dependencies (about 4 ms of dynamic linking per start on this machine).
**
** libcurl is one event source among others, driven through its socket interface: it names the
** sockets it wants watched (on_socket: one loop watcher per socket) and when it next needs a call
** (on_timer: one loop timer). A ready socket or the due timer goes to curl_multi_socket_action,
** which touches only the transfers with something to do. Once a second every transfer also gets
** a curl_multi_perform turn, so that progress callbacks (gf.http's idle timeout) see a stalled
** transfer. The state lives in a userdata in the registry; its __gc (run by lua_close, before
** the module is unloaded) stops the watchers and timers and cleans up libcurl.
*/
#define _POSIX_C_SOURCE 200809L
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <lauxlib.h>
#include <lua.h>

#include "gf.h"
#include "host.h"

typedef struct curl_sock curl_sock;
struct curl_sock {
  gf_watch w;
  curl_sock *prev, *next;
};

typedef struct curl_loop {
  gf_loop *loop;
  CURLM *multi;
  int running;      /* easy handles attached */
  gf_timer timeout; /* libcurl's timer (in the loop's heap while due_ms >= 0) */
  gf_timer tick;    /* the once-a-second turn for every transfer */
  curl_sock *socks; /* every watched socket */
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

/* Complete the operations of finished transfers. */
static void finish_done(curl_loop *cl)
{
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(cl->multi, &left)) != NULL) {
    if (m->msg != CURLMSG_DONE) continue;
    CURL *easy = m->easy_handle;
    CURLcode rc = m->data.result;
    gf_curlop *op = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&op);
    curl_multi_remove_handle(cl->multi, easy);
    cl->running--;
    gf_loop_ref(cl->loop, -1);
    if (op) {
      op->result = rc;
      op->attached = 0;
      gf_loop_complete(cl->loop, &op->op);
    }
  }
}

static void on_io(gf_loop *loop, gf_watch *w, int events)
{
  (void)loop;
  curl_loop *cl = w->data;
  int mask = 0, still;
  if (events & GF_IO_READ) mask |= CURL_CSELECT_IN;
  if (events & GF_IO_WRITE) mask |= CURL_CSELECT_OUT;
  if (events & GF_IO_ERROR) mask |= CURL_CSELECT_ERR;
  curl_multi_socket_action(cl->multi, w->fd, mask, &still);
  finish_done(cl);
}

static void free_sock(curl_loop *cl, curl_sock *cs)
{
  gf_watch_stop(cl->loop, &cs->w);
  if (cs->prev)
    cs->prev->next = cs->next;
  else
    cl->socks = cs->next;
  if (cs->next) cs->next->prev = cs->prev;
  free(cs);
}

/* libcurl: watch s for what (CURL_POLL_IN / OUT / INOUT), or stop (CURL_POLL_REMOVE). */
static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
  (void)easy;
  curl_loop *cl = userp;
  curl_sock *cs = socketp;
  if (what == CURL_POLL_REMOVE) {
    if (cs) free_sock(cl, cs);
    curl_multi_assign(cl->multi, s, NULL);
    return 0;
  }
  if (!cs) {
    cs = calloc(1, sizeof *cs);
    if (!cs) return -1;
    cs->w.fd = s;
    cs->w.cb = on_io;
    cs->w.data = cl;
    cs->w.name = "libcurl";
    cs->next = cl->socks;
    if (cl->socks) cl->socks->prev = cs;
    cl->socks = cs;
    curl_multi_assign(cl->multi, s, cs);
  }
  int events = 0;
  if (what & CURL_POLL_IN) events |= GF_IO_READ;
  if (what & CURL_POLL_OUT) events |= GF_IO_WRITE;
  return gf_watch_start(cl->loop, &cs->w, events) == 0 ? 0 : -1;
}

static void on_timeout(gf_loop *loop, gf_timer *t)
{
  (void)loop;
  curl_loop *cl = (curl_loop *)((char *)t - offsetof(curl_loop, timeout));
  int still;
  t->due_ms = -1; /* the call may set the next one */
  curl_multi_socket_action(cl->multi, CURL_SOCKET_TIMEOUT, 0, &still);
  finish_done(cl);
}

/* libcurl: call curl_multi_socket_action(CURL_SOCKET_TIMEOUT) in timeout_ms (-1: never). */
static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
  (void)multi;
  curl_loop *cl = userp;
  if (cl->timeout.due_ms >= 0) gf_loop_timer_remove(cl->loop, &cl->timeout);
  cl->timeout.due_ms = -1;
  if (timeout_ms >= 0) {
    cl->timeout.due_ms = gf_now_ms() + timeout_ms;
    gf_loop_timer_add(cl->loop, &cl->timeout);
  }
  return 0;
}

static void on_tick(gf_loop *loop, gf_timer *t)
{
  curl_loop *cl = (curl_loop *)((char *)t - offsetof(curl_loop, tick));
  int still;
  t->due_ms = -1;
  if (cl->running == 0) return;
  curl_multi_perform(cl->multi, &still);
  finish_done(cl);
  if (cl->running > 0 && t->due_ms < 0) {
    t->due_ms = gf_now_ms() + 1000;
    gf_loop_timer_add(loop, t);
  }
}

static void start_tick(curl_loop *cl)
{
  if (cl->tick.due_ms >= 0) return;
  cl->tick.due_ms = gf_now_ms() + 1000;
  gf_loop_timer_add(cl->loop, &cl->tick);
}

static int cl_gc(lua_State *L)
{
  curl_loop *cl = lua_touserdata(L, 1);
  if (!cl->multi) return 0;
  curl_multi_cleanup(cl->multi);
  cl->multi = NULL;
  curl_global_cleanup();
  while (cl->socks) free_sock(cl, cl->socks);
  if (cl->timeout.due_ms >= 0) gf_loop_timer_remove(cl->loop, &cl->timeout);
  if (cl->tick.due_ms >= 0) gf_loop_timer_remove(cl->loop, &cl->tick);
  cl->timeout.due_ms = cl->tick.due_ms = -1;
  gf_loop_ref(cl->loop, -cl->running);
  cl->running = 0;
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
  memset(cl, 0, sizeof *cl);
  cl->loop = &h->loop;
  cl->timeout.due_ms = cl->tick.due_ms = -1;
  cl->timeout.fire = on_timeout;
  cl->tick.fire = on_tick;
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
  curl_multi_setopt(cl->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(cl->multi, CURLMOPT_SOCKETDATA, cl);
  curl_multi_setopt(cl->multi, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(cl->multi, CURLMOPT_TIMERDATA, cl);
  curl_multi_setopt(cl->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, 256L);
  curl_multi_setopt(cl->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 128L);
  curl_multi_setopt(cl->multi, CURLMOPT_MAXCONNECTS, 256L);
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
    gf_loop_ref(c->cl->loop, -1);
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
  curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)c);
  CURLMcode mc = curl_multi_add_handle(cl->multi, easy);
  if (mc != CURLM_OK) {
    curl_release(&c->op);
    return luaL_error(L, "curl_multi_add_handle: %s", curl_multi_strerror(mc));
  }
  c->attached = 1;
  cl->running++;
  gf_loop_ref(cl->loop, 1);
  start_tick(cl);
  return gf_op_await(L, &c->op);
}

CURLM *gf_curl_multi(lua_State *L)
{
  return get_curl_loop(L)->multi;
}
