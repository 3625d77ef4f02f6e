/*
** pool.c — worker threads: take a job, run job->work(ud), post it back to the loop.
*/
#define _POSIX_C_SOURCE 200809L
#include "pool.h"

#include <pthread.h>
#include <stdlib.h>

struct gf_pool {
  gf_loop *loop;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  gf_job *head, *tail;
  int stopping;
  int n;
  pthread_t threads[];
};

static void *worker_main(void *arg)
{
  gf_pool *pool = arg;
  for (;;) {
    pthread_mutex_lock(&pool->mu);
    while (!pool->head && !pool->stopping) pthread_cond_wait(&pool->cv, &pool->mu);
    gf_job *job = pool->head;
    if (!job) { /* stopping and nothing left */
      pthread_mutex_unlock(&pool->mu);
      return NULL;
    }
    pool->head = job->qnext;
    if (!pool->head) pool->tail = NULL;
    pthread_mutex_unlock(&pool->mu);
    job->work(job->ud);
    gf_loop_post(pool->loop, &job->op);
  }
}

gf_pool *gf_pool_start(gf_loop *loop, int n)
{
  if (n < 1) n = 1;
  gf_pool *pool = calloc(1, sizeof *pool + (size_t)n * sizeof(pthread_t));
  if (!pool) return NULL;
  pool->loop = loop;
  pthread_mutex_init(&pool->mu, NULL);
  pthread_cond_init(&pool->cv, NULL);
  for (int i = 0; i < n; i++) {
    if (pthread_create(&pool->threads[i], NULL, worker_main, pool) != 0) break;
    pool->n++;
  }
  if (pool->n == 0) {
    free(pool);
    return NULL;
  }
  return pool;
}

void gf_pool_stop(gf_pool *pool)
{
  if (!pool) return;
  pthread_mutex_lock(&pool->mu);
  pool->stopping = 1;
  pthread_cond_broadcast(&pool->cv);
  pthread_mutex_unlock(&pool->mu);
  for (int i = 0; i < pool->n; i++) pthread_join(pool->threads[i], NULL);
  pthread_mutex_destroy(&pool->mu);
  pthread_cond_destroy(&pool->cv);
  free(pool);
}

void gf_pool_submit(gf_pool *pool, gf_job *job)
{
  job->qnext = NULL;
  pthread_mutex_lock(&pool->mu);
  if (pool->tail)
    pool->tail->qnext = job;
  else
    pool->head = job;
  pool->tail = job;
  pthread_cond_signal(&pool->cv);
  pthread_mutex_unlock(&pool->mu);
}

int gf_pool_threads(const gf_pool *pool)
{
  return pool ? pool->n : 0;
}
