/*
** raster.c — info, translate (COG), warp and preview on GDAL (see raster.h).
*/
#define _POSIX_C_SOURCE 200809L
#include "raster.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_string.h>
#include <gdal.h>
#include <gdal_utils.h>
#include <ogr_srs_api.h>

#include "gfgdal.h"

int gf_raster_is_virtual(const char *path)
{
  return strncmp(path, "/vsi", 4) == 0;
}

GDALDatasetH gf_open_raster(const char *path, gf_gdal_err *e)
{
  GDALDatasetH ds =
      GDALOpenEx(path, GDAL_OF_RASTER | GDAL_OF_READONLY | GDAL_OF_VERBOSE_ERROR, NULL, NULL, NULL);
  if (!ds) {
    gf_gdal_fail(e, "cannot open as a raster");
    return NULL;
  }
  if (GDALGetRasterXSize(ds) <= 0 || GDALGetRasterYSize(ds) <= 0) {
    gf_gdal_fail(e, "invalid raster size %dx%d", GDALGetRasterXSize(ds), GDALGetRasterYSize(ds));
    GDALClose(ds);
    return NULL;
  }
  return ds;
}

/* {====== info ====== */

static void put_metadata(gf_rv *parent, const char *key, GDALMajorObjectH obj, const char *domain)
{
  char **md = GDALGetMetadata(obj, domain);
  if (!md || !*md) return;
  gf_rv *m = gf_rv_map(parent, key);
  for (char **p = md; *p; p++) {
    char *k = NULL;
    const char *v = CPLParseNameValue(*p, &k);
    if (k && v) gf_rv_str(m, k, v);
    CPLFree(k);
  }
}

void gf_put_crs(gf_rv *out, OGRSpatialReferenceH srs)
{
  if (!srs) return;
  gf_rv *crs = gf_rv_map(out, "crs");
  char *wkt = NULL;
  const char *opts[] = {"FORMAT=WKT2_2018", NULL};
  if (OSRExportToWktEx(srs, &wkt, opts) == OGRERR_NONE) gf_rv_str(crs, "wkt", wkt);
  CPLFree(wkt);
  OGRSpatialReferenceH c = OSRClone(srs);
  const char *auth = OSRGetAuthorityName(c, NULL);
  if (!auth) {
    OSRAutoIdentifyEPSG(c);
    auth = OSRGetAuthorityName(c, NULL);
  }
  if (auth && strcmp(auth, "EPSG") == 0) {
    const char *code = OSRGetAuthorityCode(c, NULL);
    if (code) gf_rv_int(crs, "epsg", atoll(code));
  }
  const char *name = OSRGetName(c);
  if (name) gf_rv_str(crs, "name", name);
  gf_rv_bool(crs, "geographic", OSRIsGeographic(c));
  OSRDestroySpatialReference(c);
}

static void put_band(gf_rv *bands, GDALRasterBandH b)
{
  gf_rv *r = gf_rv_map(bands, NULL);
  gf_rv_str(r, "type", GDALGetDataTypeName(GDALGetRasterDataType(b)));
  int has = 0;
  double nd = GDALGetRasterNoDataValue(b, &has);
  if (has) gf_rv_num(r, "nodata", nd);
  const char *desc = GDALGetDescription(b);
  if (desc && *desc) gf_rv_str(r, "description", desc);
  gf_rv_str(r, "color", GDALGetColorInterpretationName(GDALGetRasterColorInterpretation(b)));
  int bx = 0, by = 0;
  GDALGetBlockSize(b, &bx, &by);
  gf_rv *blk = gf_rv_list(r, "block");
  gf_rv_int(blk, NULL, bx);
  gf_rv_int(blk, NULL, by);
  gf_rv *ovr = gf_rv_list(r, "overviews");
  for (int i = 0; i < GDALGetOverviewCount(b); i++) {
    GDALRasterBandH o = GDALGetOverview(b, i);
    gf_rv *s = gf_rv_list(ovr, NULL);
    gf_rv_int(s, NULL, GDALGetRasterBandXSize(o));
    gf_rv_int(s, NULL, GDALGetRasterBandYSize(o));
  }
  put_metadata(r, "metadata", b, NULL);
}

gf_rv *gf_raster_info(const char *path, gf_gdal_err *e)
{
  GDALDatasetH ds = gf_open_raster(path, e);
  if (!ds) return NULL;
  gf_rv *out = gf_rv_root(GF_RV_MAP);
  gf_rv_str(out, "driver", GDALGetDriverShortName(GDALGetDatasetDriver(ds)));
  gf_rv_int(out, "width", GDALGetRasterXSize(ds));
  gf_rv_int(out, "height", GDALGetRasterYSize(ds));
  gf_rv_int(out, "band_count", GDALGetRasterCount(ds));
  double gt[6];
  if (GDALGetGeoTransform(ds, gt) == CE_None) {
    gf_rv *g = gf_rv_list(out, "geotransform");
    for (int i = 0; i < 6; i++) gf_rv_num(g, NULL, gt[i]);
  }
  gf_put_crs(out, GDALGetSpatialRef(ds));
  put_metadata(out, "metadata", ds, NULL);
  put_metadata(out, "image_structure", ds, "IMAGE_STRUCTURE");
  gf_rv *bands = gf_rv_list(out, "bands");
  for (int i = 1; i <= GDALGetRasterCount(ds); i++) put_band(bands, GDALGetRasterBand(ds, i));
  GDALClose(ds);
  return out;
}

/* }====== */

/* {====== translate, warp ====== */

/* A temporary name beside dst for local outputs; dst itself for virtual ones. */
static char *temp_name(const char *dst)
{
  if (gf_raster_is_virtual(dst)) return CPLStrdup(dst);
  static _Atomic unsigned long seq;
  unsigned long n = ++seq;
  return CPLStrdup(CPLSPrintf("%s.gftmp-%ld-%lu", dst, (long)getpid(), n));
}

/* Close `out`, then move tmp to dst (local) or remove tmp after a failure. */
static int finish_output(GDALDatasetH out, char *tmp, const char *dst, gf_gdal_err *e)
{
  int ok = out != NULL;
  if (out) GDALClose(out);
  gf_gdal_check_last(e);
  if (e->failed) ok = 0;
  int local = strcmp(tmp, dst) != 0;
  if (ok && local && rename(tmp, dst) != 0) {
    gf_gdal_fail(e, "rename to %s failed", dst);
    ok = 0;
  }
  if (!ok && local) VSIUnlink(tmp);
  if (!ok && !e->failed) gf_gdal_fail(e, "no output written");
  CPLFree(tmp);
  return ok ? 0 : -1;
}

int gf_translate_ds(GDALDatasetH src, const char *dst, char **argv, gf_gdal_err *e)
{
  GDALTranslateOptions *o = GDALTranslateOptionsNew(argv, NULL);
  if (!o) {
    gf_gdal_fail(e, "invalid translate options");
    return -1;
  }
  char *tmp = temp_name(dst);
  int usage = 0;
  GDALDatasetH out = GDALTranslate(tmp, src, o, &usage);
  GDALTranslateOptionsFree(o);
  return finish_output(out, tmp, dst, e);
}

int gf_raster_translate(const char *src, const char *dst, char **argv, gf_gdal_err *e)
{
  GDALDatasetH ds = gf_open_raster(src, e);
  if (!ds) return -1;
  int rc = gf_translate_ds(ds, dst, argv, e);
  GDALClose(ds);
  return rc;
}

int gf_raster_warp(const char *src, const char *dst, char **argv, gf_gdal_err *e)
{
  GDALDatasetH ds = gf_open_raster(src, e);
  if (!ds) return -1;
  GDALWarpAppOptions *o = GDALWarpAppOptionsNew(argv, NULL);
  if (!o) {
    GDALClose(ds);
    gf_gdal_fail(e, "invalid warp options");
    return -1;
  }
  char *tmp = temp_name(dst);
  int usage = 0;
  GDALDatasetH out = GDALWarp(tmp, NULL, 1, &ds, o, &usage);
  GDALWarpAppOptionsFree(o);
  int rc = finish_output(out, tmp, dst, e);
  GDALClose(ds);
  return rc;
}

/* }====== */

/* {====== preview ====== */

/* The CHTC rule: 1 or 3 bands as they are, otherwise bands 1,2,3 (a 2-band raster: band 1). */
static int choose_bands(const gf_preview_req *r, int count, int *bands)
{
  if (r->nbands > 0) {
    for (int i = 0; i < r->nbands; i++) bands[i] = r->bands[i];
    return r->nbands;
  }
  int n = (count == 1 || count == 2) ? 1 : 3;
  for (int i = 0; i < n; i++) bands[i] = i + 1;
  return n;
}

static char **preview_argv(const gf_preview_req *r, GDALDatasetH ds, gf_gdal_err *e)
{
  int bands[3];
  int n = choose_bands(r, GDALGetRasterCount(ds), bands);
  char **argv = CSLAddString(NULL, "-of");
  argv = CSLAddString(argv, r->format);
  int non_byte = 0;
  for (int i = 0; i < n; i++) {
    if (bands[i] < 1 || bands[i] > GDALGetRasterCount(ds)) {
      gf_gdal_fail(e, "band %d does not exist (%d bands)", bands[i], GDALGetRasterCount(ds));
      CSLDestroy(argv);
      return NULL;
    }
    argv = CSLAddString(argv, "-b");
    argv = CSLAddString(argv, CPLSPrintf("%d", bands[i]));
    if (GDALGetRasterDataType(GDALGetRasterBand(ds, bands[i])) != GDT_Byte) non_byte = 1;
  }
  if (non_byte || r->has_scale) {
    argv = CSLAddString(argv, "-ot");
    argv = CSLAddString(argv, "Byte");
    for (int i = 0; i < n; i++) {
      double mm[2] = {r->scale_min, r->scale_max};
      if (!r->has_scale &&
          GDALComputeRasterMinMax(GDALGetRasterBand(ds, bands[i]), FALSE, mm) != CE_None) {
        CSLDestroy(argv);
        return NULL;
      }
      if (!(mm[1] > mm[0])) mm[1] = mm[0] + 1; /* a constant band maps to 0 */
      argv = CSLAddString(argv, CPLSPrintf("-scale_%d", i + 1));
      argv = CSLAddString(argv, CPLSPrintf("%.17g", mm[0]));
      argv = CSLAddString(argv, CPLSPrintf("%.17g", mm[1]));
      argv = CSLAddString(argv, "0");
      argv = CSLAddString(argv, "255");
    }
  }
  int w = GDALGetRasterXSize(ds), h = GDALGetRasterYSize(ds);
  if (r->max_size > 0 && (w > r->max_size || h > r->max_size)) {
    int ow = w >= h ? r->max_size : (int)fmax(1, round((double)w * r->max_size / h));
    int oh = h > w ? r->max_size : (int)fmax(1, round((double)h * r->max_size / w));
    argv = CSLAddString(argv, "-outsize");
    argv = CSLAddString(argv, CPLSPrintf("%d", ow));
    argv = CSLAddString(argv, CPLSPrintf("%d", oh));
    argv = CSLAddString(argv, "-r");
    argv = CSLAddString(argv, r->resampling ? r->resampling : "average");
  }
  if (strcmp(r->format, "JPEG") == 0) {
    argv = CSLAddString(argv, "-co");
    argv = CSLAddString(argv, CPLSPrintf("QUALITY=%d", r->quality));
  }
  return argv;
}

gf_rv *gf_raster_preview(const gf_preview_req *r, gf_gdal_err *e)
{
  GDALDatasetH ds = gf_open_raster(r->src, e);
  if (!ds) return NULL;
  char **argv = preview_argv(r, ds, e);
  gf_rv *out = NULL;
  if (argv && gf_translate_ds(ds, r->dst, argv, e) == 0) {
    out = gf_rv_root(GF_RV_MAP);
    gf_rv_str(out, "path", r->dst);
    gf_rv *a = gf_rv_list(out, "argv");
    for (char **p = argv; *p; p++) gf_rv_str(a, NULL, *p);
  }
  CSLDestroy(argv);
  GDALClose(ds);
  return out;
}

/* }====== */
