/*
** ltime.c — gf.time.core: clocks and the Lua binding of the calendar core (timeutil.h). The
** facade gf.time adds option tables, since() and defaults.
**
**   now() -> seconds (float, CLOCK_REALTIME)      monotonic() -> seconds (float, CLOCK_MONOTONIC)
**   iso8601(epoch, ms) -> "2024-01-02T03:04:05Z"
**   parse_iso8601(s) -> epoch | nil, msg, "parse"
**   duration(s) -> seconds | nil, msg, "parse"
**   format_duration(seconds) -> "1h02m03s"
**   month_span(s) -> {{year=, month=, start=, stop=, ym=}, ...} | nil, msg, "parse"
**   format(epoch, fmt) -> string                  raises on an unknown conversion
**   fields(epoch) -> {year=, month=, day=, hour=, min=, sec=, msec=, wday=, yday=}
**   epoch(year, month, day, hour, min, sec) -> seconds (normalised like timegm)
**
** Epochs that are whole numbers are returned as integers. Misuse raises: non-numbers, NaN,
** infinities and epochs beyond +-1e13 s (about 300,000 years).
*/
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>

#include "gf.h"
#include "timeutil.h"

#define EPOCH_LIMIT 1e13

static void push_seconds(lua_State *L, double v)
{
  double ip;
  if (modf(v, &ip) == 0.0 && fabs(v) < 9.0e15)
    lua_pushinteger(L, (lua_Integer)v);
  else
    lua_pushnumber(L, v);
}

static double check_epoch(lua_State *L, int arg)
{
  lua_Number e = luaL_checknumber(L, arg);
  luaL_argcheck(L, isfinite(e) && fabs(e) <= EPOCH_LIMIT, arg, "epoch out of range");
  return (double)e;
}

static double clock_seconds(clockid_t id)
{
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int l_now(lua_State *L)
{
  lua_pushnumber(L, clock_seconds(CLOCK_REALTIME));
  return 1;
}

static int l_monotonic(lua_State *L)
{
  lua_pushnumber(L, clock_seconds(CLOCK_MONOTONIC));
  return 1;
}

static int l_iso8601(lua_State *L)
{
  double e = check_epoch(L, 1);
  char out[64];
  size_t n = gf_time_format_iso8601(e, lua_toboolean(L, 2), out, sizeof out);
  lua_pushlstring(L, out, n);
  return 1;
}

static int l_parse_iso8601(lua_State *L)
{
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  char err[160];
  double e;
  if (gf_time_parse_iso8601(s, len, &e, err, sizeof err) != 0)
    return gf_fail(L, "parse", "time.parse_iso8601 '%.80s': %s", s, err);
  push_seconds(L, e);
  return 1;
}

static int l_duration(lua_State *L)
{
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  char err[160];
  double secs;
  if (gf_time_parse_duration(s, len, &secs, err, sizeof err) != 0)
    return gf_fail(L, "parse", "time.duration '%.80s': %s", s, err);
  push_seconds(L, secs);
  return 1;
}

static int l_format_duration(lua_State *L)
{
  lua_Number s = luaL_checknumber(L, 1);
  luaL_argcheck(L, isfinite(s) && fabs(s) <= EPOCH_LIMIT, 1, "seconds out of range");
  char out[64];
  size_t n = gf_time_format_duration(s, out, sizeof out);
  lua_pushlstring(L, out, n);
  return 1;
}

static void set_int(lua_State *L, const char *k, lua_Integer v)
{
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

static int l_month_span(lua_State *L)
{
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  char err[160];
  int64_t y1, y2;
  int m1, m2;
  if (gf_time_parse_month_span(s, len, &y1, &m1, &y2, &m2, err, sizeof err) != 0)
    return gf_fail(L, "parse", "time.month_span '%.80s': %s", s, err);
  int64_t first = y1 * 12 + (m1 - 1), last = y2 * 12 + (m2 - 1);
  lua_createtable(L, (int)(last - first + 1), 0);
  for (int64_t k = first; k <= last; k++) {
    int64_t y = k / 12;
    int m = (int)(k % 12) + 1;
    char ym[16];
    snprintf(ym, sizeof ym, "%04lld%02d", (long long)y, m);
    lua_createtable(L, 0, 5);
    set_int(L, "year", (lua_Integer)y);
    set_int(L, "month", m);
    set_int(L, "start", (lua_Integer)gf_time_days_from_civil(y, m, 1) * 86400);
    set_int(L, "stop",
            (lua_Integer)(gf_time_days_from_civil(y, m, 1) + gf_time_days_in_month(y, m)) * 86400);
    lua_pushstring(L, ym);
    lua_setfield(L, -2, "ym");
    lua_rawseti(L, -2, (lua_Integer)(k - first + 1));
  }
  return 1;
}

static int l_format(lua_State *L)
{
  double e = check_epoch(L, 1);
  size_t flen;
  const char *fmt = luaL_checklstring(L, 2, &flen);
  char err[96];
  luaL_Buffer b;
  size_t cap = flen * 16 + 32; /* the longest conversion ("%B" = "September") fits easily */
  char *out = luaL_buffinitsize(L, &b, cap);
  size_t n = gf_time_format(e, fmt, flen, out, cap, err, sizeof err);
  if (n == (size_t)-1) return luaL_error(L, "time.format: %s", err);
  luaL_pushresultsize(&b, n);
  return 1;
}

static int l_fields(lua_State *L)
{
  gf_time_fields f;
  gf_time_fields_of(check_epoch(L, 1), &f);
  lua_createtable(L, 0, 9);
  set_int(L, "year", (lua_Integer)f.year);
  set_int(L, "month", f.month);
  set_int(L, "day", f.day);
  set_int(L, "hour", f.hour);
  set_int(L, "min", f.min);
  set_int(L, "sec", f.sec);
  set_int(L, "msec", f.msec);
  set_int(L, "wday", f.wday);
  set_int(L, "yday", f.yday);
  return 1;
}

static int l_epoch(lua_State *L)
{
  lua_Integer v[5];
  for (int i = 0; i < 5; i++) {
    v[i] = i < 3 ? luaL_checkinteger(L, i + 1) : luaL_optinteger(L, i + 1, 0);
    luaL_argcheck(L, v[i] > -1000000000 && v[i] < 1000000000, i + 1, "out of range");
  }
  lua_Number sec = luaL_optnumber(L, 6, 0);
  luaL_argcheck(L, isfinite(sec) && fabs(sec) <= EPOCH_LIMIT, 6, "out of range");
  double e = gf_time_epoch_of(v[0], v[1], v[2], v[3], v[4], sec);
  luaL_argcheck(L, fabs(e) <= EPOCH_LIMIT, 1, "date out of range");
  push_seconds(L, e);
  return 1;
}

int luaopen_gf_time_core(lua_State *L);

int luaopen_gf_time_core(lua_State *L)
{
  static const luaL_Reg funcs[] = {
      {"now", l_now},
      {"monotonic", l_monotonic},
      {"iso8601", l_iso8601},
      {"parse_iso8601", l_parse_iso8601},
      {"duration", l_duration},
      {"format_duration", l_format_duration},
      {"month_span", l_month_span},
      {"format", l_format},
      {"fields", l_fields},
      {"epoch", l_epoch},
      {NULL, NULL},
  };
  luaL_newlib(L, funcs);
  return 1;
}
