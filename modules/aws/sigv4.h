/*
** sigv4.h — AWS Signature Version 4 in pure C on OpenSSL libcrypto (EVP SHA-256 and HMAC), no
** Lua.
**
** A gf_sigv4_ctx owns everything a signature needs: libcrypto's fetched SHA-256 and HMAC,
** scratch buffers reused from call to call, and a small cache of signing keys keyed by (secret
** key, date, region, service). One context per thread (one per Lua state): it is not locked.
** gf_sigv4_ctx_free wipes the cache and the buffers (OPENSSL_cleanse).
**
** The clock is never read here: the time is gf_sigv4_options.time (epoch seconds, UTC).
**
** Ownership: the strings in gf_sigv4_result point into the context and stay valid until the
** next gf_sigv4_sign / gf_sigv4_ctx_free on that context. Inputs are borrowed for the call.
*/
#ifndef GF_SIGV4_H
#define GF_SIGV4_H

#include <stddef.h>
#include <stdint.h>

typedef struct gf_sigv4_ctx gf_sigv4_ctx;

typedef struct {
  const char *name;
  size_t name_len;
  const char *value;
  size_t value_len;
} gf_sigv4_header;

typedef struct {
  const char *method; /* "GET", ... (used as given) */
  size_t method_len;
  const char *url; /* scheme://host[:port]/path?query (fragment dropped) */
  size_t url_len;
  const gf_sigv4_header *headers; /* may repeat a name: values are joined with ',' in order */
  size_t nheaders;
  const char *body; /* NULL = empty */
  size_t body_len;
} gf_sigv4_request;

typedef struct {
  const char *access_key;
  size_t access_key_len;
  const char *secret_key;
  size_t secret_key_len;
  const char *session_token; /* NULL = none */
  size_t session_token_len;
} gf_sigv4_credentials;

typedef struct {
  const char *region;
  size_t region_len;
  const char *service;
  size_t service_len;
  int64_t time;             /* epoch seconds, UTC */
  int64_t presign;          /* 0: header mode; else X-Amz-Expires seconds (query mode) */
  const char *payload_hash; /* NULL: computed (or UNSIGNED-PAYLOAD for S3 presign) */
  size_t payload_hash_len;
  int s3;                 /* S3 rules: no normalisation, no double encoding, content sha header */
  int normalize;          /* remove dot segments and duplicate slashes (ignored with s3) */
  int sign_body;          /* header mode: add and sign x-amz-content-sha256 */
  int omit_session_token; /* add the token after signing, outside the signature */
} gf_sigv4_options;

typedef struct {
  const char *canonical_request;
  size_t canonical_request_len;
  const char *string_to_sign;
  size_t string_to_sign_len;
  char signature[65];
  char amz_date[17];
  /* header mode: the header values to add (content_sha256 NULL when not added) */
  const char *authorization;
  size_t authorization_len;
  const char *content_sha256;
  size_t content_sha256_len;
  /* query mode: the presigned URL */
  const char *url;
  size_t url_len;
} gf_sigv4_result;

enum { GF_SIGV4_OK = 0, GF_SIGV4_ENOMEM = 1, GF_SIGV4_EINVAL = 2 };

/* NULL when out of memory or when libcrypto offers no SHA-256 or HMAC. */
gf_sigv4_ctx *gf_sigv4_ctx_new(void);
void gf_sigv4_ctx_free(gf_sigv4_ctx *ctx);

/* Room for n headers inside the context (valid until the next call); NULL when out of memory. */
gf_sigv4_header *gf_sigv4_ctx_headers(gf_sigv4_ctx *ctx, size_t n);

/*
** Sign. Returns GF_SIGV4_OK, GF_SIGV4_ENOMEM, or GF_SIGV4_EINVAL with a reason from
** gf_sigv4_error (it never contains credentials).
*/
int gf_sigv4_sign(gf_sigv4_ctx *ctx, const gf_sigv4_request *req, const gf_sigv4_credentials *cred,
                  const gf_sigv4_options *opt, gf_sigv4_result *out);
const char *gf_sigv4_error(const gf_sigv4_ctx *ctx);

/* Hex SHA-256 of data into out[65] (NUL-terminated). Returns 0, or -1 on failure. */
int gf_sigv4_sha256_hex(gf_sigv4_ctx *ctx, const void *data, size_t len, char out[65]);
/* HMAC-SHA-256 into out[32]. Returns 0, or -1 on failure. */
int gf_sigv4_hmac(gf_sigv4_ctx *ctx, const void *key, size_t key_len, const void *msg,
                  size_t msg_len, unsigned char out[32]);

/*
** AWS URI encoding of s into the context's scratch (valid until the next call): every byte but
** A-Z a-z 0-9 - _ . ~ becomes %XX (upper case); '/' is kept when keep_slash. NULL on OOM.
*/
const char *gf_sigv4_uri_encode(gf_sigv4_ctx *ctx, const char *s, size_t len, int keep_slash,
                                size_t *out_len);

/* Statistics of the signing-key cache (for specs). */
void gf_sigv4_cache_stats(const gf_sigv4_ctx *ctx, uint64_t *hits, uint64_t *misses);

#endif
