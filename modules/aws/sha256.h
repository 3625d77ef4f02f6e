/*
** sha256.h — SHA-256 and HMAC-SHA-256 for the SigV4 signer (sigv4.c), in pure C, no Lua.
** Internal to gf.aws: not a general-purpose hash API.
**
** The caller holds the hash states (chaining value and length) and feeds whole 64-byte blocks,
** so a state can be saved and copied at any block boundary: the signer keeps the HMAC states of
** a cached signing key, and the inner state after the string to sign's first block, and copies
** them per signature. gf_sha256_finish / gf_sha256_pad do the final padding.
**
** Every function that compresses takes `ni`: nonzero runs the compression on the CPU's SHA
** extensions (own code), zero on libcrypto's. Pass nonzero only when gf_sha256_ni_available()
** said yes. Both give the same digests.
**
** Secrets: the functions wipe their own temporaries (OPENSSL_cleanse); states that hold key
** material are the caller's to wipe.
*/
#ifndef GF_SHA256_H
#define GF_SHA256_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A SHA-256 state: the chaining value and the bytes absorbed (whole blocks). */
typedef struct {
  uint32_t h[8];
  uint64_t len;
} gf_sha256_state;

/* An HMAC-SHA-256 key, ready to use: the states after absorbing key ^ ipad and key ^ opad. */
typedef struct {
  gf_sha256_state inner, outer;
} gf_hmac_state;

/* Whether this CPU has the SHA extensions and SSSE3 (always 0 off x86-64 GCC / Clang). */
int gf_sha256_ni_available(void);

/* The initial state (FIPS 180-4 5.3.3). Inline: the signer starts two states per signature. */
static inline void gf_sha256_start(gf_sha256_state *s)
{
  static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  memcpy(s->h, iv, sizeof s->h);
  s->len = 0;
}

/* Absorb n whole blocks (64 * n bytes at p). */
void gf_sha256_blocks(int ni, gf_sha256_state *s, const unsigned char *p, size_t n);

/*
** Absorb n whole blocks of each of two independent messages. On the SHA extensions their
** rounds run interleaved: two cost little more than one (a compression is bound by the
** latency of sha256rnds2). Elsewhere it is two gf_sha256_blocks calls.
*/
void gf_sha256_blocks2(int ni, gf_sha256_state *a, const unsigned char *pa, gf_sha256_state *b,
                       const unsigned char *pb, size_t n);

/*
** The last block(s) of a message of `total` bytes whose final total % 64 bytes are at tail:
** those bytes, 0x80, zeros, the length in bits (big-endian), into out. Returns the block
** count, 1 or 2.
*/
size_t gf_sha256_pad(uint64_t total, const unsigned char *tail, unsigned char out[128]);

/* The digest of a state that has absorbed its padding: h[0..7] as big-endian bytes. */
void gf_sha256_digest(int ni, const gf_sha256_state *s, unsigned char out[32]);

/* Absorb the n last bytes of the message (any length), pad, and write its digest. */
void gf_sha256_finish(int ni, gf_sha256_state *s, const void *msg, size_t n, unsigned char out[32]);

/* The digest of len bytes. */
void gf_sha256(int ni, const void *data, size_t len, unsigned char out[32]);

/* Prepare an HMAC key (a key over 64 bytes is hashed first, as RFC 2104 says). */
void gf_hmac_init(int ni, gf_hmac_state *h, const void *key, size_t key_len);

/*
** Finish an HMAC whose inner state `in` has absorbed everything but msg (in ends holding the
** inner digest: the caller wipes it). The outer hash is one block: the inner digest, padded.
*/
void gf_hmac_finish(int ni, gf_sha256_state *in, const gf_sha256_state *outer, const void *msg,
                    size_t n, unsigned char out[32]);

/* HMAC of msg under a prepared key (h is left as it is). */
void gf_hmac_final(int ni, const gf_hmac_state *h, const void *msg, size_t n,
                   unsigned char out[32]);

#endif
