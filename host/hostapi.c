/*
** hostapi.c — gf.h for native modules: worker jobs and failure triples (curl transfers are in
** curlloop.c, linked only into modules that use libcurl).
*/
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "pool.h"
#include "gf.h"
#include "gfnum.h"
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
  h->loop.jobs_running++;
  gf_pool_submit(h->pool, job);
  return gf_op_await(L, &job->op);
}

int gf_pool_size(lua_State *L)
{
  return gf_pool_threads(gf_host_get(L)->pool);
}

/* }====== */

int gf_interrupted(lua_State *L)
{
  return gf_host_get(L)->interrupted != 0;
}

size_t gf_format_double(char out[32], double v)
{
  int n = 0;
  for (int prec = 15; prec <= 17; prec++) {
    n = snprintf(out, 32, "%.*g", prec, v);
    if (prec == 17 || strtod(out, NULL) == v) break;
  }
  for (int i = 0; i < n; i++) /* snprintf honours LC_NUMERIC; every format here wants '.' */
    if (out[i] == ',') out[i] = '.';
  if (strpbrk(out, ".eEn") == NULL && n < 30) {
    out[n++] = '.';
    out[n++] = '0';
    out[n] = '\0';
  }
  return (size_t)n;
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
