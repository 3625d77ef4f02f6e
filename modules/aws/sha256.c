/*
** sha256.c — SHA-256 and HMAC-SHA-256 for the SigV4 signer (API and contract: sha256.h).
**
** Why not libcrypto's digest API: the signer keeps its own hash states (chaining value and
** length), so the HMAC states of a cached signing key are saved once and copied per signature,
** and it pads the last block itself. The compression function runs on the CPU's SHA extensions
** when it has them (own code below, with a variant that runs two independent messages
** interleaved: one compression is bound by the latency of sha256rnds2, so two take little more
** time than one), else on libcrypto's: SHA256_Update on whole blocks (deprecated, not removed,
** in OpenSSL 3), its assembly for the CPU. The EVP layer is not used: ~100 ns of provider
** dispatch per digest, and no way to snapshot a state.
*/
#define OPENSSL_API_COMPAT 10101
#include "sha256.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define GF_SHANI 1
#include <cpuid.h>
#include <immintrin.h>
#else
#define GF_SHANI 0
#endif

#if defined(OPENSSL_NO_DEPRECATED_3_0)
#error "gf.aws needs libcrypto's SHA256_Update (OpenSSL built without no-deprecated)"
#endif

/* {====== SHA extensions ======} */

#if GF_SHANI
/* The round constants (FIPS 180-4 4.2.2). */
static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define SHANI_FN __attribute__((target("sha,ssse3")))

/*
** sha256rnds2 keeps the eight working variables in two registers, from the top lane down:
** (a, b, e, f) and (ni, d, g, h). h[0..7] loaded as two vectors are (d c b a) and (h g f e)
** once reversed; their high and low halves interleave into the two.
*/
typedef struct {
  __m128i abef, cdgh;
} ni_state;

SHANI_FN static inline ni_state ni_load(const uint32_t h[8])
{
  __m128i x = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(const void *)h), 0x1B);
  __m128i y = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(const void *)(h + 4)), 0x1B);
  ni_state s = {_mm_unpackhi_epi64(y, x), _mm_unpacklo_epi64(y, x)};
  return s;
}

SHANI_FN static inline void ni_store(uint32_t h[8], ni_state s)
{
  __m128i x = _mm_shuffle_epi32(_mm_unpackhi_epi64(s.cdgh, s.abef), 0x1B);
  __m128i y = _mm_shuffle_epi32(_mm_unpacklo_epi64(s.cdgh, s.abef), 0x1B);
  _mm_storeu_si128((__m128i *)(void *)h, x);
  _mm_storeu_si128((__m128i *)(void *)(h + 4), y);
}

/* Four message words of a block (big-endian in memory). */
SHANI_FN static inline __m128i ni_words(const unsigned char *p)
{
  const __m128i bswap = _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3);
  return _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)p), bswap);
}

/* The digest: h[0..7] as big-endian bytes. */
SHANI_FN static void ni_digest(const uint32_t h[8], unsigned char out[32])
{
  const __m128i bswap = _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3);
  __m128i x = _mm_loadu_si128((const __m128i *)(const void *)h);
  __m128i y = _mm_loadu_si128((const __m128i *)(const void *)(h + 4));
  _mm_storeu_si128((__m128i *)(void *)out, _mm_shuffle_epi8(x, bswap));
  _mm_storeu_si128((__m128i *)(void *)(out + 16), _mm_shuffle_epi8(y, bswap));
}

/*
** Words 4g..4g+3 of the message schedule (g >= 4) into the ring m[4], which holds words
** 4(g-4).. 4g-1: W[t-16] + s0(W[t-15]) (msg1), + W[t-7] (the ring's two newest, shifted by
** one word), then + s1(W[t-2]) (msg2).
*/
#define NI_SCHEDULE(m, g)                                                                         \
  m[(g) % 4] =                                                                                    \
      _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32(m[(g) % 4], m[((g) + 1) % 4]),      \
                                         _mm_alignr_epi8(m[((g) + 3) % 4], m[((g) + 2) % 4], 4)), \
                           m[((g) + 3) % 4])

/* Four rounds with the words + constants wk: two per sha256rnds2, which swaps the halves. */
#define NI_ROUNDS(s, wk)                                                         \
  do {                                                                           \
    __m128i w_ = (wk);                                                           \
    s.cdgh = _mm_sha256rnds2_epu32(s.cdgh, s.abef, w_);                          \
    s.abef = _mm_sha256rnds2_epu32(s.abef, s.cdgh, _mm_shuffle_epi32(w_, 0x0E)); \
  } while (0)

#define NI_K(g) _mm_loadu_si128((const __m128i *)(const void *)(K256 + 4 * (g)))

SHANI_FN static void ni_blocks(uint32_t h[8], const unsigned char *p, size_t n)
{
  ni_state s = ni_load(h);
  for (; n; n--, p += 64) {
    ni_state in = s;
    __m128i m[4];
#pragma GCC unroll 16
    for (int g = 0; g < 16; g++) {
      if (g < 4) {
        m[g] = ni_words(p + 16 * g);
      } else {
        NI_SCHEDULE(m, g);
      }
      NI_ROUNDS(s, _mm_add_epi32(m[g % 4], NI_K(g)));
    }
    s.abef = _mm_add_epi32(s.abef, in.abef);
    s.cdgh = _mm_add_epi32(s.cdgh, in.cdgh);
  }
  ni_store(h, s);
}

/* n blocks of two independent messages, their rounds interleaved. */
SHANI_FN static void ni_blocks2(uint32_t ha[8], const unsigned char *pa, uint32_t hb[8],
                                const unsigned char *pb, size_t n)
{
  ni_state a = ni_load(ha), b = ni_load(hb);
  for (; n; n--, pa += 64, pb += 64) {
    ni_state ia = a, ib = b;
    __m128i ma[4], mb[4];
#pragma GCC unroll 16
    for (int g = 0; g < 16; g++) {
      if (g < 4) {
        ma[g] = ni_words(pa + 16 * g);
        mb[g] = ni_words(pb + 16 * g);
      } else {
        NI_SCHEDULE(ma, g);
        NI_SCHEDULE(mb, g);
      }
      NI_ROUNDS(a, _mm_add_epi32(ma[g % 4], NI_K(g)));
      NI_ROUNDS(b, _mm_add_epi32(mb[g % 4], NI_K(g)));
    }
    a.abef = _mm_add_epi32(a.abef, ia.abef);
    a.cdgh = _mm_add_epi32(a.cdgh, ia.cdgh);
    b.abef = _mm_add_epi32(b.abef, ib.abef);
    b.cdgh = _mm_add_epi32(b.cdgh, ib.cdgh);
  }
  ni_store(ha, a);
  ni_store(hb, b);
}

/* CPUID: SSSE3 (leaf 1, ECX bit 9) and the SHA extensions (leaf 7, EBX bit 29). */
int gf_sha256_ni_available(void)
{
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 9))) return 0;
  if (__get_cpuid_max(0, NULL) < 7) return 0;
  __cpuid_count(7, 0, a, b, c, d);
  return (b >> 29) & 1;
}
#else
int gf_sha256_ni_available(void)
{
  return 0;
}
#endif

/* {====== hashing ======} */

/* Absorb n whole blocks. */
void gf_sha256_blocks(int ni, gf_sha256_state *s, const unsigned char *p, size_t n)
{
  s->len += 64 * (uint64_t)n;
#if GF_SHANI
  if (ni) {
    ni_blocks(s->h, p, n);
    return;
  }
#else
  (void)ni;
#endif
  /* libcrypto's compression: whole blocks with nothing buffered go straight to it (one call
     for the n blocks); only the chaining value of x is used. */
  SHA256_CTX x;
  memcpy(x.h, s->h, sizeof s->h);
  x.Nl = x.Nh = 0;
  x.num = 0;
  SHA256_Update(&x, p, 64 * n);
  memcpy(s->h, x.h, sizeof s->h);
  OPENSSL_cleanse(x.h, sizeof x.h);
}

/* Absorb n whole blocks of each of two independent messages. */
void gf_sha256_blocks2(int ni, gf_sha256_state *a, const unsigned char *pa, gf_sha256_state *b,
                       const unsigned char *pb, size_t n)
{
#if GF_SHANI
  if (ni) {
    a->len += 64 * (uint64_t)n;
    b->len += 64 * (uint64_t)n;
    ni_blocks2(a->h, pa, b->h, pb, n);
    return;
  }
#endif
  gf_sha256_blocks(ni, a, pa, n);
  gf_sha256_blocks(ni, b, pb, n);
}

/* Big-endian stores (one bswap and one move where the compiler knows the byte order). */
static inline void put_be32(unsigned char *p, uint32_t v)
{
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  v = __builtin_bswap32(v);
  memcpy(p, &v, 4);
#else
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
#endif
}

/*
** The last block(s) of a message of `total` bytes whose final total % 64 bytes are at tail:
** those bytes, 0x80, zeros, the length in bits (big-endian). Returns the block count, 1 or 2.
*/
size_t gf_sha256_pad(uint64_t total, const unsigned char *tail, unsigned char out[128])
{
  size_t n = (size_t)(total % 64), nb = n < 56 ? 1 : 2;
  uint64_t bits = total * 8;
  if (n) memcpy(out, tail, n);
  out[n] = 0x80;
  memset(out + n + 1, 0, 64 * nb - n - 9);
  put_be32(out + 64 * nb - 8, (uint32_t)(bits >> 32));
  put_be32(out + 64 * nb - 4, (uint32_t)bits);
  return nb;
}

void gf_sha256_digest(int ni, const gf_sha256_state *s, unsigned char out[32])
{
#if GF_SHANI
  if (ni) {
    ni_digest(s->h, out);
    return;
  }
#else
  (void)ni;
#endif
  for (int i = 0; i < 8; i++) put_be32(out + 4 * i, s->h[i]);
}

/* Absorb the n last bytes of the message and write its digest. */
void gf_sha256_finish(int ni, gf_sha256_state *s, const void *msg, size_t n, unsigned char out[32])
{
  const unsigned char *p = msg;
  unsigned char last[128];
  size_t whole = n / 64;
  if (whole) gf_sha256_blocks(ni, s, p, whole);
  gf_sha256_blocks(ni, s, last, gf_sha256_pad(s->len + n % 64, whole ? p + 64 * whole : p, last));
  gf_sha256_digest(ni, s, out);
}

void gf_sha256(int ni, const void *data, size_t len, unsigned char out[32])
{
  gf_sha256_state s;
  gf_sha256_start(&s);
  gf_sha256_finish(ni, &s, data, len, out);
}

/* {====== HMAC ======} */

/* The HMAC-SHA-256 states after absorbing key ^ ipad and key ^ opad. */
void gf_hmac_init(int ni, gf_hmac_state *h, const void *key, size_t key_len)
{
  unsigned char k[64], ipad[64], opad[64];
  memset(k, 0, sizeof k);
  if (key_len > 64) {
    gf_sha256(ni, key, key_len, k);
  } else if (key_len) {
    memcpy(k, key, key_len);
  }
  for (int i = 0; i < 64; i++) {
    ipad[i] = k[i] ^ 0x36;
    opad[i] = k[i] ^ 0x5c;
  }
  gf_sha256_start(&h->inner);
  gf_sha256_start(&h->outer);
  gf_sha256_blocks2(ni, &h->inner, ipad, &h->outer, opad, 1);
  OPENSSL_cleanse(k, sizeof k);
  OPENSSL_cleanse(ipad, sizeof ipad);
  OPENSSL_cleanse(opad, sizeof opad);
}

/*
** Finish an HMAC whose inner state `in` has absorbed everything but msg (in ends holding the
** inner digest: the caller wipes it). The outer hash is one block: the inner digest, padded.
*/
void gf_hmac_finish(int ni, gf_sha256_state *in, const gf_sha256_state *outer, const void *msg,
                    size_t n, unsigned char out[32])
{
  unsigned char block[64];
  gf_sha256_finish(ni, in, msg, n, block);
  block[32] = 0x80;
  memset(block + 33, 0, 29);
  block[62] = (64 + 32) * 8 >> 8; /* the length in bits: the key block and the digest */
  block[63] = (64 + 32) * 8 & 0xff;
  gf_sha256_state s = *outer;
  gf_sha256_blocks(ni, &s, block, 1);
  gf_sha256_digest(ni, &s, out);
  OPENSSL_cleanse(block, 32);
}

void gf_hmac_final(int ni, const gf_hmac_state *h, const void *msg, size_t n, unsigned char out[32])
{
  gf_sha256_state s = h->inner;
  gf_hmac_finish(ni, &s, &h->outer, msg, n, out);
  OPENSSL_cleanse(&s, sizeof s);
}
