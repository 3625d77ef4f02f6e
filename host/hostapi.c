/*
** hostapi.c — gf.h for native modules: worker jobs, curl transfers, failure triples.
*/
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <lauxlib.h>

#include "curlop.h"
#include "gf.h"
#include "host.h"

/* {====== worker jobs ====== */

static int job_push(void *L, gf_op *op)
{
  gf_job *job = (gf_job *)op;
  return job->push((lua_State *)L, job->ud);
}

static void job_release(gf_op *op)
{
  gf_job *job = (gf_job *)op;
  if (job->release) job->release(job->ud);
  free(job);
}

int gf_work(lua_State *L, gf_work_fn work, gf_push_fn push, gf_release_fn release, void *ud)
{
  gf_host *h = gf_host_get(L);
  gf_job *job = calloc(1, sizeof *job);
  if (!job) {
    if (release) release(ud);
    return luaL_error(L, "not enough memory");
  }
  job->work = work;
  job->push = push;
  job->release = release;
  job->ud = ud;
  job->op.push = job_push;
  job->op.release = job_release;
  if (h->interrupted) {
    job_release(&job->op);
    return luaL_error(L, "interrupted");
  }
  h->loop.jobs_running++;
  gf_pool_submit(h->pool, job);
  return gf_op_await(L, &job->op);
}

int gf_pool_size(lua_State *L)
{
  return gf_pool_threads(gf_host_get(L)->pool);
}

/* }====== */

/* {====== curl transfers ====== */

static int curl_push(void *L, gf_op *op)
{
  gf_curlop *c = (gf_curlop *)op;
  return c->push((lua_State *)L, c->easy, c->result, c->ud);
}

static void curl_release(gf_op *op)
{
  gf_curlop *c = (gf_curlop *)op;
  if (c->attached) {
    curl_multi_remove_handle(c->loop->multi, c->easy);
    c->loop->curl_running--;
    c->attached = 0;
  }
  if (c->release) c->release(c->ud);
  free(c);
}

static void curl_cancel(gf_op *op)
{
  curl_release(op);
}

int gf_curl(lua_State *L, CURL *easy, gf_curl_push_fn push, gf_release_fn release, void *ud)
{
  gf_host *h = gf_host_get(L);
  gf_curlop *c = calloc(1, sizeof *c);
  if (!c) {
    if (release) release(ud);
    return luaL_error(L, "not enough memory");
  }
  c->loop = &h->loop;
  c->easy = easy;
  c->push = push;
  c->release = release;
  c->ud = ud;
  c->op.push = curl_push;
  c->op.release = curl_release;
  c->op.cancel = curl_cancel;
  if (h->interrupted) {
    curl_release(&c->op);
    return luaL_error(L, "interrupted");
  }
  curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)c);
  CURLMcode mc = curl_multi_add_handle(h->loop.multi, easy);
  if (mc != CURLM_OK) {
    curl_release(&c->op);
    return luaL_error(L, "curl_multi_add_handle: %s", curl_multi_strerror(mc));
  }
  c->attached = 1;
  h->loop.curl_running++;
  return gf_op_await(L, &c->op);
}

CURLM *gf_curl_multi(lua_State *L)
{
  return gf_host_get(L)->loop.multi;
}

/* }====== */

int gf_interrupted(lua_State *L)
{
  return gf_host_get(L)->interrupted != 0;
}

int gf_fail(lua_State *L, const char *code, const char *fmt, ...)
{
  char buf[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  lua_pushnil(L);
  lua_pushstring(L, buf);
  lua_pushstring(L, code);
  return 3;
}
