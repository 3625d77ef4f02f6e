/*
** lamqp.c — gf.amqp.core: the Lua binding of amqp.c, on the host loop. The facade gf.amqp
** (amqp.lua) parses URLs, checks options, waits, serializes synchronous methods, keeps the
** journal of declarations and reconnects.
**
**   connect(cfg) -> conn | nil, msg, code          open + login + channel.open on a worker
**   conn:reconnect(cfg) -> true | nil, msg, code   a fresh connection in place of the old one
**   conn:rpc(kind, ...) -> true | nil, msg, code   send a synchronous method (see RPC below)
**   conn:rpc_result() -> false (pending) | true, name, messages, consumers | nil, msg, code
**   conn:take() -> msg | false (none queued)
**   conn:ack(tag, multiple), conn:nack(tag, multiple, requeue) -> true | nil, msg, code
**   conn:publish(exchange, key, body, props|nil, mandatory) -> seq (0 without confirms) | nil..
**   conn:confirm_state(seq) -> "pending" | "ack" | "nack"
**   conn:unconfirmed() -> pending, nacked (and forgets the nacked ones)
**   conn:writable() -> boolean; conn:want_write() arm a wake-up for when the socket drains
**   conn:waiter() -> fd; conn:unwaiter(fd)  an eventfd that is signalled when anything happens
**   conn:notify()                      signal every waiter
**   conn:status() -> {open=, channel_open=, err=, code=, heartbeat=, queued=, blocked=, epoch=}
**   conn:channel_error() -> msg, code | nil        a channel closed by the broker (clears it)
**   conn:close_send() -> true | nil, msg, code; conn:drop([msg, code])
**   now() -> milliseconds on the monotonic clock
**
** Every wait is the facade's: it parks on a waiter's eventfd with gf.task.core.wait_fd. The
** socket has one watcher with a C callback: whatever arrives is read and sorted at once (so
** heartbeats are answered and deliveries queued while no task waits), and waiters are
** signalled. A timer pumps every half heartbeat interval so that rabbitmq-c sends heartbeats
** on an idle connection and notices a dead peer.
*/
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "amqp.h"
#include "gf.h"

#define CONN_MT "gf.amqp.conn"

typedef struct lconn {
  gfa_conn c;
  gf_loop *loop;
  gf_watch watch;
  gf_timer timer;
  gf_timer more;                       /* a capped pump left frames: go on at the next step */
  int *waiting, nwaiting, cap_waiting; /* eventfds of parked tasks */
  int *spare, nspare, cap_spare;       /* eventfds to reuse */
} lconn;

/* {====== loop side ====== */

static void notify(lconn *lc)
{
  uint64_t one = 1;
  for (int i = 0; i < lc->nwaiting; i++) {
    ssize_t n = write(lc->waiting[i], &one, sizeof one);
    (void)n;
  }
}

static void stop_sources(lconn *lc)
{
  if (lc->loop) {
    gf_watch_stop(lc->loop, &lc->watch);
    gf_loop_timer_remove(lc->loop, &lc->timer);
    gf_loop_timer_remove(lc->loop, &lc->more);
  }
}

/* After anything that may have dropped the connection: its descriptor is gone, stop watching. */
static void settle(lconn *lc)
{
  if (!lc->c.open) stop_sources(lc);
}

#define PUMP_FRAMES 512

/* Pump, stop watching a lost connection, signal the waiters if anything changed. */
static void pump(lconn *lc)
{
  int more = 0;
  int changed = gfa_pump(&lc->c, PUMP_FRAMES, &more);
  settle(lc);
  if (more && lc->c.open && lc->more.heap_index == (size_t)-1) {
    lc->more.due_ms = gf_now_ms();
    gf_loop_timer_add(lc->loop, &lc->more);
  }
  if (changed) notify(lc);
}

static void on_more(gf_loop *loop, gf_timer *t)
{
  (void)loop;
  pump((lconn *)((char *)t - offsetof(lconn, more)));
}

static void arm_timer(lconn *lc)
{
  if (lc->c.heartbeat <= 0 || !lc->c.open) return;
  int64_t period = (int64_t)lc->c.heartbeat * 500;
  if (period < 250) period = 250;
  lc->timer.due_ms = gf_now_ms() + period;
  gf_loop_timer_add(lc->loop, &lc->timer);
}

static void on_timer(gf_loop *loop, gf_timer *t)
{
  (void)loop;
  lconn *lc = (lconn *)((char *)t - offsetof(lconn, timer));
  pump(lc);
  arm_timer(lc);
}

static void on_socket(gf_loop *loop, gf_watch *w, int events)
{
  lconn *lc = w->data;
  if (events & GF_IO_WRITE) { /* a publisher waits for room */
    (void)gf_watch_start(loop, w, GF_IO_READ);
    notify(lc);
  }
  if (events & (GF_IO_READ | GF_IO_ERROR)) pump(lc);
}

static int start_sources(lua_State *L, lconn *lc)
{
  lc->loop = gf_host_loop(L);
  lc->watch.fd = lc->c.fd;
  lc->watch.cb = on_socket;
  lc->watch.data = lc;
  lc->watch.name = "gf.amqp socket";
  lc->watch.ref = 0; /* an idle connection does not keep the run alive */
  lc->timer.fire = on_timer;
  lc->timer.heap_index = (size_t)-1;
  lc->more.fire = on_more;
  lc->more.heap_index = (size_t)-1;
  int rc = gf_watch_start(lc->loop, &lc->watch, GF_IO_READ);
  if (rc != 0) {
    gfa_drop(&lc->c, "network", "cannot watch the AMQP socket: %s", strerror(-rc));
    return -1;
  }
  arm_timer(lc);
  /* login may have read frames past its own replies */
  if (gfa_has_buffered(&lc->c)) pump(lc);
  settle(lc);
  return 0;
}

/* }====== */

/* {====== helpers ====== */

static lconn *check_conn(lua_State *L)
{
  return luaL_checkudata(L, 1, CONN_MT);
}

static int push_err(lua_State *L, lconn *lc)
{
  lua_pushnil(L);
  lua_pushstring(L, lc->c.err[0] ? lc->c.err : "connection closed");
  lua_pushstring(L, lc->c.err_code ? lc->c.err_code : "network");
  return 3;
}

/* A sender's epilogue: frames rabbitmq-c read while writing are sorted now. */
static int after_send(lua_State *L, lconn *lc, int rc)
{
  if (rc == 0 && gfa_has_buffered(&lc->c)) pump(lc);
  settle(lc);
  if (rc != 0 || !lc->c.open) {
    notify(lc);
    return push_err(L, lc);
  }
  return 0;
}

static amqp_bytes_t opt_bytes(lua_State *L, int idx)
{
  size_t len = 0;
  const char *s = luaL_optlstring(L, idx, "", &len);
  amqp_bytes_t b = {len, (void *)s};
  return b;
}

/* }====== */

/* {====== field tables ====== */

static void push_table(lua_State *L, const amqp_table_t *t, int depth);

static void push_value(lua_State *L, const amqp_field_value_t *v, int depth)
{
  switch (v->kind) {
    case AMQP_FIELD_KIND_BOOLEAN:
      lua_pushboolean(L, v->value.boolean);
      break;
    case AMQP_FIELD_KIND_I8:
      lua_pushinteger(L, v->value.i8);
      break;
    case AMQP_FIELD_KIND_U8:
      lua_pushinteger(L, v->value.u8);
      break;
    case AMQP_FIELD_KIND_I16:
      lua_pushinteger(L, v->value.i16);
      break;
    case AMQP_FIELD_KIND_U16:
      lua_pushinteger(L, v->value.u16);
      break;
    case AMQP_FIELD_KIND_I32:
      lua_pushinteger(L, v->value.i32);
      break;
    case AMQP_FIELD_KIND_U32:
      lua_pushinteger(L, v->value.u32);
      break;
    case AMQP_FIELD_KIND_I64:
      lua_pushinteger(L, (lua_Integer)v->value.i64);
      break;
    case AMQP_FIELD_KIND_U64:
    case AMQP_FIELD_KIND_TIMESTAMP:
      lua_pushinteger(L, (lua_Integer)v->value.u64);
      break;
    case AMQP_FIELD_KIND_F32:
      lua_pushnumber(L, v->value.f32);
      break;
    case AMQP_FIELD_KIND_F64:
      lua_pushnumber(L, v->value.f64);
      break;
    case AMQP_FIELD_KIND_DECIMAL: {
      double d = (double)v->value.decimal.value;
      for (int i = 0; i < v->value.decimal.decimals; i++) d /= 10.0;
      lua_pushnumber(L, d);
      break;
    }
    case AMQP_FIELD_KIND_UTF8:
    case AMQP_FIELD_KIND_BYTES:
      lua_pushlstring(L, v->value.bytes.bytes, v->value.bytes.len);
      break;
    case AMQP_FIELD_KIND_ARRAY:
      luaL_checkstack(L, 3, "field table too deep");
      lua_createtable(L, v->value.array.num_entries, 0);
      if (depth < 32)
        for (int i = 0; i < v->value.array.num_entries; i++) {
          push_value(L, &v->value.array.entries[i], depth + 1);
          lua_rawseti(L, -2, i + 1);
        }
      break;
    case AMQP_FIELD_KIND_TABLE:
      push_table(L, &v->value.table, depth + 1);
      break;
    default: /* void */
      lua_pushboolean(L, 0);
      break;
  }
}

static void push_table(lua_State *L, const amqp_table_t *t, int depth)
{
  luaL_checkstack(L, 3, "field table too deep");
  lua_createtable(L, 0, t->num_entries);
  if (depth > 32) return;
  for (int i = 0; i < t->num_entries; i++) {
    const amqp_table_entry_t *e = &t->entries[i];
    lua_pushlstring(L, e->key.bytes, e->key.len);
    push_value(L, &e->value, depth);
    lua_rawset(L, -3);
  }
}

static int to_table(lua_State *L, int idx, amqp_pool_t *pool, amqp_table_t *out, int depth);

static int to_value(lua_State *L, int idx, amqp_pool_t *pool, amqp_field_value_t *v, int depth)
{
  switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN:
      v->kind = AMQP_FIELD_KIND_BOOLEAN;
      v->value.boolean = lua_toboolean(L, idx);
      return 0;
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) {
        v->kind = AMQP_FIELD_KIND_I64;
        v->value.i64 = (int64_t)lua_tointeger(L, idx);
      } else {
        v->kind = AMQP_FIELD_KIND_F64;
        v->value.f64 = lua_tonumber(L, idx);
      }
      return 0;
    case LUA_TSTRING: {
      size_t len;
      const char *s = lua_tolstring(L, idx, &len);
      v->kind = AMQP_FIELD_KIND_UTF8;
      amqp_pool_alloc_bytes(pool, len, &v->value.bytes);
      if (len && !v->value.bytes.bytes) return -1;
      if (len) memcpy(v->value.bytes.bytes, s, len);
      return 0;
    }
    case LUA_TTABLE: {
      if (depth > 32) return luaL_error(L, "gf.amqp: headers nested too deep");
      lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
      if (n > 0) {
        v->kind = AMQP_FIELD_KIND_ARRAY;
        v->value.array.num_entries = (int)n;
        v->value.array.entries = amqp_pool_alloc(pool, sizeof(amqp_field_value_t) * (size_t)n);
        if (!v->value.array.entries) return -1;
        for (lua_Integer i = 1; i <= n; i++) {
          lua_rawgeti(L, idx, i);
          int rc = to_value(L, lua_gettop(L), pool, &v->value.array.entries[i - 1], depth + 1);
          lua_pop(L, 1);
          if (rc) return rc;
        }
        return 0;
      }
      v->kind = AMQP_FIELD_KIND_TABLE;
      return to_table(L, idx, pool, &v->value.table, depth + 1);
    }
    default:
      return luaL_error(L, "gf.amqp: a header value cannot be a %s", luaL_typename(L, idx));
  }
}

static int to_table(lua_State *L, int idx, amqp_pool_t *pool, amqp_table_t *out, int depth)
{
  int n = 0;
  luaL_checkstack(L, 4, "headers nested too deep");
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    n++;
    lua_pop(L, 1);
  }
  out->num_entries = 0;
  out->entries = n ? amqp_pool_alloc(pool, sizeof(amqp_table_entry_t) * (size_t)n) : NULL;
  if (n && !out->entries) return -1;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) != LUA_TSTRING)
      return luaL_error(L, "gf.amqp: header names must be strings");
    size_t klen;
    const char *k = lua_tolstring(L, -2, &klen);
    amqp_table_entry_t *e = &out->entries[out->num_entries++];
    amqp_pool_alloc_bytes(pool, klen, &e->key);
    if (klen && !e->key.bytes) return -1;
    if (klen) memcpy(e->key.bytes, k, klen);
    if (to_value(L, lua_gettop(L), pool, &e->value, depth)) return -1;
    lua_pop(L, 1);
  }
  return 0;
}

/* }====== */

/* {====== connect ====== */

typedef struct open_job {
  gfa_config cfg;
  amqp_connection_state_t st;
  char err[512];
  const char *code;
  lconn *target; /* reconnect: the conn, kept alive by its caller's stack */
} open_job;

static char *opt_strdup(lua_State *L, int t, const char *k)
{
  lua_getfield(L, t, k);
  const char *s = lua_tostring(L, -1);
  char *r = s ? strdup(s) : NULL;
  lua_pop(L, 1);
  return r;
}

static int opt_int(lua_State *L, int t, const char *k, int def)
{
  lua_getfield(L, t, k);
  int r = lua_isnumber(L, -1) ? (int)lua_tointeger(L, -1) : def;
  if (lua_isboolean(L, -1)) r = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return r;
}

static void read_config(lua_State *L, int t, gfa_config *cfg)
{
  luaL_checktype(L, t, LUA_TTABLE);
  cfg->host = opt_strdup(L, t, "host");
  cfg->vhost = opt_strdup(L, t, "vhost");
  cfg->user = opt_strdup(L, t, "user");
  cfg->password = opt_strdup(L, t, "password");
  cfg->name = opt_strdup(L, t, "name");
  cfg->cacert = opt_strdup(L, t, "cacert");
  cfg->port = opt_int(L, t, "port", 5672);
  cfg->tls = opt_int(L, t, "tls", 0);
  cfg->verify = opt_int(L, t, "verify", 1);
  cfg->heartbeat = opt_int(L, t, "heartbeat", 60);
  cfg->timeout_ms = opt_int(L, t, "timeout_ms", 30000);
  cfg->frame_max = opt_int(L, t, "frame_max", 131072);
}

static void open_work(void *ud)
{
  open_job *j = ud;
  if (!j->cfg.host || !j->cfg.vhost || !j->cfg.user || !j->cfg.password) {
    snprintf(j->err, sizeof j->err, "out of memory");
    j->code = "network";
    return;
  }
  j->st = gfa_open(&j->cfg, j->err, sizeof j->err, &j->code);
}

static void open_release(void *ud)
{
  open_job *j = ud;
  if (j->st) amqp_destroy_connection(j->st);
  free(j->cfg.host);
  free(j->cfg.vhost);
  if (j->cfg.password) memset(j->cfg.password, 0, strlen(j->cfg.password));
  free(j->cfg.user);
  free(j->cfg.password);
  free(j->cfg.name);
  free(j->cfg.cacert);
  free(j);
}

static int open_push(lua_State *L, void *ud)
{
  open_job *j = ud;
  if (!j->st) return gf_fail(L, j->code ? j->code : "network", "%s", j->err);
  lconn *lc;
  if (j->target) {
    lc = j->target;
    stop_sources(lc);
  } else {
    lc = lua_newuserdatauv(L, sizeof *lc, 0);
    memset(lc, 0, sizeof *lc);
    lc->c.fd = -1;
    lc->c.epoch = (uint64_t)-1; /* the first channel is epoch 0 */
    lc->timer.heap_index = (size_t)-1;
    lc->more.heap_index = (size_t)-1;
    luaL_setmetatable(L, CONN_MT);
  }
  gfa_attach(&lc->c, j->st);
  j->st = NULL;
  if (start_sources(L, lc) != 0) return push_err(L, lc);
  if (j->target) {
    notify(lc);
    lua_pushboolean(L, 1);
  }
  return 1;
}

static int l_connect(lua_State *L)
{
  open_job *j = calloc(1, sizeof *j);
  if (!j) return luaL_error(L, "not enough memory");
  read_config(L, 1, &j->cfg);
  return gf_work(L, open_work, open_push, open_release, j);
}

static int c_reconnect(lua_State *L)
{
  lconn *lc = check_conn(L);
  open_job *j = calloc(1, sizeof *j);
  if (!j) return luaL_error(L, "not enough memory");
  read_config(L, 2, &j->cfg);
  j->target = lc;
  /* the old connection is finished: wake whoever waits on it */
  if (lc->c.open) {
    stop_sources(lc);
    gfa_drop(&lc->c, "network", "connection replaced by reconnect()");
  }
  notify(lc);
  return gf_work(L, open_work, open_push, open_release, j);
}

/* }====== */

/* {====== methods ====== */

static int c_rpc(lua_State *L)
{
  lconn *lc = check_conn(L);
  const char *kind = luaL_checkstring(L, 2);
  if (!lc->c.open) return push_err(L, lc);
  if (!lc->c.channel_open && strcmp(kind, "channel_open") != 0)
    return gf_fail(L, "protocol", "gf.amqp: the channel is closed");
  amqp_pool_t pool;
  init_amqp_pool(&pool, 1024);
  amqp_table_t args = amqp_empty_table;
  int rc;
  if (strcmp(kind, "exchange_declare") == 0) {
    /* name, type, passive, durable, auto_delete, internal, args */
    if (lua_istable(L, 9) && to_table(L, 9, &pool, &args, 0)) goto oom;
    amqp_exchange_declare_t m = {0};
    m.exchange = opt_bytes(L, 3);
    m.type = opt_bytes(L, 4);
    m.passive = lua_toboolean(L, 5);
    m.durable = lua_toboolean(L, 6);
    m.auto_delete = lua_toboolean(L, 7);
    m.internal = lua_toboolean(L, 8);
    m.arguments = args;
    rc = gfa_rpc_send(&lc->c, AMQP_EXCHANGE_DECLARE_METHOD, &m, AMQP_EXCHANGE_DECLARE_OK_METHOD);
  } else if (strcmp(kind, "exchange_delete") == 0) {
    amqp_exchange_delete_t m = {0};
    m.exchange = opt_bytes(L, 3);
    m.if_unused = lua_toboolean(L, 4);
    rc = gfa_rpc_send(&lc->c, AMQP_EXCHANGE_DELETE_METHOD, &m, AMQP_EXCHANGE_DELETE_OK_METHOD);
  } else if (strcmp(kind, "queue_declare") == 0) {
    /* name, passive, durable, exclusive, auto_delete, args */
    if (lua_istable(L, 8) && to_table(L, 8, &pool, &args, 0)) goto oom;
    amqp_queue_declare_t m = {0};
    m.queue = opt_bytes(L, 3);
    m.passive = lua_toboolean(L, 4);
    m.durable = lua_toboolean(L, 5);
    m.exclusive = lua_toboolean(L, 6);
    m.auto_delete = lua_toboolean(L, 7);
    m.arguments = args;
    rc = gfa_rpc_send(&lc->c, AMQP_QUEUE_DECLARE_METHOD, &m, AMQP_QUEUE_DECLARE_OK_METHOD);
  } else if (strcmp(kind, "queue_bind") == 0 || strcmp(kind, "queue_unbind") == 0) {
    /* queue, exchange, key, args */
    if (lua_istable(L, 6) && to_table(L, 6, &pool, &args, 0)) goto oom;
    if (kind[6] == 'b') {
      amqp_queue_bind_t m = {0};
      m.queue = opt_bytes(L, 3);
      m.exchange = opt_bytes(L, 4);
      m.routing_key = opt_bytes(L, 5);
      m.arguments = args;
      rc = gfa_rpc_send(&lc->c, AMQP_QUEUE_BIND_METHOD, &m, AMQP_QUEUE_BIND_OK_METHOD);
    } else {
      amqp_queue_unbind_t m = {0};
      m.queue = opt_bytes(L, 3);
      m.exchange = opt_bytes(L, 4);
      m.routing_key = opt_bytes(L, 5);
      m.arguments = args;
      rc = gfa_rpc_send(&lc->c, AMQP_QUEUE_UNBIND_METHOD, &m, AMQP_QUEUE_UNBIND_OK_METHOD);
    }
  } else if (strcmp(kind, "queue_delete") == 0) {
    amqp_queue_delete_t m = {0};
    m.queue = opt_bytes(L, 3);
    m.if_unused = lua_toboolean(L, 4);
    m.if_empty = lua_toboolean(L, 5);
    rc = gfa_rpc_send(&lc->c, AMQP_QUEUE_DELETE_METHOD, &m, AMQP_QUEUE_DELETE_OK_METHOD);
  } else if (strcmp(kind, "queue_purge") == 0) {
    amqp_queue_purge_t m = {0};
    m.queue = opt_bytes(L, 3);
    rc = gfa_rpc_send(&lc->c, AMQP_QUEUE_PURGE_METHOD, &m, AMQP_QUEUE_PURGE_OK_METHOD);
  } else if (strcmp(kind, "qos") == 0) {
    amqp_basic_qos_t m = {0};
    m.prefetch_count = (uint16_t)luaL_checkinteger(L, 3);
    m.global = lua_toboolean(L, 4);
    rc = gfa_rpc_send(&lc->c, AMQP_BASIC_QOS_METHOD, &m, AMQP_BASIC_QOS_OK_METHOD);
  } else if (strcmp(kind, "consume") == 0) {
    /* queue, tag, no_ack, exclusive, args */
    if (lua_istable(L, 7) && to_table(L, 7, &pool, &args, 0)) goto oom;
    amqp_basic_consume_t m = {0};
    m.queue = opt_bytes(L, 3);
    m.consumer_tag = opt_bytes(L, 4);
    m.no_ack = lua_toboolean(L, 5);
    m.exclusive = lua_toboolean(L, 6);
    m.arguments = args;
    rc = gfa_rpc_send(&lc->c, AMQP_BASIC_CONSUME_METHOD, &m, AMQP_BASIC_CONSUME_OK_METHOD);
  } else if (strcmp(kind, "cancel") == 0) {
    amqp_basic_cancel_t m = {0};
    m.consumer_tag = opt_bytes(L, 3);
    rc = gfa_rpc_send(&lc->c, AMQP_BASIC_CANCEL_METHOD, &m, AMQP_BASIC_CANCEL_OK_METHOD);
  } else if (strcmp(kind, "confirm_select") == 0) {
    amqp_confirm_select_t m = {0};
    rc = gfa_rpc_send(&lc->c, AMQP_CONFIRM_SELECT_METHOD, &m, AMQP_CONFIRM_SELECT_OK_METHOD);
  } else if (strcmp(kind, "channel_open") == 0) {
    amqp_channel_open_t m = {amqp_empty_bytes};
    rc = gfa_rpc_send(&lc->c, AMQP_CHANNEL_OPEN_METHOD, &m, AMQP_CHANNEL_OPEN_OK_METHOD);
  } else {
    empty_amqp_pool(&pool);
    return luaL_error(L, "gf.amqp: unknown method '%s'", kind);
  }
  empty_amqp_pool(&pool);
  int n = after_send(L, lc, rc);
  if (n) return n;
  lua_pushboolean(L, 1);
  return 1;
oom:
  empty_amqp_pool(&pool);
  return luaL_error(L, "not enough memory");
}

static int c_rpc_result(lua_State *L)
{
  lconn *lc = check_conn(L);
  gfa_rpc *r = &lc->c.rpc;
  switch (r->state) {
    case GFA_RPC_PENDING:
      if (!lc->c.open) break;
      lua_pushboolean(L, 0);
      return 1;
    case GFA_RPC_DONE:
      r->state = GFA_RPC_IDLE;
      lua_pushboolean(L, 1);
      if (r->name)
        lua_pushstring(L, r->name);
      else
        lua_pushnil(L);
      lua_pushinteger(L, r->message_count);
      lua_pushinteger(L, r->consumer_count);
      return 4;
    default:
      break;
  }
  r->state = GFA_RPC_IDLE;
  if (lc->c.open && lc->c.chan_code) {
    lua_pushnil(L);
    lua_pushstring(L, lc->c.chan_err);
    lua_pushstring(L, lc->c.chan_code);
    lc->c.chan_code = NULL;
    lc->c.chan_err[0] = 0;
    return 3;
  }
  return push_err(L, lc);
}

static void set_bytes_field(lua_State *L, const char *k, amqp_flags_t flags, amqp_flags_t flag,
                            amqp_bytes_t b)
{
  if (!(flags & flag)) return;
  lua_pushlstring(L, b.bytes, b.len);
  lua_setfield(L, -2, k);
}

static void push_msg(lua_State *L, gfa_msg *m)
{
  lua_createtable(L, 0, 8);
  lua_pushlstring(L, m->body, m->body_len);
  lua_setfield(L, -2, "body");
  lua_pushstring(L, m->routing_key);
  lua_setfield(L, -2, "routing_key");
  lua_pushstring(L, m->exchange);
  lua_setfield(L, -2, "exchange");
  lua_pushstring(L, m->consumer_tag);
  lua_setfield(L, -2, "consumer_tag");
  lua_pushinteger(L, (lua_Integer)m->tag);
  lua_setfield(L, -2, "delivery_tag");
  lua_pushboolean(L, m->redelivered);
  lua_setfield(L, -2, "redelivered");
  const amqp_basic_properties_t *p = &m->props;
  amqp_flags_t f = p->_flags;
  lua_createtable(L, 0, 4);
  set_bytes_field(L, "content_type", f, AMQP_BASIC_CONTENT_TYPE_FLAG, p->content_type);
  set_bytes_field(L, "content_encoding", f, AMQP_BASIC_CONTENT_ENCODING_FLAG, p->content_encoding);
  set_bytes_field(L, "correlation_id", f, AMQP_BASIC_CORRELATION_ID_FLAG, p->correlation_id);
  set_bytes_field(L, "reply_to", f, AMQP_BASIC_REPLY_TO_FLAG, p->reply_to);
  set_bytes_field(L, "expiration", f, AMQP_BASIC_EXPIRATION_FLAG, p->expiration);
  set_bytes_field(L, "message_id", f, AMQP_BASIC_MESSAGE_ID_FLAG, p->message_id);
  set_bytes_field(L, "type", f, AMQP_BASIC_TYPE_FLAG, p->type);
  set_bytes_field(L, "user_id", f, AMQP_BASIC_USER_ID_FLAG, p->user_id);
  set_bytes_field(L, "app_id", f, AMQP_BASIC_APP_ID_FLAG, p->app_id);
  if (f & AMQP_BASIC_DELIVERY_MODE_FLAG) {
    lua_pushinteger(L, p->delivery_mode);
    lua_setfield(L, -2, "delivery_mode");
    lua_pushboolean(L, p->delivery_mode == AMQP_DELIVERY_PERSISTENT);
    lua_setfield(L, -2, "persistent");
  }
  if (f & AMQP_BASIC_PRIORITY_FLAG) {
    lua_pushinteger(L, p->priority);
    lua_setfield(L, -2, "priority");
  }
  if (f & AMQP_BASIC_TIMESTAMP_FLAG) {
    lua_pushinteger(L, (lua_Integer)p->timestamp);
    lua_setfield(L, -2, "timestamp");
  }
  if (f & AMQP_BASIC_HEADERS_FLAG) {
    push_table(L, &p->headers, 0);
    lua_setfield(L, -2, "headers");
  }
  lua_setfield(L, -2, "properties");
}

static int c_take(lua_State *L)
{
  lconn *lc = check_conn(L);
  gfa_msg *m = gfa_take(&lc->c);
  if (!m) {
    lua_pushboolean(L, 0);
    return 1;
  }
  push_msg(L, m);
  gfa_msg_free(m);
  return 1;
}

static int check_tag(lua_State *L, lconn *lc, uint64_t *tag)
{
  lua_Integer t = luaL_checkinteger(L, 2);
  luaL_argcheck(L, t > 0, 2, "delivery tag expected");
  if (!lc->c.open) return push_err(L, lc);
  uint64_t epoch = (uint64_t)t >> GFA_TAG_BITS;
  if (epoch != lc->c.epoch || !lc->c.channel_open)
    return gf_fail(L, "network",
                   "delivery tag %lld belongs to a channel that was closed: the broker "
                   "delivers that message again",
                   (long long)t);
  *tag = (uint64_t)t & (((uint64_t)1 << GFA_TAG_BITS) - 1);
  return 0;
}

static int c_ack(lua_State *L)
{
  lconn *lc = check_conn(L);
  uint64_t tag;
  int n = check_tag(L, lc, &tag);
  if (n) return n;
  n = after_send(L, lc, gfa_ack(&lc->c, tag, lua_toboolean(L, 3)));
  if (n) return n;
  lua_pushboolean(L, 1);
  return 1;
}

static int c_nack(lua_State *L)
{
  lconn *lc = check_conn(L);
  uint64_t tag;
  int n = check_tag(L, lc, &tag);
  if (n) return n;
  n = after_send(L, lc, gfa_nack(&lc->c, tag, lua_toboolean(L, 3), lua_toboolean(L, 4)));
  if (n) return n;
  lua_pushboolean(L, 1);
  return 1;
}

static amqp_bytes_t field_bytes(lua_State *L, int t, const char *k, amqp_flags_t flag,
                                amqp_flags_t *flags)
{
  amqp_bytes_t b = amqp_empty_bytes;
  lua_getfield(L, t, k);
  if (lua_type(L, -1) == LUA_TSTRING) {
    size_t len;
    b.bytes = (void *)lua_tolstring(L, -1, &len); /* kept alive by the props table */
    b.len = len;
    *flags |= flag;
  } else if (!lua_isnil(L, -1)) {
    luaL_error(L, "gf.amqp.publish: property '%s' must be a string", k);
  }
  lua_pop(L, 1);
  return b;
}

static int c_publish(lua_State *L)
{
  lconn *lc = check_conn(L);
  const char *exchange = luaL_checkstring(L, 2);
  const char *key = luaL_checkstring(L, 3);
  size_t len;
  const char *body = luaL_checklstring(L, 4, &len);
  int mandatory = lua_toboolean(L, 6);
  if (!lc->c.open) return push_err(L, lc);
  if (!lc->c.channel_open) return gf_fail(L, "protocol", "gf.amqp: the channel is closed");
  amqp_basic_properties_t p;
  memset(&p, 0, sizeof p);
  amqp_pool_t pool;
  init_amqp_pool(&pool, 1024);
  if (lua_istable(L, 5)) {
    amqp_flags_t f = 0;
    p.content_type = field_bytes(L, 5, "content_type", AMQP_BASIC_CONTENT_TYPE_FLAG, &f);
    p.content_encoding =
        field_bytes(L, 5, "content_encoding", AMQP_BASIC_CONTENT_ENCODING_FLAG, &f);
    p.correlation_id = field_bytes(L, 5, "correlation_id", AMQP_BASIC_CORRELATION_ID_FLAG, &f);
    p.reply_to = field_bytes(L, 5, "reply_to", AMQP_BASIC_REPLY_TO_FLAG, &f);
    p.expiration = field_bytes(L, 5, "expiration", AMQP_BASIC_EXPIRATION_FLAG, &f);
    p.message_id = field_bytes(L, 5, "message_id", AMQP_BASIC_MESSAGE_ID_FLAG, &f);
    p.type = field_bytes(L, 5, "type", AMQP_BASIC_TYPE_FLAG, &f);
    p.user_id = field_bytes(L, 5, "user_id", AMQP_BASIC_USER_ID_FLAG, &f);
    p.app_id = field_bytes(L, 5, "app_id", AMQP_BASIC_APP_ID_FLAG, &f);
    lua_getfield(L, 5, "delivery_mode");
    if (lua_isinteger(L, -1)) {
      p.delivery_mode = (uint8_t)lua_tointeger(L, -1);
      f |= AMQP_BASIC_DELIVERY_MODE_FLAG;
    }
    lua_pop(L, 1);
    lua_getfield(L, 5, "persistent");
    if (lua_isboolean(L, -1)) {
      p.delivery_mode =
          lua_toboolean(L, -1) ? AMQP_DELIVERY_PERSISTENT : AMQP_DELIVERY_NONPERSISTENT;
      f |= AMQP_BASIC_DELIVERY_MODE_FLAG;
    }
    lua_pop(L, 1);
    lua_getfield(L, 5, "priority");
    if (lua_isinteger(L, -1)) {
      p.priority = (uint8_t)lua_tointeger(L, -1);
      f |= AMQP_BASIC_PRIORITY_FLAG;
    }
    lua_pop(L, 1);
    lua_getfield(L, 5, "timestamp");
    if (lua_isinteger(L, -1)) {
      p.timestamp = (uint64_t)lua_tointeger(L, -1);
      f |= AMQP_BASIC_TIMESTAMP_FLAG;
    }
    lua_pop(L, 1);
    lua_getfield(L, 5, "headers");
    if (lua_istable(L, -1)) {
      if (to_table(L, lua_gettop(L), &pool, &p.headers, 0)) {
        empty_amqp_pool(&pool);
        return luaL_error(L, "not enough memory");
      }
      f |= AMQP_BASIC_HEADERS_FLAG;
    }
    lua_pop(L, 1);
    p._flags = f;
  }
  uint64_t seq = 0;
  int rc = gfa_publish(&lc->c, exchange, key, body, len, mandatory, &p, &seq);
  empty_amqp_pool(&pool);
  int n = after_send(L, lc, rc);
  if (n) return n;
  lua_pushinteger(L, (lua_Integer)seq);
  return 1;
}

static int c_confirm_state(lua_State *L)
{
  lconn *lc = check_conn(L);
  int s = gfa_confirm_state(&lc->c, (uint64_t)luaL_checkinteger(L, 2));
  lua_pushstring(L, s > 0 ? "pending" : s == 0 ? "ack" : "nack");
  return 1;
}

static int c_unconfirmed(lua_State *L)
{
  lconn *lc = check_conn(L);
  lua_pushinteger(L, (lua_Integer)lc->c.npending);
  lua_pushinteger(L, (lua_Integer)lc->c.nnacked);
  lc->c.nnacked = 0;
  return 2;
}

static int c_writable(lua_State *L)
{
  lconn *lc = check_conn(L);
  if (!lc->c.open) {
    lua_pushboolean(L, 1); /* the next write reports the loss */
    return 1;
  }
  struct pollfd p = {lc->c.fd, POLLOUT, 0};
  int r = poll(&p, 1, 0);
  lua_pushboolean(L, r != 0);
  return 1;
}

static int c_want_write(lua_State *L)
{
  lconn *lc = check_conn(L);
  if (lc->c.open) (void)gf_watch_start(lc->loop, &lc->watch, GF_IO_READ | GF_IO_WRITE);
  return 0;
}

static int grow_int(int **a, int *n, int *cap)
{
  if (*n < *cap) return 0;
  int nc = *cap ? *cap * 2 : 8;
  int *na = realloc(*a, sizeof *na * (size_t)nc);
  if (!na) return -1;
  *a = na;
  *cap = nc;
  return 0;
}

static int c_waiter(lua_State *L)
{
  lconn *lc = check_conn(L);
  int fd;
  if (lc->nspare > 0) {
    fd = lc->spare[--lc->nspare];
  } else {
    fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) return luaL_error(L, "gf.amqp: eventfd: %s", strerror(errno));
  }
  if (grow_int(&lc->waiting, &lc->nwaiting, &lc->cap_waiting) != 0) {
    close(fd);
    return luaL_error(L, "not enough memory");
  }
  lc->waiting[lc->nwaiting++] = fd;
  lua_pushinteger(L, fd);
  return 1;
}

static int c_unwaiter(lua_State *L)
{
  lconn *lc = check_conn(L);
  int fd = (int)luaL_checkinteger(L, 2);
  for (int i = 0; i < lc->nwaiting; i++) {
    if (lc->waiting[i] != fd) continue;
    lc->waiting[i] = lc->waiting[--lc->nwaiting];
    uint64_t v;
    ssize_t n = read(fd, &v, sizeof v); /* reset */
    (void)n;
    if (lc->nspare < 8 && grow_int(&lc->spare, &lc->nspare, &lc->cap_spare) == 0)
      lc->spare[lc->nspare++] = fd;
    else
      close(fd);
    return 0;
  }
  return 0;
}

static int c_notify(lua_State *L)
{
  notify(check_conn(L));
  return 0;
}

static int c_status(lua_State *L)
{
  lconn *lc = check_conn(L);
  lua_createtable(L, 0, 10);
  lua_pushboolean(L, lc->c.open);
  lua_setfield(L, -2, "open");
  lua_pushboolean(L, lc->c.open && lc->c.channel_open);
  lua_setfield(L, -2, "channel_open");
  if (lc->c.err_code) {
    lua_pushstring(L, lc->c.err);
    lua_setfield(L, -2, "err");
    lua_pushstring(L, lc->c.err_code);
    lua_setfield(L, -2, "code");
  }
  lua_pushinteger(L, lc->c.heartbeat);
  lua_setfield(L, -2, "heartbeat");
  lua_pushinteger(L, (lua_Integer)lc->c.queued);
  lua_setfield(L, -2, "queued");
  lua_pushboolean(L, lc->c.blocked);
  lua_setfield(L, -2, "blocked");
  lua_pushinteger(L, (lua_Integer)lc->c.epoch);
  lua_setfield(L, -2, "epoch");
  lua_pushinteger(L, (lua_Integer)lc->c.consumer_cancelled);
  lua_setfield(L, -2, "consumers_cancelled");
  lua_pushinteger(L, lc->c.fd);
  lua_setfield(L, -2, "fd");
  return 1;
}

static int c_channel_error(lua_State *L)
{
  lconn *lc = check_conn(L);
  if (!lc->c.chan_code) return 0;
  lua_pushstring(L, lc->c.chan_err);
  lua_pushstring(L, lc->c.chan_code);
  lc->c.chan_code = NULL;
  lc->c.chan_err[0] = 0;
  return 2;
}

static int c_close_send(lua_State *L)
{
  lconn *lc = check_conn(L);
  if (!lc->c.open) return push_err(L, lc);
  int n = after_send(L, lc, gfa_close_send(&lc->c));
  if (n) return n;
  lua_pushboolean(L, 1);
  return 1;
}

static int c_drop(lua_State *L) /* conn:drop([msg, code]) */
{
  lconn *lc = check_conn(L);
  const char *msg = luaL_optstring(L, 2, "connection closed");
  const char *code = luaL_optstring(L, 3, "closed");
  static const char *const codes[] = {"closed", "network", "timeout", NULL};
  code = codes[luaL_checkoption(L, 3, "closed", codes)];
  stop_sources(lc);
  if (lc->c.open) gfa_drop(&lc->c, code, "%s", msg);
  notify(lc);
  return 0;
}

static int c_gc(lua_State *L)
{
  lconn *lc = luaL_checkudata(L, 1, CONN_MT);
  stop_sources(lc);
  gfa_free(&lc->c);
  for (int i = 0; i < lc->nwaiting; i++) close(lc->waiting[i]);
  for (int i = 0; i < lc->nspare; i++) close(lc->spare[i]);
  free(lc->waiting);
  free(lc->spare);
  lc->waiting = lc->spare = NULL;
  lc->nwaiting = lc->nspare = 0;
  return 0;
}

static int l_now(lua_State *L)
{
  lua_pushinteger(L, (lua_Integer)gf_now_ms());
  return 1;
}

/* }====== */

int luaopen_gf_amqp_core(lua_State *L);

int luaopen_gf_amqp_core(lua_State *L)
{
  static const luaL_Reg methods[] = {{"reconnect", c_reconnect},
                                     {"rpc", c_rpc},
                                     {"rpc_result", c_rpc_result},
                                     {"take", c_take},
                                     {"ack", c_ack},
                                     {"nack", c_nack},
                                     {"publish", c_publish},
                                     {"confirm_state", c_confirm_state},
                                     {"unconfirmed", c_unconfirmed},
                                     {"writable", c_writable},
                                     {"want_write", c_want_write},
                                     {"waiter", c_waiter},
                                     {"unwaiter", c_unwaiter},
                                     {"notify", c_notify},
                                     {"status", c_status},
                                     {"channel_error", c_channel_error},
                                     {"close_send", c_close_send},
                                     {"drop", c_drop},
                                     {NULL, NULL}};
  static const luaL_Reg funcs[] = {{"connect", l_connect}, {"now", l_now}, {NULL, NULL}};
  gfa_init();
  luaL_newmetatable(L, CONN_MT);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  gf_set_finalizer(L, c_gc);
  lua_pop(L, 1);
  luaL_newlib(L, funcs);
  lua_pushstring(L, "rabbitmq-c");
  lua_setfield(L, -2, "_LIBRARY");
  lua_pushstring(L, amqp_version());
  lua_setfield(L, -2, "_LIBVERSION");
  return 1;
}
