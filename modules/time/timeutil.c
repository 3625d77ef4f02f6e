/*
** timeutil.c — gf.time core: calendar arithmetic (Howard Hinnant's days_from_civil algorithms,
** proleptic Gregorian, no time_t limits), ISO-8601, durations, month spans, UTC formatting.
*/
#define _POSIX_C_SOURCE 200809L
#include "timeutil.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int64_t floor_div(int64_t a, int64_t b)
{
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* {====== calendar ====== */

int64_t gf_time_days_from_civil(int64_t y, int m, int d)
{
  y -= m <= 2;
  int64_t era = floor_div(y, 400);
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void gf_time_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
  z += 719468;
  int64_t era = floor_div(z, 146097);
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

static int is_leap(int64_t y)
{
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int gf_time_days_in_month(int64_t y, int m)
{
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12) return 0;
  return days[m - 1] + (m == 2 && is_leap(y));
}

void gf_time_fields_of(double epoch, gf_time_fields *f)
{
  int64_t ms = (int64_t)llround(epoch * 1000.0);
  int64_t days = floor_div(ms, 86400000);
  int64_t rem = ms - days * 86400000;
  gf_time_civil_from_days(days, &f->year, &f->month, &f->day);
  f->hour = (int)(rem / 3600000);
  f->min = (int)(rem / 60000 % 60);
  f->sec = (int)(rem / 1000 % 60);
  f->msec = (int)(rem % 1000);
  f->wday = (int)(((days % 7) + 11) % 7); /* 1970-01-01 was a Thursday (4) */
  f->yday = (int)(days - gf_time_days_from_civil(f->year, 1, 1)) + 1;
}

double gf_time_epoch_of(int64_t year, int64_t month, int64_t day, int64_t hour, int64_t min,
                        double sec)
{
  year += floor_div(month - 1, 12);
  month = month - 1 - floor_div(month - 1, 12) * 12 + 1;
  int64_t days = gf_time_days_from_civil(year, (int)month, 1) + (day - 1);
  return (double)days * 86400.0 + (double)(hour * 3600 + min * 60) + sec;
}

/* }====== */

/* {====== parsing helpers ====== */

typedef struct {
  const char *p, *end, *start;
  char *err;
  size_t errlen;
} cursor;

static int fail(cursor *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static int fail(cursor *c, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->err, c->errlen, fmt, ap);
  va_end(ap);
  return -1;
}

static int is_digit(char ch)
{
  return ch >= '0' && ch <= '9';
}

static int at(const cursor *c, char ch)
{
  return c->p < c->end && *c->p == ch;
}

/* Exactly n digits. */
static int digits(cursor *c, int n, int *out)
{
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (c->p >= c->end || !is_digit(*c->p)) return -1;
    v = v * 10 + (*c->p++ - '0');
  }
  *out = v;
  return 0;
}

/* Digits with an optional fraction ("12", "1.5", ".5" is refused); none -> -1. */
static int decimal(cursor *c, double *out)
{
  const char *s = c->p;
  double v = 0;
  while (c->p < c->end && is_digit(*c->p)) v = v * 10 + (*c->p++ - '0');
  if (c->p == s) return -1;
  if (at(c, '.')) {
    c->p++;
    double scale = 0.1;
    const char *f = c->p;
    while (c->p < c->end && is_digit(*c->p)) {
      v += (*c->p++ - '0') * scale;
      scale /= 10;
    }
    if (c->p == f) return -1;
  }
  *out = v;
  return 0;
}

static long offset(const cursor *c)
{
  return (long)(c->p - c->start);
}

/* }====== */

/* {====== ISO-8601 ====== */

static int parse_date(cursor *c, int64_t *days)
{
  int y, m, d;
  if (digits(c, 4, &y) != 0) return fail(c, "expected a 4-digit year at offset %ld", offset(c));
  int extended = at(c, '-');
  if (extended) c->p++;
  if (digits(c, 2, &m) != 0) return fail(c, "expected a 2-digit month at offset %ld", offset(c));
  if (extended && !at(c, '-')) return fail(c, "expected '-' at offset %ld", offset(c));
  if (extended) c->p++;
  if (digits(c, 2, &d) != 0) return fail(c, "expected a 2-digit day at offset %ld", offset(c));
  if (m < 1 || m > 12) return fail(c, "month %02d out of range", m);
  if (d < 1 || d > gf_time_days_in_month(y, m)) return fail(c, "day %02d out of range", d);
  *days = gf_time_days_from_civil(y, m, d);
  return 0;
}

static int parse_clock(cursor *c, double *secs)
{
  int h, mi, s = 0;
  double frac = 0;
  if (digits(c, 2, &h) != 0) return fail(c, "expected a 2-digit hour at offset %ld", offset(c));
  int extended = at(c, ':');
  if (extended) c->p++;
  if (digits(c, 2, &mi) != 0) return fail(c, "expected 2-digit minutes at offset %ld", offset(c));
  if (extended ? at(c, ':') : (c->p < c->end && is_digit(*c->p))) {
    if (extended) c->p++;
    if (digits(c, 2, &s) != 0) return fail(c, "expected 2-digit seconds at offset %ld", offset(c));
    if (at(c, '.') || at(c, ',')) {
      c->p++;
      double scale = 0.1;
      const char *f = c->p;
      while (c->p < c->end && is_digit(*c->p)) {
        frac += (*c->p++ - '0') * scale;
        scale /= 10;
      }
      if (c->p == f) return fail(c, "expected fraction digits at offset %ld", offset(c));
    }
  }
  if (h > 23) return fail(c, "hour %02d out of range", h);
  if (mi > 59) return fail(c, "minute %02d out of range", mi);
  if (s > 60) return fail(c, "second %02d out of range", s);
  *secs = h * 3600.0 + mi * 60.0 + s + frac;
  return 0;
}

static int parse_zone(cursor *c, int *offset_secs)
{
  *offset_secs = 0;
  if (c->p == c->end) return 0;
  if (*c->p == 'Z' || *c->p == 'z') {
    c->p++;
    return 0;
  }
  if (*c->p != '+' && *c->p != '-')
    return fail(c, "unexpected '%c' at offset %ld", *c->p, offset(c));
  int sign = *c->p++ == '-' ? -1 : 1;
  int h, m = 0;
  if (digits(c, 2, &h) != 0)
    return fail(c, "expected a 2-digit zone hour at offset %ld", offset(c));
  if (at(c, ':')) {
    c->p++;
    if (digits(c, 2, &m) != 0)
      return fail(c, "expected 2-digit zone minutes at offset %ld", offset(c));
  } else if (c->p < c->end && digits(c, 2, &m) != 0) {
    return fail(c, "expected 2-digit zone minutes at offset %ld", offset(c));
  }
  if (h > 23 || m > 59) return fail(c, "zone offset out of range");
  *offset_secs = sign * (h * 3600 + m * 60);
  return 0;
}

int gf_time_parse_iso8601(const char *s, size_t len, double *epoch, char *err, size_t errlen)
{
  cursor c = {s, s + len, s, err, errlen};
  int64_t days = 0;
  double secs = 0;
  int zone = 0;
  if (len == 0) return fail(&c, "empty timestamp");
  if (parse_date(&c, &days) != 0) return -1;
  if (c.p < c.end) {
    if (*c.p != 'T' && *c.p != 't' && *c.p != ' ')
      return fail(&c, "unexpected '%c' at offset %ld", *c.p, offset(&c));
    c.p++;
    if (parse_clock(&c, &secs) != 0 || parse_zone(&c, &zone) != 0) return -1;
    if (c.p < c.end) return fail(&c, "unexpected '%c' at offset %ld", *c.p, offset(&c));
  }
  *epoch = (double)days * 86400.0 + secs - zone;
  return 0;
}

size_t gf_time_format_iso8601(double epoch, int ms, char *out, size_t outlen)
{
  gf_time_fields f;
  gf_time_fields_of(epoch, &f);
  int n;
  if (ms)
    n = snprintf(out, outlen, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)f.year, f.month,
                 f.day, f.hour, f.min, f.sec, f.msec);
  else
    n = snprintf(out, outlen, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long)f.year, f.month, f.day,
                 f.hour, f.min, f.sec);
  return n < 0 ? 0 : (size_t)n;
}

/* }====== */

/* {====== durations ====== */

int gf_time_parse_duration(const char *s, size_t len, double *seconds, char *err, size_t errlen)
{
  static const struct {
    const char *name;
    double mult;
  } units[] = {{"w", 604800}, {"d", 86400}, {"h", 3600}, {"m", 60}, {"s", 1}, {"ms", 0.001}};
  cursor c = {s, s + len, s, err, errlen};
  if (len == 0) return fail(&c, "empty duration");
  double total = 0, v;
  int last = -1;
  while (c.p < c.end) {
    if (decimal(&c, &v) != 0) return fail(&c, "expected a number at offset %ld", offset(&c));
    if (c.p == c.end && last < 0) { /* a plain number: seconds */
      *seconds = v;
      return 0;
    }
    int u = -1;
    if (c.end - c.p >= 2 && c.p[0] == 'm' && c.p[1] == 's')
      u = 5;
    else if (c.p < c.end)
      for (int i = 0; i < 5; i++)
        if (*c.p == units[i].name[0]) u = i;
    if (u < 0) {
      if (c.p == c.end) return fail(&c, "missing unit at the end");
      return fail(&c, "unknown unit '%c' at offset %ld (expected w, d, h, m, s or ms)", *c.p,
                  offset(&c));
    }
    if (u <= last)
      return fail(&c, "unit '%s' out of order at offset %ld (w, d, h, m, s, ms)", units[u].name,
                  offset(&c));
    c.p += strlen(units[u].name);
    total += v * units[u].mult;
    last = u;
  }
  *seconds = total;
  return 0;
}

size_t gf_time_format_duration(double seconds, char *out, size_t outlen)
{
  const char *sign = seconds < 0 ? "-" : "";
  double a = fabs(seconds);
  int64_t ms = (int64_t)llround(a * 1000.0);
  int n;
  if (ms < 60000 && ms % 1000 != 0) {
    n = snprintf(out, outlen, "%s%.3f", sign, (double)ms / 1000.0);
    while (n > 0 && out[n - 1] == '0') out[--n] = '\0';
    n += snprintf(out + n, outlen - (size_t)n, "s");
    return (size_t)n;
  }
  int64_t t = (ms + 500) / 1000;
  long long d = (long long)(t / 86400);
  int h = (int)(t / 3600 % 24), m = (int)(t / 60 % 60), s = (int)(t % 60);
  if (d > 0)
    n = snprintf(out, outlen, "%s%lldd%02dh%02dm%02ds", sign, d, h, m, s);
  else if (h > 0)
    n = snprintf(out, outlen, "%s%dh%02dm%02ds", sign, h, m, s);
  else if (m > 0)
    n = snprintf(out, outlen, "%s%dm%02ds", sign, m, s);
  else
    n = snprintf(out, outlen, "%s%ds", t == 0 ? "" : sign, s);
  return n < 0 ? 0 : (size_t)n;
}

/* }====== */

/* {====== month spans ====== */

static int parse_month(cursor *c, int64_t *y, int *m)
{
  int yy, mm;
  if (digits(c, 4, &yy) != 0) return fail(c, "expected a 4-digit year at offset %ld", offset(c));
  if (at(c, '-')) c->p++;
  if (digits(c, 2, &mm) != 0) return fail(c, "expected a 2-digit month at offset %ld", offset(c));
  if (mm < 1 || mm > 12) return fail(c, "month %02d out of range", mm);
  *y = yy;
  *m = mm;
  return 0;
}

int gf_time_parse_month_span(const char *s, size_t len, int64_t *y1, int *m1, int64_t *y2, int *m2,
                             char *err, size_t errlen)
{
  cursor c = {s, s + len, s, err, errlen};
  if (len == 0) return fail(&c, "empty month span");
  if (parse_month(&c, y1, m1) != 0) return -1;
  *y2 = *y1;
  *m2 = *m1;
  if (c.p < c.end) {
    if (c.end - c.p < 2 || c.p[0] != '.' || c.p[1] != '.')
      return fail(&c, "expected '..' at offset %ld", offset(&c));
    c.p += 2;
    if (parse_month(&c, y2, m2) != 0) return -1;
    if (c.p < c.end) return fail(&c, "unexpected '%c' at offset %ld", *c.p, offset(&c));
  }
  if (*y2 * 12 + *m2 < *y1 * 12 + *m1)
    return fail(&c, "end %04lld-%02d is before start %04lld-%02d", (long long)*y2, *m2,
                (long long)*y1, *m1);
  return 0;
}

/* }====== */

/* {====== strftime subset ====== */

static const char *const WDAY[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                   "Thursday", "Friday", "Saturday"};
static const char *const MONTH[] = {"January",   "February", "March",    "April",
                                    "May",       "June",     "July",     "August",
                                    "September", "October",  "November", "December"};

typedef struct {
  char *out;
  size_t len, cap;
  int overflow;
} sink;

static void put(sink *k, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void put(sink *k, const char *fmt, ...)
{
  if (k->overflow) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(k->out + k->len, k->cap - k->len, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= k->cap - k->len) {
    k->overflow = 1;
    return;
  }
  k->len += (size_t)n;
}

/* One conversion; returns 0, or -1 for an unknown one. */
static int convert(sink *k, char ch, const gf_time_fields *f, double epoch)
{
  long long y = (long long)f->year;
  int h12 = f->hour % 12 == 0 ? 12 : f->hour % 12;
  switch (ch) {
    case 'Y':
      put(k, "%04lld", y);
      break;
    case 'C':
      put(k, "%02lld", y / 100);
      break;
    case 'y':
      put(k, "%02lld", (y % 100 + 100) % 100);
      break;
    case 'm':
      put(k, "%02d", f->month);
      break;
    case 'd':
      put(k, "%02d", f->day);
      break;
    case 'e':
      put(k, "%2d", f->day);
      break;
    case 'j':
      put(k, "%03d", f->yday);
      break;
    case 'H':
      put(k, "%02d", f->hour);
      break;
    case 'I':
      put(k, "%02d", h12);
      break;
    case 'M':
      put(k, "%02d", f->min);
      break;
    case 'S':
      put(k, "%02d", f->sec);
      break;
    case 'L':
      put(k, "%03d", f->msec);
      break;
    case 'p':
      put(k, "%s", f->hour < 12 ? "AM" : "PM");
      break;
    case 'a':
      put(k, "%.3s", WDAY[f->wday]);
      break;
    case 'A':
      put(k, "%s", WDAY[f->wday]);
      break;
    case 'b':
    case 'h':
      put(k, "%.3s", MONTH[f->month - 1]);
      break;
    case 'B':
      put(k, "%s", MONTH[f->month - 1]);
      break;
    case 'u':
      put(k, "%d", f->wday == 0 ? 7 : f->wday);
      break;
    case 'w':
      put(k, "%d", f->wday);
      break;
    case 's':
      put(k, "%lld", (long long)floor(epoch));
      break;
    case 'F':
      put(k, "%04lld-%02d-%02d", y, f->month, f->day);
      break;
    case 'T':
      put(k, "%02d:%02d:%02d", f->hour, f->min, f->sec);
      break;
    case 'R':
      put(k, "%02d:%02d", f->hour, f->min);
      break;
    case 'D':
      put(k, "%02d/%02d/%02lld", f->month, f->day, (y % 100 + 100) % 100);
      break;
    case 'z':
      put(k, "+0000");
      break;
    case 'Z':
      put(k, "UTC");
      break;
    case 'n':
      put(k, "\n");
      break;
    case 't':
      put(k, "\t");
      break;
    case '%':
      put(k, "%%");
      break;
    default:
      return -1;
  }
  return 0;
}

size_t gf_time_format(double epoch, const char *fmt, size_t fmtlen, char *out, size_t outlen,
                      char *err, size_t errlen)
{
  gf_time_fields f;
  gf_time_fields_of(epoch, &f);
  sink k = {out, 0, outlen, 0};
  if (outlen == 0) return (size_t)-1;
  out[0] = '\0';
  for (size_t i = 0; i < fmtlen; i++) {
    if (fmt[i] != '%') {
      put(&k, "%c", fmt[i]);
      continue;
    }
    if (i + 1 >= fmtlen) {
      snprintf(err, errlen, "format ends with a lone '%%'");
      return (size_t)-1;
    }
    char ch = fmt[++i];
    if (convert(&k, ch, &f, epoch) != 0) {
      snprintf(err, errlen, "unknown conversion '%%%c'", ch);
      return (size_t)-1;
    }
  }
  if (k.overflow) {
    snprintf(err, errlen, "result too long");
    return (size_t)-1;
  }
  return k.len;
}

/* }====== */
