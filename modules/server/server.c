/*
** server.c — libmicrohttpd on the host loop (see server.h). Everything runs on the loop thread:
** MHD in external-polling epoll mode, MHD_run from a watcher on MHD's epoll descriptor and from
** one timer (MHD's own timeouts, the request deadlines, and a "run now" after a resume).
*/
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "server.h"

#if MHD_VERSION < 0x00097002
typedef int MHD_Result_t;
#else
typedef enum MHD_Result MHD_Result_t;
#endif

#define DRAIN_MAX (16u << 20) /* bytes of an oversize body read before the 413 */

enum { R_READING, R_QUEUED, R_DISPATCHED, R_ANSWERED, R_SENDING };
enum { L_NONE, L_QUEUE, L_DISPATCHED };

typedef struct sconn sconn; /* one per TCP connection: the request deadline */
struct sconn {
  int fd;
  int64_t deadline; /* -1: none (a request is being handled or answered) */
  int reused;       /* an earlier request was answered: the wait may be a keep-alive idle */
  sconn *prev, *next;
};

typedef struct rlist {
  gf_srv_req *head, *tail;
} rlist;

struct gf_srv_req {
  gf_srv *s;
  struct MHD_Connection *conn;
  uint64_t id;
  int state;
  int rejected; /* a response was queued before the body was read (413, 503) */
  int too_big;  /* the body passed max_body: the rest is read and dropped, then 413 */
  int list;     /* L_*: which list holds it */
  const char *method, *path, *version; /* MHD's, valid for the request */
  char remote[64];
  char *body;
  size_t len, cap;
  struct MHD_Response *resp;
  int status;
  gf_srv_req *prev, *next;
};

struct gf_srv {
  gf_loop *loop;
  struct MHD_Daemon *d;
  int port;
  gf_watch w;
  gf_timer timer; /* in the loop's heap while due_ms >= 0 */
  size_t max_body;
  int64_t timeout_ms;
  int closing;
  uint64_t next_id;
  int efd; /* eventfd: readable while requests are queued or once closing */
  rlist queue, dispatched;
  int nreqs;
  int closed_some; /* a connection closed during this run */
  int nconns;
  sconn *conns;
  char lasterr[256];
};

/* {====== lists ====== */

static void list_add(gf_srv *s, gf_srv_req *r, int which)
{
  rlist *l = which == L_QUEUE ? &s->queue : &s->dispatched;
  r->list = which;
  r->next = NULL;
  r->prev = l->tail;
  if (l->tail)
    l->tail->next = r;
  else
    l->head = r;
  l->tail = r;
}

static void list_remove(gf_srv *s, gf_srv_req *r)
{
  if (r->list == L_NONE) return;
  rlist *l = r->list == L_QUEUE ? &s->queue : &s->dispatched;
  if (r->prev)
    r->prev->next = r->next;
  else
    l->head = r->next;
  if (r->next)
    r->next->prev = r->prev;
  else
    l->tail = r->prev;
  r->prev = r->next = NULL;
  r->list = L_NONE;
}

/* }====== */

/* {====== running MHD ====== */

static void set_timer(gf_srv *s, int64_t due)
{
  if (s->timer.due_ms >= 0) {
    if (s->timer.due_ms == due) return;
    gf_loop_timer_remove(s->loop, &s->timer);
  }
  s->timer.due_ms = due;
  if (due >= 0) gf_loop_timer_add(s->loop, &s->timer);
}

/* Cut off connections whose request did not arrive in time; the earliest deadline left. */
static int64_t sweep(gf_srv *s, int64_t now)
{
  static const char timeout_reply[] =
      "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
  int64_t next = -1;
  for (sconn *c = s->conns; c; c = c->next) {
    if (c->deadline < 0) continue;
    if (now >= c->deadline) {
      /* MHD has written nothing on this connection for the request it is reading. An idle
      ** keep-alive connection is closed silently, as a client expects (it reconnects). */
      if (!c->reused)
        (void)!send(c->fd, timeout_reply, sizeof timeout_reply - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
      shutdown(c->fd, SHUT_RDWR); /* MHD sees the end on its next run and closes it */
      c->deadline = -1;
    } else if (next < 0 || c->deadline < next) {
      next = c->deadline;
    }
  }
  return next;
}

static void reschedule(gf_srv *s)
{
  if (!s->d) return;
  int64_t now = gf_now_ms();
  int64_t due = sweep(s, now);
  MHD_UNSIGNED_LONG_LONG t;
  if (MHD_get_timeout(s->d, &t) == MHD_YES) {
    int64_t mhd_due = now + (t > 86400000ULL ? 86400000 : (int64_t)t);
    if (due < 0 || mhd_due < due) due = mhd_due;
  }
  set_timer(s, due);
}

static void run(gf_srv *s)
{
  if (!s->d) return;
  /* A run that closed connections may have brought MHD back under its connection limit; it
  ** puts its listening socket back into its epoll set only at the start of a run. */
  for (int i = 0; i < 4; i++) {
    s->closed_some = 0;
    MHD_run(s->d);
    if (!s->closed_some || !s->d) break;
  }
  reschedule(s);
}

static void on_ready(gf_loop *loop, gf_watch *w, int events)
{
  (void)loop;
  (void)events;
  run(w->data);
}

static void on_timer(gf_loop *loop, gf_timer *t)
{
  (void)loop;
  gf_srv *s = (gf_srv *)((char *)t - offsetof(gf_srv, timer));
  t->due_ms = -1;
  run(s);
}

/* Run MHD on the next loop step (after a resume). */
static void kick(gf_srv *s)
{
  set_timer(s, gf_now_ms());
}

static void wake_waiter(gf_srv *s)
{
  uint64_t one = 1;
  (void)!write(s->efd, &one, sizeof one);
}

/* }====== */

/* {====== MHD callbacks ====== */

static sconn *sconn_of(struct MHD_Connection *conn)
{
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return ci ? ci->socket_context : NULL;
}

static MHD_Result_t reply_now(gf_srv_req *r, unsigned status, const char *json)
{
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(strlen(json), (void *)json, MHD_RESPMEM_PERSISTENT);
  if (!resp) return MHD_NO;
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
  MHD_Result_t rc = MHD_queue_response(r->conn, status, resp);
  MHD_destroy_response(resp);
  sconn *c = sconn_of(r->conn);
  if (c) c->deadline = -1; /* MHD writes now: no 408 into its reply; its idle timeout remains */
  r->rejected = 1;
  r->status = (int)status;
  free(r->body);
  r->body = NULL;
  r->len = r->cap = 0;
  return rc;
}

static void fill_remote(gf_srv_req *r)
{
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  r->remote[0] = '\0';
  if (!ci || !ci->client_addr) return;
  const struct sockaddr *sa = ci->client_addr;
  if (sa->sa_family == AF_INET)
    inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, r->remote, sizeof r->remote);
  else if (sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, r->remote, sizeof r->remote);
}

static MHD_Result_t first_call(gf_srv *s, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, void **con_cls)
{
  gf_srv_req *r = calloc(1, sizeof *r);
  if (!r) return MHD_NO;
  r->s = s;
  r->conn = conn;
  r->id = ++s->next_id;
  r->method = method;
  r->path = url;
  r->version = version;
  fill_remote(r);
  s->nreqs++;
  *con_cls = r;
  if (s->closing) return reply_now(r, 503, "{\"error\":\"server closing\"}");
  const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
  if (cl) {
    char *end;
    errno = 0;
    unsigned long long n = strtoull(cl, &end, 10);
    if (end != cl && errno == 0 && n > s->max_body) {
      /* A client that waits for 100 Continue gets the 413 instead and sends no body. Others
      ** are sending it: a reply now and a close would reset the connection under the client
      ** before it reads the reply, so a body up to DRAIN_MAX past the limit is read and
      ** dropped first (within the request deadline). */
      const char *expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Expect");
      if ((expect && strcasecmp(expect, "100-continue") == 0) || n - s->max_body > DRAIN_MAX)
        return reply_now(r, 413, "{\"error\":\"request body too large\"}");
      r->too_big = 1;
    }
  }
  return MHD_YES;
}

static MHD_Result_t append_body(gf_srv_req *r, const char *data, size_t n)
{
  gf_srv *s = r->s;
  if (r->too_big) return MHD_YES;
  if (n > s->max_body - r->len) {
    /* MHD 0.9.75 cannot queue a reply in the middle of an upload: drop the rest (the request
    ** deadline bounds how long that may take) and answer 413 after it */
    r->too_big = 1;
    free(r->body);
    r->body = NULL;
    r->len = r->cap = 0;
    return MHD_YES;
  }
  if (r->len + n > r->cap) {
    size_t cap = r->cap ? r->cap : 4096;
    while (cap < r->len + n) cap *= 2;
    if (cap > s->max_body) cap = s->max_body;
    char *b = realloc(r->body, cap);
    if (!b) return MHD_NO;
    r->body = b;
    r->cap = cap;
  }
  memcpy(r->body + r->len, data, n);
  r->len += n;
  return MHD_YES;
}

static MHD_Result_t on_request(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
  gf_srv *s = cls;
  gf_srv_req *r = *con_cls;
  if (!r) return first_call(s, conn, url, method, version, con_cls);
  if (*upload_data_size > 0) {
    size_t n = *upload_data_size;
    *upload_data_size = 0;
    if (r->rejected) return MHD_YES;
    return append_body(r, upload_data, n);
  }
  if (r->rejected) return MHD_YES;
  if (r->too_big) return reply_now(r, 413, "{\"error\":\"request body too large\"}");
  if (r->state == R_ANSWERED && r->resp) {
    MHD_Result_t rc = MHD_queue_response(conn, (unsigned)r->status, r->resp);
    MHD_destroy_response(r->resp);
    r->resp = NULL;
    r->state = R_SENDING;
    return rc;
  }
  if (r->state != R_READING) return MHD_YES;
  sconn *c = sconn_of(conn);
  if (c) c->deadline = -1; /* read in time */
  r->state = R_QUEUED;
  MHD_suspend_connection(conn);
  list_add(s, r, L_QUEUE);
  wake_waiter(s);
  return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
  gf_srv *s = cls;
  gf_srv_req *r = *con_cls;
  if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK) {
    sconn *c = sconn_of(conn);
    if (c) {
      c->deadline = gf_now_ms() + s->timeout_ms; /* for the next request */
      c->reused = 1;
    }
  }
  if (!r) return;
  *con_cls = NULL;
  list_remove(s, r);
  if (r->resp) MHD_destroy_response(r->resp);
  free(r->body);
  free(r);
  s->nreqs--;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
  gf_srv *s = cls;
  if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
    s->nconns++;
    sconn *c = calloc(1, sizeof *c);
    if (!c) return; /* no deadline for this one; MHD's idle timeout still applies */
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    c->fd = ci ? ci->connect_fd : -1;
    c->deadline = c->fd >= 0 ? gf_now_ms() + s->timeout_ms : -1;
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    *socket_context = c;
    return;
  }
  s->nconns--;
  s->closed_some = 1;
  if (*socket_context) {
    sconn *c = *socket_context;
    if (c->prev)
      c->prev->next = c->next;
    else
      s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    free(c);
    *socket_context = NULL;
  }
}

__attribute__((format(printf, 2, 0))) static void on_log(void *cls, const char *fmt, va_list ap)
{
  gf_srv *s = cls;
  vsnprintf(s->lasterr, sizeof s->lasterr, fmt, ap);
  size_t n = strlen(s->lasterr);
  while (n > 0 && (s->lasterr[n - 1] == '\n' || s->lasterr[n - 1] == '.')) s->lasterr[--n] = 0;
}

/* }====== */

/* {====== opening ====== */

static int open_socket(const gf_srv_opts *o, int *port, char *err, size_t errlen, const char **code)
{
  const char *host = o->bind;
  if (strcmp(host, "localhost") == 0) host = "127.0.0.1";
  struct sockaddr_storage ss;
  socklen_t sl;
  memset(&ss, 0, sizeof ss);
  struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)o->port);
    sl = sizeof *sin;
  } else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)o->port);
    sl = sizeof *sin6;
  } else {
    *code = "invalid_input";
    snprintf(err, errlen, "server.listen: bind address '%s' is not a numeric IP address", o->bind);
    return -1;
  }
  *code = "io";
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    snprintf(err, errlen, "server.listen %s:%d: socket: %s", o->bind, o->port, strerror(errno));
    return -1;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (ss.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 128) != 0) {
    int e = errno;
    snprintf(err, errlen, "server.listen %s:%d: %s", o->bind, o->port,
             e == EADDRINUSE ? "address in use" : strerror(e));
    close(fd);
    return -1;
  }
  sl = sizeof ss;
  getsockname(fd, (struct sockaddr *)&ss, &sl);
  *port = ntohs(ss.ss_family == AF_INET ? sin->sin_port : sin6->sin6_port);
  return fd;
}

gf_srv *gf_srv_open(gf_loop *loop, const gf_srv_opts *o, char *err, size_t errlen,
                    const char **code)
{
  gf_srv *s = calloc(1, sizeof *s);
  if (!s) {
    *code = "io";
    snprintf(err, errlen, "server.listen: out of memory");
    return NULL;
  }
  s->loop = loop;
  s->max_body = o->max_body;
  s->timeout_ms = o->timeout_ms;
  s->timer.due_ms = -1;
  s->timer.fire = on_timer;
  s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  int fd = s->efd < 0 ? -1 : open_socket(o, &s->port, err, errlen, code);
  if (fd < 0) {
    if (s->efd < 0) {
      *code = "io";
      snprintf(err, errlen, "server.listen: eventfd: %s", strerror(errno));
    } else {
      close(s->efd);
    }
    free(s);
    return NULL;
  }
  unsigned secs = (unsigned)((o->timeout_ms + 999) / 1000);
  s->d =
      MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                       on_request, s, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
                       o->max_connections, MHD_OPTION_CONNECTION_TIMEOUT, secs > 0 ? secs : 1u,
                       MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION,
                       on_connection, s, MHD_OPTION_EXTERNAL_LOGGER, on_log, s, MHD_OPTION_END);
  const union MHD_DaemonInfo *di =
      s->d ? MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
  int rc = di ? 0 : -1;
  if (di) {
    s->w.fd = di->epoll_fd;
    s->w.cb = on_ready;
    s->w.data = s;
    s->w.ref = 1;
    s->w.name = "gf.server";
    rc = gf_watch_start(loop, &s->w, GF_IO_READ);
  }
  if (rc != 0) {
    *code = "io";
    snprintf(err, errlen, "server.listen %s:%d: %s", o->bind, o->port,
             s->lasterr[0] ? s->lasterr : "libmicrohttpd could not start");
    if (s->d) MHD_stop_daemon(s->d);
    close(fd);
    close(s->efd);
    free(s);
    return NULL;
  }
  reschedule(s);
  return s;
}

/* }====== */

int gf_srv_port(const gf_srv *s)
{
  return s->port;
}

int gf_srv_event_fd(const gf_srv *s)
{
  return s->efd;
}

gf_srv_req *gf_srv_next(gf_srv *s)
{
  gf_srv_req *r = s->queue.head;
  if (!r) {
    uint64_t v;
    if (!s->closing) (void)!read(s->efd, &v, sizeof v); /* nothing queued: not readable now */
    return NULL;
  }
  list_remove(s, r);
  list_add(s, r, L_DISPATCHED);
  r->state = R_DISPATCHED;
  return r;
}

int gf_srv_drained(const gf_srv *s)
{
  return s->closing && !s->queue.head;
}

uint64_t gf_srv_req_id(const gf_srv_req *r)
{
  return r->id;
}
const char *gf_srv_req_method(const gf_srv_req *r)
{
  return r->method;
}
const char *gf_srv_req_path(const gf_srv_req *r)
{
  return r->path;
}
const char *gf_srv_req_version(const gf_srv_req *r)
{
  return r->version;
}
const char *gf_srv_req_remote(const gf_srv_req *r)
{
  return r->remote;
}
const char *gf_srv_req_body(const gf_srv_req *r, size_t *len)
{
  *len = r->len;
  return r->body ? r->body : "";
}

typedef struct kv_ctx {
  gf_srv_kv_fn fn;
  void *ud;
} kv_ctx;

static MHD_Result_t each_kv(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
  (void)kind;
  kv_ctx *k = cls;
  if (key) k->fn(k->ud, key, value ? value : "");
  return MHD_YES;
}

void gf_srv_req_each(const gf_srv_req *r, int kind, gf_srv_kv_fn fn, void *ud)
{
  kv_ctx k = {fn, ud};
  MHD_get_connection_values(r->conn, kind == 'q' ? MHD_GET_ARGUMENT_KIND : MHD_HEADER_KIND, each_kv,
                            &k);
}

static gf_srv_req *find_dispatched(gf_srv *s, uint64_t id)
{
  for (gf_srv_req *r = s->dispatched.head; r; r = r->next)
    if (r->id == id) return r;
  return NULL;
}

static void answer(gf_srv *s, gf_srv_req *r, struct MHD_Response *resp, int status)
{
  if (s->closing) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
  list_remove(s, r);
  r->resp = resp;
  r->status = status;
  r->state = R_ANSWERED;
  MHD_resume_connection(r->conn);
  kick(s);
}

int gf_srv_respond(gf_srv *s, uint64_t id, int status, const char *const *headers, const char *body,
                   size_t len, int fd, uint64_t fsize)
{
  gf_srv_req *r = s->d ? find_dispatched(s, id) : NULL;
  if (!r) {
    if (fd >= 0) close(fd);
    return -1;
  }
  struct MHD_Response *resp =
      fd >= 0 ? MHD_create_response_from_fd64(fsize, fd)
              : MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
  if (!resp) {
    if (fd >= 0) close(fd);
    resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    status = 500;
    headers = NULL;
    if (!resp) return -1;
  }
  for (size_t i = 0; headers && headers[i] && headers[i + 1]; i += 2) {
    if (MHD_add_response_header(resp, headers[i], headers[i + 1]) != MHD_YES) {
      MHD_destroy_response(resp);
      return -2;
    }
  }
  answer(s, r, resp, status);
  return 0;
}

void gf_srv_quiesce(gf_srv *s)
{
  if (s->closing) return;
  s->closing = 1;
  if (s->d) {
    MHD_socket fd = MHD_quiesce_daemon(s->d);
    if (fd != MHD_INVALID_SOCKET) close(fd);
  }
  wake_waiter(s);
}

int gf_srv_in_flight(const gf_srv *s)
{
  return s->nreqs;
}

int gf_srv_connections(const gf_srv *s)
{
  return s->nconns;
}

/* Answer whatever a handler still holds with 503, so that no connection stays suspended. */
static void answer_all(gf_srv *s)
{
  static const char body[] = "{\"error\":\"server stopped\"}";
  gf_srv_req *r;
  while ((r = s->queue.head) != NULL || (r = s->dispatched.head) != NULL) {
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!resp) {
      list_remove(s, r);
      MHD_resume_connection(r->conn);
      continue;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    answer(s, r, resp, 503);
  }
}

void gf_srv_free(gf_srv *s)
{
  if (!s) return;
  gf_srv_quiesce(s);
  if (s->d) {
    answer_all(s);
    MHD_run(s->d); /* send what can be sent at once */
    gf_watch_stop(s->loop, &s->w);
    MHD_stop_daemon(s->d); /* closes every connection: on_completed frees the requests */
    s->d = NULL;
  }
  set_timer(s, -1);
  while (s->conns) {
    sconn *c = s->conns;
    s->conns = c->next;
    free(c);
  }
  close(s->efd);
  free(s);
}

const char *gf_srv_library_version(void)
{
  static char v[48];
  snprintf(v, sizeof v, "libmicrohttpd %s", MHD_get_version());
  return v;
}
