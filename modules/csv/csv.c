/*
** csv.c — RFC 4180 reader and writer helpers (see csv.h).
*/
#include "csv.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gfgrow.h"

#define CHUNK 65536
#define C_EOF (-1)
#define C_ERR (-2)

struct gf_csv_reader {
  char delim, quote;
  int strict;
  gf_csv_read_fn read;
  void *ctx;
  char in[CHUNK];
  size_t pos, len;
  int eof, err, started;
  long line, rec_line;
  const char *problem;
  gf_csv_buf bytes; /* field bytes of the current record */
  size_t *ends;     /* end offset of each field in bytes */
  size_t nf, ends_cap;
};

void gf_csv_buf_free(gf_csv_buf *b)
{
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

int gf_csv_buf_add(gf_csv_buf *b, const char *s, size_t n)
{
  if (n > SIZE_MAX - b->len) return -1;
  char *p = gf_grow(b->data, &b->cap, b->len + n, 1, 128);
  if (!p) return -1;
  b->data = p;
  if (n) memcpy(b->data + b->len, s, n);
  b->len += n;
  return 0;
}

gf_csv_reader *gf_csv_reader_new(char delim, char quote, int strict, gf_csv_read_fn fn, void *ctx)
{
  gf_csv_reader *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->delim = delim;
  r->quote = quote;
  r->strict = strict;
  r->read = fn;
  r->ctx = ctx;
  r->line = 1;
  return r;
}

void gf_csv_reader_free(gf_csv_reader *r)
{
  if (!r) return;
  gf_csv_buf_free(&r->bytes);
  free(r->ends);
  free(r);
}

static int refill(gf_csv_reader *r)
{
  if (r->eof) return C_EOF;
  size_t got = 0;
  if (r->read(r->ctx, r->in, CHUNK, &got) != 0) {
    r->err = errno ? errno : EIO;
    r->eof = 1;
    return C_ERR;
  }
  if (got == 0) {
    r->eof = 1;
    return C_EOF;
  }
  r->pos = 0;
  r->len = got;
  return 0;
}

static inline int next_char(gf_csv_reader *r)
{
  if (r->pos == r->len) {
    int rc = refill(r);
    if (rc != 0) return rc;
  }
  return (unsigned char)r->in[r->pos++];
}

/* After a CR: swallow a following LF. */
static void eat_lf(gf_csv_reader *r)
{
  int c = next_char(r);
  if (c >= 0 && c != '\n') r->pos--; /* the byte is still in the buffer */
}

static int end_field(gf_csv_reader *r)
{
  size_t *p = gf_grow(r->ends, &r->ends_cap, r->nf + 1, sizeof *p, 16);
  if (!p) return -1;
  r->ends = p;
  r->ends[r->nf++] = r->bytes.len;
  return 0;
}

static int add_byte(gf_csv_reader *r, int c)
{
  char ch = (char)c;
  return gf_csv_buf_add(&r->bytes, &ch, 1);
}

static int fail(gf_csv_reader *r, const char *problem, int c)
{
  r->problem = problem;
  /* Resynchronise: skip to the end of this line. */
  while (c >= 0 && c != '\n' && c != '\r') c = next_char(r);
  if (c == '\r') eat_lf(r);
  if (c == '\n' || c == '\r') r->line++;
  return c == C_ERR ? GF_CSV_EIO : GF_CSV_EPARSE;
}

/* Skip a UTF-8 BOM and empty lines; return the record's first character. */
static int record_start(gf_csv_reader *r)
{
  int c = next_char(r);
  if (!r->started) {
    r->started = 1;
    if (c == 0xEF) {
      int b = next_char(r), d = b == 0xBB ? next_char(r) : -1;
      if (b == 0xBB && d == 0xBF) {
        c = next_char(r);
      } else { /* not a BOM: only possible to undo within one buffer, which the start is */
        r->pos = 1;
        c = 0xEF;
      }
    }
  }
  while (c == '\n' || c == '\r') {
    if (c == '\r') eat_lf(r);
    r->line++;
    c = next_char(r);
  }
  return c;
}

enum { S_START, S_PLAIN, S_QUOTED, S_AFTER };

int gf_csv_next(gf_csv_reader *r)
{
  r->nf = 0;
  r->bytes.len = 0;
  r->problem = NULL;
  int c = record_start(r);
  if (c == C_EOF) return GF_CSV_EOF;
  if (c == C_ERR) return GF_CSV_EIO;
  r->rec_line = r->line;
  int state = S_START;
  for (;; c = next_char(r)) {
    if (c == C_ERR) return GF_CSV_EIO;
    if (state == S_QUOTED) {
      if (c == C_EOF) {
        r->problem = "unterminated quoted field";
        return GF_CSV_EPARSE;
      }
      if (c == (unsigned char)r->quote) {
        state = S_AFTER;
        continue;
      }
      if (c == '\n') r->line++;
      if (add_byte(r, c) != 0) return GF_CSV_ENOMEM;
      continue;
    }
    if (c == C_EOF || c == '\n' || c == '\r') {
      if (end_field(r) != 0) return GF_CSV_ENOMEM;
      if (c == '\r') eat_lf(r);
      if (c != C_EOF) r->line++;
      return GF_CSV_ROW;
    }
    if (c == (unsigned char)r->delim) {
      if (end_field(r) != 0) return GF_CSV_ENOMEM;
      state = S_START;
      continue;
    }
    if (c == (unsigned char)r->quote) {
      if (state == S_START) {
        state = S_QUOTED;
        continue;
      }
      if (state == S_AFTER) { /* doubled quote */
        state = S_QUOTED;
        if (add_byte(r, c) != 0) return GF_CSV_ENOMEM;
        continue;
      }
      if (r->strict) return fail(r, "quote inside an unquoted field", c);
    } else if (state == S_AFTER && r->strict) {
      return fail(r, "unexpected character after a closing quote", c);
    }
    state = S_PLAIN;
    if (add_byte(r, c) != 0) return GF_CSV_ENOMEM;
  }
}

size_t gf_csv_nfields(const gf_csv_reader *r)
{
  return r->nf;
}

const char *gf_csv_field(const gf_csv_reader *r, size_t i, size_t *len)
{
  size_t start = i == 0 ? 0 : r->ends[i - 1];
  *len = r->ends[i] - start;
  return r->bytes.data ? r->bytes.data + start : "";
}

long gf_csv_line(const gf_csv_reader *r)
{
  return r->rec_line;
}

const char *gf_csv_problem(const gf_csv_reader *r)
{
  return r->problem ? r->problem : "parse error";
}

int gf_csv_errno(const gf_csv_reader *r)
{
  return r->err;
}

int gf_csv_add_field(gf_csv_buf *b, const char *s, size_t n, char delim, char quote)
{
  int need = n > 0 && (s[0] == ' ' || s[n - 1] == ' ');
  for (size_t i = 0; i < n && !need; i++)
    need = s[i] == delim || s[i] == quote || s[i] == '\n' || s[i] == '\r';
  if (!need) return gf_csv_buf_add(b, s, n);
  if (gf_csv_buf_add(b, &quote, 1) != 0) return -1;
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == quote) {
      if (gf_csv_buf_add(b, s + run, i + 1 - run) != 0) return -1;
      run = i; /* the quote is written again: doubled */
    }
  }
  if (gf_csv_buf_add(b, s + run, n - run) != 0) return -1;
  return gf_csv_buf_add(b, &quote, 1);
}
