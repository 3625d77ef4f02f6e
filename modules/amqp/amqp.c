/*
** amqp.c — see amqp.h. The only blocking code is gfa_open (worker thread).
*/
#define _POSIX_C_SOURCE 200809L
#include "amqp.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>

#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

const char *gfa_code_for(int reply_code, int connection_level)
{
  switch (reply_code) {
    case AMQP_ACCESS_REFUSED:
    case AMQP_NOT_ALLOWED:
      return "auth";
    case AMQP_NOT_FOUND:
      return "not_found";
    case AMQP_RESOURCE_LOCKED:
    case AMQP_PRECONDITION_FAILED:
      return "conflict";
    case AMQP_CONNECTION_FORCED:
      return "network";
    default:
      (void)connection_level;
      return "protocol";
  }
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

static int is_tls_status(int status)
{
  return status == AMQP_STATUS_SSL_ERROR || status == AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED ||
         status == AMQP_STATUS_SSL_PEER_VERIFY_FAILED ||
         status == AMQP_STATUS_SSL_CONNECTION_FAILED;
}

static const char *code_for_status(int status)
{
  if (status == AMQP_STATUS_TIMEOUT) return "timeout";
  if (is_tls_status(status)) return "tls";
  return "network";
}

/* An rpc reply of the login/channel.open on the worker thread. */
static int reply_ok(amqp_rpc_reply_t r, const char *what, char *err, size_t errlen,
                    const char **code)
{
  switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return 1;
    case AMQP_RESPONSE_NONE:
      set_err(err, errlen, "%s: no reply from the broker", what);
      *code = "protocol";
      return 0;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      set_err(err, errlen, "%s: %s", what, amqp_error_string2(r.library_error));
      *code = code_for_status(r.library_error);
      /* RabbitMQ drops the socket on a failed login when the client cannot take a close */
      if (r.library_error == AMQP_STATUS_CONNECTION_CLOSED && strcmp(what, "login") == 0)
        *code = "auth";
      return 0;
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        amqp_connection_close_t *m = r.reply.decoded;
        set_err(err, errlen, "%s: broker closed the connection: %u %.*s", what, m->reply_code,
                (int)m->reply_text.len, (const char *)m->reply_text.bytes);
        *code = gfa_code_for(m->reply_code, 1);
      } else if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        amqp_channel_close_t *m = r.reply.decoded;
        set_err(err, errlen, "%s: broker closed the channel: %u %.*s", what, m->reply_code,
                (int)m->reply_text.len, (const char *)m->reply_text.bytes);
        *code = gfa_code_for(m->reply_code, 0);
      } else {
        set_err(err, errlen, "%s: unexpected method 0x%08x", what, r.reply.id);
        *code = "protocol";
      }
      return 0;
  }
  set_err(err, errlen, "%s: failed", what);
  *code = "protocol";
  return 0;
}

static amqp_table_entry_t bool_entry(const char *k, int v)
{
  amqp_table_entry_t e;
  memset(&e, 0, sizeof e);
  e.key = amqp_cstring_bytes(k);
  e.value.kind = AMQP_FIELD_KIND_BOOLEAN;
  e.value.value.boolean = v;
  return e;
}

static amqp_table_entry_t utf8_entry(const char *k, const char *v)
{
  amqp_table_entry_t e;
  memset(&e, 0, sizeof e);
  e.key = amqp_cstring_bytes(k);
  e.value.kind = AMQP_FIELD_KIND_UTF8;
  e.value.value.bytes = amqp_cstring_bytes(v);
  return e;
}

static amqp_table_entry_t table_entry(const char *k, amqp_table_t *t)
{
  amqp_table_entry_t e;
  memset(&e, 0, sizeof e);
  e.key = amqp_cstring_bytes(k);
  e.value.kind = AMQP_FIELD_KIND_TABLE;
  e.value.value.table = *t;
  return e;
}

void gfa_init(void)
{
  /* OpenSSL >= 1.1 initializes itself and needs no locking callbacks: rabbitmq-c's own set-up
  ** would only allocate a lock array that nothing ever frees */
  amqp_set_initialize_ssl_library(0);
}

amqp_connection_state_t gfa_open(const gfa_config *cfg, char *err, size_t errlen, const char **code)
{
  amqp_connection_state_t st = amqp_new_connection();
  if (!st) {
    set_err(err, errlen, "out of memory");
    *code = "network";
    return NULL;
  }
  amqp_socket_t *sock;
  if (cfg->tls) {
    sock = amqp_ssl_socket_new(st);
    if (sock) {
      const char *ca = cfg->cacert ? cfg->cacert : SYSTEM_CA_BUNDLE;
      amqp_ssl_socket_set_verify_peer(sock, cfg->verify);
      amqp_ssl_socket_set_verify_hostname(sock, cfg->verify);
      if (cfg->verify && amqp_ssl_socket_set_cacert(sock, ca) != AMQP_STATUS_OK) {
        set_err(err, errlen, "tls: cannot read the CA certificates in %s", ca);
        *code = "tls";
        amqp_destroy_connection(st);
        return NULL;
      }
    }
  } else {
    sock = amqp_tcp_socket_new(st);
  }
  if (!sock) {
    set_err(err, errlen, "cannot create a %s socket", cfg->tls ? "TLS" : "TCP");
    *code = cfg->tls ? "tls" : "network";
    amqp_destroy_connection(st);
    return NULL;
  }
  struct timeval tv = {cfg->timeout_ms / 1000, (cfg->timeout_ms % 1000) * 1000};
  int rc = amqp_socket_open_noblock(sock, cfg->host, cfg->port, &tv);
  if (rc != AMQP_STATUS_OK) {
    const char *c = code_for_status(rc);
    if (strcmp(c, "tls") == 0)
      set_err(err, errlen, "tls: %s:%d: %s", cfg->host, cfg->port, amqp_error_string2(rc));
    else
      set_err(err, errlen, "cannot connect to %s:%d: %s", cfg->host, cfg->port,
              amqp_error_string2(rc));
    *code = c;
    amqp_destroy_connection(st);
    return NULL;
  }
  amqp_set_handshake_timeout(st, &tv);
  amqp_set_rpc_timeout(st, &tv);

  amqp_table_entry_t caps[4] = {
      bool_entry("consumer_cancel_notify", 1),
      bool_entry("publisher_confirms", 1),
      bool_entry("basic.nack", 1),
      bool_entry("connection.blocked", 1),
  };
  amqp_table_t caps_table = {4, caps};
  amqp_table_entry_t props[3] = {
      utf8_entry("product", "gfhost gf.amqp"),
      utf8_entry("connection_name", cfg->name ? cfg->name : "gfhost"),
      table_entry("capabilities", &caps_table),
  };
  amqp_table_t props_table = {3, props};
  amqp_rpc_reply_t r =
      amqp_login_with_properties(st, cfg->vhost, 0, cfg->frame_max, cfg->heartbeat, &props_table,
                                 AMQP_SASL_METHOD_PLAIN, cfg->user, cfg->password);
  if (!reply_ok(r, "login", err, errlen, code)) {
    amqp_destroy_connection(st);
    return NULL;
  }
  amqp_channel_open(st, GFA_CHANNEL);
  if (!reply_ok(amqp_get_rpc_reply(st), "channel.open", err, errlen, code)) {
    amqp_destroy_connection(st);
    return NULL;
  }
  amqp_maybe_release_buffers(st);
  return st;
}

/* {====== state ====== */

static void drop_messages(gfa_conn *c)
{
  gfa_msg *m = c->head;
  while (m) {
    gfa_msg *next = m->next;
    gfa_msg_free(m);
    m = next;
  }
  c->head = c->tail = NULL;
  c->queued = 0;
  if (c->partial) gfa_msg_free(c->partial);
  c->partial = NULL;
}

static int push_u64(uint64_t **a, size_t *n, size_t *cap, uint64_t v)
{
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 64;
    uint64_t *na = realloc(*a, nc * sizeof *na);
    if (!na) return -1;
    *a = na;
    *cap = nc;
  }
  (*a)[(*n)++] = v;
  return 0;
}

/* The channel is gone: unconfirmed publishes count as nacked (lost). */
static void lose_confirms(gfa_conn *c)
{
  for (size_t i = 0; i < c->npending; i++)
    (void)push_u64(&c->nacked, &c->nnacked, &c->cap_nacked, c->pending[i]);
  c->npending = 0;
  c->confirm = 0;
}

void gfa_attach(gfa_conn *c, amqp_connection_state_t st)
{
  if (c->st) amqp_destroy_connection(c->st);
  drop_messages(c);
  lose_confirms(c);
  c->st = st;
  c->fd = amqp_get_sockfd(st);
  c->open = 1;
  c->channel_open = 1;
  c->epoch++;
  c->heartbeat = amqp_get_heartbeat(st);
  c->err[0] = 0;
  c->err_code = NULL;
  c->chan_err[0] = 0;
  c->chan_code = NULL;
  c->rpc.state = GFA_RPC_IDLE;
  c->blocked = 0;
}

void gfa_drop(gfa_conn *c, const char *code, const char *fmt, ...)
{
  if (fmt && !c->err_code) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    c->err_code = code;
  }
  if (c->st) amqp_destroy_connection(c->st);
  c->st = NULL;
  c->fd = -1;
  c->open = 0;
  c->channel_open = 0;
  if (c->rpc.state == GFA_RPC_PENDING) c->rpc.state = GFA_RPC_FAILED;
  drop_messages(c);
  lose_confirms(c);
}

void gfa_free(gfa_conn *c)
{
  gfa_drop(c, NULL, NULL);
  free(c->rpc.name);
  free(c->pending);
  free(c->nacked);
  c->rpc.name = NULL;
  c->pending = c->nacked = NULL;
}

static void lost(gfa_conn *c, int status)
{
  int sys = errno; /* what recv/send left, for a bare "socket error" */
  if (status == AMQP_STATUS_SOCKET_ERROR && sys != 0 && sys != EAGAIN && sys != EINPROGRESS)
    gfa_drop(c, "network", "connection lost: %s", strerror(sys));
  else if (status == AMQP_STATUS_HEARTBEAT_TIMEOUT)
    gfa_drop(c, "network", "no heartbeat from the broker for %d s: connection dropped",
             2 * c->heartbeat);
  else
    gfa_drop(c, code_for_status(status), "connection lost: %s", amqp_error_string2(status));
}

/* }====== */

/* {====== messages ====== */

void gfa_msg_free(gfa_msg *m)
{
  if (!m) return;
  free(m->exchange);
  free(m->routing_key);
  free(m->consumer_tag);
  free(m->body);
  empty_amqp_pool(&m->pool);
  free(m);
}

static char *dup_bytes(amqp_bytes_t b)
{
  char *s = malloc(b.len + 1);
  if (!s) return NULL;
  if (b.len) memcpy(s, b.bytes, b.len);
  s[b.len] = 0;
  return s;
}

static int pool_bytes(amqp_pool_t *pool, amqp_bytes_t *dst, amqp_bytes_t src)
{
  if (src.len == 0) {
    *dst = amqp_empty_bytes;
    return 0;
  }
  amqp_pool_alloc_bytes(pool, src.len, dst);
  if (!dst->bytes) return -1;
  memcpy(dst->bytes, src.bytes, src.len);
  return 0;
}

static int copy_props(gfa_msg *m, const amqp_basic_properties_t *p)
{
  amqp_basic_properties_t *d = &m->props;
  *d = *p;
  int rc = 0;
  amqp_bytes_t *dst[] = {&d->content_type, &d->content_encoding, &d->correlation_id, &d->reply_to,
                         &d->expiration,   &d->message_id,       &d->type,           &d->user_id,
                         &d->app_id,       &d->cluster_id};
  const amqp_bytes_t *src[] = {&p->content_type, &p->content_encoding, &p->correlation_id,
                               &p->reply_to,     &p->expiration,       &p->message_id,
                               &p->type,         &p->user_id,          &p->app_id,
                               &p->cluster_id};
  amqp_flags_t flags[] = {AMQP_BASIC_CONTENT_TYPE_FLAG,   AMQP_BASIC_CONTENT_ENCODING_FLAG,
                          AMQP_BASIC_CORRELATION_ID_FLAG, AMQP_BASIC_REPLY_TO_FLAG,
                          AMQP_BASIC_EXPIRATION_FLAG,     AMQP_BASIC_MESSAGE_ID_FLAG,
                          AMQP_BASIC_TYPE_FLAG,           AMQP_BASIC_USER_ID_FLAG,
                          AMQP_BASIC_APP_ID_FLAG,         AMQP_BASIC_CLUSTER_ID_FLAG};
  for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
    if (p->_flags & flags[i])
      rc |= pool_bytes(&m->pool, dst[i], *src[i]);
    else
      *dst[i] = amqp_empty_bytes;
  }
  if (p->_flags & AMQP_BASIC_HEADERS_FLAG)
    rc |= amqp_table_clone(&p->headers, &d->headers, &m->pool) != AMQP_STATUS_OK;
  else
    d->headers = amqp_empty_table;
  return rc ? -1 : 0;
}

static void complete(gfa_conn *c)
{
  gfa_msg *m = c->partial;
  c->partial = NULL;
  if (!m->consumer_tag) { /* a basic.return: not a delivery */
    gfa_msg_free(m);
    return;
  }
  if (c->tail)
    c->tail->next = m;
  else
    c->head = m;
  c->tail = m;
  c->queued++;
}

gfa_msg *gfa_take(gfa_conn *c)
{
  gfa_msg *m = c->head;
  if (!m) return NULL;
  c->head = m->next;
  if (!c->head) c->tail = NULL;
  m->next = NULL;
  c->queued--;
  return m;
}

/* }====== */

/* {====== confirms ====== */

static void resolve(gfa_conn *c, uint64_t tag, int multiple, int ok)
{
  size_t w = 0;
  for (size_t i = 0; i < c->npending; i++) {
    uint64_t s = c->pending[i];
    if (s == tag || (multiple && s < tag)) {
      if (!ok) (void)push_u64(&c->nacked, &c->nnacked, &c->cap_nacked, s);
    } else {
      c->pending[w++] = s;
    }
  }
  c->npending = w;
}

int gfa_confirm_state(gfa_conn *c, uint64_t seq)
{
  for (size_t i = 0; i < c->npending; i++)
    if (c->pending[i] == seq) return 1;
  for (size_t i = 0; i < c->nnacked; i++)
    if (c->nacked[i] == seq) {
      c->nacked[i] = c->nacked[--c->nnacked];
      return -1;
    }
  return 0;
}

void gfa_confirm_reset(gfa_conn *c)
{
  c->confirm = 1;
  c->next_seq = 1;
}

/* }====== */

/* {====== the pump ====== */

static int send_method(gfa_conn *c, amqp_channel_t ch, amqp_method_number_t id, void *args)
{
  int rc = amqp_send_method(c->st, ch, id, args);
  if (rc != AMQP_STATUS_OK) {
    lost(c, rc);
    return -1;
  }
  return 0;
}

static void rpc_done(gfa_conn *c, amqp_method_t *m)
{
  gfa_rpc *r = &c->rpc;
  free(r->name);
  r->name = NULL;
  r->message_count = r->consumer_count = 0;
  switch (m->id) {
    case AMQP_QUEUE_DECLARE_OK_METHOD: {
      amqp_queue_declare_ok_t *ok = m->decoded;
      r->name = dup_bytes(ok->queue);
      r->message_count = ok->message_count;
      r->consumer_count = ok->consumer_count;
      break;
    }
    case AMQP_BASIC_CONSUME_OK_METHOD: {
      amqp_basic_consume_ok_t *ok = m->decoded;
      r->name = dup_bytes(ok->consumer_tag);
      break;
    }
    case AMQP_QUEUE_PURGE_OK_METHOD: {
      amqp_queue_purge_ok_t *ok = m->decoded;
      r->message_count = ok->message_count;
      break;
    }
    case AMQP_QUEUE_DELETE_OK_METHOD: {
      amqp_queue_delete_ok_t *ok = m->decoded;
      r->message_count = ok->message_count;
      break;
    }
    case AMQP_CHANNEL_OPEN_OK_METHOD:
      c->channel_open = 1;
      c->epoch++;
      break;
    case AMQP_CONFIRM_SELECT_OK_METHOD:
      gfa_confirm_reset(c);
      break;
    default:
      break;
  }
  r->state = GFA_RPC_DONE;
}

static void channel_closed(gfa_conn *c, amqp_channel_close_t *m)
{
  amqp_channel_close_ok_t ok = {0};
  snprintf(c->chan_err, sizeof c->chan_err, "broker closed the channel: %u %.*s", m->reply_code,
           (int)m->reply_text.len, (const char *)m->reply_text.bytes);
  c->chan_code = gfa_code_for(m->reply_code, 0);
  c->channel_open = 0;
  if (c->rpc.state == GFA_RPC_PENDING) c->rpc.state = GFA_RPC_FAILED;
  drop_messages(c); /* the broker requeues what was delivered on this channel */
  lose_confirms(c);
  (void)send_method(c, GFA_CHANNEL, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
}

static void on_method(gfa_conn *c, amqp_frame_t *f)
{
  amqp_method_t *m = &f->payload.method;
  if (f->channel == 0) {
    switch (m->id) {
      case AMQP_CONNECTION_CLOSE_METHOD: {
        amqp_connection_close_t *cl = m->decoded;
        amqp_connection_close_ok_t ok = {0};
        char text[300];
        snprintf(text, sizeof text, "%.*s", (int)cl->reply_text.len,
                 (const char *)cl->reply_text.bytes);
        (void)amqp_send_method(c->st, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
        gfa_drop(c, gfa_code_for(cl->reply_code, 1), "broker closed the connection: %u %s",
                 cl->reply_code, text);
        return;
      }
      case AMQP_CONNECTION_CLOSE_OK_METHOD:
        gfa_drop(c, "closed", "connection closed");
        return;
      case AMQP_CONNECTION_BLOCKED_METHOD:
        c->blocked = 1;
        return;
      case AMQP_CONNECTION_UNBLOCKED_METHOD:
        c->blocked = 0;
        return;
      default:
        return;
    }
  }
  if (f->channel != GFA_CHANNEL) return;
  switch (m->id) {
    case AMQP_BASIC_DELIVER_METHOD:
    case AMQP_BASIC_RETURN_METHOD: {
      gfa_msg *msg = calloc(1, sizeof *msg);
      if (!msg) {
        gfa_drop(c, "network", "out of memory");
        return;
      }
      init_amqp_pool(&msg->pool, 1024);
      if (m->id == AMQP_BASIC_DELIVER_METHOD) {
        amqp_basic_deliver_t *d = m->decoded;
        msg->tag = gfa_tag(c->epoch, d->delivery_tag);
        msg->redelivered = d->redelivered;
        msg->exchange = dup_bytes(d->exchange);
        msg->routing_key = dup_bytes(d->routing_key);
        msg->consumer_tag = dup_bytes(d->consumer_tag);
      }
      if (c->partial) gfa_msg_free(c->partial);
      c->partial = msg;
      return;
    }
    case AMQP_CHANNEL_CLOSE_METHOD:
      channel_closed(c, m->decoded);
      return;
    case AMQP_CHANNEL_FLOW_METHOD: {
      amqp_channel_flow_t *fl = m->decoded;
      amqp_channel_flow_ok_t ok = {fl->active};
      (void)send_method(c, GFA_CHANNEL, AMQP_CHANNEL_FLOW_OK_METHOD, &ok);
      return;
    }
    case AMQP_BASIC_ACK_METHOD: {
      amqp_basic_ack_t *a = m->decoded;
      resolve(c, a->delivery_tag, a->multiple, 1);
      return;
    }
    case AMQP_BASIC_NACK_METHOD: {
      amqp_basic_nack_t *a = m->decoded;
      resolve(c, a->delivery_tag, a->multiple, 0);
      return;
    }
    case AMQP_BASIC_CANCEL_METHOD: { /* the broker cancelled a consumer (queue deleted) */
      amqp_basic_cancel_t *cn = m->decoded;
      snprintf(c->chan_err, sizeof c->chan_err, "broker cancelled consumer %.*s",
               (int)cn->consumer_tag.len, (const char *)cn->consumer_tag.bytes);
      c->chan_code = "not_found";
      c->consumer_cancelled++;
      return;
    }
    default:
      if (c->rpc.state == GFA_RPC_PENDING && m->id == c->rpc.expect) rpc_done(c, m);
      return;
  }
}

static void on_frame(gfa_conn *c, amqp_frame_t *f)
{
  switch (f->frame_type) {
    case AMQP_FRAME_METHOD:
      on_method(c, f);
      return;
    case AMQP_FRAME_HEADER: {
      gfa_msg *m = c->partial;
      if (f->channel != GFA_CHANNEL || !m || m->body) return;
      size_t len = (size_t)f->payload.properties.body_size;
      m->body = malloc(len ? len : 1);
      m->body_len = len;
      if (!m->body || copy_props(m, f->payload.properties.decoded) != 0) {
        gfa_drop(c, "network", "out of memory");
        return;
      }
      if (len == 0) complete(c);
      return;
    }
    case AMQP_FRAME_BODY: {
      gfa_msg *m = c->partial;
      if (f->channel != GFA_CHANNEL || !m || !m->body) return;
      amqp_bytes_t b = f->payload.body_fragment;
      if (b.len > m->body_len - m->got) {
        gfa_drop(c, "protocol", "message body longer than its header announced");
        return;
      }
      memcpy(m->body + m->got, b.bytes, b.len);
      m->got += b.len;
      if (m->got == m->body_len) complete(c);
      return;
    }
    default:
      return;
  }
}

int gfa_has_buffered(gfa_conn *c)
{
  return c->st && (amqp_frames_enqueued(c->st) || amqp_data_in_buffer(c->st));
}

int gfa_pump(gfa_conn *c, int max_frames, int *more)
{
  int changed = 0, n = 0;
  *more = 0;
  while (c->st && c->open) {
    if (n++ == max_frames) {
      *more = 1; /* the rest on the next loop step: a burst does not hold the loop */
      break;
    }
    amqp_frame_t f;
    struct timeval zero = {0, 0};
    int rc = amqp_simple_wait_frame_noblock(c->st, &f, &zero);
    if (rc == AMQP_STATUS_TIMEOUT) break;
    changed = 1;
    if (rc != AMQP_STATUS_OK) {
      lost(c, rc);
      break;
    }
    on_frame(c, &f);
  }
  if (c->st) amqp_maybe_release_buffers(c->st);
  return changed;
}

/* }====== */

/* {====== sending ====== */

int gfa_rpc_send(gfa_conn *c, amqp_method_number_t method, void *args, amqp_method_number_t expect)
{
  c->rpc.state = GFA_RPC_PENDING;
  c->rpc.expect = expect;
  return send_method(c, GFA_CHANNEL, method, args);
}

int gfa_ack(gfa_conn *c, uint64_t tag, int multiple)
{
  int rc = amqp_basic_ack(c->st, GFA_CHANNEL, tag, multiple);
  if (rc != AMQP_STATUS_OK) {
    lost(c, rc);
    return -1;
  }
  return 0;
}

int gfa_nack(gfa_conn *c, uint64_t tag, int multiple, int requeue)
{
  int rc = amqp_basic_nack(c->st, GFA_CHANNEL, tag, multiple, requeue);
  if (rc != AMQP_STATUS_OK) {
    lost(c, rc);
    return -1;
  }
  return 0;
}

int gfa_publish(gfa_conn *c, const char *exchange, const char *rkey, const void *body, size_t len,
                int mandatory, const amqp_basic_properties_t *props, uint64_t *seq)
{
  amqp_bytes_t b = {len, (void *)body};
  *seq = 0;
  if (c->confirm) {
    if (push_u64(&c->pending, &c->npending, &c->cap_pending, c->next_seq) != 0) {
      snprintf(c->err, sizeof c->err, "out of memory");
      return -1;
    }
    *seq = c->next_seq++;
  }
  int rc = amqp_basic_publish(c->st, GFA_CHANNEL, amqp_cstring_bytes(exchange),
                              amqp_cstring_bytes(rkey), mandatory, 0, props, b);
  if (rc != AMQP_STATUS_OK) {
    lost(c, rc);
    return -1;
  }
  return 0;
}

int gfa_close_send(gfa_conn *c)
{
  amqp_connection_close_t cl = {AMQP_REPLY_SUCCESS, amqp_cstring_bytes("closed by gfhost"), 0, 0};
  int rc = amqp_send_method(c->st, 0, AMQP_CONNECTION_CLOSE_METHOD, &cl);
  if (rc != AMQP_STATUS_OK) {
    lost(c, rc);
    return -1;
  }
  return 0;
}

/* }====== */
