/* gfgrow.h — growing a heap array by doubling, for the modules' buffers and lists (no Lua). */
#ifndef GF_GROW_H
#define GF_GROW_H

#include <stdint.h>
#include <stdlib.h>

/*
** data reallocated to hold at least need elements of elem bytes, its capacity doubled from *cap
** (or from first when empty), and *cap updated; data itself when it already holds need. NULL
** when the size overflows or memory runs out: the old block and *cap are then unchanged.
*/
static inline void *gf_grow(void *data, size_t *cap, size_t need, size_t elem, size_t first)
{
  if (need <= *cap) return data;
  size_t n = *cap ? *cap : first;
  while (n < need) {
    if (n > SIZE_MAX / 2) return NULL;
    n *= 2;
  }
  if (n > SIZE_MAX / elem) return NULL;
  void *p = realloc(data, n * elem);
  if (p) *cap = n;
  return p;
}

#endif
