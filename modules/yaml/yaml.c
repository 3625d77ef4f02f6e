/*
** yaml.c — YAML 1.2 core-schema scalar resolution and float formatting (see yaml.h).
*/
#include "gfnum.h"
#include "yaml.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_word(const char *s, size_t n, const char *a, const char *b, const char *c)
{
  return (strlen(a) == n && memcmp(s, a, n) == 0) || (strlen(b) == n && memcmp(s, b, n) == 0) ||
         (strlen(c) == n && memcmp(s, c, n) == 0);
}

static int all_in(const char *s, size_t n, const char *set)
{
  if (n == 0) return 0;
  for (size_t i = 0; i < n; i++)
    if (!memchr(set, s[i], strlen(set))) return 0;
  return 1;
}

/* Parse digits in base (already validated) into *v; 0 on overflow. */
static int parse_unsigned(const char *s, size_t n, int base, unsigned long long *v)
{
  unsigned long long u = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    unsigned d = (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    if (u > (~0ULL - d) / (unsigned)base) return 0;
    u = u * (unsigned)base + d;
  }
  *v = u;
  return 1;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static int is_float_literal(const char *s, size_t n)
{
  size_t i = 0, digits = 0;
  if (i < n && (s[i] == '-' || s[i] == '+')) i++;
  while (i < n && s[i] >= '0' && s[i] <= '9') i++, digits++;
  if (i < n && s[i] == '.') {
    i++;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++, digits++;
  }
  if (digits == 0) return 0;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '-' || s[i] == '+')) i++;
    size_t e = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++, e++;
    if (e == 0) return 0;
  }
  return i == n;
}

static double to_double(const char *s, size_t n)
{
  char buf[128];
  if (n >= sizeof buf) n = sizeof buf - 1;
  memcpy(buf, s, n);
  buf[n] = '\0';
  char dp = localeconv()->decimal_point[0];
  if (dp != '.') {
    char *dot = strchr(buf, '.');
    if (dot) *dot = dp;
  }
  return strtod(buf, NULL);
}

static int resolve_int(const char *s, size_t n, gf_yaml_scalar *out)
{
  int neg = 0;
  const char *d = s;
  size_t dn = n;
  if (n > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'x')) {
    const char *set = s[1] == 'o' ? "01234567" : "0123456789abcdefABCDEF";
    unsigned long long u;
    if (!all_in(s + 2, n - 2, set)) return 0;
    if (!parse_unsigned(s + 2, n - 2, s[1] == 'o' ? 8 : 16, &u) || u > (1ULL << 63) - 1) return 0;
    out->kind = GF_YAML_INT;
    out->integer = (long long)u;
    return 1;
  }
  if (dn > 0 && (d[0] == '-' || d[0] == '+')) neg = d[0] == '-', d++, dn--;
  if (!all_in(d, dn, "0123456789")) return 0;
  unsigned long long u;
  if (!parse_unsigned(d, dn, 10, &u) || u > (neg ? (1ULL << 63) : (1ULL << 63) - 1)) {
    out->kind = GF_YAML_FLOAT;
    out->number = to_double(s, n);
    return 1;
  }
  out->kind = GF_YAML_INT;
  out->integer = neg ? (long long)(0ULL - u) : (long long)u;
  return 1;
}

void gf_yaml_resolve(const char *s, size_t n, gf_yaml_scalar *out)
{
  memset(out, 0, sizeof *out);
  out->kind = GF_YAML_STR;
  if (n == 0 || (n == 1 && s[0] == '~') || is_word(s, n, "null", "Null", "NULL")) {
    out->kind = GF_YAML_NULL;
  } else if (is_word(s, n, "true", "True", "TRUE")) {
    out->kind = GF_YAML_BOOL;
    out->boolean = 1;
  } else if (is_word(s, n, "false", "False", "FALSE")) {
    out->kind = GF_YAML_BOOL;
  } else if (resolve_int(s, n, out)) {
    /* done */
  } else if (is_float_literal(s, n)) {
    out->kind = GF_YAML_FLOAT;
    out->number = to_double(s, n);
  } else {
    const char *t = s;
    size_t tn = n;
    int neg = 0;
    if (tn > 0 && (t[0] == '-' || t[0] == '+')) neg = t[0] == '-', t++, tn--;
    if (is_word(t, tn, ".inf", ".Inf", ".INF")) {
      out->kind = GF_YAML_FLOAT;
      out->number = neg ? -HUGE_VAL : HUGE_VAL;
    } else if (t == s && is_word(s, n, ".nan", ".NaN", ".NAN")) {
      out->kind = GF_YAML_FLOAT;
      out->number = NAN;
    }
  }
}

size_t gf_yaml_format_double(char out[32], double v)
{
  if (isnan(v)) return (size_t)snprintf(out, 32, ".nan");
  if (isinf(v)) return (size_t)snprintf(out, 32, v < 0 ? "-.inf" : ".inf");
  return gf_format_double(out, v);
}
