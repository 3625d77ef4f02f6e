/*
** gfgdal.h — helpers shared by the raster and grib C files (GDAL handles; no Lua).
*/
#ifndef GF_GFGDAL_H
#define GF_GFGDAL_H

#include <gdal.h>
#include <ogr_srs_api.h>

#include "gdalenv.h"
#include "rtree.h"

/* Open read-only as a raster; on failure records why in e and returns NULL. */
GDALDatasetH gf_open_raster(const char *path, gf_gdal_err *e);
/* Adds crs = {wkt, epsg, name, geographic} to out (nothing when srs is NULL). */
void gf_put_crs(gf_rv *out, OGRSpatialReferenceH srs);
/* gdal_translate from an open dataset; local dst written atomically. 0 on success. */
int gf_translate_ds(GDALDatasetH src, const char *dst, char **argv, gf_gdal_err *e);

#endif
