/*
** timeutil.h — gf.time pure C core: UTC calendar arithmetic, ISO-8601, durations, month spans and
** strftime-like formatting. No clock is read here: every function takes the time it works on,
** so specs can pin it. No heap memory is allocated.
**
** Parsers return 0 on success, or -1 and a short reason in err (size errlen).
*/
#ifndef GF_TIMEUTIL_H
#define GF_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1..12), and back. */
int64_t gf_time_days_from_civil(int64_t y, int m, int d);
void gf_time_civil_from_days(int64_t days, int64_t *y, int *m, int *d);
int gf_time_days_in_month(int64_t y, int m);

typedef struct {
  int64_t year;
  int month, day, hour, min, sec; /* month 1..12, day 1..31 */
  int wday;                       /* 0 = Sunday */
  int yday;                       /* 1..366 */
  int msec;                       /* 0..999 */
} gf_time_fields;

/* Splits epoch seconds (rounded to the millisecond) into UTC fields. */
void gf_time_fields_of(double epoch, gf_time_fields *f);

/* Epoch seconds of UTC fields; fields out of range are normalised the way timegm does. */
double gf_time_epoch_of(int64_t year, int64_t month, int64_t day, int64_t hour, int64_t min,
                        double sec);

/*
** Accepted: a date "2024-01-02" or "20240102" (midnight UTC); or a date, 'T' (or 't' or one
** space), a time "03:04", "03:04:05", "03:04:05.123456" (or "0304", "030405", "030405.5"), then
** an optional zone "Z", "+hh:mm", "-hh:mm", "+hhmm" or "+hh". No zone means UTC. Seconds may be
** 60 (a leap second folds into the next minute).
*/
int gf_time_parse_iso8601(const char *s, size_t len, double *epoch, char *err, size_t errlen);

/* "2024-01-02T03:04:05Z" or, with ms, "2024-01-02T03:04:05.678Z". Returns the length written
** (out needs 32 bytes). */
size_t gf_time_format_iso8601(double epoch, int ms, char *out, size_t outlen);

/*
** Durations: a plain non-negative number (seconds, "90", "1.5") or one or more <number><unit>
** groups with units in decreasing order, each at most once: w d h m s ms ("1h30m", "2w",
** "1.5h", "1d02h03m04s", "250ms").
*/
int gf_time_parse_duration(const char *s, size_t len, double *seconds, char *err, size_t errlen);

/* "1h02m03s", "2d00h00m05s", "45s", "0s", "0.25s", "-1m30s": whole seconds unless under a
** minute. Returns the length written (out needs 48 bytes). */
size_t gf_time_format_duration(double seconds, char *out, size_t outlen);

/* "202101..202103", "2021-01..2021-03" or one month "202101" / "2021-01". */
int gf_time_parse_month_span(const char *s, size_t len, int64_t *y1, int *m1, int64_t *y2, int *m2,
                             char *err, size_t errlen);

/*
** strftime subset in UTC: %Y %C %y %m %d %e %j %H %I %M %S %p %a %A %b %h %B %u %w %s %F %T %D
** %R %z (+0000) %Z (UTC) %n %t %% and %L (milliseconds, 3 digits, not in C strftime). Returns
** the length, or (size_t)-1 with err set for an unknown conversion or when out is too small.
*/
size_t gf_time_format(double epoch, const char *fmt, size_t fmtlen, char *out, size_t outlen,
                      char *err, size_t errlen);

#endif
