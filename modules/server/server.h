/*
** server.h — the pure C part of gf.server: libmicrohttpd in external-polling mode on the host
** loop. MHD's epoll descriptor is one gf_watch, its timeouts one gf_timer; MHD_run is called on
** readiness. A complete request (headers and body read) suspends its connection and waits in a
** queue until the binding takes it (gf_srv_next) and answers it (gf_srv_respond), which resumes
** the connection. No Lua types here: the binding (lserver.c) owns a gf_srv through a userdata.
**
** Limits enforced here: the request body (413 before the handler, from Content-Length or while
** a chunked body grows), the connection count (MHD's limit: further clients wait in the listen
** backlog), and a per-connection deadline: a request's headers and body must arrive within
** `timeout_ms` of the connection's start (or of the previous response on a keep-alive
** connection), else it gets 408 and is shut down: a client that trickles bytes is cut off as
** surely as an idle one.
*/
#ifndef GF_SERVER_H
#define GF_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "loop.h"

typedef struct gf_srv gf_srv;
typedef struct gf_srv_req gf_srv_req;

typedef struct gf_srv_opts {
  const char *bind; /* numeric IPv4 or IPv6 address, or "localhost" */
  int port;         /* 0: any free port */
  size_t max_body;  /* bytes */
  unsigned max_connections;
  int64_t timeout_ms; /* per request read, and idle keep-alive */
} gf_srv_opts;

/*
** Start listening. Returns the server, or NULL with a message in err and a gfhost error code
** ("io", "invalid_input") in *code. The caller frees with gf_srv_free.
*/
gf_srv *gf_srv_open(gf_loop *loop, const gf_srv_opts *o, char *err, size_t errlen,
                    const char **code);
int gf_srv_port(const gf_srv *s);

/* A descriptor (an eventfd) that becomes readable when a request is queued or the server stops
** accepting: the task that takes requests waits on it (gf_wait_fd). gf_srv_next clears it when
** the queue is empty. */
int gf_srv_event_fd(const gf_srv *s);

/* The next queued request (now owned by the caller until answered), or NULL. */
gf_srv_req *gf_srv_next(gf_srv *s);
/* No more requests will be queued (closing and the queue is empty). */
int gf_srv_drained(const gf_srv *s);

/* What a request holds; valid until it is answered. */
uint64_t gf_srv_req_id(const gf_srv_req *r);
const char *gf_srv_req_method(const gf_srv_req *r);
const char *gf_srv_req_path(const gf_srv_req *r);
const char *gf_srv_req_version(const gf_srv_req *r);
const char *gf_srv_req_remote(const gf_srv_req *r);
const char *gf_srv_req_body(const gf_srv_req *r, size_t *len);
/* kind: 'h' for headers (names as sent), 'q' for query arguments (decoded; value may be ""). */
typedef void (*gf_srv_kv_fn)(void *ud, const char *key, const char *value);
void gf_srv_req_each(const gf_srv_req *r, int kind, gf_srv_kv_fn fn, void *ud);

/*
** Answer request `id` with status, headers (NULL-terminated name, value, name, value, ...) and
** either body/len (copied) or, when fd >= 0, fsize bytes of the open regular file fd (taken:
** closed by the server). Returns 0; -1 when the request is gone (its connection closed, or the
** server stopped: fd is closed then too); -2 when a header is refused (bad characters).
*/
int gf_srv_respond(gf_srv *s, uint64_t id, int status, const char *const *headers, const char *body,
                   size_t len, int fd, uint64_t fsize);

/* Graceful stop, first step: stop accepting connections (the port is free afterwards); new
** requests on open keep-alive connections get 503. Queued requests are still handed out. */
void gf_srv_quiesce(gf_srv *s);
/* Requests begun and not yet finished (read, queued, handled, or being sent). */
int gf_srv_in_flight(const gf_srv *s);
/* Open client connections. */
int gf_srv_connections(const gf_srv *s);
/* Stop: requests still unanswered get 503, then every connection is closed and s freed. */
void gf_srv_free(gf_srv *s);

/* "libmicrohttpd x.y.z" */
const char *gf_srv_library_version(void);

#endif
