/*
** gribscan.h — a minimal reader of GRIB1/GRIB2 message headers: where each message starts, its
** length, edition, how many fields it holds and whether its grid is reduced (quasi-regular).
** GDAL does not expose byte offsets; wgrib2-style inventories print them. Pure C, no GDAL.
*/
#ifndef GF_GRIBSCAN_H
#define GF_GRIBSCAN_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint64_t offset, length;
  int edition;
  int fields;        /* GRIB2: data sections (section 7) in the message; GRIB1: 1 */
  int grid_template; /* GRIB2 template 3.N; GRIB1 data representation type; -1 unknown */
  int reduced;       /* quasi-regular grid (a list of points per row) */
  int truncated;     /* the file ends before the message does */
} gf_gribmsg;

/* Scan `path`. Returns the number of messages (0: none found) and *out (caller frees with
** free()), or -1 when the file cannot be read (errno set). */
int gf_grib_scan(const char *path, gf_gribmsg **out);

#endif
