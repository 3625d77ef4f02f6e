/*
** gdalenv.c — one-time GDAL configuration and per-job error capture (see gdalenv.h).
*/
#define _POSIX_C_SOURCE 200809L
#include "gdalenv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <gdal.h>

/*
** The marker lives in GDAL's own global configuration so that the two shared objects (each with
** its own copy of this file) agree on whether the set-up happened.
*/
#define SETUP_KEY "GFHOST_GDAL_SETUP"

void gf_gdal_config_default(gf_gdal_config *c)
{
  c->cache_mb = 256;
  snprintf(c->threads, sizeof c->threads, "1");
  c->normalize_units = 0;
}

int gf_gdal_is_setup(void)
{
  return CPLGetConfigOption(SETUP_KEY, NULL) != NULL;
}

/* Errors raised outside a job (GDAL's own helper threads) are dropped rather than printed. */
static void CPL_STDCALL quiet_handler(CPLErr cls, CPLErrorNum no, const char *msg)
{
  (void)cls;
  (void)no;
  (void)msg;
}

int gf_gdal_setup(const gf_gdal_config *c)
{
  if (gf_gdal_is_setup()) return 0;
  char buf[32];
  snprintf(buf, sizeof buf, "%ld", c->cache_mb);
  CPLSetConfigOption("GDAL_CACHEMAX", buf);
  CPLSetConfigOption("GDAL_NUM_THREADS", c->threads);
  CPLSetConfigOption("GRIB_NORMALIZE_UNITS", c->normalize_units ? "YES" : "NO");
  /* Never write .aux.xml side-car files next to inputs or outputs. */
  CPLSetConfigOption("GDAL_PAM_ENABLED", "NO");
  /* Do not list whole S3 prefixes to find side-car files when opening s3:// objects. */
  CPLSetConfigOption("GDAL_DISABLE_READDIR_ON_OPEN", "EMPTY_DIR");
  /* Nor a .properties index beside every .gz/.tgz read through /vsigzip/ or /vsitar/. */
  CPLSetConfigOption("CPL_VSIL_GZIP_WRITE_PROPERTIES", "NO");
  CPLSetErrorHandler(quiet_handler);
  GDALAllRegister();
  GDALSetCacheMax64((GIntBig)c->cache_mb * 1024 * 1024);
  CPLSetConfigOption(SETUP_KEY, "1");
  return 1;
}

void gf_gdal_current(gf_gdal_config *c)
{
  gf_gdal_config_default(c);
  c->cache_mb = (long)(GDALGetCacheMax64() / (1024 * 1024));
  const char *t = CPLGetConfigOption("GDAL_NUM_THREADS", "1");
  snprintf(c->threads, sizeof c->threads, "%s", t);
  c->normalize_units = CPLTestBool(CPLGetConfigOption("GRIB_NORMALIZE_UNITS", "NO"));
}

/* The job's error record on this worker thread (GDAL may stack other handlers above ours). */
static _Thread_local gf_gdal_err *tl_err;

static void CPL_STDCALL capture(CPLErr cls, CPLErrorNum no, const char *msg)
{
  (void)no;
  gf_gdal_err *e = tl_err;
  if (!e || (cls != CE_Failure && cls != CE_Fatal) || e->failed) return;
  e->failed = 1;
  snprintf(e->msg, sizeof e->msg, "%s", msg ? msg : "unknown GDAL error");
  /* One line: GDAL messages sometimes carry a trailing newline. */
  size_t n = strlen(e->msg);
  while (n > 0 && (e->msg[n - 1] == '\n' || e->msg[n - 1] == '\r')) e->msg[--n] = '\0';
}

void gf_gdal_begin(gf_gdal_err *e, char *const *kv)
{
  e->failed = 0;
  e->msg[0] = '\0';
  tl_err = e;
  CPLPushErrorHandlerEx(capture, e);
  CPLErrorReset();
  for (size_t i = 0; kv && kv[i] && kv[i + 1]; i += 2)
    CPLSetThreadLocalConfigOption(kv[i], kv[i + 1]);
}

void gf_gdal_end(gf_gdal_err *e, char *const *kv)
{
  for (size_t i = 0; kv && kv[i] && kv[i + 1]; i += 2) CPLSetThreadLocalConfigOption(kv[i], NULL);
  CPLPopErrorHandler();
  tl_err = NULL;
  (void)e;
}

void gf_gdal_check_last(gf_gdal_err *e)
{
  if (!e->failed && CPLGetLastErrorType() >= CE_Failure)
    gf_gdal_fail(e, "%s", CPLGetLastErrorMsg());
}

void gf_gdal_fail(gf_gdal_err *e, const char *fmt, ...)
{
  if (e->failed) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->msg, sizeof e->msg, fmt, ap);
  va_end(ap);
  e->failed = 1;
}
