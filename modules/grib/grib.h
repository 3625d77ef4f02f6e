/*
** grib.h — gf.grib's operations on GDAL's GRIB driver, pure C (worker threads; see raster.h for
** the conventions). One GDAL band is one GRIB field (a message, or a field of a multi-field
** GRIB2 message).
*/
#ifndef GF_GRIB_H
#define GF_GRIB_H

#include "gdalenv.h"
#include "rtree.h"

gf_rv *gf_grib_inventory(const char *path, gf_gdal_err *e);

typedef struct {
  int npts, nbands;
  double *lon, *lat;   /* requested points */
  double *glon, *glat; /* nearest grid point */
  int *col, *row;      /* -1: outside the grid */
  int *bands;          /* GDAL band numbers */
  double *values;      /* nbands x npts, NaN: outside or missing */
  gf_rv *messages;     /* list: one map per band (as in the inventory) */
} gf_grib_points;

/* bands/nbands: which fields (nbands 0: all). Fills *out; 0 on success. */
int gf_grib_values_at(const char *path, const int *bands, int nbands, gf_grib_points *out,
                      gf_gdal_err *e);
void gf_grib_points_free(gf_grib_points *p);

/* wgrib2 -csv style: "ref time","valid time","var","level",lon,lat,value per grid point. */
int gf_grib_csv(const char *path, const char *dst, const int *bands, int nbands, gf_gdal_err *e);

#endif
