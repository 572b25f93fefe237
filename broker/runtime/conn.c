/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runtime/conn.h"
#include "runtime/daemon.h"
#include "runtime/dispatch.h"
#include "util/log.h"
#include "proto/frame.h"
#include "proto/message.h"
#include "runtime/stats.h"

#define CONN_READ_CHUNK (64u * 1024u)
#define CONN_READS_PER_WAKEUP 4
#define CONN_DRAIN_TIMEOUT_USEC (5u * 1000000u) /* to flush a fatal error reply */
#define CONN_TIMER_ACCURACY_USEC (100u * 1000u)
#define CONN_KEEP_BUFFER 4096u /* buffers larger than this are freed when empty */

/* Shared read buffer: the daemon is single-threaded. Wiped after each use (it may hold a
 * token on its way into a connection's buffer). */
static uint8_t scratch[CONN_READ_CHUNK];

static int conn_io_cb(sd_event_source *s, int fd, uint32_t revents, void *userdata);
static int conn_timer_cb(sd_event_source *s, uint64_t usec, void *userdata);
static void conn_process_input(struct conn *c);

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
	return sb_buf_room(&c->out) >= (size_t)(c->inflight + 1) * reply_slot(c);
}

static bool conn_wants_read(const struct conn *c)
{
	return !c->eof && conn_can_take_request(c);
}

void conn_update_events(struct conn *c)
{
	uint32_t ev = 0;

	if (c->state == CONN_CLOSED || !c->io)
		return;
	if (conn_wants_read(c))
		ev |= EPOLLIN;
	if (sb_buf_len(&c->out) > 0)
		ev |= EPOLLOUT;
	if (ev != c->io_events) {
		if (sd_event_source_set_io_events(c->io, ev) < 0) {
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
	if (c->eof && conn_quiet(c)) {
		conn_close(c, "peer closed");
		return;
	}
	if (c->d->state == DAEMON_STOPPING && conn_quiet(c))
		daemon_maybe_finish_shutdown(c->d);
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
static void conn_schedule(struct conn *c)
{
	int r;

	if (c->state == CONN_CLOSED || !c->deferred)
		return;
	r = sd_event_source_set_enabled(c->deferred, SD_EVENT_ONESHOT);
	if (r < 0) {
		/* cannot happen (no allocation); fall back to waiting for writability (the
		 * I/O callback settles too) */
		conn_log(c, LOG_ERR, "cannot schedule the connection: %s", strerror(-r));
		if (sb_buf_len(&c->out) > 0 && c->io &&
		    sd_event_source_set_io_events(c->io, c->io_events | EPOLLOUT) >= 0)
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

void conn_flush_now(struct conn *c)
{
	if (c->in_io)
		return;
	conn_settle(c);
}

void conn_send_error(struct conn *c, uint64_t id, int code, const char *message, bool fatal)
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
		stats_conn_event(STATS_CONN_CLOSED_PROTOCOL_ERROR);
		conn_arm_timer(c, daemon_now(c->d) + CONN_DRAIN_TIMEOUT_USEC);
	}
	conn_output_added(c);
}

/* Decodes and dispatches every whole frame the buffers allow. */
static void conn_process_input(struct conn *c)
{
	while (conn_can_take_request(c)) {
		size_t cap = c->state == CONN_HELLO ? SB_MAX_HELLO_FRAME : c->max_request_frame;
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
		c->last_request_usec = daemon_now(c->d);
		dispatch_frame(c, payload, len);
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
	if (c->eof && sb_buf_len(&c->in) > 0 && c->state != CONN_DRAINING && conn_quiet(c))
		conn_log(c, LOG_DEBUG, "peer closed with %zu bytes of an incomplete frame",
			 sb_buf_len(&c->in));
}

static int conn_io_cb(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct conn *c = conn_ref(userdata);

	(void)s;
	(void)fd;
	c->in_io = true;
	if (revents & EPOLLIN)
		conn_read(c);
	c->in_io = false;
	if (c->state != CONN_CLOSED) {
		/* Both directions gone: nobody can read a reply, and EPOLLHUP is reported
		 * whatever the interest set, so waiting would spin. Close (cancelling what is
		 * in flight). A half-close (read returned 0) is handled by c->eof instead. */
		if ((revents & (EPOLLERR | EPOLLHUP)) && !(revents & EPOLLIN))
			conn_close(c, "peer hung up");
		else
			conn_settle(c);
	}
	conn_unref(c);
	return 0;
}

static int conn_timer_cb(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct conn *c = userdata;
	uint64_t now = daemon_now(c->d), deadline;

	(void)s;
	(void)usec;
	switch (c->state) {
	case CONN_HELLO:
		conn_log(c, LOG_NOTICE, "closing: no hello within %llu ms",
			 (unsigned long long)(c->hello_timeout_usec / 1000));
		stats_conn_event(STATS_CONN_CLOSED_HELLO_TIMEOUT);
		conn_close(c, "hello timeout");
		return 0;
	case CONN_READY:
		deadline = c->last_request_usec + c->idle_timeout_usec;
		if (c->inflight > 0 || now < deadline) {
			conn_arm_timer(c, (c->inflight > 0 ? now : c->last_request_usec) +
						  c->idle_timeout_usec);
			return 0;
		}
		conn_log(c, LOG_INFO, "closing: idle for %llu ms",
			 (unsigned long long)(c->idle_timeout_usec / 1000));
		stats_conn_event(STATS_CONN_CLOSED_IDLE_TIMEOUT);
		conn_close(c, "idle timeout");
		return 0;
	case CONN_DRAINING:
		conn_close(c, "peer did not read its error reply");
		return 0;
	case CONN_CLOSED:
		break;
	}
	return 0;
}

int conn_new(struct daemon *d, int fd, struct peer *peer, struct tenant *tenant, bool admin,
	     struct conn **ret)
{
	const struct broker_config *cfg = d->config;
	struct conn *c;
	int r;

	if (ret)
		*ret = NULL;
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		peer_done(peer);
		return -ENOMEM;
	}
	c->n_ref = 1;
	c->id = ++d->next_conn_id;
	c->d = d;
	c->fd = fd;
	c->state = CONN_HELLO;
	c->admin = admin;
	c->peer = *peer;
	*peer = (struct peer){.pidfd = -1};
	c->tenant = tenant_ref(tenant);
	c->tenant_label = tenant ? tenant_name(tenant) : "@admin";
	/* Limits are fixed at accept: a reload applies to new connections. */
	c->max_request_frame = cfg->max_request_frame;
	c->max_reply_frame = cfg->max_reply_frame;
	c->max_inflight = (unsigned)cfg->max_inflight_per_connection;
	c->hello_timeout_usec = cfg->hello_timeout_usec;
	c->idle_timeout_usec = cfg->idle_timeout_usec;
	c->accepted_usec = c->last_request_usec = daemon_now(d);
	sb_buf_init(&c->in, SB_MAX_HELLO_FRAME + SB_FRAME_HEADER_SIZE);
	sb_buf_init(&c->out, (size_t)(c->max_inflight + 1) * reply_slot(c));

	r = sd_event_add_io(d->event, &c->io, fd, EPOLLIN, conn_io_cb, c);
	if (r >= 0) {
		c->io_events = EPOLLIN;
		r = sd_event_add_time(d->event, &c->timer, CLOCK_MONOTONIC,
				      c->accepted_usec + c->hello_timeout_usec,
				      CONN_TIMER_ACCURACY_USEC, conn_timer_cb, c);
	}
	if (r >= 0)
		r = sd_event_add_defer(d->event, &c->deferred, conn_deferred_cb, c);
	if (r >= 0)
		r = sd_event_source_set_enabled(c->deferred, SD_EVENT_OFF);
	if (r < 0) {
		log_errno(LOG_ERR, r, "conn=%llu: cannot watch the socket", (unsigned long long)c->id);
		c->io = sd_event_source_disable_unref(c->io);
		c->timer = sd_event_source_disable_unref(c->timer);
		c->deferred = sd_event_source_disable_unref(c->deferred);
		close(c->fd);
		peer_done(&c->peer);
		tenant_unref(c->tenant);
		free(c);
		return r;
	}
	if (tenant)
		tenant_conn_opened(tenant);
	daemon_conn_added(d, c);
	stats_conn_event(STATS_CONN_ACCEPTED);
	stats_conn_current(+1);
	conn_log(c, LOG_DEBUG, "accepted (gid=%u)", (unsigned)c->peer.gid);
	if (ret)
		*ret = c;
	return 0;
}

struct conn *conn_ref(struct conn *c)
{
	if (c)
		c->n_ref++;
	return c;
}

static void conn_free(struct conn *c)
{
	c->deferred = sd_event_source_disable_unref(c->deferred);
	sb_buf_free(&c->in);
	sb_buf_free(&c->out);
	peer_done(&c->peer);
	tenant_unref(c->tenant);
	free(c);
}

struct conn *conn_unref(struct conn *c)
{
	if (!c)
		return NULL;
	if (--c->n_ref == 0)
		conn_free(c);
	return NULL;
}

bool conn_is_open(const struct conn *c)
{
	return c->state == CONN_HELLO || c->state == CONN_READY;
}

void conn_cancel_all(struct conn *c)
{
	/* A cancel callback finishes its own request (removing it from the list), and could in
	 * principle finish others: restart from the head each time, skipping those already
	 * cancelled. At most max_inflight entries. */
	for (;;) {
		struct request_ctx *rc = c->requests;
		while (rc && request_ctx_cancel_started(rc))
			rc = request_ctx_next(rc);
		if (!rc)
			break;
		request_ctx_cancel(rc);
	}
}

void conn_close(struct conn *c, const char *why)
{
	struct daemon *d = c->d;

	if (c->state == CONN_CLOSED)
		return;
	conn_log(c, LOG_DEBUG, "closed: %s", why);
	c->state = CONN_CLOSED;
	c->io = sd_event_source_disable_unref(c->io);
	c->timer = sd_event_source_disable_unref(c->timer);
	c->deferred = sd_event_source_disable_unref(c->deferred);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	sb_buf_free(&c->in);
	conn_cancel_all(c);
	if (c->tenant)
		tenant_conn_closed(c->tenant);
	stats_conn_current(-1);
	daemon_conn_removed(d, c);
	conn_unref(c); /* the daemon's reference */
}

void conn_request_finished(struct conn *c)
{
	if (c->state == CONN_CLOSED)
		return;
	if (c->in_io)
		return; /* the I/O callback settles at its end */
	conn_schedule(c); /* never inline: see conn_schedule() */
}
