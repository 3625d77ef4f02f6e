/*
** sigv4.c — AWS Signature Version 4: canonical request, string to sign, signing key, signature,
** for the Authorization header or a presigned URL. SHA-256 and HMAC are libcrypto's (EVP).
**
** gf_sigv4_sign follows the four tasks of the AWS documentation in order. Every string is built
** in a buffer of the context, reused from call to call; the builders only set ctx->oom when an
** allocation fails, and gf_sigv4_sign checks it once. The signing key (four HMACs) is cached
** per (secret, date, region, service) as an HMAC context that already holds the key.
*/
#define _POSIX_C_SOURCE 200809L /* gmtime_r */
#include "sigv4.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#define KEY_SLOTS 4
#define KEY_ID_MAX 256
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct {
  char *p;
  size_t len, cap;
} buf;

/* A header (name: value) or a query parameter (key=value), written into its list's text. */
typedef struct {
  size_t name_at, value_at, name_len, value_len, order;
  const char *name, *value; /* set by list_sort, when the text no longer moves */
} pair;

typedef struct {
  pair *v;
  size_t n, cap;
  buf text;
} list;

typedef struct {
  EVP_MAC_CTX *mac; /* HMAC holding the signing key; NULL: unused slot */
  uint64_t last_use;
  size_t region_len, service_len, id_len;
  char id[KEY_ID_MAX]; /* date, region, service, secret */
} key_slot;

typedef struct {
  const char *scheme, *authority, *host, *colon, *path, *query;
  size_t scheme_len, authority_len, host_len, path_len, query_len;
} url_parts;

struct gf_sigv4_ctx {
  int oom;
  const char *err;
  EVP_MD *sha256;
  EVP_MD_CTX *md;
  EVP_MAC *hmac;
  EVP_MAC_CTX *mac; /* HMAC under any key */
  key_slot keys[KEY_SLOTS];
  uint64_t clock, hits, misses;
  gf_sigv4_header *slots;
  size_t nslots;
  list headers, query;
  int64_t date_time; /* date_text is the X-Amz-Date of this time */
  char date_text[17];
  char ph[97];          /* the payload hash */
  size_t cq_at, cq_len; /* the canonical query string in cr */
  buf shead, cr, sts, out, tmp, scope;
};

/* {====== buffers (wiped when freed or moved: they can hold the session token) ======} */

static int grow_buf(gf_sigv4_ctx *c, buf *b, size_t extra)
{
  if (c->oom) return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap - b->len <= extra) cap *= 2;
  char *p = malloc(cap);
  if (!p) return !(c->oom = 1);
  if (b->p) memcpy(p, b->p, b->len);
  if (b->p) OPENSSL_cleanse(b->p, b->cap);
  free(b->p);
  b->p = p;
  b->cap = cap;
  return 1;
}

/* Room for extra bytes and a NUL after b->len; 0 (and nothing changed) when out of memory. */
static inline int reserve(gf_sigv4_ctx *c, buf *b, size_t extra)
{
  return (b->cap - b->len > extra && !c->oom) || grow_buf(c, b, extra);
}

static void add(gf_sigv4_ctx *c, buf *b, const char *s, size_t n)
{
  if (!reserve(c, b, n)) return;
  if (n) memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static inline void addc(gf_sigv4_ctx *c, buf *b, char ch)
{
  if (!reserve(c, b, 1)) return;
  b->p[b->len++] = ch;
  b->p[b->len] = '\0';
}

/* Append pieces given as (const char *, size_t) pairs, up to a NULL. L("x") is a literal's. */
#define L(lit) lit, sizeof lit - 1
static void cat(gf_sigv4_ctx *c, buf *b, ...)
{
  va_list ap;
  va_start(ap, b);
  for (const char *s; (s = va_arg(ap, const char *));) add(c, b, s, va_arg(ap, size_t));
  va_end(ap);
}

static void buf_free(buf *b)
{
  if (b->p) OPENSSL_cleanse(b->p, b->cap);
  free(b->p);
}

static void *grow(gf_sigv4_ctx *c, void *p, size_t *cap, size_t need, size_t size)
{
  if (need <= *cap) return p;
  size_t n = *cap ? *cap : 16;
  while (n < need) n *= 2;
  void *q = realloc(p, n * size);
  if (!q) c->oom = 1;
  if (q) *cap = n;
  return q;
}

/* {====== text ======} */

static int is_unreserved(unsigned char ch)
{
  return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
         ch == '-' || ch == '_' || ch == '.' || ch == '~';
}

static int is_space(char ch)
{
  return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\v' || ch == '\f';
}

static char lower(char ch)
{
  return ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
}

static int hexval(char ch)
{
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  return ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

static void hex32(const unsigned char d[32], char out[65])
{
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) {
    out[2 * i] = digits[d[i] >> 4];
    out[2 * i + 1] = digits[d[i] & 15];
  }
  out[64] = '\0';
}

enum { E_SLASH = 1, E_KEEP = 2, E_DECODE = 4 };

/*
** AWS URI encoding of s: every byte but A-Z a-z 0-9 - _ . ~ as %XX (upper case). E_SLASH keeps
** '/'; a well-formed %XX escape is kept (E_KEEP, hex upper-cased) or first decoded (E_DECODE).
*/
static void encode(gf_sigv4_ctx *c, buf *b, const char *s, size_t n, int how)
{
  static const char HEX[] = "0123456789ABCDEF";
  if (!reserve(c, b, 3 * n)) return;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    int esc = ch == '%' && (how & (E_KEEP | E_DECODE)) && i + 2 < n && hexval(s[i + 1]) >= 0 &&
              hexval(s[i + 2]) >= 0;
    if (esc) {
      ch = (unsigned char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
      i += 2;
    }
    if (!(esc && (how & E_KEEP)) && (is_unreserved(ch) || ((how & E_SLASH) && ch == '/'))) {
      b->p[b->len++] = (char)ch;
    } else {
      b->p[b->len++] = '%';
      b->p[b->len++] = HEX[ch >> 4];
      b->p[b->len++] = HEX[ch & 15];
    }
  }
  b->p[b->len] = '\0';
}

/* {====== pairs: headers and query parameters ======} */

enum { P_HEADER, P_QUERY_RAW, P_QUERY };

/*
** Append a pair. P_HEADER: the name lower-cased, the value trimmed with its inner whitespace
** runs made one space. P_QUERY_RAW: key and value percent-decoded then encoded; P_QUERY:
** encoded as they are.
*/
static void pair_add(gf_sigv4_ctx *c, list *l, const char *k, size_t kn, const char *v, size_t vn,
                     int how)
{
  pair *p = grow(c, l->v, &l->cap, l->n + 1, sizeof *p);
  if (!p) return;
  l->v = p;
  if (!reserve(c, &l->text, 3 * (kn + vn))) return;
  p += l->n;
  p->order = how == P_HEADER ? l->n : 0;
  p->name_at = l->text.len;
  if (how == P_HEADER) {
    for (size_t i = 0; i < kn; i++) l->text.p[l->text.len++] = lower(k[i]);
  } else {
    encode(c, &l->text, k, kn, how == P_QUERY_RAW ? E_DECODE : 0);
  }
  p->value_at = l->text.len;
  p->name_len = p->value_at - p->name_at;
  size_t plain = 0; /* a header value without spaces or controls is copied as it is */
  while (how == P_HEADER && plain < vn && (unsigned char)v[plain] > ' ') plain++;
  if (how == P_HEADER && plain == vn) {
    if (vn) memcpy(l->text.p + l->text.len, v, vn);
    l->text.len += vn;
  } else if (how == P_HEADER) {
    int pending = 0;
    for (size_t i = 0; i < vn; i++) {
      if (is_space(v[i])) {
        pending = l->text.len > p->value_at;
      } else {
        if (pending) l->text.p[l->text.len++] = ' ';
        pending = 0;
        l->text.p[l->text.len++] = v[i];
      }
    }
  } else {
    encode(c, &l->text, v, vn, how == P_QUERY_RAW ? E_DECODE : 0);
  }
  p->value_len = l->text.len - p->value_at;
  l->n++;
}

/* memcmp order, the shorter first on a tie. */
static int span_cmp(const char *a, size_t an, const char *b, size_t bn)
{
  int r = an && bn ? memcmp(a, b, an < bn ? an : bn) : 0;
  return r ? r : (an > bn) - (an < bn);
}

/* By name, then by order (headers: a repeated name keeps its values in order), then value. */
static int pair_cmp(const void *x, const void *y)
{
  const pair *a = x, *b = y;
  int r = span_cmp(a->name, a->name_len, b->name, b->name_len);
  if (r == 0) r = (a->order > b->order) - (a->order < b->order);
  return r ? r : span_cmp(a->value, a->value_len, b->value, b->value_len);
}

static void list_sort(list *l)
{
  for (size_t i = 0; i < l->n; i++) {
    l->v[i].name = l->text.p + l->v[i].name_at;
    l->v[i].value = l->text.p + l->v[i].value_at;
  }
  if (l->n > 1) qsort(l->v, l->n, sizeof *l->v, pair_cmp);
}

static int same_name(const pair *a, const pair *b)
{
  return a->name_len == b->name_len && memcmp(a->name, b->name, a->name_len) == 0;
}

/* {====== SHA-256 and HMAC (libcrypto) ======} */

int gf_sigv4_sha256_hex(gf_sigv4_ctx *c, const void *data, size_t len, char out[65])
{
  unsigned char d[32];
  unsigned n = 0;
  if (EVP_DigestInit_ex2(c->md, c->sha256, NULL) != 1 || EVP_DigestUpdate(c->md, data, len) != 1 ||
      EVP_DigestFinal_ex(c->md, d, &n) != 1 || n != 32)
    return -1;
  hex32(d, out);
  return 0;
}

/* HMAC of msg on m under key (NULL: the key m already holds). */
static int mac(EVP_MAC_CTX *m, const void *key, size_t key_len, const void *msg, size_t msg_len,
               unsigned char out[32])
{
  size_t n = 0;
  int ok = EVP_MAC_init(m, key, key_len, NULL) == 1 && EVP_MAC_update(m, msg, msg_len) == 1 &&
           EVP_MAC_final(m, out, &n, 32) == 1 && n == 32;
  return ok ? 0 : -1;
}

int gf_sigv4_hmac(gf_sigv4_ctx *c, const void *key, size_t key_len, const void *msg, size_t msg_len,
                  unsigned char out[32])
{
  static const unsigned char none = 0; /* libcrypto refuses a NULL key, even of length 0 */
  return mac(c->mac, key_len ? key : &none, key_len, msg, msg_len, out);
}

/* {====== context ======} */

static EVP_MAC_CTX *new_mac(gf_sigv4_ctx *c)
{
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
                         OSSL_PARAM_construct_end()};
  EVP_MAC_CTX *m = EVP_MAC_CTX_new(c->hmac);
  if (m && EVP_MAC_CTX_set_params(m, params) == 1) return m;
  EVP_MAC_CTX_free(m);
  return NULL;
}

gf_sigv4_ctx *gf_sigv4_ctx_new(void)
{
  gf_sigv4_ctx *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->date_time = INT64_MIN;
  c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
  c->md = EVP_MD_CTX_new();
  c->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  if (c->hmac) c->mac = new_mac(c);
  if (c->sha256 && c->md && c->mac) return c;
  gf_sigv4_ctx_free(c);
  return NULL;
}

void gf_sigv4_ctx_free(gf_sigv4_ctx *c)
{
  if (!c) return;
  for (int i = 0; i < KEY_SLOTS; i++) EVP_MAC_CTX_free(c->keys[i].mac);
  OPENSSL_cleanse(c->keys, sizeof c->keys);
  EVP_MAC_CTX_free(c->mac);
  EVP_MAC_free(c->hmac);
  EVP_MD_CTX_free(c->md);
  EVP_MD_free(c->sha256);
  free(c->slots);
  free(c->headers.v);
  free(c->query.v);
  buf *bufs[] = {&c->headers.text, &c->query.text, &c->shead, &c->cr,
                 &c->sts,          &c->out,        &c->tmp,   &c->scope};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) buf_free(bufs[i]);
  free(c);
}

gf_sigv4_header *gf_sigv4_ctx_headers(gf_sigv4_ctx *c, size_t n)
{
  c->oom = 0;
  gf_sigv4_header *p = grow(c, c->slots, &c->nslots, n ? n : 1, sizeof *p);
  if (p) c->slots = p;
  return p;
}

const char *gf_sigv4_error(const gf_sigv4_ctx *c)
{
  return c->err ? c->err : "no error";
}

void gf_sigv4_cache_stats(const gf_sigv4_ctx *c, uint64_t *hits, uint64_t *misses)
{
  *hits = c->hits;
  *misses = c->misses;
}

const char *gf_sigv4_uri_encode(gf_sigv4_ctx *c, const char *s, size_t len, int keep_slash,
                                size_t *out_len)
{
  c->oom = 0;
  c->tmp.len = 0;
  encode(c, &c->tmp, s, len, keep_slash ? E_SLASH : 0);
  add(c, &c->tmp, "", 0);
  *out_len = c->tmp.len;
  return c->oom ? NULL : c->tmp.p;
}

/* {====== signing key ======} */

/* The signing key (HMACs over date, region, service and "aws4_request") set on m. */
static int derive_key(gf_sigv4_ctx *c, const gf_sigv4_credentials *cr, const char *date,
                      const gf_sigv4_options *o, EVP_MAC_CTX *m)
{
  unsigned char k[32];
  c->tmp.len = 0;
  add(c, &c->tmp, "AWS4", 4);
  add(c, &c->tmp, cr->secret_key, cr->secret_key_len);
  int rc = c->oom || mac(c->mac, c->tmp.p, c->tmp.len, date, 8, k) ||
           mac(c->mac, k, 32, o->region, o->region_len, k) ||
           mac(c->mac, k, 32, o->service, o->service_len, k) ||
           mac(c->mac, k, 32, "aws4_request", 12, k) || EVP_MAC_init(m, k, 32, NULL) != 1;
  if (c->tmp.p) OPENSSL_cleanse(c->tmp.p, c->tmp.len);
  OPENSSL_cleanse(k, sizeof k);
  return rc ? -1 : 0;
}

/*
** An HMAC context holding the signing key: from the cache, or derived into the least recently
** used slot (into c->mac when the inputs are too long to cache). NULL on failure.
*/
static EVP_MAC_CTX *signing_key(gf_sigv4_ctx *c, const gf_sigv4_credentials *cr, const char *date,
                                const gf_sigv4_options *o)
{
  char id[KEY_ID_MAX];
  size_t n = 8 + o->region_len + o->service_len + cr->secret_key_len;
  key_slot *victim = &c->keys[0];
  c->clock++;
  if (n > KEY_ID_MAX) {
    c->misses++;
    return derive_key(c, cr, date, o, c->mac) == 0 ? c->mac : NULL;
  }
  memcpy(id, date, 8);
  memcpy(id + 8, o->region, o->region_len);
  memcpy(id + 8 + o->region_len, o->service, o->service_len);
  memcpy(id + n - cr->secret_key_len, cr->secret_key, cr->secret_key_len);
  for (int i = 0; i < KEY_SLOTS; i++) {
    key_slot *s = &c->keys[i];
    if (s->mac && s->id_len == n && s->region_len == o->region_len &&
        s->service_len == o->service_len && CRYPTO_memcmp(s->id, id, n) == 0) {
      s->last_use = c->clock;
      c->hits++;
      OPENSSL_cleanse(id, n);
      return s->mac;
    }
    if (s->last_use < victim->last_use) victim = s;
  }
  c->misses++;
  EVP_MAC_CTX *m = victim->mac ? victim->mac : new_mac(c);
  OPENSSL_cleanse(victim, sizeof *victim);
  if (m && derive_key(c, cr, date, o, m) == 0) {
    *victim = (key_slot){m, c->clock, o->region_len, o->service_len, n, {0}};
    memcpy(victim->id, id, n);
  } else {
    EVP_MAC_CTX_free(m);
    m = NULL;
  }
  OPENSSL_cleanse(id, n);
  return m;
}

/* {====== URL and path ======} */

static int parse_url(const char *s, size_t n, url_parts *u)
{
  const char *end = s + n, *p = s;
  while (p < end && !strchr(":/?#", *p)) p++;
  if (p == s || end - p < 3 || memcmp(p, "://", 3) != 0) return 0;
  u->scheme = s;
  u->scheme_len = (size_t)(p - s);
  u->authority = u->host = p + 3;
  u->colon = NULL;
  for (p = u->authority; p < end && *p != '/' && *p != '?' && *p != '#'; p++) {
    if (*p == '@') u->host = p + 1;
    if (*p == ':' || *p == '@' || *p == ']') u->colon = *p == ':' ? p : NULL; /* ']': IPv6 */
  }
  u->authority_len = (size_t)(p - u->authority);
  u->host_len = (size_t)(p - u->host);
  u->path = p;
  while (p < end && *p != '?' && *p != '#') p++;
  u->path_len = (size_t)(p - u->path);
  u->query = p; /* empty without a '?' */
  u->query_len = 0;
  if (p < end && *p == '?') {
    u->query = ++p;
    while (p < end && *p != '#') p++;
    u->query_len = (size_t)(p - u->query);
  }
  return u->host_len > 0;
}

/* The length of the Host header a client sends for this URL (default port dropped). */
static size_t host_len(const url_parts *u)
{
  if (!u->colon) return u->host_len;
  const char *port = u->colon + 1;
  size_t plen = u->host_len - (size_t)(port - u->host);
  int http = u->scheme_len == 4 && memcmp(u->scheme, "http", 4) == 0;
  int https = u->scheme_len == 5 && memcmp(u->scheme, "https", 5) == 0;
  if (plen == 0 || (http && plen == 2 && memcmp(port, "80", 2) == 0) ||
      (https && plen == 3 && memcmp(port, "443", 3) == 0))
    return (size_t)(u->colon - u->host);
  return u->host_len;
}

/* Remove dot segments and empty segments, keeping a trailing slash (botocore's rules). */
static void normalize_path(gf_sigv4_ctx *c, buf *b, const char *p, size_t n)
{
  for (size_t i = 0, j; i < n; i = j + 1) {
    for (j = i; j < n && p[j] != '/';) j++;
    if (j - i == 2 && p[i] == '.' && p[i + 1] == '.') {
      while (b->len > 0 && b->p[b->len - 1] != '/') b->len--;
      if (b->len > 0) b->len--;
    } else if (j > i && !(j - i == 1 && p[i] == '.')) {
      addc(c, b, '/');
      add(c, b, p + i, j - i);
    }
  }
  if (b->len == 0 || p[n - 1] == '/') addc(c, b, '/');
}

static void canonical_path(gf_sigv4_ctx *c, buf *b, const url_parts *u, const gf_sigv4_options *o)
{
  if (u->path_len == 0) {
    addc(c, b, '/');
  } else if (o->s3 || !o->normalize) {
    encode(c, b, u->path, u->path_len, E_SLASH | (o->s3 ? E_KEEP : 0));
  } else {
    c->tmp.len = 0;
    normalize_path(c, &c->tmp, u->path, u->path_len);
    if (!c->oom) encode(c, b, c->tmp.p, c->tmp.len, E_SLASH);
  }
}

/* {====== the four tasks ======} */

static int is_auth_param(const char *k, size_t n)
{
  static const char *const names[] = {
      "X-Amz-Algorithm",     "X-Amz-Credential",     "X-Amz-Date",     "X-Amz-Expires",
      "X-Amz-SignedHeaders", "X-Amz-Security-Token", "X-Amz-Signature"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strlen(names[i]) == n && memcmp(names[i], k, n) == 0) return 1;
  return 0;
}

/* The query parameters: the URL's (with presign, not the signature's own) and presign's. */
static void collect_query(gf_sigv4_ctx *c, const url_parts *u, const gf_sigv4_credentials *cr,
                          const gf_sigv4_options *o, const char *date)
{
  const char *p = u->query, *end = u->query + u->query_len;
  for (const char *amp; p < end; p = amp + 1) {
    if (!(amp = memchr(p, '&', (size_t)(end - p)))) amp = end;
    const char *eq = memchr(p, '=', (size_t)(amp - p));
    const char *kend = eq ? eq : amp, *v = eq ? eq + 1 : amp;
    if (amp > p && !(o->presign && is_auth_param(p, (size_t)(kend - p))))
      pair_add(c, &c->query, p, (size_t)(kend - p), v, (size_t)(amp - v), P_QUERY_RAW);
  }
  if (!o->presign) return;
  char expires[24];
  int elen = snprintf(expires, sizeof expires, "%lld", (long long)o->presign);
  c->tmp.len = 0;
  cat(c, &c->tmp, cr->access_key, cr->access_key_len, L("/"), c->scope.p, c->scope.len, NULL);
  if (c->oom) return;
  pair_add(c, &c->query, "X-Amz-Algorithm", 15, "AWS4-HMAC-SHA256", 16, P_QUERY);
  pair_add(c, &c->query, "X-Amz-Credential", 16, c->tmp.p, c->tmp.len, P_QUERY);
  pair_add(c, &c->query, "X-Amz-Date", 10, date, 16, P_QUERY);
  pair_add(c, &c->query, "X-Amz-Expires", 13, expires, (size_t)elen, P_QUERY);
  pair_add(c, &c->query, "X-Amz-SignedHeaders", 19, c->shead.p, c->shead.len, P_QUERY);
  if (cr->session_token && !o->omit_session_token)
    pair_add(c, &c->query, "X-Amz-Security-Token", 20, cr->session_token, cr->session_token_len,
             P_QUERY);
}

/* The caller's header names the signer sets or leaves out itself (lower case). */
static int header_is(const gf_sigv4_header *h, const char *name)
{
  size_t n = strlen(name);
  if (h->name_len != n) return 0;
  for (size_t i = 0; i < n; i++)
    if (lower(h->name[i]) != name[i]) return 0;
  return 1;
}

/* The headers to sign, sorted, and the signed headers list (shead). */
static void collect_headers(gf_sigv4_ctx *c, const gf_sigv4_request *r, const url_parts *u,
                            const gf_sigv4_credentials *cr, const gf_sigv4_options *o,
                            const char *date, size_t ph_len, int content_header)
{
  static const char *const skip[] = {"expect", "x-amz-date", "user-agent", "authorization",
                                     "x-amzn-trace-id"};
  int has_host = 0, token = cr->session_token && !o->omit_session_token;
  list *l = &c->headers;
  for (size_t i = 0; i < r->nheaders; i++) {
    const gf_sigv4_header *h = &r->headers[i];
    int keep = !(token && !o->presign && header_is(h, "x-amz-security-token")) &&
               !(content_header && header_is(h, "x-amz-content-sha256"));
    for (size_t j = 0; j < sizeof skip / sizeof skip[0]; j++) keep = keep && !header_is(h, skip[j]);
    has_host |= header_is(h, "host");
    if (keep) pair_add(c, l, h->name, h->name_len, h->value, h->value_len, P_HEADER);
  }
  if (!has_host) { /* from the URL, in lower case */
    c->tmp.len = 0;
    add(c, &c->tmp, u->host, host_len(u));
    for (size_t i = 0; i < c->tmp.len; i++) c->tmp.p[i] = lower(c->tmp.p[i]);
    pair_add(c, l, "host", 4, c->tmp.p, c->tmp.len, P_HEADER);
  }
  if (!o->presign) {
    pair_add(c, l, "x-amz-date", 10, date, 16, P_HEADER);
    if (token)
      pair_add(c, l, "x-amz-security-token", 20, cr->session_token, cr->session_token_len,
               P_HEADER);
    if (content_header) pair_add(c, l, "x-amz-content-sha256", 20, c->ph, ph_len, P_HEADER);
  }
  if (c->oom) return;
  list_sort(l);
  for (size_t i = 0; i < l->n; i++) {
    if (i > 0 && same_name(&l->v[i - 1], &l->v[i])) continue;
    if (i) addc(c, &c->shead, ';');
    add(c, &c->shead, l->v[i].name, l->v[i].name_len);
  }
  add(c, &c->shead, "", 0);
}

/* Task 1: the canonical request. */
static void canonical_request(gf_sigv4_ctx *c, const gf_sigv4_request *r, const url_parts *u,
                              const gf_sigv4_options *o, size_t ph_len)
{
  buf *b = &c->cr;
  for (size_t i = 0; i < r->method_len; i++)
    addc(c, b,
         r->method[i] >= 'a' && r->method[i] <= 'z' ? (char)(r->method[i] - 32) : r->method[i]);
  addc(c, b, '\n');
  canonical_path(c, b, u, o);
  addc(c, b, '\n');
  list_sort(&c->query);
  c->cq_at = b->len;
  for (size_t i = 0; i < c->query.n; i++) {
    const pair *q = &c->query.v[i];
    if (i) addc(c, b, '&');
    add(c, b, q->name, q->name_len);
    addc(c, b, '=');
    add(c, b, q->value, q->value_len);
  }
  c->cq_len = b->len - c->cq_at;
  addc(c, b, '\n');
  const pair *h = c->headers.v;
  for (size_t i = 0; i < c->headers.n; i++) {
    if (i > 0 && same_name(&h[i - 1], &h[i])) {
      b->len--; /* a repeated name: its values joined by ',' */
      addc(c, b, ',');
    } else {
      add(c, b, h[i].name, h[i].name_len);
      addc(c, b, ':');
    }
    add(c, b, h[i].value, h[i].value_len);
    addc(c, b, '\n');
  }
  cat(c, b, L("\n"), c->shead.p, c->shead.len, L("\n"), c->ph, ph_len, NULL);
}

static int fail(gf_sigv4_ctx *c, const char *why)
{
  c->err = why;
  return GF_SIGV4_EINVAL;
}

/* The payload hash: explicit, else the caller's x-amz-content-sha256, else computed. */
static int payload_hash(gf_sigv4_ctx *c, const gf_sigv4_request *r, const gf_sigv4_options *o,
                        size_t *out_len, int *from_header)
{
  const char *p = o->payload_hash;
  size_t n = o->payload_hash_len;
  for (size_t i = 0; !p && i < r->nheaders; i++) {
    if (!header_is(&r->headers[i], "x-amz-content-sha256")) continue;
    for (p = r->headers[i].value, n = r->headers[i].value_len; n && is_space(*p); n--) p++;
    while (n && is_space(p[n - 1])) n--;
    *from_header = 1;
  }
  if (!p && o->s3 && o->presign) p = "UNSIGNED-PAYLOAD", n = 16;
  if (p && (n == 0 || n > 96)) return fail(c, "payload hash must be 1 to 96 characters");
  if (p) {
    memcpy(c->ph, p, n);
    c->ph[n] = '\0';
    *out_len = strlen(c->ph); /* the value ends at a NUL */
    return 0;
  }
  *out_len = 64;
  if (r->body && r->body_len > 0) {
    if (gf_sigv4_sha256_hex(c, r->body, r->body_len, c->ph) != 0)
      return fail(c, "libcrypto's SHA-256 failed");
  } else {
    memcpy(c->ph, EMPTY_SHA256, 65);
  }
  return 0;
}

static void build_output(gf_sigv4_ctx *c, const url_parts *u, const gf_sigv4_credentials *cr,
                         const gf_sigv4_options *o, const char *sig)
{
  buf *b = &c->out;
  if (!o->presign) {
    cat(c, b, L("AWS4-HMAC-SHA256 Credential="), cr->access_key, cr->access_key_len, L("/"),
        c->scope.p, c->scope.len, L(", SignedHeaders="), c->shead.p, c->shead.len,
        L(", Signature="), sig, (size_t)64, NULL);
    return;
  }
  cat(c, b, u->scheme, u->scheme_len, L("://"), u->authority, u->authority_len, u->path,
      u->path_len, u->path_len ? "?" : "/?", (size_t)(u->path_len ? 1 : 2), c->cr.p + c->cq_at,
      c->cq_len, NULL);
  if (cr->session_token && o->omit_session_token) {
    cat(c, b, L("&X-Amz-Security-Token="), NULL);
    encode(c, b, cr->session_token, cr->session_token_len, 0);
  }
  cat(c, b, L("&X-Amz-Signature="), sig, (size_t)64, NULL);
}

int gf_sigv4_sign(gf_sigv4_ctx *c, const gf_sigv4_request *r, const gf_sigv4_credentials *cr,
                  const gf_sigv4_options *o, gf_sigv4_result *out)
{
  url_parts u;
  struct tm tm;
  time_t t = (time_t)o->time;
  char *date = c->date_text, hash[65];
  unsigned char d[32];
  int from_header = 0;
  size_t ph_len = 0;
  memset(out, 0, sizeof *out);
  c->oom = 0;
  c->err = NULL;
  c->headers.n = c->query.n = 0;
  buf *bufs[] = {&c->headers.text, &c->query.text, &c->shead, &c->cr,
                 &c->sts,          &c->out,        &c->tmp,   &c->scope};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) bufs[i]->len = 0;
  if (!parse_url(r->url, r->url_len, &u))
    return fail(c, "url must be absolute (scheme://host/path)");
  if (o->presign < 0) return fail(c, "presign expiry must be positive");
  if (o->time != c->date_time) {
    c->date_time = INT64_MIN;
    if (!gmtime_r(&t, &tm) || strftime(date, 17, "%Y%m%dT%H%M%SZ", &tm) != 16)
      return fail(c, "time must be in the years 1000 to 9999");
    c->date_time = o->time;
  }
  if (payload_hash(c, r, o, &ph_len, &from_header) != 0) return GF_SIGV4_EINVAL;
  cat(c, &c->scope, date, (size_t)8, L("/"), o->region, o->region_len, L("/"), o->service,
      o->service_len, L("/aws4_request"), NULL);
  int content_header = !o->presign && (o->s3 || o->sign_body || from_header);
  collect_headers(c, r, &u, cr, o, date, ph_len, content_header);
  collect_query(c, &u, cr, o, date);
  canonical_request(c, r, &u, o, ph_len);
  if (c->oom) return GF_SIGV4_ENOMEM;
  /* Task 2: the string to sign. */
  if (gf_sigv4_sha256_hex(c, c->cr.p, c->cr.len, hash) != 0)
    return fail(c, "libcrypto's SHA-256 failed");
  cat(c, &c->sts, L("AWS4-HMAC-SHA256\n"), date, (size_t)16, L("\n"), c->scope.p, c->scope.len,
      L("\n"), hash, (size_t)64, NULL);
  if (c->oom) return GF_SIGV4_ENOMEM;
  /* Tasks 3 and 4: the signing key, the signature. */
  EVP_MAC_CTX *key = signing_key(c, cr, date, o);
  if (c->oom) return GF_SIGV4_ENOMEM;
  if (!key || mac(key, NULL, 0, c->sts.p, c->sts.len, d) != 0)
    return fail(c, "libcrypto's HMAC-SHA256 failed");
  hex32(d, out->signature);
  build_output(c, &u, cr, o, out->signature);
  if (c->oom) return GF_SIGV4_ENOMEM;
  memcpy(out->amz_date, date, 17);
  out->canonical_request = c->cr.p;
  out->canonical_request_len = c->cr.len;
  out->string_to_sign = c->sts.p;
  out->string_to_sign_len = c->sts.len;
  if (o->presign) {
    out->url = c->out.p;
    out->url_len = c->out.len;
  } else {
    out->authorization = c->out.p;
    out->authorization_len = c->out.len;
    out->content_sha256 = content_header ? c->ph : NULL;
    out->content_sha256_len = content_header ? ph_len : 0;
  }
  return GF_SIGV4_OK;
}
