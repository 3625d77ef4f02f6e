/*
** grib.c — GRIB inventory, values at points and CSV export on GDAL (see grib.h).
*/
#define _POSIX_C_SOURCE 200809L
#include "grib.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cpl_conv.h>
#include <cpl_string.h>
#include <cpl_vsi.h>
#include <gdal.h>
#include <ogr_srs_api.h>

#include "gfgdal.h"
#include "gribscan.h"

/* {====== opening ====== */

static const char *grid_name(int edition, int tmpl)
{
  if (edition == 2) {
    switch (tmpl) {
      case 0:
        return "regular lat/lon";
      case 1:
        return "rotated lat/lon";
      case 10:
        return "Mercator";
      case 20:
        return "polar stereographic";
      case 30:
        return "Lambert conformal";
      case 40:
        return "Gaussian";
      case 50:
        return "spherical harmonics";
      case 90:
        return "space view";
      default:
        return "other";
    }
  }
  switch (tmpl) {
    case 0:
      return "regular lat/lon";
    case 4:
      return "Gaussian";
    case 5:
      return "polar stereographic";
    case 10:
      return "rotated lat/lon";
    case 50:
      return "spherical harmonics";
    default:
      return "other";
  }
}

/* Why GDAL could not give a usable grid, from the message headers. */
static void explain_unsupported(const char *path, gf_gdal_err *e)
{
  char gdal[512];
  snprintf(gdal, sizeof gdal, "%s", e->failed ? e->msg : "");
  e->failed = 0;
  gf_gribmsg *m = NULL;
  int n = gf_grib_scan(path, &m);
  if (n <= 0) {
    gf_gdal_fail(e, "not a GRIB file%s%s", *gdal ? ": " : "", gdal);
  } else {
    int k = 0;
    while (k < n - 1 && !m[k].reduced && !m[k].truncated) k++;
    if (m[k].reduced)
      gf_gdal_fail(
          e,
          "unsupported grid in message %d: reduced (quasi-regular) %s grid; only "
          "regular grids can be read",
          k + 1, m[k].grid_template == 0 ? "lat/lon" : grid_name(m[k].edition, m[k].grid_template));
    else if (m[k].truncated)
      gf_gdal_fail(e, "message %d is truncated", k + 1);
    else
      gf_gdal_fail(e, "unsupported grid: %s (GRIB%d template %d)%s%s",
                   grid_name(m[0].edition, m[0].grid_template), m[0].edition, m[0].grid_template,
                   *gdal ? ": " : "", gdal);
  }
  free(m);
}

static GDALDatasetH open_grib(const char *path, double gt[6], gf_gdal_err *e)
{
  const char *drivers[] = {"GRIB", NULL};
  GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_RASTER | GDAL_OF_READONLY | GDAL_OF_VERBOSE_ERROR,
                               drivers, NULL, NULL);
  int ok = ds && GDALGetRasterXSize(ds) > 0 && GDALGetRasterYSize(ds) > 0 &&
           GDALGetRasterCount(ds) > 0 && GDALGetGeoTransform(ds, gt) == CE_None && gt[1] != 0 &&
           gt[5] != 0 && gt[2] == 0 && gt[4] == 0;
  if (ok) return ds;
  if (ds) GDALClose(ds);
  if (strncmp(path, "/vsi", 4) == 0) {
    if (!e->failed) gf_gdal_fail(e, "not a readable GRIB file");
  } else {
    explain_unsupported(path, e);
  }
  return NULL;
}

/* }====== */

/* {====== inventory ====== */

static long long md_int(GDALRasterBandH b, const char *key, int *ok)
{
  const char *v = GDALGetMetadataItem(b, key, NULL);
  *ok = v != NULL && *v;
  return v ? atoll(v) : 0;
}

static void put_time(gf_rv *r, const char *key, long long t)
{
  time_t tt = (time_t)t;
  struct tm tm;
  char buf[32];
  if (gmtime_r(&tt, &tm) && strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm))
    gf_rv_str(r, key, buf);
}

static void put_field(gf_rv *list, GDALRasterBandH b, int band, const gf_gribmsg *m, int nm,
                      const int *msg_of, const int *field_of)
{
  gf_rv *r = gf_rv_map(list, NULL);
  gf_rv_int(r, "band", band);
  if (msg_of) {
    const gf_gribmsg *g = &m[msg_of[band - 1]];
    gf_rv_int(r, "message", msg_of[band - 1] + 1);
    gf_rv_int(r, "field", field_of[band - 1] + 1);
    gf_rv_int(r, "fields", g->fields);
    gf_rv_int(r, "offset", (long long)g->offset);
    gf_rv_int(r, "length", (long long)g->length);
    gf_rv_int(r, "edition", g->edition);
  }
  (void)nm;
  gf_rv_str(r, "short_name", GDALGetMetadataItem(b, "GRIB_ELEMENT", NULL));
  gf_rv_str(r, "level", GDALGetMetadataItem(b, "GRIB_SHORT_NAME", NULL));
  gf_rv_str(r, "description", GDALGetDescription(b));
  gf_rv_str(r, "comment", GDALGetMetadataItem(b, "GRIB_COMMENT", NULL));
  gf_rv_str(r, "unit", GDALGetMetadataItem(b, "GRIB_UNIT", NULL));
  gf_rv_str(r, "discipline", GDALGetMetadataItem(b, "GRIB_DISCIPLINE", NULL));
  gf_rv_str(r, "pdt", GDALGetMetadataItem(b, "GRIB_PDS_TEMPLATE_NUMBERS", NULL));
  int ok = 0;
  long long ref = md_int(b, "GRIB_REF_TIME", &ok);
  if (ok) {
    gf_rv_int(r, "ref_time", ref);
    put_time(r, "ref_iso", ref);
  }
  long long valid = md_int(b, "GRIB_VALID_TIME", &ok);
  if (ok) {
    gf_rv_int(r, "valid_time", valid);
    put_time(r, "valid_iso", valid);
  }
  long long fs = md_int(b, "GRIB_FORECAST_SECONDS", &ok);
  if (ok) {
    gf_rv_int(r, "forecast_seconds", fs);
    gf_rv_num(r, "forecast_hours", (double)fs / 3600.0);
  }
  int has = 0;
  double nd = GDALGetRasterNoDataValue(b, &has);
  if (has) gf_rv_num(r, "nodata", nd);
}

static void put_grid(gf_rv *out, GDALDatasetH ds, const double gt[6], const gf_gribmsg *m, int nm)
{
  gf_rv *g = gf_rv_map(out, "grid");
  gf_rv_int(g, "nx", GDALGetRasterXSize(ds));
  gf_rv_int(g, "ny", GDALGetRasterYSize(ds));
  gf_rv *t = gf_rv_list(g, "geotransform");
  for (int i = 0; i < 6; i++) gf_rv_num(t, NULL, gt[i]);
  if (nm > 0) {
    gf_rv_str(g, "type", grid_name(m[0].edition, m[0].grid_template));
    gf_rv_int(g, "template", m[0].grid_template);
  }
  gf_put_crs(g, GDALGetSpatialRef(ds));
}

/* Map GDAL bands to (message, field) when the counts agree. */
static int map_bands(const gf_gribmsg *m, int nm, int nbands, int *msg_of, int *field_of)
{
  int b = 0;
  for (int i = 0; i < nm; i++)
    for (int f = 0; f < (m[i].fields > 0 ? m[i].fields : 1); f++) {
      if (b >= nbands) return 0;
      msg_of[b] = i;
      field_of[b++] = f;
    }
  return b == nbands;
}

gf_rv *gf_grib_inventory(const char *path, gf_gdal_err *e)
{
  double gt[6];
  GDALDatasetH ds = open_grib(path, gt, e);
  if (!ds) return NULL;
  int nb = GDALGetRasterCount(ds);
  gf_gribmsg *m = NULL;
  int nm = strncmp(path, "/vsi", 4) == 0 ? 0 : gf_grib_scan(path, &m);
  int *msg_of = CPLMalloc(sizeof(int) * (size_t)nb),
      *field_of = CPLMalloc(sizeof(int) * (size_t)nb);
  int mapped = nm > 0 && map_bands(m, nm, nb, msg_of, field_of);
  gf_rv *out = gf_rv_root(GF_RV_MAP);
  put_grid(out, ds, gt, m, nm > 0 ? nm : 0);
  gf_rv_int(out, "messages", nm > 0 ? nm : nb);
  gf_rv *fields = gf_rv_list(out, "fields");
  for (int i = 1; i <= nb; i++)
    put_field(fields, GDALGetRasterBand(ds, i), i, m, nm, mapped ? msg_of : NULL,
              mapped ? field_of : NULL);
  CPLFree(msg_of);
  CPLFree(field_of);
  free(m);
  GDALClose(ds);
  return out;
}

/* }====== */

/* {====== values at points ====== */

typedef struct {
  GDALDatasetH ds;
  double gt[6];
  int w, h, geographic, angular, global;
  OGRCoordinateTransformationH fwd, inv; /* lon/lat <-> grid CRS; NULL: identity */
} grid_ctx;

static int grid_init(grid_ctx *g, gf_gdal_err *e)
{
  g->w = GDALGetRasterXSize(g->ds);
  g->h = GDALGetRasterYSize(g->ds);
  OGRSpatialReferenceH srs = GDALGetSpatialRef(g->ds);
  g->fwd = g->inv = NULL;
  g->geographic = srs && OSRIsGeographic(srs) && !OSRIsDerivedGeographic(srs);
  g->angular = srs && OSRIsGeographic(srs);
  g->global = g->angular && fabs(fabs(g->gt[1]) * g->w - 360.0) < 1e-6 * 360.0;
  if (!srs || g->geographic) return 0;
  /* Points are lon/lat on the grid's own datum (no datum shift, as wgrib2 and ecCodes). */
  OGRSpatialReferenceH dst = OSRClone(srs), src = OSRNewSpatialReference(NULL);
  int rc = -1;
  OGRErr oe = OGRERR_NONE;
  double a = OSRGetSemiMajor(srs, &oe), invf = OSRGetInvFlattening(srs, &oe);
  if (dst && src &&
      OSRSetGeogCS(src, "grid", "grid", "grid", a, invf, NULL, 0, NULL, 0) == OGRERR_NONE) {
    OSRSetAxisMappingStrategy(dst, OAMS_TRADITIONAL_GIS_ORDER);
    OSRSetAxisMappingStrategy(src, OAMS_TRADITIONAL_GIS_ORDER);
    g->fwd = OCTNewCoordinateTransformation(src, dst);
    g->inv = OCTNewCoordinateTransformation(dst, src);
    rc = g->fwd && g->inv ? 0 : -1;
  }
  if (dst) OSRDestroySpatialReference(dst);
  if (src) OSRDestroySpatialReference(src);
  if (rc) gf_gdal_fail(e, "cannot transform lon/lat to the grid's coordinates");
  return rc;
}

static void grid_free(grid_ctx *g)
{
  if (g->fwd) OCTDestroyCoordinateTransformation(g->fwd);
  if (g->inv) OCTDestroyCoordinateTransformation(g->inv);
}

static double wrap180(double lon)
{
  lon = fmod(lon + 180.0, 360.0);
  if (lon < 0) lon += 360.0;
  return lon - 180.0;
}

/* Nearest grid cell to lon/lat: sets *col, *row (-1 outside) and the cell's lon/lat. */
static void locate(const grid_ctx *g, double lon, double lat, int *col, int *row, double *glon,
                   double *glat)
{
  double x = lon, y = lat;
  *col = *row = -1;
  *glon = *glat = NAN;
  if (g->fwd && !OCTTransform(g->fwd, 1, &x, &y, NULL)) return;
  double px = (x - g->gt[0]) / g->gt[1], py = (y - g->gt[3]) / g->gt[5];
  if (g->angular) {
    /* longitudes may be given as -180..180 or 0..360 whatever the grid uses */
    double per = 360.0 / fabs(g->gt[1]);
    if (g->global)
      px = fmod(fmod(px, per) + per, per);
    else if (px < 0 && px + per < g->w)
      px += per;
    else if (px >= g->w && px - per >= 0)
      px -= per;
  }
  int c = (int)floor(px), r = (int)floor(py);
  if (g->global && c >= g->w) c -= g->w;
  if (c < 0 || c >= g->w || r < 0 || r >= g->h) return;
  *col = c;
  *row = r;
  double cx = g->gt[0] + (c + 0.5) * g->gt[1], cy = g->gt[3] + (r + 0.5) * g->gt[5];
  if (g->inv && !OCTTransform(g->inv, 1, &cx, &cy, NULL)) return;
  *glon = wrap180(cx);
  *glat = cy;
}

static int alloc_points(gf_grib_points *p, int nb)
{
  size_t n = (size_t)p->npts;
  p->glon = malloc(n * sizeof(double) + 1);
  p->glat = malloc(n * sizeof(double) + 1);
  p->col = malloc(n * sizeof(int) + 1);
  p->row = malloc(n * sizeof(int) + 1);
  p->values = malloc(n * (size_t)nb * sizeof(double) + 1);
  return p->glon && p->glat && p->col && p->row && p->values ? 0 : -1;
}

static int read_values(const grid_ctx *g, gf_grib_points *p, int k, gf_gdal_err *e)
{
  GDALRasterBandH b = GDALGetRasterBand(g->ds, p->bands[k]);
  double *buf = VSI_MALLOC3_VERBOSE(sizeof(double), (size_t)g->w, (size_t)g->h);
  if (!buf) return -1;
  if (GDALRasterIO(b, GF_Read, 0, 0, g->w, g->h, buf, g->w, g->h, GDT_Float64, 0, 0) != CE_None) {
    VSIFree(buf);
    if (!e->failed) gf_gdal_fail(e, "cannot decode band %d", p->bands[k]);
    return -1;
  }
  int has = 0;
  double nd = GDALGetRasterNoDataValue(b, &has);
  double *out = p->values + (size_t)k * (size_t)p->npts;
  for (int i = 0; i < p->npts; i++) {
    double v = p->col[i] < 0 ? NAN : buf[(size_t)p->row[i] * (size_t)g->w + (size_t)p->col[i]];
    out[i] = (has && v == nd) ? NAN : v;
  }
  VSIFree(buf);
  return 0;
}

int gf_grib_values_at(const char *path, const int *bands, int nbands, gf_grib_points *p,
                      gf_gdal_err *e)
{
  grid_ctx g = {0};
  g.ds = open_grib(path, g.gt, e);
  if (!g.ds) return -1;
  int rc = -1, nb = GDALGetRasterCount(g.ds);
  p->nbands = nbands > 0 ? nbands : nb;
  p->bands = malloc(sizeof(int) * (size_t)p->nbands);
  if (!p->bands || grid_init(&g, e) || alloc_points(p, p->nbands)) goto cleanup;
  for (int k = 0; k < p->nbands; k++) {
    p->bands[k] = nbands > 0 ? bands[k] : k + 1;
    if (p->bands[k] < 1 || p->bands[k] > nb) {
      gf_gdal_fail(e, "field %d does not exist (%d fields)", p->bands[k], nb);
      goto cleanup;
    }
  }
  for (int i = 0; i < p->npts; i++)
    locate(&g, p->lon[i], p->lat[i], &p->col[i], &p->row[i], &p->glon[i], &p->glat[i]);
  p->messages = gf_rv_root(GF_RV_LIST);
  for (int k = 0; k < p->nbands; k++) {
    put_field(p->messages, GDALGetRasterBand(g.ds, p->bands[k]), p->bands[k], NULL, 0, NULL, NULL);
    if (read_values(&g, p, k, e)) goto cleanup;
  }
  rc = 0;
cleanup:
  grid_free(&g);
  GDALClose(g.ds);
  return rc;
}

void gf_grib_points_free(gf_grib_points *p)
{
  free(p->lon);
  free(p->lat);
  free(p->glon);
  free(p->glat);
  free(p->col);
  free(p->row);
  free(p->bands);
  free(p->values);
  gf_rv_free(p->messages);
  memset(p, 0, sizeof *p);
}

/* }====== */

/* {====== CSV ====== */

static void fmt_time(GDALRasterBandH b, const char *key, char *buf, size_t len)
{
  int ok = 0;
  time_t t = (time_t)md_int(b, key, &ok);
  struct tm tm;
  buf[0] = '\0';
  if (ok && gmtime_r(&t, &tm)) strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

static int csv_band(const grid_ctx *g, GDALRasterBandH b, VSILFILE *f, double *buf)
{
  if (GDALRasterIO(b, GF_Read, 0, 0, g->w, g->h, buf, g->w, g->h, GDT_Float64, 0, 0) != CE_None)
    return -1;
  char ref[32], valid[32];
  fmt_time(b, "GRIB_REF_TIME", ref, sizeof ref);
  fmt_time(b, "GRIB_VALID_TIME", valid, sizeof valid);
  const char *var = GDALGetMetadataItem(b, "GRIB_ELEMENT", NULL);
  const char *lev = GDALGetMetadataItem(b, "GRIB_SHORT_NAME", NULL);
  int has = 0;
  double nd = GDALGetRasterNoDataValue(b, &has);
  for (int r = 0; r < g->h; r++)
    for (int c = 0; c < g->w; c++) {
      double v = buf[(size_t)r * (size_t)g->w + (size_t)c];
      if (isnan(v) || (has && v == nd)) continue;
      double x = g->gt[0] + (c + 0.5) * g->gt[1], y = g->gt[3] + (r + 0.5) * g->gt[5];
      if (g->inv) OCTTransform(g->inv, 1, &x, &y, NULL);
      if (VSIFPrintfL(f, "\"%s\",\"%s\",\"%s\",\"%s\",%.6f,%.6f,%.9g\n", ref, valid, var ? var : "",
                      lev ? lev : "", wrap180(x), y, v) < 0)
        return -1;
    }
  return 0;
}

int gf_grib_csv(const char *path, const char *dst, const int *bands, int nbands, gf_gdal_err *e)
{
  grid_ctx g = {0};
  g.ds = open_grib(path, g.gt, e);
  if (!g.ds) return -1;
  int rc = -1, nb = GDALGetRasterCount(g.ds);
  char *tmp = CPLStrdup(strncmp(dst, "/vsi", 4) == 0 ? dst : CPLSPrintf("%s.gftmp", dst));
  VSILFILE *f = NULL;
  double *buf = NULL;
  if (grid_init(&g, e)) goto cleanup;
  if (!(buf = VSI_MALLOC3_VERBOSE(sizeof(double), (size_t)g.w, (size_t)g.h))) goto cleanup;
  if (!(f = VSIFOpenL(tmp, "wb"))) {
    gf_gdal_fail(e, "cannot create %s", dst);
    goto cleanup;
  }
  for (int k = 0; k < (nbands > 0 ? nbands : nb); k++) {
    int band = nbands > 0 ? bands[k] : k + 1;
    if (band < 1 || band > nb) {
      gf_gdal_fail(e, "field %d does not exist (%d fields)", band, nb);
      goto cleanup;
    }
    if (csv_band(&g, GDALGetRasterBand(g.ds, band), f, buf)) {
      gf_gdal_fail(e, "cannot write field %d", band);
      goto cleanup;
    }
  }
  rc = VSIFCloseL(f) == 0 ? 0 : -1;
  f = NULL;
  if (rc == 0 && strcmp(tmp, dst) != 0 && VSIRename(tmp, dst) != 0) rc = -1;
  if (rc) gf_gdal_fail(e, "cannot write %s", dst);
cleanup:
  if (f) VSIFCloseL(f);
  if (rc && strcmp(tmp, dst) != 0) VSIUnlink(tmp);
  CPLFree(tmp);
  VSIFree(buf);
  grid_free(&g);
  GDALClose(g.ds);
  return rc;
}

/* }====== */
