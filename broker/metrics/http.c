/* SPDX-License-Identifier: MIT */
/* http: the bounded metrics listener (GET /metrics only) on the sd-event loop. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "metrics/http.h"
#include "metrics/httphead.h"
#include "metrics/series.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/inetaddr.h"
#include "util/list.h"
#include "util/log.h"

/* Below the client sockets' priority (0): when both are ready the Unix-socket clients go first,
 * so a busy or hostile scraper costs them as little as the loop allows. */
#define HTTP_PRIORITY (SD_EVENT_PRIORITY_NORMAL + 10)

struct mclient {
	struct mhttp *h;
	struct mclient *next, *prev;
	int fd;
	sd_event_source *io, *deadline;
	char in[HTTP_MAX_REQUEST];
	size_t in_len;
	struct text out; /* the whole answer, head and body */
	size_t out_off;
	bool answering;
	bool draining; /* answered and shut down for writing: waiting for the client's EOF */
};

struct mhttp {
	sd_event *event;
	int fd;
	sd_event_source *io;
	char *addr;
	mhttp_render_t render;
	struct mclient *clients;
	unsigned n_clients;
};

static void client_free(struct mclient *c)
{
	if (!c)
		return;
	LIST_REMOVE(c->h->clients, c);
	c->h->n_clients--;
	sd_event_source_disable_unref(c->io);
	sd_event_source_disable_unref(c->deadline);
	if (c->fd >= 0)
		close(c->fd);
	text_done(&c->out);
	free(c);
}

/* Writes what is left; 1 when all is out, 0 to wait, <0 broken. */
static int client_flush(struct mclient *c)
{
	while (c->out_off < sb_buf_len(&c->out.b)) {
		ssize_t n = send(c->fd, sb_buf_ptr(&c->out.b) + c->out_off,
				 sb_buf_len(&c->out.b) - c->out_off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return -errno;
		}
		c->out_off += (size_t)n;
	}
	return 1;
}

/*
 * After a flush that returned r: all out (1) means a lingering close: the write side is shut
 * down and what the client still sends is read and dropped until it closes (or the deadline
 * comes), since closing with unread bytes would reset the connection and could destroy the
 * answer before the client reads it. Broken (< 0): freed.
 */
static void client_continue(struct mclient *c, int r)
{
	if (r == 0)
		return;
	if (r < 0 || shutdown(c->fd, SHUT_WR) < 0) {
		client_free(c);
		return;
	}
	c->draining = true;
	(void)sd_event_source_set_io_events(c->io, EPOLLIN);
}

/* Reads and drops what the client sends after its answer; frees it at EOF. */
static void client_drain(struct mclient *c)
{
	char junk[512];

	/* a bounded batch per wake-up: a client that never stops sending gets its deadline */
	for (int i = 0; i < 16; i++) {
		ssize_t n = recv(c->fd, junk, sizeof(junk), MSG_DONTWAIT);

		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		client_free(c);
		return;
	}
}

/* Queues a complete answer and starts writing it; reading stops. */
static void client_answer(struct mclient *c, const char *status, const struct text *body)
{
	size_t len = body ? sb_buf_len(&body->b) : strlen(status) + 1;

	c->answering = true;
	text_init(&c->out, TEXT_MAX + 512);
	text_printf(&c->out,
		    "HTTP/1.1 %s\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
		    "Content-Length: %zu\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
		    status, len);
	if (body && !c->out.err)
		c->out.err = sb_buf_append(&c->out.b, sb_buf_ptr(&body->b), sb_buf_len(&body->b));
	else if (!body)
		text_printf(&c->out, "%s\n", status);
	(void)sd_event_source_set_io_events(c->io, EPOLLOUT);
	client_continue(c, c->out.err ? c->out.err : client_flush(c));
}

/* The request head is complete (or too large, or broken): answer it. */
static void client_request(struct mclient *c, enum httphead_result hr)
{
	struct text body;

	if (hr != HTTPHEAD_METRICS) {
		metrics_global()->http_bad_request++;
		client_answer(c, httphead_status(hr), NULL);
		return;
	}
	text_init(&body, TEXT_MAX);
	c->h->render(&body);
	if (body.err) {
		log_errno(LOG_ERR, body.err, "metrics: cannot render the exposition");
		client_answer(c, "500 Internal Server Error", NULL);
	} else {
		metrics_global()->http_served++;
		client_answer(c, httphead_status(hr), &body);
	}
	text_done(&body);
}

/* Reads what is there; answers once the head is complete (or cannot be). */
static void client_read(struct mclient *c)
{
	for (;;) {
		enum httphead_result hr;
		ssize_t n;

		n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			client_free(c); /* gone before asking anything complete */
			return;
		}
		c->in_len += (size_t)n;
		hr = httphead_check(c->in, c->in_len, sizeof(c->in));
		if (hr != HTTPHEAD_INCOMPLETE) {
			client_request(c, hr);
			return;
		}
	}
}

static int client_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct mclient *c = userdata;

	(void)s;
	(void)fd;
	if (c->draining) {
		client_drain(c);
		return 0;
	}
	if (c->answering) {
		client_continue(c, client_flush(c));
		return 0;
	}
	if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
		client_read(c);
	return 0;
}

static int client_deadline(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct mclient *c = userdata;

	(void)s;
	(void)usec;
	metrics_global()->http_timeouts++;
	client_free(c);
	return 0;
}

/* One accepted socket becomes a client, or is answered 503 and closed when there are many. */
static void client_new(struct mhttp *h, int fd)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
				   "Connection: close\r\n\r\n";
	struct mclient *c;

	if (h->n_clients >= HTTP_MAX_CLIENTS || !(c = calloc(1, sizeof(*c)))) {
		metrics_global()->http_refused_busy++;
		(void)!send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		close(fd);
		return;
	}
	c->h = h;
	c->fd = fd;
	LIST_PREPEND(h->clients, c);
	h->n_clients++;
	if (sd_event_add_io(h->event, &c->io, fd, EPOLLIN, client_io, c) < 0 ||
	    sd_event_source_set_priority(c->io, HTTP_PRIORITY) < 0 ||
	    sd_event_add_time_relative(h->event, &c->deadline, CLOCK_MONOTONIC, HTTP_DEADLINE_USEC,
				       0, client_deadline, c) < 0 ||
	    sd_event_source_set_priority(c->deadline, HTTP_PRIORITY) < 0)
		client_free(c);
}

static int listener_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct mhttp *h = userdata;

	(void)s;
	(void)revents;
	/* A bounded batch per wake-up: the Unix-socket clients get their turn in between. */
	for (int i = 0; i < 16; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (cfd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_errno(LOG_WARNING, -errno, "metrics: accept");
			return 0;
		}
		client_new(h, cfd);
	}
	return 0;
}

static int listen_on(const char *addr)
{
	struct sockaddr_storage sa;
	socklen_t len;
	int fd, one = 1;

	if (inetaddr_parse(addr, &sa, &len) < 0)
		return -EINVAL;
	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, len) < 0 || listen(fd, 64) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

static void mhttp_freep(struct mhttp **h)
{
	mhttp_free(*h);
}

int mhttp_new(sd_event *e, const char *addr, mhttp_render_t render, struct mhttp **ret)
{
	_cleanup_(mhttp_freep) struct mhttp *h = calloc(1, sizeof(*h));
	int r;

	if (!h)
		return -ENOMEM;
	h->fd = -1;
	h->event = sd_event_ref(e);
	h->render = render;
	h->addr = strdup(addr);
	if (!h->addr)
		return -ENOMEM;
	h->fd = listen_on(addr);
	if (h->fd < 0)
		return log_errno(LOG_ERR, h->fd, "metrics: cannot listen on %s", addr);
	r = sd_event_add_io(e, &h->io, h->fd, EPOLLIN, listener_io, h);
	if (r >= 0)
		r = sd_event_source_set_priority(h->io, HTTP_PRIORITY);
	if (r < 0)
		return log_errno(LOG_ERR, r, "metrics: cannot watch %s", addr);
	log_info("metrics: serving GET /metrics on %s", addr);
	*ret = TAKE_PTR(h);
	return 0;
}

struct mhttp *mhttp_free(struct mhttp *h)
{
	if (!h)
		return NULL;
	while (h->clients)
		client_free(h->clients);
	sd_event_source_disable_unref(h->io);
	if (h->fd >= 0)
		close(h->fd);
	sd_event_unref(h->event);
	free(h->addr);
	free(h);
	return NULL;
}

const char *mhttp_addr(const struct mhttp *h)
{
	return h->addr;
}
