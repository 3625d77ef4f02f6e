/*
** rvsi.c — the members of an archive or directory GDAL reads through its virtual file systems
** (/vsitar/, /vsizip/, /vsigzip/, /vsis3/, local directories), and byte copies out of them (see
** raster.h). What the VIIRS job needs to find the rasters inside a .tgz and, with --extract, to
** unpack them without a scratch copy of the whole archive.
*/
#define _GNU_SOURCE /* struct stat64 behind VSIStatBufL */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_string.h>
#include <cpl_vsi.h>

#include "gfgdal.h"
#include "raster.h"

gf_rv *gf_raster_list(const char *path, gf_gdal_err *e)
{
  VSIStatBufL st;
  if (VSIStatL(path, &st) != 0) {
    gf_gdal_fail(e, "cannot read it (missing, or not an archive GDAL can open)");
    return NULL;
  }
  char **names = VSIReadDirRecursive(path);
  if (!names) {
    gf_gdal_fail(e, "cannot list its members (corrupt or empty archive?)");
    return NULL;
  }
  gf_rv *out = gf_rv_root(GF_RV_LIST);
  for (char **p = names; *p; p++) {
    size_t n = strlen(*p);
    if (n == 0 || (*p)[n - 1] == '/') continue; /* a directory */
    const char *full = CPLFormFilename(path, *p, NULL);
    if (VSIStatL(full, &st) != 0 || !VSI_ISREG(st.st_mode)) continue;
    gf_rv *m = gf_rv_map(out, NULL);
    gf_rv_str(m, "name", *p);
    gf_rv_int(m, "size", (long long)st.st_size);
  }
  CSLDestroy(names);
  return out;
}

int gf_raster_extract(const char *src, const char *dst, gf_gdal_err *e)
{
  static _Atomic unsigned long seq;
  char tmp[4096];
  int n = snprintf(tmp, sizeof tmp, "%s.gftmp-%ld-%lu", dst, (long)getpid(), ++seq);
  if (n < 0 || (size_t)n >= sizeof tmp) {
    gf_gdal_fail(e, "destination path too long");
    return -1;
  }
  VSIStatBufL st;
  VSILFILE *in = VSIStatL(src, &st) == 0 ? VSIFOpenL(src, "rb") : NULL;
  if (!in) {
    gf_gdal_fail(e, "cannot open it");
    return -1;
  }
  FILE *out = fopen(tmp, "wb");
  if (!out) {
    VSIFCloseL(in);
    gf_gdal_fail(e, "cannot create %s", tmp);
    return -1;
  }
  size_t cap = 1 << 20, got;
  unsigned long long total = 0;
  char *buf = CPLMalloc(cap);
  int rc = 0;
  while ((got = VSIFReadL(buf, 1, cap, in)) > 0) {
    if (fwrite(buf, 1, got, out) != got) {
      gf_gdal_fail(e, "write to %s failed", tmp);
      rc = -1;
      break;
    }
    total += got;
  }
  if (rc == 0 && total != (unsigned long long)st.st_size) {
    gf_gdal_fail(e, "read %llu of %llu bytes (corrupt archive?)", total,
                 (unsigned long long)st.st_size);
    rc = -1;
  }
  CPLFree(buf);
  VSIFCloseL(in);
  if (fclose(out) != 0 && rc == 0) {
    gf_gdal_fail(e, "write to %s failed", tmp);
    rc = -1;
  }
  if (rc == 0 && rename(tmp, dst) != 0) {
    gf_gdal_fail(e, "rename to %s failed", dst);
    rc = -1;
  }
  if (rc != 0) unlink(tmp);
  return rc;
}
