/*
** host_stub.c — the one host function (host/hostapi.c) the decoders' modules link against. It
** formats doubles for gf.json's and gf.yaml's encoders, which the fuzz targets never call.
*/
#include <stddef.h>
#include <stdlib.h>

#include "gfnum.h"

size_t gf_format_double(char out[32], double v)
{
  (void)out;
  (void)v;
  abort(); /* only the encoders format numbers */
}
