/*
** yaml.h — pure C helpers for gf.yaml: YAML 1.2 core-schema resolution of plain scalars and
** number formatting. No Lua types, no libyaml types.
*/
#ifndef GF_YAML_H
#define GF_YAML_H

#include <stddef.h>

typedef enum { GF_YAML_STR, GF_YAML_NULL, GF_YAML_BOOL, GF_YAML_INT, GF_YAML_FLOAT } gf_yaml_kind;

typedef struct {
  gf_yaml_kind kind;
  int boolean;
  long long integer;
  double number;
} gf_yaml_scalar;

/*
** Resolve a plain scalar by the YAML 1.2 core schema: null (""/~/null/Null/NULL), booleans
** (true/True/TRUE/false/False/FALSE), integers (decimal, 0o octal, 0x hex; decimal ones beyond
** 64 bits become floats), floats (incl. .inf/-.inf/.nan); anything else is a string.
*/
void gf_yaml_resolve(const char *s, size_t n, gf_yaml_scalar *out);

/* Format a double as a YAML float that resolves back to the same value (".inf", ".nan", "1.0",
** shortest exact digits). out needs 32 bytes. Returns the length. */
size_t gf_yaml_format_double(char out[32], double v);

#endif
