/*
** url.c — percent-encoding (RFC 3986), redaction of secrets in URLs, HTTP dates.
*/
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http.h"

static int unreserved(unsigned char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

char *gf_http_url_encode(const char *s, size_t len, size_t *outlen)
{
  static const char hex[] = "0123456789ABCDEF";
  size_t n = 0;
  for (size_t i = 0; i < len; i++) n += unreserved((unsigned char)s[i]) ? 1 : 3;
  char *out = malloc(n + 1), *p = out;
  if (!out) return NULL;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (unreserved(c)) {
      *p++ = (char)c;
    } else {
      *p++ = '%';
      *p++ = hex[c >> 4];
      *p++ = hex[c & 15];
    }
  }
  *p = '\0';
  *outlen = n;
  return out;
}

static int hexval(char c)
{
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char *gf_http_url_decode(const char *s, size_t len, int form, size_t *outlen)
{
  char *out = malloc(len + 1), *p = out;
  if (!out) return NULL;
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '%') {
      if (i + 2 >= len) {
        free(out);
        return NULL;
      }
      int hi = hexval(s[i + 1]);
      int lo = hexval(s[i + 2]);
      if (hi < 0 || lo < 0) {
        free(out);
        return NULL;
      }
      *p++ = (char)(hi * 16 + lo);
      i += 2;
    } else if (form && s[i] == '+') {
      *p++ = ' ';
    } else {
      *p++ = s[i];
    }
  }
  *p = '\0';
  *outlen = (size_t)(p - out);
  return out;
}

/* Query parameters whose values are secrets (compared case-insensitively). */
static const char *const SECRET_PARAMS[] = {"x-amz-signature",
                                            "signature",
                                            "x-amz-security-token",
                                            "x-amz-credential",
                                            "awsaccesskeyid",
                                            "token",
                                            "access_token",
                                            "password",
                                            "api_key",
                                            "apikey",
                                            "secret",
                                            "sig",
                                            NULL};

static int secret_param(const char *name, size_t n)
{
  for (int i = 0; SECRET_PARAMS[i]; i++)
    if (strlen(SECRET_PARAMS[i]) == n && strncasecmp(SECRET_PARAMS[i], name, n) == 0) return 1;
  return 0;
}

/* Append n bytes of s to out (size outlen, *pos used so far), always NUL-terminated. */
static void put(char *out, size_t outlen, size_t *pos, const char *s, size_t n)
{
  if (outlen == 0) return;
  size_t room = outlen - 1 - *pos;
  if (n > room) n = room;
  memcpy(out + *pos, s, n);
  *pos += n;
  out[*pos] = '\0';
}

/* scheme://user:password@host -> scheme://user:***@host */
static const char *copy_authority(const char *url, char *out, size_t outlen, size_t *pos)
{
  const char *scheme = strstr(url, "://");
  if (!scheme) return url;
  const char *auth = scheme + 3;
  size_t alen = strcspn(auth, "/?#");
  const char *at = NULL;
  for (const char *p = auth; p < auth + alen; p++)
    if (*p == '@') at = p;
  const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
  if (!colon) return url;
  put(out, outlen, pos, url, (size_t)(colon + 1 - url));
  put(out, outlen, pos, "***", 3);
  return at;
}

void gf_http_redact_url(const char *url, char *out, size_t outlen)
{
  size_t pos = 0;
  if (outlen) out[0] = '\0';
  const char *rest = copy_authority(url, out, outlen, &pos);
  const char *q = strchr(rest, '?');
  if (!q) {
    put(out, outlen, &pos, rest, strlen(rest));
    return;
  }
  put(out, outlen, &pos, rest, (size_t)(q + 1 - rest));
  const char *p = q + 1;
  const char *end = p + strcspn(p, "#");
  while (p < end) {
    const char *amp = memchr(p, '&', (size_t)(end - p));
    const char *pe = amp ? amp : end;
    const char *eq = memchr(p, '=', (size_t)(pe - p));
    if (eq && secret_param(p, (size_t)(eq - p))) {
      put(out, outlen, &pos, p, (size_t)(eq + 1 - p));
      put(out, outlen, &pos, "***", 3);
    } else {
      put(out, outlen, &pos, p, (size_t)(pe - p));
    }
    if (amp) put(out, outlen, &pos, "&", 1);
    p = amp ? amp + 1 : end;
  }
  put(out, outlen, &pos, end, strlen(end));
}

long long gf_http_parse_date(const char *s)
{
  time_t t = curl_getdate(s, NULL);
  return t < 0 ? -1 : (long long)t;
}
