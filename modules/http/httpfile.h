/*
** httpfile.h — a completed download waiting to be committed (http.c makes it, commit.c writes
** it). Private to gf.http; the API is in http.h.
*/
#ifndef GF_HTTPFILE_H
#define GF_HTTPFILE_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct gf_http_file {
  char *path; /* final name */
  char *part; /* path.part */
  char *data; /* the body, when it was kept in memory */
  size_t len;
  FILE *out;     /* else the .part it was streamed to (open) */
  int fd;        /* during the commit */
  int append;    /* a resumed body: add to the existing .part */
  int sync;      /* fdatasync the file and fsync its directory */
  uint64_t want; /* size of the complete .part */
  int failed;
  const char *code;
  char msg[512];
};

#endif
