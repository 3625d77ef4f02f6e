/*
** Fuzz target: the CSV reader (modules/csv/csv.c). The first byte picks the delimiter, the
** quote, strict mode and how many bytes each read callback hands over; the rest is the text.
*/
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
  const uint8_t *p;
  size_t left, chunk;
} src;

static int feed(void *ctx, char *buf, size_t cap, size_t *got)
{
  src *s = ctx;
  size_t n = s->left < s->chunk ? s->left : s->chunk;
  if (n > cap) n = cap;
  memcpy(buf, s->p, n);
  s->p += n;
  s->left -= n;
  *got = n;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1) return 0;
  static const char delims[] = ",;\t|";
  uint8_t k = data[0];
  src s = {data + 1, size - 1, (size_t)((k >> 4) % 7) * 5 + 1};
  gf_csv_reader *r = gf_csv_reader_new(delims[k & 3], (k & 4) ? '\'' : '"', (k >> 3) & 1, feed, &s);
  if (!r) return 0;
  unsigned sum = 0;
  for (size_t rows = 0; rows <= size + 1; rows++) { /* every call consumes input or ends */
    int rc = gf_csv_next(r);
    if (rc == GF_CSV_EOF || rc == GF_CSV_EIO || rc == GF_CSV_ENOMEM) break;
    if (rc == GF_CSV_EPARSE) {
      sum += (unsigned)strlen(gf_csv_problem(r)) + (unsigned)gf_csv_line(r);
      continue;
    }
    for (size_t i = 0; i < gf_csv_nfields(r); i++) {
      size_t len;
      const char *f = gf_csv_field(r, i, &len);
      for (size_t j = 0; j < len; j++) sum += (unsigned char)f[j]; /* every byte readable */
    }
  }
  gf_csv_reader_free(r);
  return sum == 1 ? 0 : 0; /* sum: keeps the reads of every field */
}
