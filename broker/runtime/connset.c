/* SPDX-License-Identifier: MIT */
/* connset: the open connections, their limits and budgets, and the one drain decision. */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "runtime/conn.h"
#include "runtime/conn_internal.h"
#include "runtime/stats.h"
#include "util/clock.h"
#include "util/list.h"
#include "util/log.h"

void conn_set_add(struct conn_set *s, struct conn *c)
{
	LIST_PREPEND(s->conns, c);
	s->n_conns++;
}

void conn_set_remove(struct conn_set *s, struct conn *c)
{
	LIST_REMOVE(s->conns, c);
	s->n_conns--;
	conn_set_unreserve(s, c->peer.uid);
}

/* The set's budget has room: the first connection waiting for it takes its turn (its deferred
 * source reads), and passes the turn on when it is done (conn_deferred_cb). */
void conn_set_wake(struct conn_set *s)
{
	struct budget_waiter *w = budget_next_waiter(&s->budget);

	if (w)
		conn_schedule((struct conn *)((char *)w - offsetof(struct conn, waiter)));
}

/* ---------------------------------------------------------------- the set */

int conn_set_new(sd_event *event, struct conn_set **ret)
{
	struct conn_set *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->event = event;
	s->max_connections = UINT64_MAX;
	s->max_connections_per_uid = UINT64_MAX;
	budget_init(&s->budget, 0, NULL);
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0) {
		r = -errno;
		free(s);
		return log_errno(LOG_ERR, r, "cannot create the connections' epoll set");
	}
	r = sd_event_add_io(event, &s->epoll_source, s->epfd, EPOLLIN, conn_set_events_cb, s);
	if (r < 0) {
		close(s->epfd);
		free(s);
		return log_errno(LOG_ERR, r, "cannot watch the connections' epoll set");
	}
	(void)sd_event_source_set_description(s->epoll_source, "connections");
	*ret = s;
	return 0;
}

struct conn_set *conn_set_free(struct conn_set *s)
{
	if (!s)
		return NULL;
	s->on_quiet = s->on_released = NULL;
	while (s->conns)
		conn_close(s->conns, "exiting");
	if (s->n_objects > 0) {
		/* A request that did not finish when cancelled still holds its connection, which
		 * points at s: keep s (a leak at exit) rather than let it touch freed memory. */
		log_error("%zu connection(s) still held by requests that did not finish when "
			  "cancelled (a handler bug); not freeing the connection set",
			  s->n_objects);
		assert(s->n_objects == 0);
		return NULL;
	}
	uidcount_clear(&s->per_uid);
	s->epoll_source = sd_event_source_disable_unref(s->epoll_source);
	close(s->epfd);
	free(s);
	return NULL;
}

void conn_set_on_quiet(struct conn_set *s, conn_set_hook fn, void *userdata)
{
	s->on_quiet = fn;
	s->quiet_userdata = userdata;
}

void conn_set_on_released(struct conn_set *s, conn_set_hook fn, void *userdata)
{
	s->on_released = fn;
	s->released_userdata = userdata;
}

void conn_set_set_limits(struct conn_set *s, uint64_t max_connections,
			 uint64_t max_connections_per_uid)
{
	s->max_connections = max_connections;
	s->max_connections_per_uid = max_connections_per_uid;
}

void conn_set_set_inflight_bytes(struct conn_set *s, uint64_t max)
{
	budget_set_max(&s->budget, max);
	conn_set_wake(s);
}

sd_event *conn_set_event(const struct conn_set *s)
{
	return s->event;
}

size_t conn_set_count(const struct conn_set *s)
{
	return s->n_conns;
}

uint64_t conn_set_inflight_bytes(const struct conn_set *s)
{
	return s->budget.held;
}

unsigned conn_set_inflight(const struct conn_set *s)
{
	unsigned n = 0;

	for (const struct conn *c = s->conns; c; c = c->next)
		n += c->inflight;
	return n;
}

uint64_t conn_set_now(const struct conn_set *s)
{
	return clock_now_usec(s->event);
}

enum conn_set_refusal conn_set_reserve(struct conn_set *s, uid_t uid, bool admin)
{
	/* The admin socket stays usable when clients exhaust max_connections (to see why); the
	 * per-uid limit still applies to it. */
	if (!admin && s->n_conns >= s->max_connections)
		return CONN_SET_FULL;
	if (!uidcount_take(&s->per_uid, uid, s->max_connections_per_uid))
		return CONN_SET_UID_FULL;
	return CONN_SET_ADMITTED;
}

void conn_set_unreserve(struct conn_set *s, uid_t uid)
{
	uidcount_release(&s->per_uid, uid);
}

bool conn_set_draining(const struct conn_set *s)
{
	return s->draining;
}

/* The one decision that a draining daemon may exit: no open connection has anything in flight
 * or unsent (closing a connection cancels what it had in flight). */
static bool conn_set_quiet(const struct conn_set *s)
{
	for (const struct conn *c = s->conns; c; c = c->next)
		if (c->inflight > 0 || sb_buf_len(&c->out) > 0)
			return false;
	return true;
}

void conn_set_maybe_quiet(struct conn_set *s)
{
	if (!s->draining || s->quiet_called || !conn_set_quiet(s))
		return;
	s->quiet_called = true;
	if (s->on_quiet)
		s->on_quiet(s->quiet_userdata);
}

void conn_set_begin_drain(struct conn_set *s)
{
	s->draining = true;
	conn_set_maybe_quiet(s);
}

/* The open connections, each with a reference, into *ret (caller unrefs each and frees):
 * what closes connections, or may, works on this copy. Returns how many (0 out of memory). */
static size_t conn_set_snapshot(struct conn_set *s, struct conn ***ret)
{
	size_t k = 0;
	struct conn **v = calloc(s->n_conns ? s->n_conns : 1, sizeof(*v));

	for (struct conn *c = s->conns; v && c; c = c->next)
		v[k++] = conn_ref(c);
	*ret = v;
	return k;
}

void conn_set_cancel_all(struct conn_set *s)
{
	_cleanup_free_ struct conn **v = NULL;
	size_t k = conn_set_snapshot(s, &v);

	for (size_t i = 0; i < k; i++) {
		conn_cancel_pending(v[i]);
		/* the loop exits next: write the shutting_down replies now (the deferred source
		 * that would otherwise flush them no longer runs) */
		conn_flush_now(v[i]);
		conn_unref(v[i]);
	}
}

size_t conn_set_revoke(struct conn_set *s, conn_set_admits admits, void *userdata,
		       const char *message)
{
	_cleanup_free_ struct conn **v = NULL;
	size_t k = conn_set_snapshot(s, &v), n = 0;

	if (!v)
		log_error("out of memory: the open connections were not re-checked");
	for (size_t i = 0; i < k; i++) {
		struct conn *c = v[i];

		if (conn_is_open(c) && !admits(c, userdata)) {
			conn_log(c, LOG_NOTICE, "closing: %s", message);
			/* the error goes out alone: draining, the cancelled requests' replies are
			 * dropped */
			conn_send_error_as(c, 0, SB_ERR_FORBIDDEN, message, true,
					   STATS_CONN_CLOSED_REVOKED);
			conn_cancel_pending(c);
			n++;
		}
		conn_unref(c);
	}
	return n;
}
