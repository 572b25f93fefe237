/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "proto/buf.h"
#include "proto/limits.h"
#include "runtime/admission.h"
#include "runtime/budget.h"
#include "runtime/uidcount.h"
#include "util/cleanup.h"
#include "tenancy/tenant.h"

/*
 * One client connection, and the set of open connections it belongs to.
 *
 * A connection is a non-blocking stream socket, a bounded input buffer sized to the current
 * frame cap (SB_MAX_HELLO_FRAME before hello, max_request_frame after), a bounded output
 * buffer, and the list of what is in flight on it (struct conn_pending, embedded in each
 * request by runtime/request.c: the connection owns the list and the count, and never needs
 * to know what a request is).
 *
 * Backpressure: the socket is read only while (a) fewer than max_inflight requests are in
 * flight, (b) the output buffer has room for one maximal reply per in-flight request plus
 * one, so a reply always fits when it completes and a client that does not read its replies
 * stops being read (ssh-agent's rule), and (c) after hello, the bytes held by the requests in
 * flight are below the connection's budget (max_inflight_bytes_per_connection) and those of
 * every connection below the set's (max_inflight_bytes); a connection stopped by the set's
 * budget waits in its queue and is woken, oldest first, when it has room (runtime/budget.h).
 * Timeouts: hello_timeout from accept until hello is answered; then idle_timeout since the
 * last complete request while nothing is in flight (partial frames do not count, so a client
 * trickling bytes is closed too).
 *
 * Connections are reference-counted: the set holds one reference while the connection is
 * open, each in-flight request one more, so a completion that arrives after the client went
 * away finds a closed connection (conn_is_open() false) instead of freed memory.
 * conn_close() is idempotent and cancels what is in flight.
 *
 * The set (struct conn_set) holds the open connections, the connection limits and the
 * per-uid counts, and is the one place that decides when a draining daemon may exit: once it
 * is draining and no connection has anything in flight or left to send, it calls its quiet
 * hook (once). It never calls up into the daemon otherwise.
 */

enum conn_state {
	CONN_HELLO,    /* waiting for hello */
	CONN_READY,    /* hello answered */
	CONN_DRAINING, /* fatal error replied; flushing output, then close */
	CONN_CLOSED,
};

struct conn;
struct conn_set;

/* One entry of a connection's in-flight list, embedded in what is in flight (a request).
 * cancel runs at most once (connection closed, shutdown deadline) and must make the owner
 * finish promptly, which detaches the entry (conn_pending_detach); it may do so inside. */
struct conn_pending {
	void (*cancel)(struct conn_pending *p);
	bool cancel_started;
	uint64_t bytes; /* what it holds, charged to the budgets from attach to detach */
	uint64_t id;    /* the request's id: no two in flight on a connection share one */
	struct conn_pending *prev, *next;
};

/* What the connection does with each whole frame after framing (runtime/dispatch.c): the
 * payload is borrowed for the call; the handler may close c. */
typedef void (*conn_frame_handler)(struct conn *c, const uint8_t *payload, size_t len);

/* Limits fixed at accept (a reload applies to new connections; one that no longer admits an
 * open connection closes it: conn_set_revoke). */
struct conn_limits {
	size_t max_request_frame;
	size_t max_reply_frame;
	unsigned max_inflight;
	uint64_t max_inflight_bytes; /* the connection's budget; 0: unlimited */
	uint64_t hello_timeout_usec;
	uint64_t idle_timeout_usec;
};

struct conn {
	unsigned n_ref;
	uint64_t id;
	struct conn_set *set; /* borrowed: outlives every connection */
	int fd;
	enum conn_state state;
	bool admin;
	char *socket; /* owned: the key of the listener it came on (listeners_pick) */
	struct peer peer;
	struct tenant *tenant;    /* reference; NULL on the admin socket */
	const char *tenant_label; /* tenant name or "@admin", for logs */
	char client[SB_MAX_CLIENT_NAME + 1]; /* sanitised hello.client */
	uint64_t version;
	conn_frame_handler on_frame;

	bool watched; /* its socket is in the set's epoll (conn.c: events in batches) */
	sd_event_source *timer;
	sd_event_source *deferred; /* settles the connection after a completion (see conn.c) */
	uint32_t io_events;
	struct sb_buf in;
	struct sb_buf out;
	size_t max_request_frame;
	size_t max_reply_frame;
	unsigned max_inflight;
	unsigned inflight;
	struct conn_pending *pending; /* in flight, for cancellation */
	struct budget budget;         /* bytes its requests in flight hold */
	struct budget_waiter waiter;  /* in the set's queue while its budget stops it */
	bool budget_stalled;          /* a budget stops it (logged once per stall) */
	uint64_t last_request_usec;
	uint64_t accepted_usec;
	uint64_t hello_timeout_usec;
	uint64_t idle_timeout_usec;
	bool eof;   /* peer shut down its side: answer what is in flight, then close */
	bool in_io; /* inside the I/O batch: flushed once at its end */
	struct conn *prev, *next; /* the set's list */
};

/* ---------------------------------------------------------------- the set */

typedef void (*conn_set_hook)(void *userdata);

/* event is borrowed for the set's life. 0 or -ENOMEM. */
int conn_set_new(sd_event *event, struct conn_set **ret);
/* Closes every connection (cancelling what is in flight) and frees the set. NULL is fine. */
struct conn_set *conn_set_free(struct conn_set *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct conn_set *, conn_set_free);

/* Called once when the set drains and nothing is in flight or left to send on any connection:
 * the daemon may exit. userdata is borrowed while set. */
void conn_set_on_quiet(struct conn_set *s, conn_set_hook fn, void *userdata);
/* Called when a connection closes and gives back its slot (accepting may resume). */
void conn_set_on_released(struct conn_set *s, conn_set_hook fn, void *userdata);
/* Limits on open connections (from [broker]; a reload changes them for new connections). */
void conn_set_set_limits(struct conn_set *s, uint64_t max_connections,
			 uint64_t max_connections_per_uid);
/* The bytes requests in flight may hold over every connection (max_inflight_bytes; 0:
 * unlimited); a reload changes it at once. */
void conn_set_set_inflight_bytes(struct conn_set *s, uint64_t max);
sd_event *conn_set_event(const struct conn_set *s);
size_t conn_set_count(const struct conn_set *s);
/* Requests in flight over every connection. */
unsigned conn_set_inflight(const struct conn_set *s);
/* Bytes those requests hold (the set's budget of max_inflight_bytes). */
uint64_t conn_set_inflight_bytes(const struct conn_set *s);

enum conn_set_refusal {
	CONN_SET_ADMITTED = 0,
	CONN_SET_FULL,        /* max_connections (the admin socket is exempt) */
	CONN_SET_UID_FULL,    /* max_connections_per_uid */
};
/* Whether one more connection of uid fits; on CONN_SET_ADMITTED the slot is reserved and
 * conn_new (or conn_set_unreserve on failure) takes it. */
enum conn_set_refusal conn_set_reserve(struct conn_set *s, uid_t uid, bool admin);
void conn_set_unreserve(struct conn_set *s, uid_t uid);

/* Monotonic now (the loop's time for this iteration). */
uint64_t conn_set_now(const struct conn_set *s);

/* Stops taking requests (they are answered shutting_down by dispatch) and calls the quiet hook
 * as soon as nothing is in flight or unsent, which may be at once. */
void conn_set_begin_drain(struct conn_set *s);
bool conn_set_draining(const struct conn_set *s);
/* Shutdown deadline: cancels everything in flight and writes what can be written now. */
void conn_set_cancel_all(struct conn_set *s);

/* Whether c, open and borrowed for the call, is still admitted (by a new configuration). */
typedef bool (*conn_set_admits)(const struct conn *c, void *userdata);
/*
 * After a reload: each open connection that admits() no longer admits is sent one fatal
 * error (id 0, forbidden, message, a static string) and closed once it is flushed; what it
 * has in flight is cancelled, unanswered. One line per connection is logged. Returns how many.
 */
size_t conn_set_revoke(struct conn_set *s, conn_set_admits admits, void *userdata,
		       const char *message);

/* ---------------------------------------------------------------- one connection */

/*
 * Takes an accepted, admitted socket (fd is transferred, peer too) whose slot was reserved
 * with conn_set_reserve, and starts serving it. tenant: reference taken, NULL for admin.
 * socket: the key of the listener it came on (copied), for the re-check after a reload.
 * Returns 0 or -errno (fd, peer and the slot released).
 */
int conn_new(struct conn_set *s, int fd, struct peer *peer, struct tenant *tenant, bool admin,
	     const char *socket, const struct conn_limits *limits, conn_frame_handler on_frame,
	     struct conn **ret);

struct conn *conn_ref(struct conn *c);
struct conn *conn_unref(struct conn *c);

/* Closes the socket, cancels in-flight requests, leaves the object to its references. */
void conn_close(struct conn *c, const char *why);

bool conn_is_open(const struct conn *c);

/* After hello: the protocol version is agreed and the larger frame cap applies. */
void conn_hello_done(struct conn *c, uint64_t version, const char *client);

/*
 * Appends one encoded error frame and, when fatal, stops reading and closes once the output
 * is flushed (the hello-time and framing errors of PROTOCOL.md).
 */
void conn_send_error(struct conn *c, uint64_t id, int code /* enum sb_errcode */,
		     const char *message, bool fatal);

/*
 * Output was appended to c->out. Inside the connection's I/O callback it is flushed once at
 * the callback's end (one write per pipelined batch); anywhere else (a completion) the flush
 * is deferred to the event loop, so that a failing write never closes the connection, cancels
 * its requests or releases its tenant inside the caller.
 */
void conn_output_added(struct conn *c);

/* Something is in flight on c from now on (p is borrowed until conn_pending_detach; cancel
 * must be set), holding p->bytes against the budgets. Takes a reference on c, which
 * conn_pending_detach drops. */
void conn_pending_attach(struct conn *c, struct conn_pending *p);
/* Whether something with this id is in flight on c (at most max_inflight entries to look
 * at). */
bool conn_pending_has_id(const struct conn *c, uint64_t id);
/* p finished (its reply appended or dropped): accounting, maybe resume reading or let a
 * draining daemon exit. Drops the reference attach took (may free c). */
void conn_pending_detach(struct conn *c, struct conn_pending *p);

/* Logging with the connection's identity: conn id, peer uid/pid, tenant. */
void conn_log(const struct conn *c, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
