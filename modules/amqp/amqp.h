/*
** amqp.h — an AMQP 0-9-1 connection on rabbitmq-c, driven without blocking (pure C, no Lua).
**
** The blocking part, opening the socket (TCP or TLS), login and channel.open, runs once per
** connection on a worker thread (gfa_open). Everything after that runs on the loop thread and
** never waits: methods are written with rabbitmq-c's senders (small frames into a non-blocking
** socket), and gfa_pump reads whatever frames have arrived, with a zero timeout, and sorts them:
** deliveries are assembled into a message queue, the reply to the one outstanding synchronous
** method into the rpc slot, publisher confirms into the confirm table, channel.close and
** connection.close into the error state. rabbitmq-c sends a heartbeat from inside the pump when
** one is due and closes the socket when the peer has been silent for two heartbeat intervals.
**
** One channel (number 1) per connection. It has an epoch, raised every time it is (re)opened;
** delivery tags handed out carry the epoch in their high bits (gfa_tag), so that an ack for a
** delivery of an earlier channel is refused instead of closing the new one.
*/
#ifndef GF_AMQP_H
#define GF_AMQP_H

#include <stddef.h>
#include <stdint.h>

#include <amqp.h>
#include <amqp_framing.h>

#define GFA_CHANNEL 1
#define GFA_TAG_BITS 40 /* delivery tag bits below the epoch */

typedef struct gfa_config {
  char *host, *vhost, *user, *password, *name, *cacert;
  int port;
  int tls, verify; /* amqps://; verify the peer's certificate and host name */
  int heartbeat;   /* seconds, 0: none */
  int timeout_ms;  /* connect + login */
  int frame_max;
} gfa_config;

typedef struct gfa_msg {
  struct gfa_msg *next;
  uint64_t tag; /* with the epoch (gfa_tag) */
  int redelivered;
  char *exchange, *routing_key, *consumer_tag;
  amqp_basic_properties_t props; /* strings and headers in pool */
  amqp_pool_t pool;
  char *body;
  size_t body_len, got;
} gfa_msg;

enum { GFA_RPC_IDLE, GFA_RPC_PENDING, GFA_RPC_DONE, GFA_RPC_FAILED };

typedef struct gfa_rpc {
  int state;
  amqp_method_number_t expect;
  /* results */
  char *name; /* queue name or consumer tag */
  uint32_t message_count, consumer_count;
} gfa_rpc;

typedef struct gfa_conn {
  amqp_connection_state_t st; /* NULL once closed */
  int fd;
  int open;         /* connection usable */
  int channel_open; /* channel 1 usable */
  uint64_t epoch;
  int heartbeat; /* negotiated */
  /* the last error: a message and one of the codes of docs/amqp.md */
  char err[512];
  const char *err_code;
  /* channel closed by the broker, not yet reported to a caller */
  char chan_err[512];
  const char *chan_code;
  gfa_rpc rpc;
  /* deliveries */
  gfa_msg *head, *tail, *partial;
  size_t queued;
  /* publisher confirms */
  int confirm;
  uint64_t next_seq;
  uint64_t *pending; /* unconfirmed sequence numbers, ascending */
  size_t npending, cap_pending;
  uint64_t *nacked; /* confirmed negatively (or lost) and not yet reported */
  size_t nnacked, cap_nacked;
  int blocked; /* connection.blocked from the broker */
  uint64_t consumer_cancelled;
} gfa_conn;

/* Once, before the first connection. */
void gfa_init(void);

/* Worker thread: open socket, log in, open channel 1. Returns the state or NULL with err/code. */
amqp_connection_state_t gfa_open(const gfa_config *cfg, char *err, size_t errlen,
                                 const char **code);
/* Take over a freshly opened state (closing any previous one). */
void gfa_attach(gfa_conn *c, amqp_connection_state_t st);
/* Close the socket at once (no handshake) and drop queued deliveries. */
void gfa_drop(gfa_conn *c, const char *code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void gfa_free(gfa_conn *c);

/* Read and sort the frames that have arrived, at most max_frames (*more set when some may be
** left). Returns 1 if anything changed (a waiter may want to look), 0 if nothing did.
** Connection loss is recorded in c->open / c->err. */
int gfa_pump(gfa_conn *c, int max_frames, int *more);
/* Frames rabbitmq-c put aside while writing (or unread bytes in its buffer)? */
int gfa_has_buffered(gfa_conn *c);

/* Send a synchronous method on channel 1 (channel.open on channel 1 too) and expect `expect`. */
int gfa_rpc_send(gfa_conn *c, amqp_method_number_t method, void *args, amqp_method_number_t expect);

gfa_msg *gfa_take(gfa_conn *c);
void gfa_msg_free(gfa_msg *m);

/* Channel-level ack/nack/publish. Return 0 or -1 with c->err set (connection lost). */
int gfa_ack(gfa_conn *c, uint64_t tag, int multiple);
int gfa_nack(gfa_conn *c, uint64_t tag, int multiple, int requeue);
int gfa_publish(gfa_conn *c, const char *exchange, const char *rkey, const void *body, size_t len,
                int mandatory, const amqp_basic_properties_t *props, uint64_t *seq);
/* Confirms: 1 pending, 0 acked, -1 nacked (removed from the nacked list). */
int gfa_confirm_state(gfa_conn *c, uint64_t seq);
void gfa_confirm_reset(gfa_conn *c); /* a new channel in confirm mode starts at 1 */

/* Begin the close handshake (connection.close); the pump sees close-ok. */
int gfa_close_send(gfa_conn *c);

/* The code of docs/amqp.md for an AMQP reply code. */
const char *gfa_code_for(int reply_code, int connection_level);

static inline uint64_t gfa_tag(uint64_t epoch, uint64_t tag)
{
  return (epoch << GFA_TAG_BITS) | tag;
}

#endif
