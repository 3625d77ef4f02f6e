/*
** http.h — one HTTP transfer on a libcurl easy handle, plus URL helpers. Pure C: no Lua.
**
** gf_http_new builds the transfer from options (strings are copied, the caller keeps its own);
** the easy handle runs anywhere (the host's multi handle); gf_http_finish checks completeness
** and says whether the transfer succeeded. A completed output_file download is then taken out
** with gf_http_take_file and committed — written, fsynced, size-checked and renamed — by
** gf_http_commit on a worker thread, in batches. gf_http_free releases everything (a failed
** download keeps its partial "<output_file>.part" for a later resume).
**
** A body of up to GF_HTTP_SPOOL bytes is kept in memory and first written by the commit, so the
** event-loop thread never creates files for small downloads; a larger one is streamed to the
** .part file as it arrives.
*/
#ifndef GF_HTTP_H
#define GF_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

typedef struct gf_http_opts {
  const char *method; /* upper case; NULL: GET */
  const char *url;
  const char *const *headers; /* "Name: value" lines */
  size_t nheaders;
  const char *body; /* may hold NUL bytes */
  size_t body_len;
  const char *body_file;
  uint64_t body_offset;    /* body_file: the body is body_length bytes from body_offset */
  int64_t body_length;     /* -1: to the end of the file */
  const char *output_file; /* written to output_file.part, renamed when complete */
  int nosync;              /* output_file: no fdatasync / directory fsync */
  int resume;              /* continue output_file.part with a Range request */
  const char *range;       /* "bytes=0-99" or "0-99" */
  long timeout_ms, connect_timeout_ms; /* 0: none / libcurl default */
  long idle_timeout_ms;                /* abort after this long without a byte; 0: off */
  int follow_redirects;
  long max_redirects;
  int insecure;
  const char *ca_file;
  const char *proxy;
  uint64_t max_body; /* 0: unlimited */
} gf_http_opts;

typedef struct gf_http_xfer gf_http_xfer;

typedef struct gf_http_header {
  char *name; /* lower case */
  char *value;
} gf_http_header;

/* NULL on failure with a message in err (code "io" for a body/output file, "invalid_input"). */
gf_http_xfer *gf_http_new(const gf_http_opts *o, const char **code, char *err, size_t errlen);
CURL *gf_http_easy(gf_http_xfer *x);
void gf_http_free(gf_http_xfer *x);

/*
** After the transfer ended with rc: 0 when a complete response arrived (any status), else -1
** with the error code ("timeout", "network", "tls", "io", "interrupted", "invalid_input") and
** the error text (no URL) in msg.
*/
int gf_http_finish(gf_http_xfer *x, CURLcode rc, const char **code, char *msg, size_t msglen);

#define GF_HTTP_SPOOL (1u << 20)

typedef struct gf_http_file gf_http_file;

/*
** After gf_http_finish returned 0: *file = the completed output_file body (NULL when there is
** none: no output_file, or a non-2xx status). -1 with code and msg when the response does not
** fit the resumed .part.
*/
int gf_http_take_file(gf_http_xfer *x, gf_http_file **file, const char **code, char *msg,
                      size_t msglen);
/* Worker thread: write, sync, check and rename every file; then see gf_http_file_error. */
void gf_http_commit(gf_http_file **files, size_t n);
/* NULL when the file is in place, else the error text (code in *code). */
const char *gf_http_file_error(const gf_http_file *f, const char **code);
/* Frees; a file not committed keeps whatever .part it had on disk. */
void gf_http_file_free(gf_http_file *f);

/* Results (valid after gf_http_finish returned 0). */
long gf_http_status(const gf_http_xfer *x);
const char *gf_http_body(const gf_http_xfer *x, size_t *len);
size_t gf_http_nheaders(const gf_http_xfer *x);
const gf_http_header *gf_http_header_at(const gf_http_xfer *x, size_t i);
const char *gf_http_effective_url(gf_http_xfer *x);
uint64_t gf_http_bytes(const gf_http_xfer *x);
double gf_http_total_time(gf_http_xfer *x);
const char *gf_http_version(gf_http_xfer *x);
const char *gf_http_output_path(const gf_http_xfer *x); /* final path, or NULL */

/* {====== URL helpers ====== */

/* RFC 3986: keep ALPHA DIGIT - . _ ~, percent-encode the rest (upper-case hex). Caller frees. */
char *gf_http_url_encode(const char *s, size_t len, size_t *outlen);
/* Decode %XX (and '+' as space when form is set). NULL on a malformed escape. Caller frees. */
char *gf_http_url_decode(const char *s, size_t len, int form, size_t *outlen);
/* Copy url to out with secret query values and a userinfo password replaced by "***". */
void gf_http_redact_url(const char *url, char *out, size_t outlen);
/* Epoch seconds from an HTTP date, or -1. */
long long gf_http_parse_date(const char *s);

/* }====== */

#endif
