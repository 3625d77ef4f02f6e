/*
** raster.h — gf.raster's operations on GDAL, pure C (no Lua). Each runs on a worker thread between
** gf_gdal_begin/gf_gdal_end, opens its own GDALDatasetH and closes it before returning (datasets
** are never shared between threads). Failures are recorded in `e`; functions returning a tree
** return NULL then. The caller frees returned trees with gf_rv_free.
*/
#ifndef GF_RASTER_H
#define GF_RASTER_H

#include "gdalenv.h"
#include "rtree.h"

enum { GF_NODATA_FILE, GF_NODATA_NONE, GF_NODATA_VALUE };

typedef struct {
  int mode;     /* GF_NODATA_* */
  double value; /* GF_NODATA_VALUE */
} gf_nodata;

gf_rv *gf_raster_info(const char *path, gf_gdal_err *e);

/* gdal_translate / gdalwarp with argv (NULL-terminated). Local outputs are written to a
** temporary name beside dst and renamed into place. Return 0 on success. */
int gf_raster_translate(const char *src, const char *dst, char **argv, gf_gdal_err *e);
int gf_raster_warp(const char *src, const char *dst, char **argv, gf_gdal_err *e);

typedef struct {
  const char *src, *dst;
  const char *format; /* "JPEG" or "PNG" */
  int quality;        /* JPEG 1..100 */
  int max_size;       /* 0: keep size */
  const char *resampling;
  int bands[3], nbands; /* nbands 0: the band rule */
  int has_scale;
  double scale_min, scale_max;
} gf_preview_req;

gf_rv *gf_raster_preview(const gf_preview_req *r, gf_gdal_err *e);

/* band 0: every band. */
gf_rv *gf_raster_stats(const char *path, int band, gf_nodata nd, gf_gdal_err *e);
gf_rv *gf_raster_zonal(const char *path, const char *geojson, int band, gf_nodata nd,
                       int all_touched, gf_gdal_err *e);
gf_rv *gf_raster_footprint(const char *path, int band, gf_nodata nd, int max_size, double tolerance,
                           gf_gdal_err *e);

/* The regular files below `path` (a directory or an archive such as /vsitar/x.tgz), as a list
** of {name, size} with names relative to `path`. */
gf_rv *gf_raster_list(const char *path, gf_gdal_err *e);
/* Copy the bytes of `src` (any GDAL virtual path, e.g. a member of /vsitar/x.tgz) to the local
** file `dst`: written to a temporary name beside it, size-checked, renamed. Returns 0 on success.
*/
int gf_raster_extract(const char *src, const char *dst, gf_gdal_err *e);

/* True for paths GDAL reaches through a virtual file system (/vsis3/, /vsicurl/, ...). */
int gf_raster_is_virtual(const char *path);

#endif
