/*
** rtree.h — a small result tree (maps, lists, scalars) that worker threads build without Lua;
** the binding turns it into Lua tables on the loop thread (lgdaljob.h).
**
** Every constructor tolerates a NULL parent and returns NULL when memory runs out; the failure is
** recorded in the parent's `broken` flag so the binding can raise "not enough memory" instead of
** returning a silently incomplete table. Free the root with gf_rv_free.
*/
#ifndef GF_RTREE_H
#define GF_RTREE_H

#include <stddef.h>

enum { GF_RV_BOOL, GF_RV_INT, GF_RV_NUM, GF_RV_STR, GF_RV_LIST, GF_RV_MAP };

typedef struct gf_rv {
  int type;
  int broken; /* a child could not be allocated */
  char *key;  /* NULL for list items and the root */
  union {
    int b;
    long long i;
    double n;
    struct {
      char *p;
      size_t len;
    } s;
  } u;
  size_t count; /* children */
  struct gf_rv *first, *last, *next;
} gf_rv;

gf_rv *gf_rv_root(int type); /* GF_RV_MAP or GF_RV_LIST */
gf_rv *gf_rv_map(gf_rv *parent, const char *key);
gf_rv *gf_rv_list(gf_rv *parent, const char *key);
void gf_rv_int(gf_rv *parent, const char *key, long long v);
void gf_rv_num(gf_rv *parent, const char *key, double v);
void gf_rv_bool(gf_rv *parent, const char *key, int v);
void gf_rv_str(gf_rv *parent, const char *key, const char *s); /* s NULL: nothing added */
void gf_rv_lstr(gf_rv *parent, const char *key, const char *s, size_t len);
void gf_rv_free(gf_rv *v);

#endif
