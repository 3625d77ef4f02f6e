/*
** Fuzz target: the SigV4 URL canonicaliser (modules/aws/sigv4.c, pure C on libcrypto). The
** first byte picks the options (S3 rules, normalisation, presign, a session token and whether
** it is signed, a header); the rest is the URL. Every signature that succeeds is checked for
** the invariants of its output.
*/
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static gf_sigv4_ctx *c;
  if (!c && !(c = gf_sigv4_ctx_new())) abort();
  if (size < 1) return 0;
  uint8_t k = data[0];
  const char *url = (const char *)data + 1;
  size_t url_len = size - 1;
  gf_sigv4_header h[2] = {{"X-Amz-Meta-Fuzz", 15, url, url_len < 40 ? url_len : 40},
                          {"Host", 4, "example.com", 11}};
  gf_sigv4_request r = {"get", 3, url, url_len, h, (k & 32) ? 2 : 1, (k & 64) ? "x" : NULL, 1};
  gf_sigv4_credentials cr = {"AKIDEXAMPLE",
                             11,
                             "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                             40,
                             (k & 8) ? "token/+=" : NULL,
                             8};
  gf_sigv4_options o = {"us-east-1", 9, "s3",  2,     1440938160,     (k & 4) ? 900 : 0,
                        NULL,        0, k & 1, k & 2, (k & 128) != 0, (k & 16) != 0};
  gf_sigv4_result res;
  int rc = gf_sigv4_sign(c, &r, &cr, &o, &res);
  if (rc == GF_SIGV4_OK) {
    if (strlen(res.signature) != 64 || !res.canonical_request || !res.string_to_sign) abort();
    const char *out = o.presign ? res.url : res.authorization;
    size_t out_len = o.presign ? res.url_len : res.authorization_len;
    if (!out || out_len < 64 || memcmp(out + out_len - 64, res.signature, 64) != 0) abort();
    if (!o.presign && strlen(out) != out_len) abort(); /* a URL may carry NULs; not the header */
  } else if (rc != GF_SIGV4_EINVAL) {
    abort();
  }
  size_t n;
  const char *e = gf_sigv4_uri_encode(c, url, url_len, k & 1, &n);
  if (!e || n < url_len || strlen(e) != n) abort();
  return 0;
}
