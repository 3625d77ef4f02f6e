/*
** sigv4.c — AWS Signature Version 4: canonical request, string to sign, signing key (cached),
** signature, for the Authorization header or a presigned URL.
**
** Every intermediate string is built in buffers owned by the context and reused, so a
** signature in steady state does no allocation. Errors inside the builders only set ctx->oom;
** gf_sigv4_sign checks it once at the end.
**
** Cost of a signature in steady state (~0.6 µs in C on the 2-core development machine): the
** SHA-256 compressions, ~40 ns each, are most of it. S3 GET: 6 for the canonical request, 2
** for the string to sign (its first block is cached), 1 for the outer HMAC. SQS JSON POST: 3
** for the body, 5 for the canonical request, 3 more, but the body's blocks run interleaved
** with the canonical request's first two (see canonical_hash), so 9 in time. The rest is a
** few hundred bytes of string building: the canonical request is written in one pass, header
** values that need no trimming are not copied, URL scanning, URI encoding and lower-casing go
** 8 or 16 bytes at a time. Nothing is looked up twice per call when it can be kept in the
** context: the date text (per second), the signing key's HMAC states (per secret, date,
** region, service) and the inner HMAC state after the string to sign's first block (per key
** and second).
**
** SHA-256 and HMAC (own hash states, SHA-extensions compression, libcrypto fallback) are in
** sha256.c; this file holds the signer and its text helpers.
*/
#include "sigv4.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "sha256.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define KEY_CACHE_SLOTS 8
#define KEY_SECRET_MAX 128
#define KEY_NAME_MAX 64

typedef struct {
  char *p;
  size_t len, cap;
} buf;

typedef struct {
  int used;
  int sts_valid;    /* sts_inner holds the string to sign's first block for sts_time */
  int64_t sts_time; /* epoch seconds of that string to sign */
  uint64_t last_use;
  size_t secret_len, region_len, service_len;
  char secret[KEY_SECRET_MAX];
  char date[8];
  char region[KEY_NAME_MAX];
  char service[KEY_NAME_MAX];
  gf_hmac_state key;         /* HMAC states of the signing key after the padded key block */
  gf_sha256_state sts_inner; /* key.inner after the first 64 bytes of the string to sign */
} key_slot;

/* A header to sign: the lower-case name and the value point into hdata or at the caller's bytes. */
typedef struct {
  const char *name, *value;
  size_t name_len, value_len, order;
} hdr_ent;

typedef struct {
  size_t key, key_len, value, value_len;
} qry_ent;

/* Character classes (gf_sigv4_ctx.cls). */
enum {
  C_UNRESERVED = 1, /* A-Z a-z 0-9 - _ . ~ */
  C_SLASH = 2,      /* / */
  C_SPACE = 4,      /* the whitespace folded in header values */
  C_AUTH_END = 8,   /* / ? # end the authority */
  C_SCHEME_END = 16 /* : / ? # */
};

struct gf_sigv4_ctx {
  int oom;
  int shani;         /* compress with the SHA extensions (else libcrypto) */
  int mru;           /* the key slot used last */
  int64_t date_time; /* amz_date of date_time is date_text */
  char date_text[17];
  char ph[97]; /* the payload hash of the last signature */
  const char *err;
  uint64_t clock, hits, misses;
  key_slot keys[KEY_CACHE_SLOTS];
  gf_sigv4_header *slots;
  size_t nslots;
  hdr_ent *hents;
  size_t hcap, nhents;
  qry_ent *qents;
  size_t qcap;
  size_t hlen; /* room the canonical headers take (sum of name, value, ':' and '\n') */
  buf scratch; /* query keys and values */
  buf hdata;   /* header names (lower case) and the values that had to be trimmed */
  buf query, shead, cr, sts, auth, url, tmp, scope;
  unsigned char cls[256];
  signed char hexv[256]; /* value of a hex digit, else -1 */
};

/* {====== buffers ======} */

static int buf_grow(gf_sigv4_ctx *c, buf *b, size_t extra)
{
  if (c->oom) return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap - b->len <= extra) cap *= 2;
  char *p = malloc(cap);
  if (!p) {
    c->oom = 1;
    return 0;
  }
  /* Copy then wipe the old block: buffers can hold the session token. */
  if (b->p) {
    memcpy(p, b->p, b->len);
    OPENSSL_cleanse(b->p, b->cap);
    free(b->p);
  }
  b->p = p;
  b->cap = cap;
  return 1;
}

static inline int buf_reserve(gf_sigv4_ctx *c, buf *b, size_t extra)
{
  return (b->cap - b->len > extra && !c->oom) || buf_grow(c, b, extra);
}

static inline void buf_add(gf_sigv4_ctx *c, buf *b, const char *s, size_t n)
{
  if (!buf_reserve(c, b, n)) return;
  if (n) memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static inline void buf_addc(gf_sigv4_ctx *c, buf *b, char ch)
{
  if (!buf_reserve(c, b, 1)) return;
  b->p[b->len++] = ch;
  b->p[b->len] = '\0';
}

/*
** Unchecked append for builders that reserved the room first; returns the new end. Most spans
** are header names, values and dates of up to 32 bytes: they are copied with two fixed-size
** moves that overlap as needed, instead of a libc call each.
*/
static inline char *put(char *o, const char *s, size_t n)
{
  if (n > 32) {
    memcpy(o, s, n);
  } else if (n >= 16) {
    memcpy(o, s, 16);
    memcpy(o + n - 16, s + n - 16, 16);
  } else if (n >= 8) {
    memcpy(o, s, 8);
    memcpy(o + n - 8, s + n - 8, 8);
  } else if (n >= 4) {
    memcpy(o, s, 4);
    memcpy(o + n - 4, s + n - 4, 4);
  } else if (n) { /* 1 to 3 bytes: the first, the middle and the last */
    o[0] = s[0];
    o[n / 2] = s[n / 2];
    o[n - 1] = s[n - 1];
  }
  return o + n;
}

/* Close a builder: o is the end of what was written after b->len. */
static inline void buf_end(buf *b, char *o)
{
  b->len = (size_t)(o - b->p);
  b->p[b->len] = '\0';
}

static void buf_free(buf *b)
{
  if (b->p) {
    OPENSSL_cleanse(b->p, b->cap);
    free(b->p);
  }
  b->p = NULL;
  b->len = b->cap = 0;
}

static const char HEX[] = "0123456789ABCDEF";

#if !defined(__SSE2__)
/* "000102...ff": the two lower-case hex digits of a byte at 2 * byte. */
#define HEXROW(h) \
  h "0" h "1" h "2" h "3" h "4" h "5" h "6" h "7" h "8" h "9" h "a" h "b" h "c" h "d" h "e" h "f"
static const char HEXPAIRS[] = HEXROW("0") HEXROW("1") HEXROW("2") HEXROW("3") HEXROW("4")
    HEXROW("5") HEXROW("6") HEXROW("7") HEXROW("8") HEXROW("9") HEXROW("a") HEXROW("b") HEXROW("c")
        HEXROW("d") HEXROW("e") HEXROW("f");
#endif

/* Lower-case hex of a SHA-256 digest into out[65]. */
static void hex32(const unsigned char in[32], char out[65])
{
#if defined(__SSE2__)
  /* 16 bytes at a time: nibbles split and interleaved (high first), then '0' + nibble, plus
     'a' - '0' - 10 where the nibble is over 9. */
  const __m128i mask = _mm_set1_epi8(0x0f), nine = _mm_set1_epi8(9);
  const __m128i zero = _mm_set1_epi8('0'), gap = _mm_set1_epi8('a' - '0' - 10);
  for (int i = 0; i < 32; i += 16) {
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(in + i));
    __m128i hi = _mm_and_si128(_mm_srli_epi16(x, 4), mask), lo = _mm_and_si128(x, mask);
    __m128i a = _mm_unpacklo_epi8(hi, lo), b = _mm_unpackhi_epi8(hi, lo);
    a = _mm_add_epi8(_mm_add_epi8(a, zero), _mm_and_si128(_mm_cmpgt_epi8(a, nine), gap));
    b = _mm_add_epi8(_mm_add_epi8(b, zero), _mm_and_si128(_mm_cmpgt_epi8(b, nine), gap));
    _mm_storeu_si128((__m128i *)(void *)(out + 2 * i), a);
    _mm_storeu_si128((__m128i *)(void *)(out + 2 * i + 16), b);
  }
#else
  for (int i = 0; i < 32; i++) memcpy(out + 2 * i, HEXPAIRS + 2 * in[i], 2);
#endif
  out[64] = '\0';
}

static inline char lower(char ch)
{
  return (unsigned char)(ch - 'A') < 26 ? (char)(ch + 32) : ch;
}

/* {====== eight bytes at a time ======} */

#define ONES 0x0101010101010101u
#define HIGHS 0x8080808080808080u

static inline uint64_t load8(const char *s)
{
  uint64_t x;
  memcpy(&x, s, 8);
  return x;
}

/* The eight bytes of x with A-Z made lower case (bytes over 0x7f untouched). */
static inline uint64_t lower8(uint64_t x)
{
  uint64_t low7 = x & ~HIGHS;
  uint64_t from_a = low7 + ONES * (0x80 - 'A'); /* high bit: byte >= 'A' */
  uint64_t past_z = low7 + ONES * (0x7f - 'Z'); /* high bit: byte > 'Z' */
  return x | ((from_a & ~past_z & ~x & HIGHS) >> 2);
}

/* Lower-case copy of n bytes (out may not overlap s). */
static void lower_copy(char *out, const char *s, size_t n)
{
  if (n < 8) {
    for (size_t i = 0; i < n; i++) out[i] = lower(s[i]);
    return;
  }
  uint64_t x;
  for (size_t i = 0; i + 8 <= n; i += 8) {
    x = lower8(load8(s + i));
    memcpy(out + i, &x, 8);
  }
  x = lower8(load8(s + n - 8)); /* the last (overlapping) eight */
  memcpy(out + n - 8, &x, 8);
}

/*
** Whether any of the n bytes is a space or a control character (<= 0x20): a superset of the
** whitespace header values are trimmed of. The word test is exact as a yes/no answer.
*/
static int any_space(const char *s, size_t n)
{
  if (n < 8) {
    for (size_t i = 0; i < n; i++)
      if ((unsigned char)s[i] <= 0x20) return 1;
    return 0;
  }
  uint64_t hit = 0, x;
  for (size_t i = 0; i + 8 <= n; i += 8) {
    x = load8(s + i);
    hit |= (x - ONES * 0x21) & ~x & HIGHS;
  }
  x = load8(s + n - 8);
  hit |= (x - ONES * 0x21) & ~x & HIGHS;
  return hit != 0;
}

static void init_tables(gf_sigv4_ctx *c)
{
  for (int ch = 0; ch < 256; ch++) {
    unsigned char k = 0;
    if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
        ch == '-' || ch == '_' || ch == '.' || ch == '~')
      k |= C_UNRESERVED;
    if (ch == '/') k |= C_SLASH | C_AUTH_END | C_SCHEME_END;
    if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\v' || ch == '\f')
      k |= C_SPACE;
    if (ch == '?' || ch == '#') k |= C_AUTH_END | C_SCHEME_END;
    if (ch == ':') k |= C_SCHEME_END;
    c->cls[ch] = k;
    c->hexv[ch] = (signed char)(ch >= '0' && ch <= '9'   ? ch - '0'
                                : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                                : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                                         : -1);
  }
}

/* s[i] starts a well-formed %XX escape (s[i] == '%'); the old rule: i + 2 < n. */
static inline int is_escape(const gf_sigv4_ctx *c, const char *s, size_t i, size_t n)
{
  return i + 2 < n && c->hexv[(unsigned char)s[i + 1]] >= 0 &&
         c->hexv[(unsigned char)s[i + 2]] >= 0;
}

#if defined(__SSE2__)
/* v in [lo, lo + span] per byte (unsigned): 0xff where it is. */
static inline __m128i in_range(__m128i v, char lo, char span)
{
  __m128i d = _mm_sub_epi8(v, _mm_set1_epi8(lo)), k = _mm_set1_epi8(span);
  return _mm_cmpeq_epi8(_mm_max_epu8(d, k), k);
}

/* Bit i set when byte i of the 16 at s is left as it is: A-Z a-z 0-9 - _ . ~ (and /). */
static inline unsigned unreserved16(const char *s, int keep_slash)
{
  __m128i x = _mm_loadu_si128((const __m128i *)(const void *)s);
  __m128i ok = _mm_or_si128(in_range(_mm_or_si128(x, _mm_set1_epi8(0x20)), 'a', 'z' - 'a'),
                            in_range(x, '0', 9));
  ok = _mm_or_si128(ok, _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('-')),
                                     _mm_cmpeq_epi8(x, _mm_set1_epi8('_'))));
  ok = _mm_or_si128(ok, _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('.')),
                                     _mm_cmpeq_epi8(x, _mm_set1_epi8('~'))));
  if (keep_slash) ok = _mm_or_si128(ok, _mm_cmpeq_epi8(x, _mm_set1_epi8('/')));
  return (unsigned)_mm_movemask_epi8(ok);
}
#endif

/* AWS URI encoding. keep_slash keeps '/', keep_escapes also keeps well-formed %XX escapes. */
static void uri_encode(gf_sigv4_ctx *c, buf *b, const char *s, size_t n, int keep_slash,
                       int keep_escapes)
{
  if (!buf_reserve(c, b, 3 * n)) return;
  const unsigned char safe = (unsigned char)(C_UNRESERVED | (keep_slash ? C_SLASH : 0));
  char *o = b->p + b->len;
  for (size_t i = 0; i < n; i++) {
#if defined(__SSE2__)
    /* The run of bytes left as they are, found 16 at a time (the last 16 of s for the tail). */
    if (n >= 16) {
      size_t at = n - i >= 16 ? i : n - 16;
      /* ~mask has its bits from 16 up set: the run ends at the window's end at the latest */
      size_t run = (size_t)__builtin_ctz(~unreserved16(s + at, keep_slash) >> (i - at));
      o = put(o, s + i, run);
      i += run;
      if (i == n) break;
    }
#endif
    unsigned char ch = (unsigned char)s[i];
    if (c->cls[ch] & safe) {
      *o++ = (char)ch;
    } else if (ch == '%' && keep_escapes && is_escape(c, s, i, n)) {
      *o++ = '%';
      *o++ = HEX[c->hexv[(unsigned char)s[i + 1]]];
      *o++ = HEX[c->hexv[(unsigned char)s[i + 2]]];
      i += 2;
    } else {
      *o++ = '%';
      *o++ = HEX[ch >> 4];
      *o++ = HEX[ch & 15];
    }
  }
  buf_end(b, o);
}

/* Percent-decode s (no '+' rule) then AWS-encode it strictly, appended to b. */
static void query_component(gf_sigv4_ctx *c, buf *b, const char *s, size_t n)
{
  if (!buf_reserve(c, b, 3 * n)) return;
  char *o = b->p + b->len;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch == '%' && is_escape(c, s, i, n)) {
      ch =
          (unsigned char)(c->hexv[(unsigned char)s[i + 1]] * 16 + c->hexv[(unsigned char)s[i + 2]]);
      i += 2;
    }
    if (c->cls[ch] & C_UNRESERVED) {
      *o++ = (char)ch;
    } else {
      *o++ = '%';
      *o++ = HEX[ch >> 4];
      *o++ = HEX[ch & 15];
    }
  }
  buf_end(b, o);
}

/* {====== hashes (SHA-256 and HMAC: sha256.c) ======} */

int gf_sigv4_hmac(gf_sigv4_ctx *c, const void *key, size_t key_len, const void *msg, size_t msg_len,
                  unsigned char out[32])
{
  gf_hmac_state h;
  gf_hmac_init(c->shani, &h, key, key_len);
  gf_hmac_final(c->shani, &h, msg, msg_len, out);
  OPENSSL_cleanse(&h, sizeof h);
  return 0;
}

int gf_sigv4_sha256_hex(gf_sigv4_ctx *c, const void *data, size_t len, char out[65])
{
  unsigned char d[32];
  gf_sha256(c->shani, data, len, d);
  hex32(d, out);
  return 0;
}

int gf_sigv4_ctx_shani(gf_sigv4_ctx *c, int on)
{
  if (on >= 0) c->shani = on && gf_sha256_ni_available();
  return c->shani;
}

/* {====== context ======} */

gf_sigv4_ctx *gf_sigv4_ctx_new(void)
{
  gf_sigv4_ctx *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->date_time = INT64_MIN;
  c->shani = gf_sha256_ni_available();
  init_tables(c);
  return c;
}

void gf_sigv4_ctx_free(gf_sigv4_ctx *c)
{
  if (!c) return;
  OPENSSL_cleanse(c->keys, sizeof c->keys);
  free(c->slots);
  free(c->hents);
  free(c->qents);
  buf *bufs[] = {&c->scratch, &c->hdata, &c->query, &c->shead, &c->cr,
                 &c->sts,     &c->auth,  &c->url,   &c->tmp,   &c->scope};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) buf_free(bufs[i]);
  free(c);
}

static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
  if (need <= *cap) return p;
  size_t n = *cap ? *cap : 16;
  while (n < need) n *= 2;
  void *q = realloc(p, n * size);
  if (q) *cap = n;
  return q;
}

gf_sigv4_header *gf_sigv4_ctx_headers(gf_sigv4_ctx *c, size_t n)
{
  gf_sigv4_header *p = grow(c->slots, &c->nslots, n ? n : 1, sizeof *p);
  if (!p) return NULL;
  c->slots = p;
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
  uri_encode(c, &c->tmp, s, len, keep_slash, 0);
  buf_add(c, &c->tmp, "", 0);
  if (c->oom) return NULL;
  *out_len = c->tmp.len;
  return c->tmp.p;
}

/* {====== signing key cache ======} */

static void derive_key(gf_sigv4_ctx *c, const gf_sigv4_credentials *cr, const char date[8],
                       const gf_sigv4_options *o, gf_hmac_state *out)
{
  unsigned char k[32];
  size_t n = 4 + cr->secret_key_len;
  c->tmp.len = 0;
  if (!buf_reserve(c, &c->tmp, n)) return;
  memcpy(c->tmp.p, "AWS4", 4);
  memcpy(c->tmp.p + 4, cr->secret_key, cr->secret_key_len);
  gf_sigv4_hmac(c, c->tmp.p, n, date, 8, k);
  OPENSSL_cleanse(c->tmp.p, n);
  gf_sigv4_hmac(c, k, 32, o->region, o->region_len, k);
  gf_sigv4_hmac(c, k, 32, o->service, o->service_len, k);
  gf_sigv4_hmac(c, k, 32, "aws4_request", 12, k);
  gf_hmac_init(c->shani, out, k, 32);
  OPENSSL_cleanse(k, sizeof k);
}

/* Constant-time equality of n bytes (word-wise: CRYPTO_memcmp compares byte by byte). */
static int same_secret(const char *a, const char *b, size_t n)
{
  uint64_t d = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t x, y;
    memcpy(&x, a + i, 8);
    memcpy(&y, b + i, 8);
    d |= x ^ y;
  }
  for (; i < n; i++) d |= (uint64_t)(unsigned char)(a[i] ^ b[i]);
  return d == 0;
}

static int slot_matches(const key_slot *s, const gf_sigv4_credentials *cr, const char date[8],
                        const gf_sigv4_options *o)
{
  return s->used && s->secret_len == cr->secret_key_len && s->region_len == o->region_len &&
         s->service_len == o->service_len && memcmp(s->date, date, 8) == 0 &&
         memcmp(s->region, o->region, o->region_len) == 0 &&
         memcmp(s->service, o->service, o->service_len) == 0 &&
         same_secret(s->secret, cr->secret_key, cr->secret_key_len);
}

/*
** The cache slot of the signing key for (secret, date, region, service): found, or derived
** into the least recently used slot. NULL when the key is not cacheable (a secret or a name
** longer than a slot holds): it is then derived into *tmp.
*/
static key_slot *signing_key(gf_sigv4_ctx *c, const gf_sigv4_credentials *cr, const char date[8],
                             const gf_sigv4_options *o, gf_hmac_state *tmp)
{
  int cacheable = cr->secret_key_len <= KEY_SECRET_MAX && o->region_len <= KEY_NAME_MAX &&
                  o->service_len <= KEY_NAME_MAX;
  key_slot *victim = &c->keys[0];
  c->clock++;
  if (cacheable && slot_matches(&c->keys[c->mru], cr, date, o)) {
    c->keys[c->mru].last_use = c->clock;
    c->hits++;
    return &c->keys[c->mru];
  }
  for (int i = 0; cacheable && i < KEY_CACHE_SLOTS; i++) {
    key_slot *s = &c->keys[i];
    if (i != c->mru && slot_matches(s, cr, date, o)) {
      s->last_use = c->clock;
      c->mru = i;
      c->hits++;
      return s;
    }
    if (victim->used && (!s->used || s->last_use < victim->last_use)) victim = s;
  }
  c->misses++;
  if (!cacheable) {
    derive_key(c, cr, date, o, tmp);
    return NULL;
  }
  OPENSSL_cleanse(victim, sizeof *victim);
  derive_key(c, cr, date, o, &victim->key);
  if (c->oom) {
    OPENSSL_cleanse(victim, sizeof *victim);
    return NULL;
  }
  victim->used = 1;
  victim->last_use = c->clock;
  victim->secret_len = cr->secret_key_len;
  memcpy(victim->secret, cr->secret_key, cr->secret_key_len);
  memcpy(victim->date, date, 8);
  victim->region_len = o->region_len;
  memcpy(victim->region, o->region, o->region_len);
  victim->service_len = o->service_len;
  memcpy(victim->service, o->service, o->service_len);
  c->mru = (int)(victim - c->keys);
  return victim;
}

/* {====== time ======} */

/* YYYYMMDDTHHMMSSZ from epoch seconds (proleptic Gregorian, UTC). */
static void amz_date(int64_t t, char out[17])
{
  int64_t days = t / 86400, secs = t % 86400;
  if (secs < 0) {
    secs += 86400;
    days--;
  }
  days += 719468;
  int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  int64_t doe = days - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  int64_t y = yoe + era * 400 + (m <= 2);
  int64_t v[6] = {y, m, d, secs / 3600, secs / 60 % 60, secs % 60};
  int w[6] = {4, 2, 2, 2, 2, 2};
  char *o = out;
  for (int i = 0; i < 6; i++) {
    int64_t x = v[i];
    for (int j = w[i] - 1; j >= 0; j--) {
      o[j] = (char)('0' + (x % 10 + 10) % 10);
      x /= 10;
    }
    o += w[i];
    if (i == 2) *o++ = 'T';
  }
  *o++ = 'Z';
  *o = '\0';
}

/* {====== URL, path, query ======} */

typedef struct {
  const char *scheme, *authority, *host, *path, *query;
  size_t scheme_len, authority_len, host_len, path_len, query_len;
  const char *colon; /* the port separator: the host's last ':' after any ']', or NULL */
} url_parts;

/*
** The first byte of [p, end) that is one of the n bytes of set, or end. With SSE2, 16 bytes
** are tested at a time; a tail shorter than 16 is read as the last 16 bytes of [start, end)
** with the bytes before p masked off, so nothing outside the string is read.
*/
static inline const char *find_any(const char *start, const char *p, const char *end,
                                   const char *set, int n)
{
#if defined(__SSE2__)
  while (p < end) {
    const char *q = end - p >= 16 ? p : end - 16;
    if (q < start) break; /* a string under 16 bytes: the loop below */
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)q), hit = _mm_setzero_si128();
    for (int i = 0; i < n; i++) hit = _mm_or_si128(hit, _mm_cmpeq_epi8(x, _mm_set1_epi8(set[i])));
    unsigned m = (unsigned)_mm_movemask_epi8(hit) & (0xffffu << (p - q));
    if (m) return q + __builtin_ctz(m);
    p = q + 16;
  }
#else
  (void)start;
#endif
  for (; p < end; p++)
    if (memchr(set, *p, (size_t)n)) return p;
  return end;
}

static int parse_url(const gf_sigv4_ctx *c, const char *s, size_t n, url_parts *u)
{
  const unsigned char *cls = c->cls;
  const char *end = s + n, *p = s;
  while (p < end && !(cls[(unsigned char)*p] & C_SCHEME_END)) p++;
  if (p == s || end - p < 3 || memcmp(p, "://", 3) != 0) return 0;
  u->scheme = s;
  u->scheme_len = (size_t)(p - s);
  u->authority = p + 3;
  u->host = u->authority;
  u->colon = NULL;
  for (p = u->authority;; p++) {
    p = find_any(s, p, end, "/?#@:]", 6);
    if (p == end || (cls[(unsigned char)*p] & C_AUTH_END)) break;
    if (*p == '@') {
      u->host = p + 1;
      u->colon = NULL;
    } else {
      u->colon = *p == ':' ? p : NULL; /* ']' closes an IPv6 literal: no port before it */
    }
  }
  u->authority_len = (size_t)(p - u->authority);
  u->host_len = (size_t)(p - u->host);
  if (u->host_len == 0) return 0;
  u->path = p;
  p = find_any(s, p, end, "?#", 2);
  u->path_len = (size_t)(p - u->path);
  u->query = NULL;
  u->query_len = 0;
  if (p < end && *p == '?') {
    u->query = ++p;
    const char *hash = memchr(p, '#', (size_t)(end - p));
    u->query_len = (size_t)((hash ? hash : end) - p);
  }
  return 1;
}

/* The length of the Host header a client sends for this URL (default port dropped). */
static size_t host_len(const url_parts *u)
{
  size_t n = u->host_len;
  const char *h = u->host;
  const char *colon = u->colon;
  if (colon) {
    size_t plen = n - (size_t)(colon - h) - 1;
    int http = u->scheme_len == 4 && memcmp(u->scheme, "http", 4) == 0;
    int https = u->scheme_len == 5 && memcmp(u->scheme, "https", 5) == 0;
    if (plen == 0 || (http && plen == 2 && memcmp(colon + 1, "80", 2) == 0) ||
        (https && plen == 3 && memcmp(colon + 1, "443", 3) == 0))
      n = (size_t)(colon - h);
  }
  return n;
}

/* Remove dot segments and empty segments, keeping a trailing slash (botocore's rules). */
static void normalize_path(gf_sigv4_ctx *c, buf *b, const char *p, size_t n)
{
  size_t i = 0;
  while (i < n) {
    size_t j = i;
    while (j < n && p[j] != '/') j++;
    size_t len = j - i;
    if (len == 2 && p[i] == '.' && p[i + 1] == '.') {
      while (b->len > 0 && b->p[b->len - 1] != '/') b->len--;
      if (b->len > 0) b->len--;
    } else if (len > 0 && !(len == 1 && p[i] == '.')) {
      buf_addc(c, b, '/');
      buf_add(c, b, p + i, len);
    }
    i = j + 1;
  }
  if (b->len == 0) {
    buf_addc(c, b, '/');
  } else if (p[n - 1] == '/') {
    buf_addc(c, b, '/');
  }
}

/* The canonical URI, appended to b. */
static void canonical_path(gf_sigv4_ctx *c, buf *b, const url_parts *u, const gf_sigv4_options *o)
{
  if (u->path_len == 0) {
    buf_addc(c, b, '/');
  } else if (o->s3) {
    uri_encode(c, b, u->path, u->path_len, 1, 1);
  } else if (!o->normalize) {
    uri_encode(c, b, u->path, u->path_len, 1, 0);
  } else {
    c->tmp.len = 0;
    normalize_path(c, &c->tmp, u->path, u->path_len);
    if (!c->oom) uri_encode(c, b, c->tmp.p, c->tmp.len, 1, 0);
  }
}

static qry_ent *query_slot(gf_sigv4_ctx *c, size_t i)
{
  qry_ent *q = grow(c->qents, &c->qcap, i + 1, sizeof *q);
  if (!q) {
    c->oom = 1;
    return NULL;
  }
  c->qents = q;
  return &q[i];
}

/* Append one parameter; raw = percent-decode then encode, else encode the bytes as they are. */
static void query_add(gf_sigv4_ctx *c, size_t *nq, const char *k, size_t kn, const char *v,
                      size_t vn, int raw)
{
  qry_ent *q = query_slot(c, *nq);
  if (!q) return;
  q->key = c->scratch.len;
  if (raw) {
    query_component(c, &c->scratch, k, kn);
  } else {
    uri_encode(c, &c->scratch, k, kn, 0, 0);
  }
  q->key_len = c->scratch.len - q->key;
  q->value = c->scratch.len;
  if (raw) {
    query_component(c, &c->scratch, v, vn);
  } else {
    uri_encode(c, &c->scratch, v, vn, 0, 0);
  }
  q->value_len = c->scratch.len - q->value;
  if (!c->oom) (*nq)++;
}

static int is_auth_param(const char *k, size_t n)
{
  static const char *const names[] = {
      "X-Amz-Algorithm",     "X-Amz-Credential",     "X-Amz-Date",     "X-Amz-Expires",
      "X-Amz-SignedHeaders", "X-Amz-Security-Token", "X-Amz-Signature"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strlen(names[i]) == n && memcmp(names[i], k, n) == 0) return 1;
  return 0;
}

static void query_from_url(gf_sigv4_ctx *c, size_t *nq, const url_parts *u, int presign)
{
  const char *p = u->query, *end = u->query + u->query_len;
  while (p && p < end) {
    const char *amp = memchr(p, '&', (size_t)(end - p));
    if (!amp) amp = end;
    if (amp > p) {
      const char *eq = memchr(p, '=', (size_t)(amp - p));
      const char *kend = eq ? eq : amp;
      const char *v = eq ? eq + 1 : amp;
      if (!(presign && is_auth_param(p, (size_t)(kend - p))))
        query_add(c, nq, p, (size_t)(kend - p), v, (size_t)(amp - v), 1);
    }
    p = amp + 1;
  }
}

/* memcmp order of two spans of base, the shorter first on a tie (inline: spans are short). */
static inline int span_cmp(const char *base, size_t a, size_t an, size_t b, size_t bn)
{
  const unsigned char *x = (const unsigned char *)base + a, *y = (const unsigned char *)base + b;
  size_t n = an < bn ? an : bn;
  for (size_t i = 0; i < n; i++)
    if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
  return an < bn ? -1 : an > bn;
}

static void query_sort_emit(gf_sigv4_ctx *c, size_t nq)
{
  qry_ent *q = c->qents;
  const char *s = c->scratch.p;
  size_t total = nq;
  for (size_t i = 1; i < nq; i++) {
    qry_ent x = q[i];
    size_t j = i;
    while (j > 0) {
      int r = span_cmp(s, q[j - 1].key, q[j - 1].key_len, x.key, x.key_len);
      if (r == 0) r = span_cmp(s, q[j - 1].value, q[j - 1].value_len, x.value, x.value_len);
      if (r <= 0) break;
      q[j] = q[j - 1];
      j--;
    }
    q[j] = x;
  }
  for (size_t i = 0; i < nq; i++) total += q[i].key_len + q[i].value_len + 1;
  if (!buf_reserve(c, &c->query, total)) return;
  char *o = c->query.p + c->query.len;
  for (size_t i = 0; i < nq; i++) {
    if (i) *o++ = '&';
    o = put(o, s + q[i].key, q[i].key_len);
    *o++ = '=';
    o = put(o, s + q[i].value, q[i].value_len);
  }
  buf_end(&c->query, o);
}

/* {====== headers ======} */

/*
** A header entry for a lower-case name: the value trimmed and its inner whitespace runs made
** one space. A value without any whitespace (the usual case) is the caller's bytes as they
** are; the others are rewritten into hdata, whose room the caller reserved.
*/
static void header_entry(gf_sigv4_ctx *c, size_t *nh, const char *name, size_t nn, const char *v,
                         size_t vn)
{
  hdr_ent *h = &c->hents[*nh];
  h->name = name;
  h->name_len = nn;
  h->order = *nh;
  (*nh)++;
  if (!any_space(v, vn)) {
    h->value = v;
    h->value_len = vn;
    return;
  }
  char *start = c->hdata.p + c->hdata.len, *o = start;
  int pending = 0;
  for (size_t i = 0; i < vn; i++) {
    unsigned char ch = (unsigned char)v[i];
    if (c->cls[ch] & C_SPACE) {
      pending = o != start;
      continue;
    }
    if (pending) *o++ = ' ';
    pending = 0;
    *o++ = (char)ch;
  }
  h->value = start;
  h->value_len = (size_t)(o - start);
  c->hdata.len += h->value_len;
}

enum { H_SIGN, H_SKIP, H_HOST, H_TOKEN, H_CONTENT };

/* What to do with a caller's header (lower-case name): the signature's own headers are ours. */
static int header_class(const char *n, size_t len)
{
  switch (len) {
    case 4:
      return memcmp(n, "host", 4) == 0 ? H_HOST : H_SIGN;
    case 6:
      return memcmp(n, "expect", 6) == 0 ? H_SKIP : H_SIGN;
    case 10:
      return memcmp(n, "x-amz-date", 10) == 0 || memcmp(n, "user-agent", 10) == 0 ? H_SKIP : H_SIGN;
    case 13:
      return memcmp(n, "authorization", 13) == 0 ? H_SKIP : H_SIGN;
    case 15:
      return memcmp(n, "x-amzn-trace-id", 15) == 0 ? H_SKIP : H_SIGN;
    case 20:
      if (memcmp(n, "x-amz-security-token", 20) == 0) return H_TOKEN;
      return memcmp(n, "x-amz-content-sha256", 20) == 0 ? H_CONTENT : H_SIGN;
    default:
      return H_SIGN;
  }
}

/* n (any case) equals the lower-case literal lit of length l. */
static int name_is(const char *n, size_t len, const char *lit, size_t l)
{
  if (l != len) return 0;
  for (size_t i = 0; i < l; i++)
    if (lower(n[i]) != lit[i]) return 0;
  return 1;
}

/* memcmp order of two header names, the shorter first on a tie (eight bytes at a time). */
static inline int name_cmp(const hdr_ent *a, const hdr_ent *b)
{
  size_t n = a->name_len < b->name_len ? a->name_len : b->name_len, i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t x = load8(a->name + i) ^ load8(b->name + i);
    if (!x) continue;
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    i += (size_t)__builtin_ctzll(x) / 8; /* the first byte that differs */
#endif
    break;
  }
  for (; i < n; i++)
    if (a->name[i] != b->name[i])
      return (unsigned char)a->name[i] < (unsigned char)b->name[i] ? -1 : 1;
  return a->name_len < b->name_len ? -1 : a->name_len > b->name_len;
}

static inline int same_name(const hdr_ent *a, const hdr_ent *b)
{
  return a->name_len == b->name_len && memcmp(a->name, b->name, a->name_len) == 0;
}

/*
** Sort the entries by name (a repeated name keeps its values in order), write the signed
** headers list into shead and note the room the canonical headers need (hlen).
*/
static void headers_sort(gf_sigv4_ctx *c, size_t nh)
{
  hdr_ent *h = c->hents;
  size_t total = 0, stotal = 0;
  for (size_t i = 1; i < nh; i++) {
    hdr_ent x = h[i];
    size_t j = i;
    while (j > 0) {
      int r = name_cmp(&h[j - 1], &x);
      if (r < 0 || (r == 0 && h[j - 1].order < x.order)) break;
      h[j] = h[j - 1];
      j--;
    }
    h[j] = x;
  }
  for (size_t i = 0; i < nh; i++) {
    total += h[i].name_len + h[i].value_len + 2;
    stotal += h[i].name_len + 1;
  }
  c->hlen = total;
  if (!buf_reserve(c, &c->shead, stotal)) return;
  char *so = c->shead.p + c->shead.len;
  for (size_t i = 0; i < nh; i++) {
    if (i > 0 && same_name(&h[i - 1], &h[i])) continue;
    if (i) *so++ = ';';
    so = put(so, h[i].name, h[i].name_len);
  }
  buf_end(&c->shead, so);
}

/* The canonical headers ("name:value\n", a repeated name's values joined by ',') at o. */
static char *headers_emit(const gf_sigv4_ctx *c, size_t nh, char *o)
{
  const hdr_ent *h = c->hents;
  for (size_t i = 0; i < nh; i++) {
    if (i > 0 && same_name(&h[i - 1], &h[i])) {
      o[-1] = ','; /* over the previous value's '\n' */
    } else {
      o = put(o, h[i].name, h[i].name_len);
      *o++ = ':';
    }
    o = put(o, h[i].value, h[i].value_len);
    *o++ = '\n';
  }
  return o;
}

/* {====== signing ======} */

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define STS_ALGORITHM "AWS4-HMAC-SHA256\n"

static void reset(gf_sigv4_ctx *c)
{
  c->oom = 0;
  c->err = NULL;
  c->scratch.len = c->hdata.len = c->query.len = c->shead.len = c->cr.len = 0;
  c->sts.len = c->auth.len = c->url.len = c->tmp.len = c->scope.len = 0;
  c->nhents = c->hlen = 0;
}

static int fail(gf_sigv4_ctx *c, const char *why)
{
  c->err = why;
  return GF_SIGV4_EINVAL;
}

/*
** The payload hash: explicit, else the caller's x-amz-content-sha256, else computed. With
** `defer` a body's hash is not computed here (*deferred is set): canonical_hash computes it
** and puts it at the end of the canonical request, the only place it then appears.
*/
static int payload_hash(gf_sigv4_ctx *c, const gf_sigv4_request *r, const gf_sigv4_options *o,
                        int defer, char out[97], size_t *out_len, int *from_header, int *deferred)
{
  const char *p = o->payload_hash;
  size_t n = o->payload_hash_len;
  *from_header = 0;
  for (size_t i = 0; !p && i < r->nheaders; i++) {
    const gf_sigv4_header *h = &r->headers[i];
    if (name_is(h->name, h->name_len, "x-amz-content-sha256", 20)) {
      p = h->value;
      n = h->value_len;
      while (n && (c->cls[(unsigned char)*p] & C_SPACE)) p++, n--;
      while (n && (c->cls[(unsigned char)p[n - 1]] & C_SPACE)) n--;
      *from_header = 1;
    }
  }
  if (!p && o->s3 && o->presign) p = "UNSIGNED-PAYLOAD", n = 16;
  if (p) {
    if (n == 0 || n > 96) return -1;
    memcpy(out, p, n);
    out[n] = '\0';
    *out_len = strlen(out); /* the value ends at a NUL, as it always did */
    return 0;
  }
  *out_len = 64;
  if (!r->body || r->body_len == 0) {
    memcpy(out, EMPTY_SHA256, 65);
    return 0;
  }
  if (defer) {
    *deferred = 1;
    return 0;
  }
  return gf_sigv4_sha256_hex(c, r->body, r->body_len, out) == 0 ? 0 : -2;
}

/*
** The headers to sign, sorted, with the signed headers list (shead). Names are lower-cased
** into hdata, reserved once for every name, value and the Host so that entries can point
** into it.
*/
static void collect_headers(gf_sigv4_ctx *c, const gf_sigv4_request *r, const url_parts *u,
                            const gf_sigv4_credentials *cr, const gf_sigv4_options *o,
                            const char *date, size_t ph_len, int content_header)
{
  size_t nh = 0, room = u->host_len + cr->session_token_len;
  int has_host = 0, token = cr->session_token && !o->omit_session_token;
  for (size_t i = 0; i < r->nheaders; i++) room += r->headers[i].name_len + r->headers[i].value_len;
  hdr_ent *h = grow(c->hents, &c->hcap, r->nheaders + 4, sizeof *h);
  if (!h) c->oom = 1;
  if (!h || !buf_reserve(c, &c->hdata, room)) return;
  c->hents = h;
  for (size_t i = 0; i < r->nheaders; i++) {
    const gf_sigv4_header *rh = &r->headers[i];
    char *name = c->hdata.p + c->hdata.len;
    lower_copy(name, rh->name, rh->name_len);
    int k = header_class(name, rh->name_len);
    if (k == H_SKIP || (k == H_TOKEN && token && !o->presign) || (k == H_CONTENT && content_header))
      continue;
    if (k == H_HOST) has_host = 1;
    c->hdata.len += rh->name_len;
    header_entry(c, &nh, name, rh->name_len, rh->value, rh->value_len);
  }
  if (!has_host) {
    char *host = c->hdata.p + c->hdata.len;
    size_t n = host_len(u);
    lower_copy(host, u->host, n);
    c->hdata.len += n;
    header_entry(c, &nh, "host", 4, host, n);
  }
  if (!o->presign) {
    header_entry(c, &nh, "x-amz-date", 10, date, 16);
    if (token)
      header_entry(c, &nh, "x-amz-security-token", 20, cr->session_token, cr->session_token_len);
    if (content_header) header_entry(c, &nh, "x-amz-content-sha256", 20, c->ph, ph_len);
  }
  c->nhents = nh;
  headers_sort(c, nh);
}

static void presign_params(gf_sigv4_ctx *c, size_t *nq, const gf_sigv4_credentials *cr,
                           const gf_sigv4_options *o, const char *date)
{
  char expires[24];
  int64_t e = o->presign;
  size_t i = sizeof expires;
  do {
    expires[--i] = (char)('0' + e % 10);
    e /= 10;
  } while (e > 0 && i > 0);
  c->tmp.len = 0;
  buf_add(c, &c->tmp, cr->access_key, cr->access_key_len);
  buf_addc(c, &c->tmp, '/');
  buf_add(c, &c->tmp, c->scope.p, c->scope.len);
  if (c->oom) return;
  query_add(c, nq, "X-Amz-Algorithm", 15, "AWS4-HMAC-SHA256", 16, 0);
  query_add(c, nq, "X-Amz-Credential", 16, c->tmp.p, c->tmp.len, 0);
  query_add(c, nq, "X-Amz-Date", 10, date, 16, 0);
  query_add(c, nq, "X-Amz-Expires", 13, expires + i, sizeof expires - i, 0);
  query_add(c, nq, "X-Amz-SignedHeaders", 19, c->shead.p, c->shead.len, 0);
  if (cr->session_token && !o->omit_session_token)
    query_add(c, nq, "X-Amz-Security-Token", 20, cr->session_token, cr->session_token_len, 0);
}

static void build_scope(gf_sigv4_ctx *c, const gf_sigv4_options *o, const char *date)
{
  buf *b = &c->scope;
  if (!buf_reserve(c, b, 8 + o->region_len + o->service_len + 15)) return;
  char *p = put(b->p + b->len, date, 8);
  *p++ = '/';
  p = put(p, o->region, o->region_len);
  *p++ = '/';
  p = put(p, o->service, o->service_len);
  buf_end(b, put(p, "/aws4_request", 13));
}

/* The canonical request, in one pass into cr. */
static void build_canonical(gf_sigv4_ctx *c, const gf_sigv4_request *r, const url_parts *u,
                            const gf_sigv4_options *o, size_t ph_len)
{
  buf *b = &c->cr;
  if (!buf_reserve(c, b, r->method_len + 1)) return;
  char *p = b->p + b->len;
  for (size_t i = 0; i < r->method_len; i++) {
    char ch = r->method[i];
    *p++ = (unsigned char)(ch - 'a') < 26 ? (char)(ch - 32) : ch;
  }
  *p++ = '\n';
  buf_end(b, p);
  canonical_path(c, b, u, o);
  if (!buf_reserve(c, b, c->query.len + c->hlen + c->shead.len + ph_len + 4)) return;
  p = b->p + b->len;
  *p++ = '\n';
  p = put(p, c->query.p, c->query.len);
  *p++ = '\n';
  p = headers_emit(c, c->nhents, p);
  *p++ = '\n';
  p = put(p, c->shead.p, c->shead.len);
  *p++ = '\n';
  buf_end(b, put(p, c->ph, ph_len));
}

/*
** The canonical request's hash. With a deferred payload hash (the last 64 bytes of cr, not
** yet written), the body is hashed first, its blocks paired with the canonical request's
** leading blocks (independent of the body: two interleaved messages cost about one), then
** its hex is put in place and the canonical request finished.
*/
static void canonical_hash(gf_sigv4_ctx *c, const gf_sigv4_request *r, int deferred,
                           unsigned char out[32])
{
  const unsigned char *cr = (const unsigned char *)c->cr.p;
  size_t done = 0;
  gf_sha256_state cs;
  gf_sha256_start(&cs);
  if (deferred) {
    const unsigned char *body = (const unsigned char *)r->body;
    unsigned char last[128], d[32];
    size_t whole = r->body_len / 64;
    size_t nb = whole + gf_sha256_pad(r->body_len, body + 64 * whole, last);
    size_t ahead = (c->cr.len - 64) / 64, pairs = ahead < nb ? ahead : nb;
    gf_sha256_state bs;
    gf_sha256_start(&bs);
    for (size_t i = 0; i < pairs; i++)
      gf_sha256_blocks2(c->shani, &bs, i < whole ? body + 64 * i : last + 64 * (i - whole), &cs,
                        cr + 64 * i, 1);
    if (pairs < whole) gf_sha256_blocks(c->shani, &bs, body + 64 * pairs, whole - pairs);
    size_t from = pairs > whole ? pairs - whole : 0;
    gf_sha256_blocks(c->shani, &bs, last + 64 * from, nb - whole - from);
    gf_sha256_digest(c->shani, &bs, d);
    hex32(d, c->ph);
    memcpy(c->cr.p + c->cr.len - 64, c->ph, 64);
    done = 64 * pairs;
  }
  gf_sha256_finish(c->shani, &cs, cr + done, c->cr.len - done, out);
}

/*
** The signature: HMAC of the string to sign under the signing key. With a cached key the inner
** state after the string to sign's first block (algorithm, date, start of the scope: the same
** for every request signed in that second) is kept in the slot too.
*/
static int build_signature(gf_sigv4_ctx *c, const gf_sigv4_request *r,
                           const gf_sigv4_credentials *cr, const gf_sigv4_options *o,
                           const char *date, int deferred, gf_sigv4_result *out)
{
  unsigned char d[32];
  gf_hmac_state tmp;
  buf *b = &c->sts;
  if (!buf_reserve(c, b, sizeof STS_ALGORITHM + 16 + c->scope.len + 66)) return -1;
  char *p = put(b->p, STS_ALGORITHM, sizeof STS_ALGORITHM - 1);
  p = put(p, date, 16);
  *p++ = '\n';
  p = put(p, c->scope.p, c->scope.len);
  *p++ = '\n';
  canonical_hash(c, r, deferred, d);
  hex32(d, p);
  buf_end(b, p + 64);
  key_slot *k = signing_key(c, cr, date, o, &tmp);
  if (c->oom) return -1;
  if (!k) {
    gf_hmac_final(c->shani, &tmp, b->p, b->len, d);
    OPENSSL_cleanse(&tmp, sizeof tmp);
  } else if (sizeof STS_ALGORITHM - 1 + 17 + c->scope.len < 64) {
    /* A short scope: the first block reaches into the canonical request's hash. */
    gf_hmac_final(c->shani, &k->key, b->p, b->len, d);
  } else {
    if (!k->sts_valid || k->sts_time != o->time) {
      k->sts_inner = k->key.inner;
      gf_sha256_blocks(c->shani, &k->sts_inner, (const unsigned char *)b->p, 1);
      k->sts_time = o->time;
      k->sts_valid = 1;
    }
    gf_sha256_state s = k->sts_inner;
    gf_hmac_finish(c->shani, &s, &k->key.outer, b->p + 64, b->len - 64, d);
    OPENSSL_cleanse(&s, sizeof s);
  }
  hex32(d, out->signature);
  return 0;
}

static void build_output(gf_sigv4_ctx *c, const url_parts *u, const gf_sigv4_credentials *cr,
                         const gf_sigv4_options *o, const gf_sigv4_result *out)
{
  if (!o->presign) {
    static const char A[] = "AWS4-HMAC-SHA256 Credential=", S[] = ", SignedHeaders=",
                      G[] = ", Signature=";
    buf *b = &c->auth;
    size_t n =
        sizeof A + cr->access_key_len + c->scope.len + sizeof S + c->shead.len + sizeof G + 64;
    if (!buf_reserve(c, b, n)) return;
    char *p = put(b->p + b->len, A, sizeof A - 1);
    p = put(p, cr->access_key, cr->access_key_len);
    *p++ = '/';
    p = put(p, c->scope.p, c->scope.len);
    p = put(p, S, sizeof S - 1);
    p = put(p, c->shead.p, c->shead.len);
    p = put(p, G, sizeof G - 1);
    buf_end(b, put(p, out->signature, 64));
    return;
  }
  buf_add(c, &c->url, u->scheme, u->scheme_len);
  buf_add(c, &c->url, "://", 3);
  buf_add(c, &c->url, u->authority, u->authority_len);
  buf_add(c, &c->url, u->path, u->path_len);
  if (u->path_len == 0) buf_addc(c, &c->url, '/');
  buf_addc(c, &c->url, '?');
  buf_add(c, &c->url, c->query.p, c->query.len);
  if (cr->session_token && o->omit_session_token) {
    buf_add(c, &c->url, "&X-Amz-Security-Token=", 22);
    uri_encode(c, &c->url, cr->session_token, cr->session_token_len, 0, 0);
  }
  buf_add(c, &c->url, "&X-Amz-Signature=", 17);
  buf_add(c, &c->url, out->signature, 64);
}

int gf_sigv4_sign(gf_sigv4_ctx *c, const gf_sigv4_request *r, const gf_sigv4_credentials *cr,
                  const gf_sigv4_options *o, gf_sigv4_result *out)
{
  url_parts u;
  const char *date;
  int from_header = 0, deferred = 0;
  size_t nq = 0, ph_len = 0;
  reset(c);
  out->canonical_request = out->string_to_sign = out->authorization = NULL;
  out->content_sha256 = out->url = NULL;
  out->canonical_request_len = out->string_to_sign_len = out->authorization_len = 0;
  out->content_sha256_len = out->url_len = 0;
  out->signature[0] = out->amz_date[0] = '\0';
  if (!parse_url(c, r->url, r->url_len, &u))
    return fail(c, "url must be absolute (scheme://host/path)");
  if (o->presign < 0) return fail(c, "presign expiry must be positive");
  /* A computed hash is deferred unless it goes into the x-amz-content-sha256 header too. */
  int defer = o->presign || !(o->s3 || o->sign_body);
  int rc = payload_hash(c, r, o, defer, c->ph, &ph_len, &from_header, &deferred);
  if (rc == -1) return fail(c, "payload hash must be 1 to 96 characters");
  if (rc != 0) return GF_SIGV4_ENOMEM;
  if (o->time != c->date_time) {
    amz_date(o->time, c->date_text);
    c->date_time = o->time;
  }
  date = c->date_text;
  build_scope(c, o, date);
  int content_header = !o->presign && (o->s3 || o->sign_body || from_header);
  collect_headers(c, r, &u, cr, o, date, ph_len, content_header);
  if (u.query) query_from_url(c, &nq, &u, o->presign != 0);
  if (o->presign) presign_params(c, &nq, cr, o, date);
  if (!c->oom) query_sort_emit(c, nq);
  build_canonical(c, r, &u, o, ph_len);
  if (c->oom) return GF_SIGV4_ENOMEM;
  if (build_signature(c, r, cr, o, date, deferred, out) != 0) return GF_SIGV4_ENOMEM;
  build_output(c, &u, cr, o, out);
  if (c->oom) return GF_SIGV4_ENOMEM;
  memcpy(out->amz_date, date, 17);
  out->canonical_request = c->cr.p;
  out->canonical_request_len = c->cr.len;
  out->string_to_sign = c->sts.p;
  out->string_to_sign_len = c->sts.len;
  if (o->presign) {
    out->url = c->url.p;
    out->url_len = c->url.len;
  } else {
    out->authorization = c->auth.p;
    out->authorization_len = c->auth.len;
    if (content_header) {
      out->content_sha256 = c->ph;
      out->content_sha256_len = ph_len;
    }
  }
  return GF_SIGV4_OK;
}
