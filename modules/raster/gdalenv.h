/*
** gdalenv.h — GDAL set-up shared by gf.raster and gf.grib: configuration applied once per
** process, and per-job error capture and configuration on the worker thread.
**
** GDAL reports errors through a thread-local handler stack. A job calls gf_gdal_begin on its
** worker thread: it pushes a handler that records the first failure into `e` (nothing reaches
** stderr) and sets the job's configuration options (AWS credentials, GRIB unit normalisation)
** as thread-local options, so concurrent jobs with different credentials do not see each other's.
** gf_gdal_end pops the handler and clears those options.
*/
#ifndef GF_GDALENV_H
#define GF_GDALENV_H

#include <stddef.h>

typedef struct {
  long cache_mb;       /* GDAL_CACHEMAX in MB */
  char threads[16];    /* GDAL_NUM_THREADS: "1".."N" or "ALL_CPUS" */
  int normalize_units; /* GRIB_NORMALIZE_UNITS (GDAL's default is YES: K -> C) */
} gf_gdal_config;

/* Defaults: cache 256 MB, 1 thread per job (the worker pool gives the parallelism), units as
 * stored. */
void gf_gdal_config_default(gf_gdal_config *c);

/*
** Apply `c` and register the drivers, once per process (both modules share it: the first caller
** wins). Returns 1 when this call did the set-up, 0 when it was already done. Loop thread only.
*/
int gf_gdal_setup(const gf_gdal_config *c);
int gf_gdal_is_setup(void);
/* The configuration in effect (after set-up). */
void gf_gdal_current(gf_gdal_config *c);

typedef struct {
  int failed;
  char msg[1024];
} gf_gdal_err;

/* kv: NULL or a NULL-terminated array KEY, VALUE, KEY, VALUE, ... (kept by the caller). */
void gf_gdal_begin(gf_gdal_err *e, char *const *kv);
void gf_gdal_end(gf_gdal_err *e, char *const *kv);
/* Record GDAL's last error when it is a failure our handler did not see. */
void gf_gdal_check_last(gf_gdal_err *e);
/* Record a failure of our own (the first one wins, like GDAL's). */
void gf_gdal_fail(gf_gdal_err *e, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
