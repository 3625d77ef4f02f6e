/*
** csv.h — RFC 4180 CSV reading and writing in pure C (no Lua types).
**
** The reader pulls bytes through a callback and returns one record at a time; the fields stay
** valid until the next call. Quoted fields may hold delimiters, doubled quotes and line breaks.
** LF, CRLF and lone CR end a record; a UTF-8 BOM at the start is skipped; empty lines are not
** records. Ownership: gf_csv_reader_new returns a reader the caller frees with
** gf_csv_reader_free; gf_csv_buf memory is freed with gf_csv_buf_free.
*/
#ifndef GF_CSV_H
#define GF_CSV_H

#include <stddef.h>

/* Read up to cap bytes into buf; set *got (0 at end of input). Return 0, or -1 with errno set. */
typedef int (*gf_csv_read_fn)(void *ctx, char *buf, size_t cap, size_t *got);

typedef struct gf_csv_reader gf_csv_reader;

enum { GF_CSV_EOF = 0, GF_CSV_ROW = 1, GF_CSV_EPARSE = -1, GF_CSV_EIO = -2, GF_CSV_ENOMEM = -3 };

/*
** strict: a quote inside an unquoted field, or text after a closing quote, is an error (else
** taken literally). Returns NULL when out of memory.
*/
gf_csv_reader *gf_csv_reader_new(char delim, char quote, int strict, gf_csv_read_fn fn, void *ctx);
void gf_csv_reader_free(gf_csv_reader *r);

/*
** Read the next record: GF_CSV_ROW, GF_CSV_EOF, or an error. After GF_CSV_EPARSE the rest of the
** offending line is skipped and reading may continue; GF_CSV_EIO leaves errno in gf_csv_errno.
*/
int gf_csv_next(gf_csv_reader *r);
size_t gf_csv_nfields(const gf_csv_reader *r);
const char *gf_csv_field(const gf_csv_reader *r, size_t i, size_t *len);
/* Line (1-based) where the last record, or the last error, began. */
long gf_csv_line(const gf_csv_reader *r);
/* Problem text of the last GF_CSV_EPARSE (static storage). */
const char *gf_csv_problem(const gf_csv_reader *r);
int gf_csv_errno(const gf_csv_reader *r);

/* A growable byte buffer for writing. */
typedef struct {
  char *data;
  size_t len, cap;
} gf_csv_buf;

void gf_csv_buf_free(gf_csv_buf *b);
int gf_csv_buf_add(gf_csv_buf *b, const char *s, size_t n);
/* Append one field, quoted when it holds the delimiter, the quote, CR, LF or leading/trailing
** spaces. Returns 0, or -1 when out of memory. */
int gf_csv_add_field(gf_csv_buf *b, const char *s, size_t n, char delim, char quote);

#endif
