/*
** rzonal.c — statistics, zonal statistics and valid-data footprints (see raster.h).
*/
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_conv.h>
#include <cpl_string.h>
#include <gdal.h>
#include <gdal_alg.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#include "gfgdal.h"
#include "moments.h"
#include "raster.h"

/* Resolve the nodata rule for a band: returns 1 and sets *v when a value is excluded. */
static int nodata_of(GDALRasterBandH b, gf_nodata nd, double *v)
{
  if (nd.mode == GF_NODATA_NONE) return 0;
  if (nd.mode == GF_NODATA_VALUE) {
    *v = nd.value;
    return 1;
  }
  int has = 0;
  *v = GDALGetRasterNoDataValue(b, &has);
  return has;
}

static GDALRasterBandH band_of(GDALDatasetH ds, int band, gf_gdal_err *e)
{
  if (band < 1 || band > GDALGetRasterCount(ds)) {
    gf_gdal_fail(e, "band %d does not exist (%d bands)", band, GDALGetRasterCount(ds));
    return NULL;
  }
  return GDALGetRasterBand(ds, band);
}

/* {====== stats ====== */

/* Accumulate a window of band b (mask: NULL or one byte per pixel, nonzero = inside). */
static int accumulate(GDALRasterBandH b, int x0, int y0, int w, int h, const unsigned char *mask,
                      int has_nd, double nd, gf_moments *m)
{
  int rows = w > 0 ? (int)fmax(1, 1048576 / w) : 1;
  double *buf = CPLMalloc(sizeof(double) * (size_t)w * (size_t)(rows < h ? rows : h));
  for (int y = 0; y < h; y += rows) {
    int n = y + rows <= h ? rows : h - y;
    if (GDALRasterIO(b, GF_Read, x0, y0 + y, w, n, buf, w, n, GDT_Float64, 0, 0) != CE_None) {
      CPLFree(buf);
      return -1;
    }
    size_t total = (size_t)w * (size_t)n;
    const unsigned char *mk = mask ? mask + (size_t)y * (size_t)w : NULL;
    for (size_t i = 0; i < total; i++) {
      double v = buf[i];
      if (mk && !mk[i]) continue;
      if (isnan(v) || (has_nd && v == nd)) continue;
      gf_moments_add(m, v);
    }
  }
  CPLFree(buf);
  return 0;
}

gf_rv *gf_raster_stats(const char *path, int band, gf_nodata nd, gf_gdal_err *e)
{
  GDALDatasetH ds = gf_open_raster(path, e);
  if (!ds) return NULL;
  int first = band ? band : 1, last = band ? band : GDALGetRasterCount(ds);
  if (band && !band_of(ds, band, e)) {
    GDALClose(ds);
    return NULL;
  }
  gf_rv *out = gf_rv_root(GF_RV_LIST);
  for (int i = first; i <= last; i++) {
    GDALRasterBandH b = GDALGetRasterBand(ds, i);
    double v = 0;
    int has = nodata_of(b, nd, &v);
    gf_moments m;
    gf_moments_init(&m);
    if (accumulate(b, 0, 0, GDALGetRasterXSize(ds), GDALGetRasterYSize(ds), NULL, has, v, &m)) {
      gf_rv_free(out);
      out = NULL;
      break;
    }
    gf_rv *r = gf_rv_map(out, NULL);
    gf_rv_int(r, "band", i);
    if (has) gf_rv_num(r, "nodata", v);
    gf_moments_put(&m, r);
  }
  GDALClose(ds);
  return out;
}

/* }====== */

/* {====== zonal statistics ====== */

static OGRSpatialReferenceH gis_order(OGRSpatialReferenceH srs)
{
  if (!srs) return NULL;
  OGRSpatialReferenceH c = OSRClone(srs);
  OSRSetAxisMappingStrategy(c, OAMS_TRADITIONAL_GIS_ORDER);
  return c;
}

static void put_properties(gf_rv *rec, OGRFeatureH f)
{
  gf_rv *p = gf_rv_map(rec, "properties");
  OGRFeatureDefnH def = OGR_F_GetDefnRef(f);
  for (int i = 0; i < OGR_F_GetFieldCount(f); i++) {
    if (!OGR_F_IsFieldSetAndNotNull(f, i)) continue;
    OGRFieldDefnH fd = OGR_FD_GetFieldDefn(def, i);
    const char *name = OGR_Fld_GetNameRef(fd);
    switch (OGR_Fld_GetType(fd)) {
      case OFTInteger:
      case OFTInteger64:
        gf_rv_int(p, name, OGR_F_GetFieldAsInteger64(f, i));
        break;
      case OFTReal:
        gf_rv_num(p, name, OGR_F_GetFieldAsDouble(f, i));
        break;
      default:
        gf_rv_str(p, name, OGR_F_GetFieldAsString(f, i));
        break;
    }
  }
}

typedef struct {
  GDALDatasetH ds;
  GDALRasterBandH band;
  double gt[6];
  int has_nd;
  double nd;
  int all_touched;
} zone_ctx;

/* One zone: its bounding window in raster pixels, the polygon's mask over it, its moments. */
typedef struct {
  int x0, y0, w, h; /* w == 0: outside the raster (count 0) */
  unsigned char *mask;
  gf_moments m;
  gf_rv *rec;
} zone_job;

/* Rasterise geometry g (in the raster's CRS) over its bounding window into zj's mask. */
static int zone_mask(const zone_ctx *z, OGRGeometryH g, zone_job *zj)
{
  OGREnvelope env;
  OGR_G_GetEnvelope(g, &env);
  int W = GDALGetRasterXSize(z->ds), H = GDALGetRasterYSize(z->ds);
  double px0 = (env.MinX - z->gt[0]) / z->gt[1], px1 = (env.MaxX - z->gt[0]) / z->gt[1];
  double py0 = (env.MaxY - z->gt[3]) / z->gt[5], py1 = (env.MinY - z->gt[3]) / z->gt[5];
  int x0 = (int)fmax(0, floor(fmin(px0, px1))), x1 = (int)fmin(W, ceil(fmax(px0, px1)));
  int y0 = (int)fmax(0, floor(fmin(py0, py1))), y1 = (int)fmin(H, ceil(fmax(py0, py1)));
  if (x1 <= x0 || y1 <= y0) return 0; /* outside the raster: count 0 */
  int w = x1 - x0, h = y1 - y0;
  GDALDriverH mem = GDALGetDriverByName("MEM");
  GDALDatasetH md = GDALCreate(mem, "", w, h, 1, GDT_Byte, NULL);
  if (!md) return -1;
  double mgt[6] = {z->gt[0] + x0 * z->gt[1], z->gt[1], 0, z->gt[3] + y0 * z->gt[5], 0, z->gt[5]};
  GDALSetGeoTransform(md, mgt);
  int bandlist[1] = {1};
  double burn[1] = {1};
  char **ropts = z->all_touched ? CSLAddString(NULL, "ALL_TOUCHED=TRUE") : NULL;
  CPLErr err = GDALRasterizeGeometries(md, 1, bandlist, 1, &g, NULL, NULL, burn, ropts, NULL, NULL);
  CSLDestroy(ropts);
  unsigned char *mask = VSIMalloc2((size_t)w, (size_t)h);
  if (!mask) err = CE_Failure;
  if (err == CE_None)
    err = GDALRasterIO(GDALGetRasterBand(md, 1), GF_Read, 0, 0, w, h, mask, w, h, GDT_Byte, 0, 0);
  GDALClose(md);
  if (err != CE_None) {
    VSIFree(mask);
    return -1;
  }
  zj->x0 = x0, zj->y0 = y0, zj->w = w, zj->h = h, zj->mask = mask;
  return 0;
}

/*
** Accumulate zones[0..n) in one top-to-bottom pass over the raster: each strip of rows that some
** zone needs is read once (the columns the zones of that strip span) and shared by every zone in
** it. Inside a .tgz (/vsitar/ over /vsigzip/) a pass reads the member forward once, where a read
** per zone would decompress the stream again from its start for each zone above the previous one.
** Each zone still sees its pixels row by row, left to right, as a read of its own window would.
*/
static int zones_pass(const zone_ctx *z, zone_job *zones, size_t n)
{
  int top = INT_MAX, bottom = 0;
  for (size_t i = 0; i < n; i++) {
    if (zones[i].w == 0) continue;
    if (zones[i].y0 < top) top = zones[i].y0;
    if (zones[i].y0 + zones[i].h > bottom) bottom = zones[i].y0 + zones[i].h;
  }
  double *buf = NULL;
  size_t cap = 0;
  int rc = 0;
  for (int y = top; rc == 0 && y < bottom;) {
    int cx0 = INT_MAX, cx1 = 0, next = bottom;
    for (size_t i = 0; i < n; i++) { /* columns of the zones on row y; the next zone start */
      const zone_job *zj = &zones[i];
      if (zj->w == 0) continue;
      if (zj->y0 <= y && y < zj->y0 + zj->h) {
        if (zj->x0 < cx0) cx0 = zj->x0;
        if (zj->x0 + zj->w > cx1) cx1 = zj->x0 + zj->w;
      } else if (zj->y0 > y && zj->y0 < next) {
        next = zj->y0;
      }
    }
    if (cx1 <= cx0) { /* no zone on this row: skip to the next one that starts */
      y = next;
      continue;
    }
    int cw = cx1 - cx0;
    int rows = (int)fmax(1, 1048576 / cw);
    if (rows > bottom - y) rows = bottom - y;
    for (size_t i = 0; i < n; i++) { /* stop where a zone starts or ends, so columns stay valid */
      const zone_job *zj = &zones[i];
      if (zj->w == 0) continue;
      if (zj->y0 > y && zj->y0 - y < rows) rows = zj->y0 - y;
      if (zj->y0 <= y && zj->y0 + zj->h > y && zj->y0 + zj->h - y < rows) rows = zj->y0 + zj->h - y;
    }
    size_t need = (size_t)cw * (size_t)rows;
    if (need > cap) {
      CPLFree(buf);
      buf = CPLMalloc(sizeof(double) * need);
      cap = need;
    }
    if (GDALRasterIO(z->band, GF_Read, cx0, y, cw, rows, buf, cw, rows, GDT_Float64, 0, 0) !=
        CE_None) {
      rc = -1;
      break;
    }
    for (size_t i = 0; i < n; i++) {
      zone_job *zj = &zones[i];
      if (zj->w == 0 || zj->y0 > y || zj->y0 + zj->h <= y) continue;
      for (int r = 0; r < rows; r++) {
        const double *row = buf + (size_t)r * (size_t)cw + (size_t)(zj->x0 - cx0);
        const unsigned char *mk = zj->mask + (size_t)(y + r - zj->y0) * (size_t)zj->w;
        for (int c = 0; c < zj->w; c++) {
          double v = row[c];
          if (!mk[c] || isnan(v) || (z->has_nd && v == z->nd)) continue;
          gf_moments_add(&zj->m, v);
        }
      }
    }
    y += rows;
  }
  CPLFree(buf);
  return rc;
}

/* Masks of the zones of one pass stay below this many bytes (a new pass starts beyond it). */
#define PASS_MASK_BYTES ((size_t)256 << 20)

static int zonal_run(const zone_ctx *z, zone_job *zones, size_t n)
{
  size_t first = 0, bytes = 0;
  for (size_t i = 0; i <= n; i++) {
    size_t b = i < n ? (size_t)zones[i].w * (size_t)zones[i].h : 0;
    if (i == n || (i > first && bytes + b > PASS_MASK_BYTES)) {
      if (zones_pass(z, zones + first, i - first) != 0) return -1;
      for (size_t k = first; k < i; k++) {
        VSIFree(zones[k].mask);
        zones[k].mask = NULL;
      }
      first = i, bytes = 0;
    }
    bytes += b;
  }
  return 0;
}

/* Add every feature of lyr to *zones (reprojected, rasterised), its record to out. */
static int zonal_layer(const zone_ctx *z, OGRLayerH lyr, OGRSpatialReferenceH dst, gf_rv *out,
                       zone_job **zones, size_t *n, size_t *cap)
{
  OGRSpatialReferenceH src = gis_order(OGR_L_GetSpatialRef(lyr));
  OGRCoordinateTransformationH ct = NULL;
  if (src && dst && !OSRIsSame(src, dst)) {
    ct = OCTNewCoordinateTransformation(src, dst);
    if (!ct) {
      OSRDestroySpatialReference(src);
      return -1;
    }
  }
  int rc = 0;
  OGRFeatureH f;
  OGR_L_ResetReading(lyr);
  while (rc == 0 && (f = OGR_L_GetNextFeature(lyr)) != NULL) {
    if (*n == *cap) {
      *cap = *cap ? *cap * 2 : 16;
      *zones = CPLRealloc(*zones, sizeof **zones * *cap);
    }
    zone_job *zj = &(*zones)[(*n)++];
    memset(zj, 0, sizeof *zj);
    gf_moments_init(&zj->m);
    zj->rec = gf_rv_map(out, NULL);
    gf_rv_int(zj->rec, "fid", OGR_F_GetFID(f));
    put_properties(zj->rec, f);
    OGRGeometryH g = OGR_F_GetGeometryRef(f);
    if (g) {
      OGRGeometryH gc = OGR_G_Clone(g);
      if (ct && OGR_G_Transform(gc, ct) != OGRERR_NONE)
        rc = -1;
      else
        rc = zone_mask(z, gc, zj);
      OGR_G_DestroyGeometry(gc);
    }
    OGR_F_Destroy(f);
  }
  if (ct) OCTDestroyCoordinateTransformation(ct);
  if (src) OSRDestroySpatialReference(src);
  return rc;
}

gf_rv *gf_raster_zonal(const char *path, const char *geojson, int band, gf_nodata nd,
                       int all_touched, gf_gdal_err *e)
{
  zone_ctx z = {.all_touched = all_touched};
  z.ds = gf_open_raster(path, e);
  if (!z.ds) return NULL;
  GDALDatasetH vec = NULL;
  gf_rv *out = NULL;
  zone_job *zones = NULL;
  size_t nzones = 0, cap = 0;
  OGRSpatialReferenceH dst = gis_order(GDALGetSpatialRef(z.ds));
  if (!(z.band = band_of(z.ds, band, e))) goto cleanup;
  if (GDALGetGeoTransform(z.ds, z.gt) != CE_None || z.gt[2] != 0 || z.gt[4] != 0) {
    gf_gdal_fail(e, "raster has no north-up geotransform");
    goto cleanup;
  }
  z.has_nd = nodata_of(z.band, nd, &z.nd);
  vec = GDALOpenEx(geojson, GDAL_OF_VECTOR | GDAL_OF_READONLY | GDAL_OF_VERBOSE_ERROR, NULL, NULL,
                   NULL);
  if (!vec) {
    gf_gdal_fail(e, "cannot read the zones as GeoJSON");
    goto cleanup;
  }
  out = gf_rv_root(GF_RV_LIST);
  int rc = 0;
  for (int i = 0; rc == 0 && i < GDALDatasetGetLayerCount(vec); i++)
    rc = zonal_layer(&z, GDALDatasetGetLayer(vec, i), dst, out, &zones, &nzones, &cap);
  if (rc == 0) rc = zonal_run(&z, zones, nzones);
  if (rc == 0) {
    for (size_t i = 0; i < nzones; i++) gf_moments_put(&zones[i].m, zones[i].rec);
  } else {
    gf_gdal_fail(e, "zonal statistics failed");
    gf_rv_free(out);
    out = NULL;
  }
cleanup:
  for (size_t i = 0; i < nzones; i++) VSIFree(zones[i].mask);
  CPLFree(zones);
  if (dst) OSRDestroySpatialReference(dst);
  if (vec) GDALClose(vec);
  GDALClose(z.ds);
  return out;
}

/* }====== */

/* {====== footprint ====== */

/* The valid-data mask at reduced resolution, as a one-band MEM dataset (1 valid, 0 not). */
static GDALDatasetH valid_mask(GDALDatasetH ds, GDALRasterBandH b, gf_nodata nd, int max_size,
                               double *pixel)
{
  int W = GDALGetRasterXSize(ds), H = GDALGetRasterYSize(ds);
  double f = fmax(1.0, (double)(W > H ? W : H) / (max_size > 0 ? max_size : 1024));
  int w = (int)fmax(1, ceil(W / f)), h = (int)fmax(1, ceil(H / f));
  double gt[6];
  GDALGetGeoTransform(ds, gt);
  double mgt[6] = {gt[0], gt[1] * W / w, gt[2] * W / w, gt[3], gt[4] * H / h, gt[5] * H / h};
  *pixel = fmax(fabs(mgt[1]) + fabs(mgt[2]), fabs(mgt[4]) + fabs(mgt[5]));
  double *vals = CPLMalloc(sizeof(double) * (size_t)w * (size_t)h);
  unsigned char *mask = CPLMalloc((size_t)w * (size_t)h);
  double ndv = 0;
  int has = nodata_of(b, nd, &ndv);
  CPLErr err = GDALRasterIO(b, GF_Read, 0, 0, W, H, vals, w, h, GDT_Float64, 0, 0);
  if (err == CE_None && nd.mode == GF_NODATA_FILE && !has) {
    /* no nodata value: use GDAL's mask band (alpha, internal mask), nearest pixel */
    err = GDALRasterIO(GDALGetMaskBand(b), GF_Read, 0, 0, W, H, mask, w, h, GDT_Byte, 0, 0);
  } else if (err == CE_None) {
    for (size_t i = 0; i < (size_t)w * (size_t)h; i++)
      mask[i] = !(isnan(vals[i]) || (has && vals[i] == ndv));
  }
  for (size_t i = 0; err == CE_None && i < (size_t)w * (size_t)h; i++) mask[i] = mask[i] != 0;
  CPLFree(vals);
  GDALDatasetH md = NULL;
  if (err == CE_None) md = GDALCreate(GDALGetDriverByName("MEM"), "", w, h, 1, GDT_Byte, NULL);
  if (md) {
    GDALSetGeoTransform(md, mgt);
    err = GDALRasterIO(GDALGetRasterBand(md, 1), GF_Write, 0, 0, w, h, mask, w, h, GDT_Byte, 0, 0);
    if (err != CE_None) {
      GDALClose(md);
      md = NULL;
    }
  }
  CPLFree(mask);
  return md;
}

/* Polygonise the mask's 1-regions and union them into one (multi)polygon. */
static OGRGeometryH mask_outline(GDALDatasetH md)
{
  GDALDatasetH vds = GDALCreate(GDALGetDriverByName("Memory"), "", 0, 0, 0, GDT_Unknown, NULL);
  if (!vds) return NULL;
  OGRLayerH lyr = GDALDatasetCreateLayer(vds, "outline", NULL, wkbPolygon, NULL);
  OGRGeometryH merged = NULL;
  GDALRasterBandH b = GDALGetRasterBand(md, 1);
  if (lyr && GDALPolygonize(b, b, lyr, -1, NULL, NULL, NULL) == CE_None) {
    OGRGeometryH multi = OGR_G_CreateGeometry(wkbMultiPolygon);
    OGRFeatureH f;
    OGR_L_ResetReading(lyr);
    while ((f = OGR_L_GetNextFeature(lyr)) != NULL) {
      OGRGeometryH g = OGR_F_GetGeometryRef(f);
      if (g) OGR_G_AddGeometry(multi, g);
      OGR_F_Destroy(f);
    }
    if (OGR_G_GetGeometryCount(multi) > 0) merged = OGR_G_UnionCascaded(multi);
    OGR_G_DestroyGeometry(multi);
  }
  GDALClose(vds);
  return merged;
}

gf_rv *gf_raster_footprint(const char *path, int band, gf_nodata nd, int max_size, double tolerance,
                           gf_gdal_err *e)
{
  GDALDatasetH ds = gf_open_raster(path, e);
  if (!ds) return NULL;
  gf_rv *out = NULL;
  GDALDatasetH md = NULL;
  OGRGeometryH g = NULL, s = NULL;
  OGRSpatialReferenceH src = NULL, wgs = NULL;
  GDALRasterBandH b = band_of(ds, band, e);
  double pixel = 0;
  if (!b || !(md = valid_mask(ds, b, nd, max_size, &pixel))) goto cleanup;
  if (!(g = mask_outline(md))) {
    gf_gdal_fail(e, "no valid data");
    goto cleanup;
  }
  s = OGR_G_SimplifyPreserveTopology(g, tolerance >= 0 ? tolerance : pixel);
  if (!s) goto cleanup;
  src = gis_order(GDALGetSpatialRef(ds));
  out = gf_rv_root(GF_RV_MAP);
  if (src) {
    wgs = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(wgs, 4326);
    OSRSetAxisMappingStrategy(wgs, OAMS_TRADITIONAL_GIS_ORDER);
    OGRCoordinateTransformationH ct = OCTNewCoordinateTransformation(src, wgs);
    if (!ct || OGR_G_Transform(s, ct) != OGRERR_NONE) {
      if (ct) OCTDestroyCoordinateTransformation(ct);
      gf_gdal_fail(e, "cannot reproject the footprint to EPSG:4326");
      gf_rv_free(out);
      out = NULL;
      goto cleanup;
    }
    OCTDestroyCoordinateTransformation(ct);
    gf_rv_str(out, "crs", "EPSG:4326");
  }
  char *json = OGR_G_ExportToJson(s);
  gf_rv_str(out, "geojson", json);
  CPLFree(json);
  gf_rv_num(out, "tolerance", tolerance >= 0 ? tolerance : pixel);
cleanup:
  if (s) OGR_G_DestroyGeometry(s);
  if (g) OGR_G_DestroyGeometry(g);
  if (wgs) OSRDestroySpatialReference(wgs);
  if (src) OSRDestroySpatialReference(src);
  if (md) GDALClose(md);
  GDALClose(ds);
  return out;
}

/* }====== */
