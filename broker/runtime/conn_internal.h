/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "runtime/budget.h"
#include "runtime/conn.h"
#include "runtime/stats.h"
#include "runtime/uidcount.h"

/*
 * Private to runtime/conn.c and runtime/connset.c: the set's state, and what each file calls
 * in the other. Nothing else includes it.
 */

struct conn_set {
	sd_event *event; /* borrowed */
	struct conn *conns;
	size_t n_conns;
	uint64_t next_conn_id;
	size_t n_objects; /* connection objects alive, open or closed (requests hold closed ones) */
	struct uidcount per_uid;
	uint64_t max_connections;
	uint64_t max_connections_per_uid;
	struct budget budget; /* bytes held by requests in flight on every connection */
	bool draining;
	bool quiet_called;
	/* The connections' sockets, in an epoll set of our own under one sd-event source:
	 * one wake-up takes up to CONN_EVENTS_PER_WAKEUP ready connections (conn.c). */
	int epfd;
	sd_event_source *epoll_source;
	conn_set_hook on_quiet, on_released;
	void *quiet_userdata, *released_userdata;
};

/* connset.c, for conn.c */
void conn_set_add(struct conn_set *s, struct conn *c);
/* Takes c off the set's list and gives its uid slot back. */
void conn_set_remove(struct conn_set *s, struct conn *c);
/* The set's budget has room: the first connection waiting for it takes its turn. */
void conn_set_wake(struct conn_set *s);
/* If the set drains and nothing is in flight or unsent, calls the quiet hook (once). */
void conn_set_maybe_quiet(struct conn_set *s);

/* conn.c, for connset.c */
/* The set's epoll source: reads every ready connection of one batch, writes the batch's
 * audit lines once, then flushes each connection's replies. */
int conn_set_events_cb(sd_event_source *s, int fd, uint32_t revents, void *userdata);
/* Cancels what is in flight on c (each cancellation finishes its request). */
void conn_cancel_pending(struct conn *c);
/* Writes what the socket takes now and settles (may close c: the caller holds a reference). */
void conn_flush_now(struct conn *c);
/* conn_send_error, counting a fatal error as ev. */
void conn_send_error_as(struct conn *c, uint64_t id, int code, const char *message, bool fatal,
			enum stats_conn_event ev);
/* Lets the connection's deferred source settle it in a later iteration of the loop. */
void conn_schedule(struct conn *c);
