/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A tiny HTTP/1.1 server on 127.0.0.1 for the upstream/exchange unit tests, driven by the
 * same sd-event loop as the code under test (header-only). One request per connection; the
 * test's handler decides each answer: a status and body, a dropped connection, or silence.
 */

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <systemd/sd-event.h>

enum th_action {
	TH_RESPOND,
	TH_DROP, /* close without a response */
	TH_HANG, /* never answer */
};

struct th_reply {
	enum th_action action;
	int status;
	const char *content_type; /* NULL: application/json */
	const char *body;         /* NULL: "" */
	size_t body_len;          /* 0: strlen(body) */
	const char *request_id;   /* X-Request-ID header, or NULL */
};

struct th_server;
typedef void (*th_handler_t)(struct th_server *s, unsigned n, const char *method,
			     const char *path, const char *body, struct th_reply *reply);

struct th_conn {
	struct th_server *s;
	int fd;
	sd_event_source *src;
	char in[256 * 1024];
	size_t in_len;
	char *out;
	size_t out_len, out_off;
	struct th_conn *next;
};

struct th_server {
	sd_event *event;
	int fd;
	int port;
	sd_event_source *src;
	th_handler_t handler;
	void *userdata;
	unsigned requests;
	char last_body[64 * 1024];
	char last_path[1024];
	char last_head[8192]; /* the request line and headers of the last request */
	struct th_conn *conns;
};

static inline void th_conn_close(struct th_conn *c)
{
	struct th_conn **pp = &c->s->conns;

	while (*pp != c)
		pp = &(*pp)->next;
	*pp = c->next;
	sd_event_source_disable_unref(c->src);
	close(c->fd);
	free(c->out);
	free(c);
}

static inline int th_on_conn(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct th_conn *c = userdata;
	struct th_server *s = c->s;

	if (c->out) {
		ssize_t n = write(fd, c->out + c->out_off, c->out_len - c->out_off);

		if (n > 0)
			c->out_off += (size_t)n;
		if (n < 0 && errno != EAGAIN) {
			th_conn_close(c);
			return 0;
		}
		if (c->out_off == c->out_len)
			th_conn_close(c);
		return 0;
	}
	for (;;) {
		ssize_t n = read(fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len);
		char *hend, *cl, method[16] = "", path[1024] = "";
		size_t need;
		struct th_reply rep = { .action = TH_RESPOND, .status = 200 };

		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0) {
			th_conn_close(c);
			return 0;
		}
		c->in_len += (size_t)n;
		c->in[c->in_len] = '\0';
		hend = strstr(c->in, "\r\n\r\n");
		if (!hend)
			continue;
		need = (size_t)(hend + 4 - c->in);
		cl = strcasestr(c->in, "\r\ncontent-length:");
		if (cl && cl < hend)
			need += strtoul(cl + 17, NULL, 10);
		if (c->in_len < need)
			continue;
		sscanf(c->in, "%15s %1023s", method, path);
		s->requests++;
		snprintf(s->last_body, sizeof(s->last_body), "%s", hend + 4);
		snprintf(s->last_path, sizeof(s->last_path), "%s", path);
		snprintf(s->last_head, sizeof(s->last_head), "%.*s\r\n", (int)(hend - c->in), c->in);
		s->handler(s, s->requests, method, path, hend + 4, &rep);
		if (rep.action == TH_DROP) {
			th_conn_close(c);
			return 0;
		}
		if (rep.action == TH_HANG)
			return 0;
		{
			const char *body = rep.body ? rep.body : "";
			size_t bl = rep.body_len ? rep.body_len : strlen(body);
			char head[512];
			int hl = snprintf(head, sizeof(head),
					  "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
					  "%s%s%sConnection: close\r\n\r\n",
					  rep.status, rep.content_type ? rep.content_type : "application/json",
					  bl, rep.request_id ? "X-Request-ID: " : "",
					  rep.request_id ? rep.request_id : "", rep.request_id ? "\r\n" : "");

			c->out = malloc((size_t)hl + bl);
			memcpy(c->out, head, (size_t)hl);
			memcpy(c->out + hl, body, bl);
			c->out_len = (size_t)hl + bl;
			sd_event_source_set_io_events(c->src, EPOLLOUT);
		}
		return 0;
	}
}

static inline int th_on_accept(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct th_server *s = userdata;
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct th_conn *c;

	if (cfd < 0)
		return 0;
	c = calloc(1, sizeof(*c));
	c->s = s;
	c->fd = cfd;
	c->next = s->conns;
	s->conns = c;
	sd_event_add_io(s->event, &c->src, cfd, EPOLLIN, th_on_conn, c);
	return 0;
}

static inline struct th_server *th_start(sd_event *e, th_handler_t handler, void *userdata)
{
	struct th_server *s = calloc(1, sizeof(*s));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);

	s->event = e;
	s->handler = handler;
	s->userdata = userdata;
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s->fd, 64) < 0 ||
	    getsockname(s->fd, (struct sockaddr *)&a, &al) < 0)
		abort();
	s->port = ntohs(a.sin_port);
	sd_event_add_io(e, &s->src, s->fd, EPOLLIN, th_on_accept, s);
	return s;
}

static inline void th_stop(struct th_server *s)
{
	while (s->conns)
		th_conn_close(s->conns);
	sd_event_source_disable_unref(s->src);
	close(s->fd);
	free(s);
}

/* Runs the loop until *flag becomes non-zero or timeout_ms passes; returns *flag. */
static inline int th_run_until(sd_event *e, const int *flag, unsigned timeout_ms)
{
	for (unsigned waited = 0; !*flag && waited < timeout_ms; waited += 10)
		sd_event_run(e, 10 * 1000);
	return *flag;
}
