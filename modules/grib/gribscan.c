/*
** gribscan.c — GRIB message headers (see gribscan.h).
*/
#define _POSIX_C_SOURCE 200809L
#include "gribscan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

static uint64_t be(const unsigned char *p, int n)
{
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v = (v << 8) | p[i];
  return v;
}

/* Find the next "GRIB" at or after `from`; returns its offset or -1. */
static off_t find_grib(FILE *f, off_t from)
{
  unsigned char buf[65536];
  off_t base = from;
  for (;;) {
    if (fseeko(f, base, SEEK_SET) != 0) return -1;
    size_t n = fread(buf, 1, sizeof buf, f);
    if (n < 4) return -1;
    for (size_t i = 0; i + 4 <= n; i++)
      if (memcmp(buf + i, "GRIB", 4) == 0) return base + (off_t)i;
    base += (off_t)(n - 3);
  }
}

static int read_at(FILE *f, uint64_t off, unsigned char *buf, size_t n)
{
  return fseeko(f, (off_t)off, SEEK_SET) == 0 && fread(buf, 1, n, f) == n;
}

static void scan_grib2(FILE *f, gf_gribmsg *m)
{
  uint64_t pos = m->offset + 16, end = m->offset + m->length;
  unsigned char h[16];
  while (pos + 4 <= end) {
    size_t want = end - pos >= 5 ? 5 : 4;
    if (!read_at(f, pos, h, want)) {
      m->truncated = 1;
      return;
    }
    if (memcmp(h, "7777", 4) == 0 || want < 5) return;
    uint64_t len = be(h, 4);
    if (len < 5) return;
    if (h[4] == 7) m->fields++;
    if (h[4] == 3 && m->grid_template < 0 && read_at(f, pos, h, 14)) {
      m->reduced = h[10] != 0; /* octets for the optional list of points per row */
      m->grid_template = (int)be(h + 12, 2);
    }
    pos += len;
  }
}

static void scan_grib1(FILE *f, gf_gribmsg *m)
{
  unsigned char h[16];
  m->fields = 1;
  if (!read_at(f, m->offset + 8, h, 8)) return;
  uint64_t pds = be(h, 3);
  if (!(h[7] & 0x80)) return; /* no grid description section */
  if (!read_at(f, m->offset + 8 + pds, h, 8)) return;
  m->grid_template = h[5];
  m->reduced = be(h + 6, 2) == 0xFFFF; /* Ni missing: a list of points per row */
}

int gf_grib_scan(const char *path, gf_gribmsg **out)
{
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  fseeko(f, 0, SEEK_END);
  uint64_t size = (uint64_t)ftello(f);
  gf_gribmsg *v = NULL;
  int n = 0, cap = 0;
  off_t at = 0;
  unsigned char h[16];
  while ((at = find_grib(f, at)) >= 0) {
    if (!read_at(f, (uint64_t)at, h, 16)) break;
    gf_gribmsg m = {.offset = (uint64_t)at, .edition = h[7], .grid_template = -1};
    if (m.edition == 2)
      m.length = be(h + 8, 8);
    else if (m.edition == 1)
      m.length = be(h + 4, 3);
    if (m.length < 16 || (m.edition != 1 && m.edition != 2)) {
      at++;
      continue;
    }
    if (m.length > size - m.offset) m.truncated = 1; /* not offset + length: it may wrap */
    if (m.edition == 2)
      scan_grib2(f, &m);
    else
      scan_grib1(f, &m);
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      gf_gribmsg *nv = realloc(v, (size_t)cap * sizeof *v);
      if (!nv) break;
      v = nv;
    }
    v[n++] = m;
    if (m.truncated) break;
    at = (off_t)(m.offset + m.length);
  }
  fclose(f);
  *out = v;
  return n;
}
