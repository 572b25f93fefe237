/* SPDX-License-Identifier: MIT */
/* conn: one client connection: framing, backpressure, timeouts, its in-flight list. */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto/frame.h"
#include "proto/message.h"
#include "runtime/conn.h"
#include "runtime/conn_internal.h"
#include "runtime/stats.h"
#include "util/clock.h"
#include "util/ref.h"
#include "util/log.h"
#include "util/list.h"

#define CONN_READ_CHUNK (64u * 1024u)
#define CONN_READS_PER_WAKEUP 4
/* Ready connections taken per wake-up of the set's epoll source: more wait for the next
 * loop iteration (level-triggered epoll hands them out in turn), so timers, the listeners
 * and upstream transfers are never starved by a busy set. */
#define CONN_EVENTS_PER_WAKEUP 64
#define CONN_DRAIN_TIMEOUT_USEC (5u * 1000000u) /* to flush a fatal error reply */
#define CONN_TIMER_ACCURACY_USEC (100u * 1000u)
#define CONN_KEEP_BUFFER 4096u /* buffers larger than this are freed when empty */

/* Shared read buffer: the daemon is single-threaded. Wiped after each use (it may hold a
 * token on its way into a connection's buffer). */
static uint8_t scratch[CONN_READ_CHUNK];

static int conn_timer_cb(sd_event_source *s, uint64_t usec, void *userdata);
static void conn_process_input(struct conn *c);

static uint64_t conn_now(const struct conn *c)
{
	return clock_now_usec(c->set->event);
}

void conn_log(const struct conn *c, int level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_printf(level, "conn=%llu uid=%u pid=%d tenant=%s: %s", (unsigned long long)c->id,
		   (unsigned)c->peer.uid, (int)c->peer.pid, c->tenant_label, msg);
}

static size_t reply_slot(const struct conn *c)
{
	return c->max_reply_frame + SB_FRAME_HEADER_SIZE;
}

/* Whether another request may be read: room for one more in flight and for its reply. */
static bool conn_can_take_request(const struct conn *c)
{
	if (c->state != CONN_HELLO && c->state != CONN_READY)
		return false;
	if (c->inflight >= c->max_inflight)
		return false;
	/* hello is answered at once and holds nothing: the budgets start after it; the admin
	 * socket (synchronous, small) is never held back by the clients' global budget */
	if (c->state == CONN_READY &&
	    (!budget_has_room(&c->budget) ||
	     (!c->admin && !budget_may_take(&c->set->budget, &c->waiter))))
		return false;
	return sb_buf_room(&c->out) >= (size_t)(c->inflight + 1) * reply_slot(c);
}

static bool conn_wants_read(const struct conn *c)
{
	return !c->eof && conn_can_take_request(c);
}

/* Whether a budget of bytes in flight stops c from reading (logged once per stall); one
 * stopped by the set's budget alone waits in its queue (conn_set_wake). */
static void conn_check_budgets(struct conn *c)
{
	bool own = !budget_has_room(&c->budget);
	const struct budget *b = own ? &c->budget : &c->set->budget;
	bool global = !c->admin && !budget_may_take(&c->set->budget, &c->waiter);
	bool stalled = c->state == CONN_READY && c->inflight < c->max_inflight && (own || global);

	if (stalled && !own)
		budget_wait(&c->set->budget, &c->waiter);
	if (stalled && !c->budget_stalled)
		conn_log(c, LOG_DEBUG, "not reading with %u request(s) in flight: those on %s hold "
			 "%llu bytes, max_inflight_bytes%s is %llu", c->inflight,
			 own ? "this connection" : "all connections", (unsigned long long)b->held,
			 own ? "_per_connection" : "", (unsigned long long)b->max);
	c->budget_stalled = stalled;
}

/* Sets the events c's socket is watched for in the set's epoll. 0 or -errno. */
static int conn_set_events(struct conn *c, uint32_t ev)
{
	struct epoll_event e = {.events = ev, .data.ptr = c};

	return epoll_ctl(c->set->epfd, EPOLL_CTL_MOD, c->fd, &e) < 0 ? -errno : 0;
}

/* Re-evaluates the event mask (read interest follows conn_wants_read, write interest a
 * non-empty output buffer). */
static void conn_update_events(struct conn *c)
{
	uint32_t ev = 0;

	if (c->state == CONN_CLOSED || !c->watched)
		return;
	conn_check_budgets(c);
	if (conn_wants_read(c))
		ev |= EPOLLIN;
	if (sb_buf_len(&c->out) > 0)
		ev |= EPOLLOUT;
	if (ev != c->io_events) {
		if (conn_set_events(c, ev) < 0) {
			conn_close(c, "cannot update the event mask");
			return;
		}
		c->io_events = ev;
	}
}

static void conn_arm_timer(struct conn *c, uint64_t when)
{
	if (!c->timer)
		return;
	(void)sd_event_source_set_time(c->timer, when);
	(void)sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
}

/* The frame cap of the connection's state: the hello cap until hello is answered. */
static size_t conn_frame_cap(const struct conn *c)
{
	return c->state == CONN_HELLO ? SB_MAX_HELLO_FRAME : c->max_request_frame;
}

/* Whether a whole frame (or a framing error) is in the input buffer, read but not taken. */
static bool conn_frame_waiting(const struct conn *c)
{
	const uint8_t *payload;
	size_t len;

	return sb_frame_next(&c->in, conn_frame_cap(c), &payload, &len, NULL) != SB_FRAME_MORE;
}

/* Nothing in flight and nothing to send: what a drained or half-closed connection waits for. */
static bool conn_quiet(const struct conn *c)
{
	return c->inflight == 0 && sb_buf_len(&c->out) == 0;
}

static void conn_release_buffers_if_idle(struct conn *c)
{
	if (sb_buf_len(&c->in) == 0 && c->in.cap > CONN_KEEP_BUFFER)
		sb_buf_free(&c->in);
	if (sb_buf_len(&c->out) == 0 && c->out.cap > CONN_KEEP_BUFFER)
		sb_buf_free(&c->out);
}

/* Writes what the socket takes. 0, or -errno after which the connection is closed. */
static int conn_flush(struct conn *c)
{
	/* the audit lines of these replies go out first */
	if (sb_buf_len(&c->out) > 0)
		log_flush();
	while (sb_buf_len(&c->out) > 0) {
		ssize_t n = send(c->fd, sb_buf_ptr(&c->out), sb_buf_len(&c->out),
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return -errno;
		}
		sb_buf_consume(&c->out, (size_t)n);
	}
	return 0;
}

/* After output or accounting changed: flush, finish draining states, update interest. */
static void conn_settle(struct conn *c)
{
	int r;

	if (c->state == CONN_CLOSED)
		return;
	r = conn_flush(c);
	if (r < 0) {
		conn_log(c, LOG_DEBUG, "write failed: %s", strerror(-r));
		conn_close(c, "peer gone");
		return;
	}
	if (c->state == CONN_DRAINING && sb_buf_len(&c->out) == 0) {
		conn_close(c, "closed after error");
		return;
	}
	if (conn_frame_waiting(c)) {
		/* Requests that came in one read wait here when the replies before them filled
		 * the output. No more bytes may come to wake conn_read (the client waits for
		 * these replies, or has half-closed): once there is room, the deferred source
		 * takes them, and a half-closed connection closes only after that. */
		if (conn_can_take_request(c))
			conn_schedule(c);
	} else if (c->eof && conn_quiet(c)) {
		conn_close(c, "peer closed");
		return;
	}
	if (conn_quiet(c))
		conn_set_maybe_quiet(c->set);
	conn_release_buffers_if_idle(c);
	conn_update_events(c);
}

/*
 * Outside the connection's own callbacks (a reply from a completion: a timer, an HTTP
 * transfer, a cancellation by the daemon), nothing is written or closed inline: the
 * connection's deferred source runs next in the loop and settles it. A write that fails
 * there closes the connection (cancelling what is in flight and possibly dropping the last
 * reference of a tenant) from the loop, not under the feet of the completion that replied,
 * which may still be using that tenant or be iterating over the requests being cancelled.
 * Replies completed in the same loop iteration go out in one write.
 */
void conn_schedule(struct conn *c)
{
	int r;

	if (c->state == CONN_CLOSED || !c->deferred)
		return;
	r = sd_event_source_set_enabled(c->deferred, SD_EVENT_ONESHOT);
	if (r < 0) {
		/* cannot happen (no allocation); fall back to waiting for writability (the
		 * I/O callback settles too) */
		conn_log(c, LOG_ERR, "cannot schedule the connection: %s", strerror(-r));
		if (sb_buf_len(&c->out) > 0 && c->watched &&
		    conn_set_events(c, c->io_events | EPOLLOUT) >= 0)
			c->io_events |= EPOLLOUT;
	}
}


static int conn_deferred_cb(sd_event_source *s, void *userdata)
{
	struct conn *c = conn_ref(userdata);

	(void)s;
	if (c->state != CONN_CLOSED) {
		c->in_io = true;
		conn_process_input(c); /* a whole frame may be waiting for capacity */
		c->in_io = false;
		if (c->state != CONN_CLOSED)
			conn_settle(c);
	}
	/* a connection woken by the set's budget has taken what it could: the turn passes on */
	budget_end_turn(&c->set->budget, &c->waiter);
	conn_set_wake(c->set);
	conn_unref(c);
	return 0;
}

void conn_output_added(struct conn *c)
{
	/* Inside the I/O callback, replies are batched and flushed once at its end. */
	if (c->in_io)
		return;
	conn_schedule(c);
}

/* Writes what the socket takes now and settles (may close c: the caller holds a reference).
 * For the shutdown deadline, after which the loop no longer runs the deferred sources. */
void conn_flush_now(struct conn *c)
{
	if (c->in_io)
		return;
	conn_settle(c);
}

/* conn_send_error, counting a fatal error as ev. */
void conn_send_error_as(struct conn *c, uint64_t id, int code, const char *message,
			       bool fatal, enum stats_conn_event ev)
{
	int r;

	if (c->state != CONN_HELLO && c->state != CONN_READY)
		return;
	r = sb_reply_encode_error(id, (enum sb_errcode)code, message, &c->out, c->max_reply_frame);
	if (r < 0 && !fatal) {
		/* cannot happen with the reply slots reserved; be safe anyway */
		conn_log(c, LOG_ERR, "cannot encode an error reply: %s", strerror(-r));
		fatal = true;
	}
	if (fatal) {
		c->state = CONN_DRAINING;
		stats_conn_event(ev);
		conn_arm_timer(c, conn_now(c) + CONN_DRAIN_TIMEOUT_USEC);
	}
	conn_output_added(c);
}

void conn_send_error(struct conn *c, uint64_t id, int code, const char *message, bool fatal)
{
	conn_send_error_as(c, id, code, message, fatal, STATS_CONN_CLOSED_PROTOCOL_ERROR);
}

/* Decodes and dispatches every whole frame the buffers allow. */
static void conn_process_input(struct conn *c)
{
	while (conn_can_take_request(c)) {
		size_t cap = conn_frame_cap(c);
		const uint8_t *payload;
		size_t len;
		int r;

		r = sb_frame_next(&c->in, cap, &payload, &len, NULL);
		if (r == SB_FRAME_MORE)
			break;
		if (r == -EMSGSIZE) {
			char msg[96];
			snprintf(msg, sizeof(msg), "frame larger than %zu bytes", cap);
			conn_log(c, LOG_NOTICE, "closing: %s", msg);
			conn_send_error(c, 0, SB_ERR_TOO_LARGE, msg, true);
			break;
		}
		if (r < 0) {
			conn_log(c, LOG_NOTICE, "closing: empty frame");
			conn_send_error(c, 0, SB_ERR_BAD_REQUEST, "empty frame", true);
			break;
		}
		c->last_request_usec = conn_now(c);
		c->on_frame(c, payload, len);
		if (c->state == CONN_CLOSED)
			break;
		sb_frame_consume(&c->in, len);
	}
}

static void conn_read(struct conn *c)
{
	for (int i = 0; i < CONN_READS_PER_WAKEUP && conn_wants_read(c); i++) {
		size_t room = sb_buf_room(&c->in);
		ssize_t n;

		if (room == 0)
			break; /* a whole frame is waiting for capacity */
		if (room > sizeof(scratch))
			room = sizeof(scratch);
		n = recv(c->fd, scratch, room, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			conn_log(c, LOG_DEBUG, "read failed: %s", strerror(errno));
			conn_close(c, "read error");
			return;
		}
		if (n == 0) {
			c->eof = true;
			break;
		}
		if (sb_buf_append(&c->in, scratch, (size_t)n) < 0) {
			explicit_bzero(scratch, (size_t)n);
			conn_close(c, "out of memory");
			return;
		}
		explicit_bzero(scratch, (size_t)n);
		conn_process_input(c);
		if (c->state == CONN_CLOSED)
			return;
		/* A short read drained the socket: skip the recv that would say EAGAIN (level-
		 * triggered epoll calls again if more arrives). */
		if ((size_t)n < room)
			break;
	}
	if (c->eof && sb_buf_len(&c->in) > 0 && c->state != CONN_DRAINING && conn_quiet(c) &&
	    !conn_frame_waiting(c))
		conn_log(c, LOG_DEBUG, "peer closed with %zu bytes of an incomplete frame",
			 sb_buf_len(&c->in));
}

/* After the batch's reads: settles c, or closes it when both directions are gone (nobody can
 * read a reply, and EPOLLHUP is reported whatever the interest set, so waiting would spin;
 * a half-close, read returning 0, is handled by c->eof instead). */
static void conn_io_done(struct conn *c, uint32_t revents)
{
	c->in_io = false;
	if (c->state == CONN_CLOSED)
		return;
	if ((revents & (EPOLLERR | EPOLLHUP)) && !(revents & EPOLLIN))
		conn_close(c, "peer hung up");
	else
		conn_settle(c);
}

/*
 * Up to CONN_EVENTS_PER_WAKEUP ready connections per call, in three passes: every one reads
 * and dispatches what it can (their replies only collect in their buffers: in_io); the audit
 * lines of all those requests are written in one write; then each connection writes its
 * replies (one send each) and settles. A connection closed by another's request in the same
 * batch is still referenced here, and only its flag is looked at.
 */
int conn_set_events_cb(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct epoll_event ev[CONN_EVENTS_PER_WAKEUP];
	int n;

	(void)s;
	(void)revents;
	(void)userdata;
	n = epoll_wait(fd, ev, CONN_EVENTS_PER_WAKEUP, 0);
	if (n < 0)
		return errno == EINTR ? 0 : log_errno(LOG_ERR, -errno, "epoll_wait");
	for (int i = 0; i < n; i++) {
		struct conn *c = conn_ref(ev[i].data.ptr);

		c->in_io = true;
	}
	for (int i = 0; i < n; i++) {
		struct conn *c = ev[i].data.ptr;

		if (c->state != CONN_CLOSED && (ev[i].events & EPOLLIN))
			conn_read(c);
	}
	log_flush(); /* the audit lines go out before the replies they describe */
	for (int i = 0; i < n; i++) {
		conn_io_done(ev[i].data.ptr, ev[i].events);
		conn_unref(ev[i].data.ptr);
	}
	return 0;
}

/* Closes c because a timeout of usec passed: logged as "closing: <what> N ms" and counted. */
static void conn_time_out(struct conn *c, int level, const char *what, uint64_t usec,
			  enum stats_conn_event ev, const char *why)
{
	conn_log(c, level, "closing: %s %llu ms", what, (unsigned long long)(usec / 1000));
	stats_conn_event(ev);
	conn_close(c, why);
}

static int conn_timer_cb(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct conn *c = userdata;
	uint64_t now = conn_now(c), deadline;
	bool busy = c->inflight > 0 || c->waiter.queued; /* waiting for the budget is not idle */

	(void)s;
	(void)usec;
	switch (c->state) {
	case CONN_HELLO:
		conn_time_out(c, LOG_NOTICE, "no hello within", c->hello_timeout_usec,
			      STATS_CONN_CLOSED_HELLO_TIMEOUT, "hello timeout");
		return 0;
	case CONN_READY:
		deadline = (busy ? now : c->last_request_usec) + c->idle_timeout_usec;
		if (busy || now < deadline) {
			conn_arm_timer(c, deadline);
			return 0;
		}
		conn_time_out(c, LOG_INFO, "idle for", c->idle_timeout_usec,
			      STATS_CONN_CLOSED_IDLE_TIMEOUT, "idle timeout");
		return 0;
	case CONN_DRAINING:
		conn_close(c, "peer did not read its error reply");
		return 0;
	case CONN_CLOSED:
		break;
	}
	return 0;
}

/* Watches c's socket, its timer and its deferred source. 0 or -errno (logged). */
static int conn_watch(struct conn *c)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
	sd_event *e = c->set->event;
	int r;

	if (epoll_ctl(c->set->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		return log_errno(LOG_ERR, -errno, "conn=%llu: cannot watch the socket",
				 (unsigned long long)c->id);
	c->watched = true;
	c->io_events = EPOLLIN;
	r = sd_event_add_time(e, &c->timer, CLOCK_MONOTONIC, c->accepted_usec + c->hello_timeout_usec,
			      CONN_TIMER_ACCURACY_USEC, conn_timer_cb, c);
	if (r >= 0)
		r = sd_event_add_defer(e, &c->deferred, conn_deferred_cb, c);
	if (r >= 0)
		r = sd_event_source_set_enabled(c->deferred, SD_EVENT_OFF);
	if (r < 0)
		return log_errno(LOG_ERR, r, "conn=%llu: cannot arm its timers", (unsigned long long)c->id);
	return 0;
}

/* Takes c's socket out of the set's epoll (before it is closed: a descriptor duplicated
 * elsewhere, by a fork, would otherwise stay in the set). */
static void conn_unwatch(struct conn *c)
{
	if (c->watched)
		(void)epoll_ctl(c->set->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	c->watched = false;
}

static void conn_free(struct conn *c)
{
	c->set->n_objects--;
	conn_unwatch(c);
	c->timer = sd_event_source_disable_unref(c->timer);
	c->deferred = sd_event_source_disable_unref(c->deferred);
	if (c->fd >= 0)
		close(c->fd);
	sb_buf_free(&c->in);
	sb_buf_free(&c->out);
	peer_done(&c->peer);
	tenant_unref(c->tenant);
	free(c->socket);
	free(c);
}

DEFINE_REF_UNREF(struct conn, conn, conn_free)

/* A connection that never started: its socket closed, its slot given back. */
static struct conn *conn_abandon(struct conn *c)
{
	if (c)
		conn_set_unreserve(c->set, c->peer.uid);
	return conn_unref(c);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct conn *, conn_abandon);



int conn_new(struct conn_set *s, int fd, struct peer *peer, struct tenant *tenant, bool admin,
	     const char *socket, const struct conn_limits *limits, conn_frame_handler on_frame,
	     struct conn **ret)
{
	_cleanup_(conn_abandonp) struct conn *c = NULL;
	int r;

	if (ret)
		*ret = NULL;
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		conn_set_unreserve(s, peer->uid);
		peer_done(peer);
		return -ENOMEM;
	}
	c->n_ref = 1;
	c->id = ++s->next_conn_id;
	c->set = s;
	s->n_objects++;
	c->fd = fd;
	c->state = CONN_HELLO;
	c->admin = admin;
	c->peer = *peer;
	*peer = (struct peer){.pidfd = -1};
	c->tenant = tenant_ref(tenant);
	c->tenant_label = tenant ? tenant_name(tenant) : "@admin";
	c->on_frame = on_frame;
	c->max_request_frame = limits->max_request_frame;
	c->max_reply_frame = limits->max_reply_frame;
	c->max_inflight = limits->max_inflight;
	c->hello_timeout_usec = limits->hello_timeout_usec;
	c->idle_timeout_usec = limits->idle_timeout_usec;
	budget_init(&c->budget, limits->max_inflight_bytes, &s->budget);
	c->accepted_usec = c->last_request_usec = conn_now(c);
	sb_buf_init(&c->in, SB_MAX_HELLO_FRAME + SB_FRAME_HEADER_SIZE);
	sb_buf_init(&c->out, (size_t)(c->max_inflight + 1) * reply_slot(c));
	c->socket = strdup(socket);
	if (!c->socket)
		return -ENOMEM;

	r = conn_watch(c);
	if (r < 0)
		return r;
	if (tenant)
		tenant_conn_opened(tenant);
	conn_set_add(s, c);
	stats_conn_event(STATS_CONN_ACCEPTED);
	stats_conn_current(+1);
	conn_log(c, LOG_DEBUG, "accepted (gid=%u)", (unsigned)c->peer.gid);
	if (ret)
		*ret = c;
	TAKE_PTR(c); /* the set's reference */
	return 0;
}

bool conn_is_open(const struct conn *c)
{
	return c->state == CONN_HELLO || c->state == CONN_READY;
}

void conn_hello_done(struct conn *c, uint64_t version, const char *client)
{
	snprintf(c->client, sizeof(c->client), "%s", client);
	c->version = version;
	c->state = CONN_READY;
	c->in.max = c->max_request_frame + SB_FRAME_HEADER_SIZE;
}

/* Cancels what is in flight on c. A cancel callback finishes its own request (detaching it),
 * and could in principle finish others: restart from the head each time, skipping those
 * already cancelled. At most max_inflight entries. What is still listed afterwards was
 * cancelled but not finished: a handler that broke its contract (runtime/request.h). Those
 * being finished already (their reply on its way) are disarmed, not pending cancellation. */
void conn_cancel_pending(struct conn *c)
{
	for (;;) {
		struct conn_pending *p = c->pending;

		while (p && p->cancel_started)
			p = p->next;
		if (!p)
			break;
		p->cancel_started = true;
		p->cancel(p); /* must detach (free) p */
	}
}

void conn_close(struct conn *c, const char *why)
{
	if (c->state == CONN_CLOSED)
		return;
	conn_log(c, LOG_DEBUG, "closed: %s", why);
	c->state = CONN_CLOSED;
	conn_unwatch(c);
	c->timer = sd_event_source_disable_unref(c->timer);
	c->deferred = sd_event_source_disable_unref(c->deferred);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	sb_buf_free(&c->in);
	budget_unwait(&c->set->budget, &c->waiter);
	conn_cancel_pending(c);
	conn_set_wake(c->set); /* its turn, if it had been woken */
	if (c->tenant)
		tenant_conn_closed(c->tenant);
	stats_conn_current(-1);
	conn_set_remove(c->set, c);
	if (c->set->on_released)
		c->set->on_released(c->set->released_userdata);
	conn_set_maybe_quiet(c->set);
	conn_unref(c); /* the set's reference */
}

void conn_pending_attach(struct conn *c, struct conn_pending *p)
{
	LIST_PREPEND(c->pending, p);
	c->inflight++;
	budget_take(&c->budget, p->bytes); /* and the set's */
	conn_ref(c);
}

bool conn_pending_has_id(const struct conn *c, uint64_t id)
{
	for (const struct conn_pending *p = c->pending; p; p = p->next)
		if (p->id == id)
			return true;
	return false;
}

void conn_pending_detach(struct conn *c, struct conn_pending *p)
{
	LIST_REMOVE(c->pending, p);
	if (c->inflight)
		c->inflight--;
	budget_give(&c->budget, p->bytes);
	/* never settle inline (see conn_schedule); the I/O callback settles at its end */
	if (c->state != CONN_CLOSED && !c->in_io)
		conn_schedule(c);
	conn_set_wake(c->set);
	conn_set_maybe_quiet(c->set);
	conn_unref(c);
}
