/* gfnum.h — number formatting shared by the text-format modules (no Lua types). */
#ifndef GF_NUM_H
#define GF_NUM_H

#include <stddef.h>

/*
** Shortest text that reads back as the same double ("%.15g".."%.17g"), always with a '.', 'e'
** or "nan"/"inf" so it reads back as a float, and with '.' whatever LC_NUMERIC says. Writes a
** NUL-terminated string to out and returns its length. Used by gf.json, gf.csv and gf.yaml.
*/
size_t gf_format_double(char out[32], double v);

#endif
