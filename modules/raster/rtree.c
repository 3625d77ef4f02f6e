/*
** rtree.c — result trees built on worker threads (see rtree.h).
*/
#define _POSIX_C_SOURCE 200809L
#include "rtree.h"

#include <stdlib.h>
#include <string.h>

static gf_rv *add(gf_rv *parent, const char *key, int type)
{
  if (!parent) return NULL;
  gf_rv *v = calloc(1, sizeof *v);
  if (!v) goto oom;
  v->type = type;
  if (key && parent->type == GF_RV_MAP) {
    v->key = strdup(key);
    if (!v->key) {
      free(v);
      goto oom;
    }
  }
  if (parent->last)
    parent->last->next = v;
  else
    parent->first = v;
  parent->last = v;
  parent->count++;
  return v;
oom:
  parent->broken = 1;
  return NULL;
}

gf_rv *gf_rv_root(int type)
{
  gf_rv *v = calloc(1, sizeof *v);
  if (v) v->type = type;
  return v;
}

gf_rv *gf_rv_map(gf_rv *parent, const char *key)
{
  return add(parent, key, GF_RV_MAP);
}

gf_rv *gf_rv_list(gf_rv *parent, const char *key)
{
  return add(parent, key, GF_RV_LIST);
}

void gf_rv_int(gf_rv *parent, const char *key, long long i)
{
  gf_rv *v = add(parent, key, GF_RV_INT);
  if (v) v->u.i = i;
}

void gf_rv_num(gf_rv *parent, const char *key, double n)
{
  gf_rv *v = add(parent, key, GF_RV_NUM);
  if (v) v->u.n = n;
}

void gf_rv_bool(gf_rv *parent, const char *key, int b)
{
  gf_rv *v = add(parent, key, GF_RV_BOOL);
  if (v) v->u.b = b != 0;
}

void gf_rv_lstr(gf_rv *parent, const char *key, const char *s, size_t len)
{
  if (!s) return;
  gf_rv *v = add(parent, key, GF_RV_STR);
  if (!v) return;
  v->u.s.p = malloc(len + 1);
  if (!v->u.s.p) {
    parent->broken = 1;
    v->type = GF_RV_BOOL; /* freed like a scalar */
    return;
  }
  memcpy(v->u.s.p, s, len);
  v->u.s.p[len] = '\0';
  v->u.s.len = len;
}

void gf_rv_str(gf_rv *parent, const char *key, const char *s)
{
  if (s) gf_rv_lstr(parent, key, s, strlen(s));
}

void gf_rv_free(gf_rv *v)
{
  while (v) {
    gf_rv *next = v->next;
    if (v->type == GF_RV_STR) free(v->u.s.p);
    gf_rv_free(v->first);
    free(v->key);
    free(v);
    v = next;
  }
}
