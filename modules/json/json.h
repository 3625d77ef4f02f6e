/*
** json.h — pure C helpers for gf.json: a growable byte buffer, JSON string escaping, number
** formatting and \u escape decoding. No Lua types.
*/
#ifndef GF_JSON_H
#define GF_JSON_H

#include <stddef.h>
#include <stdint.h>

/* A growable byte buffer. Owner frees with gf_jbuf_free. */
typedef struct {
  char *data;
  size_t len;
  size_t cap;
} gf_jbuf;

void gf_jbuf_free(gf_jbuf *b);
/* Make room for n more bytes; 0 on success, -1 when out of memory. */
int gf_jbuf_reserve(gf_jbuf *b, size_t n);
int gf_jbuf_add(gf_jbuf *b, const char *s, size_t n);

/* Append s[0..n) as a quoted JSON string (control characters, '"' and '\\' escaped). */
int gf_jbuf_add_string(gf_jbuf *b, const char *s, size_t n);
/* Append an integer in decimal. */
int gf_jbuf_add_integer(gf_jbuf *b, long long v);

/*
** Format a finite double in the shortest of %.15g/%.16g/%.17g that reads back exactly; when the
** result looks like an integer, ".0" is appended so it reads back as a float. out needs 32 bytes.
** Returns the length.
*/

/* Encode code point cp (<= 0x10FFFF) as UTF-8 into out; returns the byte count (1-4). */
size_t gf_json_utf8(char out[4], uint32_t cp);

/* Value of 4 hex digits at s, or -1 if any is not a hex digit. */
long gf_json_hex4(const char *s);

#endif
