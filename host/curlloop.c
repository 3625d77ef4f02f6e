/*
** curlloop.c — HTTP transfers as loop operations (gf_curl in gf.h).
**
** Built as the static library gfcurl and linked only into modules that use libcurl (gf.http,
** itself loaded on first require), so a script that does no HTTP never loads libcurl and its
** two dozen dependencies (about 4 ms of dynamic linking per start on this machine).
**
** On first use it creates the multi handle and installs it as the loop's poller: the loop then
** waits in curl_multi_poll with its wake-up pipe as an extra descriptor. The state lives in a
** userdata in the registry; its __gc (run by lua_close, before the module is unloaded) removes
** the poller and cleans up libcurl.
*/
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>

#include <curl/curl.h>
#include <lauxlib.h>
#include <lua.h>

#include "gf.h"
#include "host.h"

typedef struct curl_loop {
  gf_poller poller;
  gf_loop *loop;
  CURLM *multi;
  int running; /* easy handles attached */
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

static void cl_wait(void *ctx, int wake_fd, int timeout_ms)
{
  curl_loop *cl = ctx;
  struct curl_waitfd extra = {.fd = wake_fd, .events = CURL_WAIT_POLLIN, .revents = 0};
  int numfds = 0, still = 0;
  if (cl->running > 0) {
    /* Transfers that finish here (their data arrived while Lua ran) must not wait for the
    ** poll's timeout: return at once and let cl_process collect them. */
    curl_multi_perform(cl->multi, &still);
    if (still < cl->running) return;
  }
  curl_multi_poll(cl->multi, &extra, 1, timeout_ms, &numfds);
}

static void cl_process(void *ctx)
{
  curl_loop *cl = ctx;
  int still, left;
  if (cl->running == 0) return;
  curl_multi_perform(cl->multi, &still);
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
