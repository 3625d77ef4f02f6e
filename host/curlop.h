/* curlop.h — an HTTP transfer as a loop operation (see gf_curl in gf.h). */
#ifndef GF_CURLOP_H
#define GF_CURLOP_H

#include "gf.h"
#include "loop.h"

typedef struct gf_curlop {
  gf_op op;
  gf_loop *loop;
  CURL *easy;
  CURLcode result;
  int attached;
  gf_curl_push_fn push;
  gf_release_fn release;
  void *ud;
} gf_curlop;

#endif
