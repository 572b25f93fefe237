/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "runtime/admission.h"
#include "proto/buf.h"
#include "proto/limits.h"
#include "tenancy/tenant.h"

/*
 * One client connection: a non-blocking stream socket, a bounded input buffer sized to the
 * current frame cap (SB_MAX_HELLO_FRAME before hello, max_request_frame after), a bounded
 * output buffer, and the requests in flight.
 *
 * Backpressure: the socket is read only while (a) fewer than max_inflight requests are in
 * flight and (b) the output buffer has room for one maximal reply per in-flight request plus
 * one, so a reply always fits when it completes and a client that does not read its replies
 * stops being read. Timeouts: hello_timeout from accept until hello is answered; then
 * idle_timeout since the last complete request while nothing is in flight (partial frames
 * do not count, so a client trickling bytes is closed too).
 *
 * Connections are reference-counted: each in-flight request holds one, so a completion that
 * arrives after the client went away finds a closed connection (conn_is_open() false) instead
 * of freed memory. conn_close() is idempotent and cancels the in-flight requests.
 */

enum conn_state {
	CONN_HELLO,   /* waiting for hello */
	CONN_READY,   /* hello answered */
	CONN_DRAINING, /* fatal error replied; flushing output, then close */
	CONN_CLOSED,
};

struct daemon;
struct request_ctx;

struct conn {
	unsigned n_ref;
	uint64_t id;
	struct daemon *d;
	int fd;
	enum conn_state state;
	bool admin;
	struct peer peer;
	struct tenant *tenant; /* reference; NULL on the admin socket */
	const char *tenant_label; /* tenant name or "-admin-", for logs */
	char client[SB_MAX_CLIENT_NAME + 1]; /* sanitized hello.client */
	uint64_t version;

	sd_event_source *io;
	sd_event_source *timer;
	sd_event_source *deferred; /* settles the connection after a completion (see conn.c) */
	uint32_t io_events;
	struct sb_buf in;
	struct sb_buf out;
	size_t max_request_frame;
	size_t max_reply_frame;
	unsigned max_inflight;
	unsigned inflight;
	struct request_ctx *requests; /* in flight, for cancellation */
	uint64_t last_request_usec;
	uint64_t accepted_usec;
	uint64_t hello_timeout_usec;
	uint64_t idle_timeout_usec;
	bool eof;   /* peer shut down its side: answer what is in flight, then close */
	bool in_io; /* inside the I/O callback: flush once at its end */
	struct conn *prev, *next; /* daemon's list */
};

/*
 * Takes an accepted, admitted socket (fd is transferred, peer too) and starts serving it.
 * tenant: reference taken, NULL for admin. Returns 0 or -errno (fd and peer released).
 */
int conn_new(struct daemon *d, int fd, struct peer *peer, struct tenant *tenant, bool admin,
	     struct conn **ret);

struct conn *conn_ref(struct conn *c);
struct conn *conn_unref(struct conn *c);

/* Closes the socket, cancels in-flight requests, leaves the object to its references. */
void conn_close(struct conn *c, const char *why);

bool conn_is_open(const struct conn *c);

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

/* Writes what the socket takes now and settles (may close c: the caller holds a reference).
 * For the daemon outside any completion (the shutdown deadline, just before exiting). */
void conn_flush_now(struct conn *c);

/* A request finished (reply appended or dropped): update accounting, maybe resume reading. */
void conn_request_finished(struct conn *c);

/* Re-evaluates whether to read (after state changes). */
void conn_update_events(struct conn *c);

/* Logging with the connection's identity: conn id, peer uid/pid, tenant. */
void conn_log(const struct conn *c, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Shutdown: refuse new requests with shutting_down; cancel everything in flight. */
void conn_cancel_all(struct conn *c);
