/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A fake broker for the client's tests (header-only): a thread that listens on a Unix socket
 * and hands every accepted connection to a scenario function, which may answer correctly,
 * with garbage, too much, too late or not at all. It counts connections and request frames
 * so that tests can tell whether the library retried.
 */

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "proto/buf.h"
#include "proto/frame.h"
#include "proto/limits.h"
#include "proto/message.h"

struct fake;
typedef void (*fake_scenario)(struct fake *f, int fd);

struct fake {
	char dir[64];
	char path[108];
	int lfd;
	pthread_t thread;
	fake_scenario scenario;
	atomic_int accepted;
	atomic_int frames; /* request frames read by fake_read_request */
	atomic_bool stop;
};

/* Writes all of p[0..n); false when the peer went away. */
static inline bool fake_write(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t k = send(fd, c, n, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return false;
		c += k;
		n -= (size_t)k;
	}
	return true;
}

/* Reads one request frame; fills req (release with sb_request_done). false on EOF or
 * garbage. */
static inline bool fake_read_request(struct fake *f, int fd, struct sb_request *req)
{
	uint8_t hdr[4];
	uint8_t *body;
	size_t len, got = 0;
	bool id_known;
	struct sb_proto_error e;

	while (got < 4) {
		ssize_t k = recv(fd, hdr + got, 4 - got, 0);
		if (k <= 0)
			return false;
		got += (size_t)k;
	}
	len = sb_be32_get(hdr);
	if (len == 0 || len > SB_MAX_REQUEST_FRAME_LIMIT)
		return false;
	body = malloc(len);
	for (got = 0; got < len;) {
		ssize_t k = recv(fd, body + got, len - got, 0);
		if (k <= 0) {
			free(body);
			return false;
		}
		got += (size_t)k;
	}
	f->frames++;
	if (sb_request_decode(req, body, len, &id_known, &e) < 0) {
		free(body);
		return false;
	}
	free(body);
	return true;
}

/* Sends an encoded reply. */
static inline bool fake_send_reply(int fd, const struct sb_reply *rep)
{
	struct sb_buf out;
	bool ok;

	sb_buf_init(&out, SB_MAX_REPLY_FRAME_LIMIT + 4);
	if (sb_reply_encode(rep, &out, SB_MAX_REPLY_FRAME_LIMIT) < 0) {
		sb_buf_free(&out);
		return false;
	}
	ok = fake_write(fd, sb_buf_ptr(&out), sb_buf_len(&out));
	sb_buf_free(&out);
	return ok;
}

/* Reads hello and answers it like a broker, with the given caps. */
static inline bool fake_hello(struct fake *f, int fd, uint64_t version, uint64_t max_reply)
{
	static const char *ops[] = {"hello", "ping", "health", "exchange", "insert_records"};
	struct sb_request req;
	struct sb_reply rep = {.ok = true, .op = SB_OP_HELLO};

	if (!fake_read_request(f, fd, &req))
		return false;
	rep.id = req.id;
	sb_request_done(&req);
	rep.u.hello = (struct sb_hello_result){
		.version = version, .tenant = "fake", .server = "skybrokerd/fake",
		.operations = {.set = true, .n = 5, .v = ops},
		.max_request_frame = 65536, .max_reply_frame = max_reply,
	};
	return fake_send_reply(fd, &rep);
}

/* Answers one request ok with an empty result (ping). */
static inline bool fake_answer_ok(struct fake *f, int fd)
{
	struct sb_request req;
	struct sb_reply rep = {.ok = true, .op = SB_OP_PING};

	if (!fake_read_request(f, fd, &req))
		return false;
	rep.id = req.id;
	sb_request_done(&req);
	return fake_send_reply(fd, &rep);
}

static inline void *fake_main(void *arg)
{
	struct fake *f = arg;

	while (!f->stop) {
		int fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (f->stop) {
			close(fd);
			break;
		}
		f->accepted++;
		f->scenario(f, fd);
		close(fd);
	}
	return NULL;
}

static inline void fake_start(struct fake *f, fake_scenario s)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/sb-fake.XXXXXX");
	if (!mkdtemp(f->dir))
		abort();
	snprintf(f->path, sizeof(f->path), "%s/fake.sock", f->dir);
	f->scenario = s;
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memcpy(sa.sun_path, f->path, strlen(f->path) + 1);
	if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(f->lfd, 16) < 0)
		abort();
	pthread_create(&f->thread, NULL, fake_main, f);
}

static inline void fake_stop(struct fake *f)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	f->stop = true;
	memcpy(sa.sun_path, f->path, strlen(f->path) + 1);
	connect(fd, (struct sockaddr *)&sa, sizeof(sa)); /* wakes accept */
	pthread_join(f->thread, NULL);
	close(fd);
	close(f->lfd);
	unlink(f->path);
	rmdir(f->dir);
}
