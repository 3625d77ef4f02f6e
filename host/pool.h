/* pool.h — a fixed set of worker threads that never touch a lua_State. */
#ifndef GF_POOL_H
#define GF_POOL_H

#include "gf.h"
#include "loop.h"

typedef struct gf_job {
  gf_op op;
  gf_work_fn work;
  gf_push_fn push;
  gf_release_fn release;
  void *ud;
  struct gf_job *qnext;
} gf_job;

typedef struct gf_pool gf_pool;

/* Start n threads that post finished jobs to loop. NULL on failure. */
gf_pool *gf_pool_start(gf_loop *loop, int n);
/* Finish queued jobs, join the threads, free the pool. */
void gf_pool_stop(gf_pool *pool);
void gf_pool_submit(gf_pool *pool, gf_job *job);
int gf_pool_threads(const gf_pool *pool);

#endif
