/*
** json.c — pure C helpers for gf.json (see json.h).
*/
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gfgrow.h"

void gf_jbuf_free(gf_jbuf *b)
{
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

int gf_jbuf_reserve(gf_jbuf *b, size_t n)
{
  if (n > SIZE_MAX - b->len) return -1;
  char *p = gf_grow(b->data, &b->cap, b->len + n, 1, 256);
  if (!p) return -1;
  b->data = p;
  return 0;
}

int gf_jbuf_add(gf_jbuf *b, const char *s, size_t n)
{
  if (n == 0) return 0;
  if (gf_jbuf_reserve(b, n) != 0) return -1;
  memcpy(b->data + b->len, s, n);
  b->len += n;
  return 0;
}

/* 0: copy as is; otherwise the character after the backslash ('u' for \u00XX). */
static const char escape_table[256] = {
    ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't', [0] = 'u',    [1] = 'u',
    [2] = 'u',    [3] = 'u',    [4] = 'u',    [5] = 'u',    [6] = 'u',    [7] = 'u',    [11] = 'u',
    [14] = 'u',   [15] = 'u',   [16] = 'u',   [17] = 'u',   [18] = 'u',   [19] = 'u',   [20] = 'u',
    [21] = 'u',   [22] = 'u',   [23] = 'u',   [24] = 'u',   [25] = 'u',   [26] = 'u',   [27] = 'u',
    [28] = 'u',   [29] = 'u',   [30] = 'u',   [31] = 'u',   ['"'] = '"',  ['\\'] = '\\'};

int gf_jbuf_add_string(gf_jbuf *b, const char *s, size_t n)
{
  static const char hex[] = "0123456789abcdef";
  /* Worst case every byte becomes \u00XX. */
  if (n > (SIZE_MAX - 2) / 6 || gf_jbuf_reserve(b, n * 6 + 2) != 0) return -1;
  char *o = b->data + b->len;
  *o++ = '"';
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char e = escape_table[c];
    if (!e) {
      *o++ = (char)c;
    } else if (e != 'u') {
      *o++ = '\\';
      *o++ = e;
    } else {
      memcpy(o, "\\u00", 4);
      o[4] = hex[c >> 4];
      o[5] = hex[c & 15];
      o += 6;
    }
  }
  *o++ = '"';
  b->len = (size_t)(o - b->data);
  return 0;
}

int gf_jbuf_add_integer(gf_jbuf *b, long long v)
{
  char tmp[24];
  char *end = tmp + sizeof tmp, *p = end;
  unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
  do {
    *--p = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0) *--p = '-';
  return gf_jbuf_add(b, p, (size_t)(end - p));
}

size_t gf_json_utf8(char out[4], uint32_t cp)
{
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

long gf_json_hex4(const char *s)
{
  long v = 0;
  for (int i = 0; i < 4; i++) {
    char c = s[i];
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return -1;
    }
    v = v * 16 + d;
  }
  return v;
}
