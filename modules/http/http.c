/*
** http.c — one HTTP transfer: easy-handle set-up, response capture, completeness checks.
*/
#define _POSIX_C_SOURCE 200809L
#include "http.h"
#include "loop.h" /* gf_now_ms: the one monotonic clock */
#include "gfgrow.h"
#include "httpfile.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Error bodies of a download (non-2xx) are kept in memory up to this size. */
#define ERROR_BODY_CAP (1u << 20)

struct gf_http_xfer {
  CURL *easy;
  struct curl_slist *req_headers;
  char errbuf[CURL_ERROR_SIZE];
  /* request */
  int is_head;
  FILE *upload;
  off_t up_base;    /* where the body starts in upload */
  uint64_t up_size; /* the body's length */
  uint64_t up_left; /* bytes of the body not yet read */
  uint64_t max_body;
  char *output_file; /* final name */
  char *part_file;   /* output_file.part */
  int nosync;
  int append; /* the 2xx body continues the existing .part (206 to a resume) */
  uint64_t resume_from;
  int explicit_range;
  /* response */
  long status;
  int mode; /* 0: undecided, 1: memory, 2: file (body: spool until out is opened) */
  char *body;
  size_t body_len, body_cap;
  FILE *out;
  uint64_t received; /* body bytes of the final response */
  int too_large;
  int io_failed;
  int io_errno;
  long idle_ms;                /* abort after this long without a byte either way; 0: off */
  curl_off_t last_dl, last_ul; /* progress seen at last_change */
  int64_t last_change;
  int idle_expired;
  gf_http_header *hdrs;
  size_t nhdrs, cap_hdrs;
};

/* {====== response capture ====== */

static void clear_headers(gf_http_xfer *x)
{
  for (size_t i = 0; i < x->nhdrs; i++) {
    free(x->hdrs[i].name);
    free(x->hdrs[i].value);
  }
  x->nhdrs = 0;
}

static char *dup_range(const char *s, size_t n)
{
  char *d = malloc(n + 1);
  if (!d) return NULL;
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

static int add_header(gf_http_xfer *x, const char *name, size_t nlen, const char *val, size_t vlen)
{
  if (x->nhdrs == x->cap_hdrs) {
    size_t cap = x->cap_hdrs ? x->cap_hdrs * 2 : 16;
    gf_http_header *n = realloc(x->hdrs, cap * sizeof *n);
    if (!n) return -1;
    x->hdrs = n;
    x->cap_hdrs = cap;
  }
  char *nm = dup_range(name, nlen);
  char *vl = dup_range(val, vlen);
  if (!nm || !vl) {
    free(nm);
    free(vl);
    return -1;
  }
  for (char *p = nm; *p; p++) *p = (char)tolower((unsigned char)*p);
  x->hdrs[x->nhdrs].name = nm;
  x->hdrs[x->nhdrs].value = vl;
  x->nhdrs++;
  return 0;
}

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
  gf_http_xfer *x = ud;
  size_t len = size * n, end = len;
  while (end > 0 && (buf[end - 1] == '\r' || buf[end - 1] == '\n')) end--;
  if (end >= 5 && memcmp(buf, "HTTP/", 5) == 0) { /* a new response (redirect, 100, ...) */
    clear_headers(x);
    return len;
  }
  const char *colon = memchr(buf, ':', end);
  if (!colon || colon == buf) return len;
  size_t nlen = (size_t)(colon - buf);
  const char *v = colon + 1;
  while (v < buf + end && (*v == ' ' || *v == '\t')) v++;
  size_t vlen = (size_t)(buf + end - v);
  while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t')) vlen--;
  if (add_header(x, buf, nlen, v, vlen) != 0) return 0;
  return len;
}

static long long content_length(const gf_http_xfer *x);

/* The first byte of a 2xx body for output_file: append or start over, and size the spool. */
static void start_file(gf_http_xfer *x)
{
  /* Resume appends only when the server honoured the Range (206); a 200 starts over. */
  x->append = x->resume_from > 0 && x->status == 206;
  if (!x->append) x->resume_from = 0;
  long long clen = content_length(x);
  if (clen > 0 && (unsigned long long)clen <= GF_HTTP_SPOOL && !x->body) {
    x->body = malloc((size_t)clen);
    if (x->body) x->body_cap = (size_t)clen;
  }
}

static int open_part(gf_http_xfer *x)
{
  x->out = fopen(x->part_file, x->append ? "ab" : "wb");
  if (!x->out) {
    x->io_failed = 1;
    x->io_errno = errno;
    return -1;
  }
  return 0;
}

/* Move the spooled body to the .part file and stream from here on (loop thread). */
static int spill(gf_http_xfer *x)
{
  if (!x->out && open_part(x) != 0) return -1;
  if (x->body_len > 0 && fwrite(x->body, 1, x->body_len, x->out) != x->body_len) {
    x->io_failed = 1;
    x->io_errno = errno;
    return -1;
  }
  free(x->body);
  x->body = NULL;
  x->body_len = x->body_cap = 0;
  return 0;
}

static int spool(gf_http_xfer *x, const char *buf, size_t len)
{
  if (x->body_len + len > x->body_cap) {
    size_t cap = x->body_cap ? x->body_cap : 16384;
    while (cap < x->body_len + len) cap *= 2;
    if (cap > GF_HTTP_SPOOL) cap = GF_HTTP_SPOOL;
    char *n = realloc(x->body, cap);
    if (!n) return -1;
    x->body = n;
    x->body_cap = cap;
  }
  memcpy(x->body + x->body_len, buf, len);
  x->body_len += len;
  return 0;
}

static int keep_in_memory(gf_http_xfer *x, const char *buf, size_t len)
{
  size_t cap_limit = (x->mode == 1 && x->output_file) ? ERROR_BODY_CAP : SIZE_MAX;
  if (x->body_len >= cap_limit) return 0; /* error body of a download: keep the head */
  if (x->body_len + len > cap_limit) len = cap_limit - x->body_len;
  char *grown = gf_grow(x->body, &x->body_cap, x->body_len + len + 1, 1, 16384);
  if (!grown) return -1;
  x->body = grown;
  memcpy(x->body + x->body_len, buf, len);
  x->body_len += len;
  return 0;
}

static size_t on_body(char *buf, size_t size, size_t n, void *ud)
{
  gf_http_xfer *x = ud;
  size_t len = size * n;
  if (x->mode == 0) {
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
    x->mode = (x->output_file && x->status >= 200 && x->status < 300) ? 2 : 1;
    if (x->mode == 2) start_file(x);
  }
  x->received += len;
  if (x->max_body && x->received > x->max_body) {
    x->too_large = 1;
    return 0;
  }
  if (x->mode == 2) {
    if (!x->out) {
      if (x->body_len + len <= GF_HTTP_SPOOL && spool(x, buf, len) == 0) return len;
      if (spill(x) != 0) return 0;
    }
    if (fwrite(buf, 1, len, x->out) != len) {
      x->io_failed = 1;
      x->io_errno = errno;
      return 0;
    }
    return len;
  }
  return keep_in_memory(x, buf, len) == 0 ? len : 0;
}

/* Idle timeout: libcurl calls this at least once a second during a transfer (the host's curl
   loop gives every transfer a curl_multi_perform turn each second). */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
  (void)dltotal;
  (void)ultotal;
  gf_http_xfer *x = ud;
  int64_t now = gf_now_ms();
  if (dlnow != x->last_dl || ulnow != x->last_ul || x->last_change == 0) {
    x->last_dl = dlnow;
    x->last_ul = ulnow;
    x->last_change = now;
    return 0;
  }
  if (now - x->last_change >= x->idle_ms) {
    x->idle_expired = 1;
    return 1;
  }
  return 0;
}

/* A file upload's socket keeps at most 256 KiB in flight in the kernel: libcurl fills the send
** buffer in one go when the socket turns writable, so a loopback socket's default (up to 4 MiB)
** would copy megabytes in one loop step (tens of ms no other task runs); a smaller buffer
** moves the same bytes in more, shorter steps. */
static int on_upload_socket(void *ud, curl_socket_t fd, curlsocktype purpose)
{
  (void)ud;
  if (purpose == CURLSOCKTYPE_IPCXN) {
    int size = 256 * 1024;
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  }
  return CURL_SOCKOPT_OK;
}

static size_t on_upload(char *buf, size_t size, size_t n, void *ud)
{
  gf_http_xfer *x = ud;
  size_t want = size * n;
  if (want > x->up_left) want = (size_t)x->up_left;
  size_t got = want ? fread(buf, 1, want, x->upload) : 0;
  x->up_left -= got;
  if (got == 0 && ferror(x->upload)) {
    x->io_failed = 1;
    x->io_errno = errno;
    return CURL_READFUNC_ABORT;
  }
  return got;
}

static int on_seek(void *ud, curl_off_t offset, int origin)
{
  gf_http_xfer *x = ud;
  if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > x->up_left + (uint64_t)offset)
    return CURL_SEEKFUNC_CANTSEEK;
  if (fseeko(x->upload, x->up_base + (off_t)offset, SEEK_SET) != 0) return CURL_SEEKFUNC_FAIL;
  x->up_left = x->up_size - (uint64_t)offset;
  return CURL_SEEKFUNC_OK;
}

/* }====== */

/* {====== set-up ====== */

static int has_header(const gf_http_opts *o, const char *name)
{
  size_t n = strlen(name);
  for (size_t i = 0; i < o->nheaders; i++)
    if (strncasecmp(o->headers[i], name, n) == 0 && o->headers[i][n] == ':') return 1;
  return 0;
}

static int build_headers(gf_http_xfer *x, const gf_http_opts *o)
{
  struct curl_slist *l = NULL, *t;
  for (size_t i = 0; i < o->nheaders; i++) {
    if (!(t = curl_slist_append(l, o->headers[i]))) goto fail;
    l = t;
  }
  /* No 100-continue round trip: bodies go at once. */
  if (!has_header(o, "Expect")) {
    if (!(t = curl_slist_append(l, "Expect:"))) goto fail;
    l = t;
  }
  x->req_headers = l;
  return 0;
fail:
  curl_slist_free_all(l);
  return -1;
}

static int set_method_and_body(gf_http_xfer *x, const gf_http_opts *o, const char **code, char *err,
                               size_t errlen)
{
  CURL *e = x->easy;
  const char *m = o->method ? o->method : "GET";
  if (o->body_file) {
    struct stat st;
    x->upload = fopen(o->body_file, "rb");
    if (!x->upload || fstat(fileno(x->upload), &st) != 0) {
      *code = "io";
      snprintf(err, errlen, "cannot read body_file %s: %s", o->body_file, strerror(errno));
      return -1;
    }
    uint64_t fsize = (uint64_t)st.st_size;
    if (o->body_offset > fsize ||
        (o->body_length >= 0 && (uint64_t)o->body_length > fsize - o->body_offset)) {
      *code = "io";
      snprintf(err, errlen, "body_file %s: %llu bytes, the body asks for %lld from %llu",
               o->body_file, (unsigned long long)fsize, (long long)o->body_length,
               (unsigned long long)o->body_offset);
      return -1;
    }
    x->up_base = (off_t)o->body_offset;
    x->up_size = o->body_length >= 0 ? (uint64_t)o->body_length : fsize - o->body_offset;
    x->up_left = x->up_size;
    if (x->up_base && fseeko(x->upload, x->up_base, SEEK_SET) != 0) {
      *code = "io";
      snprintf(err, errlen, "body_file %s: %s", o->body_file, strerror(errno));
      return -1;
    }
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, on_upload);
    curl_easy_setopt(e, CURLOPT_READDATA, x);
    curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_seek);
    curl_easy_setopt(e, CURLOPT_SEEKDATA, x);
    curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->up_size);
    /* libcurl's smallest upload buffer: 16 KiB writes keep the socket as busy as 64 KiB ones,
       and 64 concurrent uploads then hold 1 MiB of buffers, not 4. */
    curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 16384L);
    curl_easy_setopt(e, CURLOPT_SOCKOPTFUNCTION, on_upload_socket);
    if (strcmp(m, "PUT") != 0) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
    return 0;
  }
  if (strcmp(m, "HEAD") == 0) {
    x->is_head = 1;
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    return 0;
  }
  if (o->body) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_len);
    curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, o->body);
    if (strcmp(m, "POST") != 0) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
    return 0;
  }
  if (strcmp(m, "POST") == 0) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, "");
  } else if (strcmp(m, "GET") != 0) {
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
  }
  return 0;
}

static int set_output(gf_http_xfer *x, const gf_http_opts *o, const char **code, char *err,
                      size_t errlen)
{
  if (!o->output_file) return 0;
  size_t n = strlen(o->output_file);
  x->output_file = strdup(o->output_file);
  x->nosync = o->nosync;
  x->part_file = malloc(n + 6);
  if (!x->output_file || !x->part_file) {
    *code = "io";
    snprintf(err, errlen, "not enough memory");
    return -1;
  }
  memcpy(x->part_file, o->output_file, n);
  memcpy(x->part_file + n, ".part", 6);
  /* A file download reads 128 KiB per receive (libcurl's default is 16 KiB): an eighth of
  ** the recv and write calls on the loop thread for a large object. */
  curl_easy_setopt(x->easy, CURLOPT_BUFFERSIZE, 128L * 1024);
  struct stat st;
  if (o->resume && !o->range && stat(x->part_file, &st) == 0 && st.st_size > 0) {
    char range[32];
    x->resume_from = (uint64_t)st.st_size;
    snprintf(range, sizeof range, "%llu-", (unsigned long long)x->resume_from);
    curl_easy_setopt(x->easy, CURLOPT_RANGE, range);
  }
  return 0;
}

static void set_limits(CURL *e, const gf_http_opts *o)
{
  if (o->timeout_ms > 0) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, o->timeout_ms);
  if (o->connect_timeout_ms > 0)
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, o->follow_redirects ? 1L : 0L);
  curl_easy_setopt(e, CURLOPT_MAXREDIRS, o->max_redirects);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  if (o->insecure) {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (o->ca_file) curl_easy_setopt(e, CURLOPT_CAINFO, o->ca_file);
  if (o->proxy) curl_easy_setopt(e, CURLOPT_PROXY, o->proxy);
  if (o->max_body) curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_body);
}

gf_http_xfer *gf_http_new(const gf_http_opts *o, const char **code, char *err, size_t errlen)
{
  gf_http_xfer *x = calloc(1, sizeof *x);
  *code = "io";
  if (!x || !(x->easy = curl_easy_init()) || build_headers(x, o) != 0) {
    snprintf(err, errlen, "not enough memory");
    gf_http_free(x);
    return NULL;
  }
  CURL *e = x->easy;
  x->max_body = o->max_body;
  if (curl_easy_setopt(e, CURLOPT_URL, o->url) != CURLE_OK) {
    *code = "invalid_input";
    snprintf(err, errlen, "bad URL");
    gf_http_free(x);
    return NULL;
  }
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->req_headers);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
  curl_easy_setopt(e, CURLOPT_USERAGENT,
                   "gfhost/"
                   "0.1 libcurl");
  set_limits(e, o);
  if (o->idle_timeout_ms > 0) {
    x->idle_ms = o->idle_timeout_ms;
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
  }
  x->explicit_range = o->range != NULL;
  if (o->range)
    curl_easy_setopt(e, CURLOPT_RANGE,
                     strncmp(o->range, "bytes=", 6) == 0 ? o->range + 6 : o->range);
  if (set_method_and_body(x, o, code, err, errlen) != 0 ||
      set_output(x, o, code, err, errlen) != 0) {
    gf_http_free(x);
    return NULL;
  }
  return x;
}

CURL *gf_http_easy(gf_http_xfer *x)
{
  return x->easy;
}

void gf_http_free(gf_http_xfer *x)
{
  if (!x) return;
  if (x->easy) curl_easy_cleanup(x->easy);
  curl_slist_free_all(x->req_headers);
  if (x->upload) fclose(x->upload);
  if (x->out) fclose(x->out);
  clear_headers(x);
  free(x->hdrs);
  free(x->body);
  free(x->output_file);
  free(x->part_file);
  free(x);
}

/* }====== */

/* {====== completion ====== */

static const char *code_of(CURLcode rc)
{
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
      return "timeout";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
      return "tls";
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return "invalid_input";
    case CURLE_ABORTED_BY_CALLBACK:
      return "interrupted";
    case CURLE_READ_ERROR:
    case CURLE_WRITE_ERROR:
      return "io";
    default:
      return "network";
  }
}

static const gf_http_header *find_header(const gf_http_xfer *x, const char *name)
{
  for (size_t i = x->nhdrs; i-- > 0;)
    if (strcmp(x->hdrs[i].name, name) == 0) return &x->hdrs[i];
  return NULL;
}

/* Content-Length of the final response, or -1. */
static long long content_length(const gf_http_xfer *x)
{
  const gf_http_header *h = find_header(x, "content-length");
  if (!h) return -1;
  char *end;
  errno = 0;
  long long v = strtoll(h->value, &end, 10);
  if (errno || end == h->value || v < 0) return -1;
  return v;
}

static int fail_transport(gf_http_xfer *x, CURLcode rc, const char **code, char *msg, size_t msglen)
{
  if (x->idle_expired) {
    *code = "timeout";
    snprintf(msg, msglen, "no data for %ld ms (idle_timeout)", x->idle_ms);
  } else if (x->too_large) {
    *code = "io";
    snprintf(msg, msglen, "response body larger than max_body (%llu bytes)",
             (unsigned long long)x->max_body);
  } else if (rc == CURLE_FILESIZE_EXCEEDED) {
    *code = "io";
    snprintf(msg, msglen, "response body larger than max_body (%llu bytes)",
             (unsigned long long)x->max_body);
  } else if (x->io_failed) {
    *code = "io";
    snprintf(msg, msglen, "%s: %s", x->out || x->mode == 2 ? x->part_file : "body_file",
             strerror(x->io_errno));
  } else if (rc == CURLE_PARTIAL_FILE) {
    *code = "network";
    snprintf(msg, msglen, "partial body: %s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
  } else {
    *code = code_of(rc);
    snprintf(msg, msglen, "%s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
  }
  return -1;
}

static char *dup_str(const char *s)
{
  return dup_range(s, strlen(s));
}

int gf_http_take_file(gf_http_xfer *x, gf_http_file **file, const char **code, char *msg,
                      size_t msglen)
{
  *file = NULL;
  if (!x->output_file || x->status < 200 || x->status >= 300) return 0;
  if (x->mode == 0) start_file(x); /* an empty body */
  uint64_t want = x->resume_from + x->received;
  const gf_http_header *cr = find_header(x, "content-range");
  unsigned long long first = 0, last = 0, total = 0;
  if (x->status == 206 && cr &&
      sscanf(cr->value, "bytes %llu-%llu/%llu", &first, &last, &total) == 3) {
    if (first != x->resume_from && !x->explicit_range) {
      *code = "network";
      snprintf(msg, msglen, "resume: asked for bytes from %llu, got %llu",
               (unsigned long long)x->resume_from, first);
      return -1;
    }
    if (!x->explicit_range) want = total;
  }
  gf_http_file *f = calloc(1, sizeof *f);
  if (!f || !(f->path = dup_str(x->output_file)) || !(f->part = dup_str(x->part_file))) {
    gf_http_file_free(f);
    *code = "io";
    snprintf(msg, msglen, "not enough memory");
    return -1;
  }
  f->fd = -1;
  f->append = x->append;
  f->sync = !x->nosync;
  f->want = want;
  f->out = x->out;
  x->out = NULL;
  f->data = x->body;
  f->len = x->body_len;
  x->body = NULL;
  x->body_len = x->body_cap = 0;
  *file = f;
  return 0;
}

const char *gf_http_file_error(const gf_http_file *f, const char **code)
{
  if (!f->failed) return NULL;
  *code = f->code;
  return f->msg;
}

static int finish(gf_http_xfer *x, CURLcode rc, const char **code, char *msg, size_t msglen)
{
  if (rc != CURLE_OK || x->too_large || x->io_failed)
    return fail_transport(x, rc, code, msg, msglen);
  curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
  long long clen = content_length(x);
  int bodiless = x->is_head || x->status == 204 || x->status == 304 || x->status < 200;
  if (!bodiless && clen >= 0 && (uint64_t)clen != x->received) {
    *code = "network";
    snprintf(msg, msglen, "partial body: %llu of %lld bytes", (unsigned long long)x->received,
             clen);
    return -1;
  }
  return 0;
}

int gf_http_finish(gf_http_xfer *x, CURLcode rc, const char **code, char *msg, size_t msglen)
{
  if (finish(x, rc, code, msg, msglen) == 0) return 0;
  /* What arrived of a file download stays in its .part, for a later resume. */
  if (x->mode == 2 && x->body_len > 0) spill(x);
  if (x->out) {
    fclose(x->out);
    x->out = NULL;
  }
  return -1;
}

long gf_http_status(const gf_http_xfer *x)
{
  return x->status;
}

const char *gf_http_body(const gf_http_xfer *x, size_t *len)
{
  *len = x->body_len;
  return x->body ? x->body : "";
}

size_t gf_http_nheaders(const gf_http_xfer *x)
{
  return x->nhdrs;
}

const gf_http_header *gf_http_header_at(const gf_http_xfer *x, size_t i)
{
  return i < x->nhdrs ? &x->hdrs[i] : NULL;
}

const char *gf_http_effective_url(gf_http_xfer *x)
{
  char *u = NULL;
  curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_URL, &u);
  return u ? u : "";
}

uint64_t gf_http_bytes(const gf_http_xfer *x)
{
  return x->received;
}

double gf_http_total_time(gf_http_xfer *x)
{
  curl_off_t us = 0;
  curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME_T, &us);
  return (double)us / 1e6;
}

const char *gf_http_version(gf_http_xfer *x)
{
  long v = 0;
  curl_easy_getinfo(x->easy, CURLINFO_HTTP_VERSION, &v);
  switch (v) {
    case CURL_HTTP_VERSION_1_0:
      return "1.0";
    case CURL_HTTP_VERSION_1_1:
      return "1.1";
    case CURL_HTTP_VERSION_2_0:
      return "2";
    case CURL_HTTP_VERSION_3:
      return "3";
    default:
      return "";
  }
}

const char *gf_http_output_path(const gf_http_xfer *x)
{
  return (x->output_file && x->status >= 200 && x->status < 300) ? x->output_file : NULL;
}

/* }====== */
