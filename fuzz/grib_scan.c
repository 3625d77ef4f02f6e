/*
** Fuzz target: the GRIB message scanner (modules/grib/gribscan.c, pure C). It reads a file by
** path: the input is written to a memfd and scanned through /proc/self/fd.
*/
#define _GNU_SOURCE /* memfd_create */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gribscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static int fd = -1;
  static char path[64];
  if (fd < 0) {
    fd = memfd_create("gribscan-fuzz", MFD_CLOEXEC);
    if (fd < 0) abort();
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  }
  if (ftruncate(fd, 0) != 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size)) abort();
  gf_gribmsg *m = NULL;
  int n = gf_grib_scan(path, &m);
  for (int i = 0; i < n; i++) /* every message lies in the file, in order */
    if (m[i].offset >= size || (i > 0 && m[i].offset < m[i - 1].offset + m[i - 1].length)) abort();
  free(m);
  return 0;
}
