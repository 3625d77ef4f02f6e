/*
** fsmatch.c — shell-style pattern matching (gf_fs_match) and file-system globbing (gf_fs_glob).
**
** The matcher is a backtracking recursion over (pattern position, name position) with a bitmap
** of states already known to fail, so patterns such as "*a*a*a*b" stay polynomial.
*/
#define _POSIX_C_SOURCE 200809L
#include "fs.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
  const char *p, *n;
  size_t plen, nlen;
  int cross;            /* '*', '?' and classes may match '/' */
  unsigned char *fails; /* (plen+1) x (nlen+1) bits, or NULL */
} matcher;

static int known_fail(const matcher *m, size_t pi, size_t ni)
{
  if (!m->fails) return 0;
  size_t bit = pi * (m->nlen + 1) + ni;
  return (m->fails[bit >> 3] >> (bit & 7)) & 1;
}

static void mark_fail(matcher *m, size_t pi, size_t ni)
{
  if (!m->fails) return;
  size_t bit = pi * (m->nlen + 1) + ni;
  m->fails[bit >> 3] |= (unsigned char)(1u << (bit & 7));
}

/*
** Matches the class starting at p[pi] == '[' against c. Returns the position after the closing
** ']' and sets *hit, or 0 when the class is malformed (no closing bracket).
*/
static size_t match_class(const matcher *m, size_t pi, unsigned char c, int *hit)
{
  size_t i = pi + 1;
  int negate = 0, found = 0;
  if (i < m->plen && (m->p[i] == '!' || m->p[i] == '^')) {
    negate = 1;
    i++;
  }
  size_t first = i;
  while (i < m->plen && (m->p[i] != ']' || i == first)) {
    unsigned char lo = (unsigned char)m->p[i];
    if (lo == '\\' && i + 1 < m->plen) lo = (unsigned char)m->p[++i];
    unsigned char hi = lo;
    if (i + 2 < m->plen && m->p[i + 1] == '-' && m->p[i + 2] != ']') {
      hi = (unsigned char)m->p[i + 2];
      i += 2;
      if (hi == '\\' && i + 1 < m->plen) hi = (unsigned char)m->p[++i];
    }
    if (c >= lo && c <= hi) found = 1;
    i++;
  }
  if (i >= m->plen) return 0;
  *hit = (found != negate) && (c != '/' || m->cross);
  return i + 1;
}

static int match_at(matcher *m, size_t pi, size_t ni);

static int match_star(matcher *m, size_t pi, size_t ni)
{
  size_t q = pi;
  while (q < m->plen && m->p[q] == '*') q++;
  int any = m->cross || q - pi >= 2;
  /* "**" + "/" as a whole component also matches no directory at all */
  if (q - pi >= 2 && (pi == 0 || m->p[pi - 1] == '/') && q < m->plen && m->p[q] == '/') {
    if (match_at(m, q + 1, ni)) return 1;
  }
  for (size_t k = ni; k <= m->nlen; k++) {
    if (match_at(m, q, k)) return 1;
    if (k < m->nlen && m->n[k] == '/' && !any) break;
  }
  return 0;
}

static int match_at(matcher *m, size_t pi, size_t ni)
{
  size_t pi0 = pi, ni0 = ni;
  if (known_fail(m, pi0, ni0)) return 0;
  int ok = 0;
  for (;;) {
    if (pi == m->plen) {
      ok = ni == m->nlen;
      break;
    }
    unsigned char c = (unsigned char)m->p[pi];
    if (c == '*') {
      ok = match_star(m, pi, ni);
      break;
    }
    if (ni == m->nlen) break;
    unsigned char nc = (unsigned char)m->n[ni];
    if (c == '?') {
      if (nc == '/' && !m->cross) break;
      pi++;
    } else if (c == '[') {
      int hit = 0;
      size_t next = match_class(m, pi, nc, &hit);
      if (next == 0) { /* malformed: a literal '[' */
        if (nc != '[') break;
        pi++;
      } else {
        if (!hit) break;
        pi = next;
      }
    } else {
      if (c == '\\' && pi + 1 < m->plen) c = (unsigned char)m->p[++pi];
      if (c != nc) break;
      pi++;
    }
    ni++;
  }
  if (!ok) mark_fail(m, pi0, ni0);
  return ok;
}

int gf_fs_match(const char *pattern, size_t plen, const char *name, size_t nlen, int cross_slash)
{
  matcher m = {pattern, name, plen, nlen, cross_slash, NULL};
  if (memchr(pattern, '*', plen)) {
    size_t bits = (plen + 1) * (nlen + 1);
    if (nlen < ((size_t)1 << 24) && plen < ((size_t)1 << 16) && bits / (plen + 1) == nlen + 1)
      m.fails = calloc(bits / 8 + 1, 1); /* without memory it still works, only slower */
  }
  int ok = match_at(&m, 0, 0);
  free(m.fails);
  return ok;
}

int gf_fs_has_magic(const char *pattern, size_t len)
{
  for (size_t i = 0; i < len; i++) {
    char c = pattern[i];
    if (c == '\\') {
      i++;
    } else if (c == '*' || c == '?' || c == '[') {
      return 1;
    }
  }
  return 0;
}

/* {====== glob ====== */

/* Copies s[0..len) without escaping backslashes into out (size PATH_MAX). */
static int unescape(const char *s, size_t len, char *out)
{
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '\\' && i + 1 < len) i++;
    if (o + 1 >= PATH_MAX) return ENAMETOOLONG;
    out[o++] = s[i];
  }
  out[o] = '\0';
  return 0;
}

/* Pushes base/rel (or rel without a base); with dirs_only only directories, as "path/". */
static int push_match(gf_fs_list *out, const char *base, const char *rel, int dirs_only)
{
  char buf[PATH_MAX];
  size_t bl = base ? strlen(base) : 0, rl = strlen(rel);
  size_t sep = (bl > 0 && base[bl - 1] != '/') ? 1 : 0;
  if (bl + sep + rl + 1 >= sizeof buf) return ENAMETOOLONG;
  memcpy(buf, base ? base : "", bl);
  if (sep) buf[bl] = '/';
  memcpy(buf + bl + sep, rel, rl + 1);
  size_t len = bl + sep + rl;
  if (dirs_only) {
    struct stat st; /* follows links, like a shell's "*" + "/" */
    if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) return 0;
    buf[len++] = '/';
  }
  return gf_fs_list_push(out, buf, len);
}

int gf_fs_glob(const char *pattern, int cross_slash, gf_fs_list *out)
{
  size_t plen = strlen(pattern);
  char base[PATH_MAX];
  struct stat st;
  int dirs_only = 0; /* a trailing '/' after a wildcard: directories only */
  while (plen > 1 && pattern[plen - 1] == '/' && gf_fs_has_magic(pattern, plen)) {
    plen--;
    dirs_only = 1;
  }
  if (!gf_fs_has_magic(pattern, plen)) {
    int err = unescape(pattern, plen, base);
    if (err) return err;
    if (lstat(base, &st) != 0) return (errno == ENOENT || errno == ENOTDIR) ? 0 : errno;
    return gf_fs_list_push(out, base, strlen(base));
  }
  /* split at the last '/' before the first wildcard: base / rest */
  size_t split = 0; /* length of the base part; rest starts after its separator */
  int has_base = 0;
  for (size_t i = 0; i < plen; i++) {
    if (pattern[i] == '\\') {
      i++;
      continue;
    }
    if (pattern[i] == '*' || pattern[i] == '?' || pattern[i] == '[') break;
    if (pattern[i] == '/') {
      split = i;
      has_base = 1;
    }
  }
  const char *rest = has_base ? pattern + split + 1 : pattern;
  size_t rlen = plen - (size_t)(rest - pattern);
  int err = unescape(pattern, has_base ? (split == 0 ? 1 : split) : 0, base);
  if (err) return err;
  int depth = -1;
  if (!cross_slash && !strstr(rest, "**")) {
    depth = 1;
    for (size_t i = 0; i < rlen; i++) depth += rest[i] == '/';
  }
  gf_fs_list all = {0};
  err = gf_fs_walk(has_base ? base : ".", 1, depth, &all);
  if (err == ENOENT || err == ENOTDIR) err = 0;
  for (size_t i = 0; !err && i < all.n; i++) {
    if (!gf_fs_match(rest, rlen, all.items[i], strlen(all.items[i]), cross_slash)) continue;
    err = push_match(out, has_base ? base : NULL, all.items[i], dirs_only);
  }
  gf_fs_list_free(&all);
  if (!err) gf_fs_list_sort(out);
  return err;
}

/* }====== */
