/* SPDX-License-Identifier: MIT */
/*
 * Hostile and heavy clients while a well-behaved client keeps getting answers: a client
 * trickling one byte a second before hello (closed by hello_timeout) and after hello (closed
 * by idle_timeout, since only whole requests count as activity), a client that never reads
 * its replies, and 5,000 concurrent connections. Also the connection limits.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "proto/frame.h"
#include "proto/limits.h"

#define N_CONNS 5000

static struct sbt_daemon D;
static struct sbt_client *good;

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int group_setup(void **state)
{
	char conf[8192];
	const char *names[] = {"acme"};
	const char *extra[] = {"allow_uids = 0\n"};

	(void)state;
	sbt_daemon_init(&D);
	sbt_config(&D, conf, sizeof(conf),
		   "max_connections = 6000\n"
		   "max_connections_per_uid = 6000\n"
		   "hello_timeout = 2s\n"
		   "idle_timeout = 3s\n"
		   "max_inflight_per_connection = 4\n"
		   "max_reply_frame = 64K\n",
		   1, names, extra);
	if (sbt_daemon_start(&D, conf, NULL) < 0)
		return -1;
	good = sbt_connect(D.socket);
	return good && sbt_hello(good, NULL) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	sbt_client_free(good);
	return sbt_daemon_stop(&D) == 0 ? 0 : -1;
}

/* The good client idles longer than idle_timeout between tests; reconnect when closed. */
static void good_ping(void)
{
	if (sbt_ping(good) == 0)
		return;
	sbt_client_free(good);
	good = sbt_connect_hello(D.socket);
	assert_int_equal(sbt_ping(good), 0);
}

/* Sends bytes one per second until the daemon closes the connection; pings in between. */
static void trickle_until_closed(struct sbt_client *c, const uint8_t *bytes, size_t n)
{
	struct timespec second = {1, 0};
	size_t i = 0;
	uint64_t deadline = now_ms() + SBT_TIMEOUT_MS;

	for (;;) {
		uint8_t b;
		ssize_t k;

		assert_true(now_ms() < deadline);
		if (send(c->fd, &bytes[i % n], 1, MSG_NOSIGNAL) < 0)
			break; /* EPIPE / ECONNRESET: closed */
		i++;
		/* the daemon keeps serving others meanwhile */
		assert_int_equal(sbt_ping(good), 0);
		nanosleep(&second, NULL);
		k = recv(c->fd, &b, 1, MSG_DONTWAIT);
		if (k == 0 || (k < 0 && errno != EAGAIN))
			break;
	}
	assert_true(i < n); /* closed before a whole frame arrived */
}

static void test_slow_client_before_hello(void **state)
{
	struct sbt_client *c = sbt_connect(D.socket);
	uint8_t frame[64] = {0, 0, 0, 40};

	(void)state;
	assert_non_null(c);
	good_ping();
	trickle_until_closed(c, frame, sizeof(frame));
	sbt_client_free(c);
	assert_int_equal(sbt_log_wait(&D, "no hello within 2000 ms", SBT_TIMEOUT_MS), 0);
}

static void test_slow_client_after_hello(void **state)
{
	struct sbt_client *c = sbt_connect(D.socket);
	uint8_t frame[64] = {0, 0, 0, 40};

	(void)state;
	assert_non_null(c);
	assert_int_equal(sbt_hello(c, NULL), 0);
	good_ping();
	trickle_until_closed(c, frame, sizeof(frame));
	sbt_client_free(c);
	assert_int_equal(sbt_log_wait(&D, "closing: idle for 3000 ms", SBT_TIMEOUT_MS), 0);
}

static void test_client_not_reading(void **state)
{
	/* pipelines many requests and never reads: the daemon stops reading it (backpressure)
	 * instead of buffering without bound, and serves others */
	struct sbt_client *c = sbt_connect(D.socket);
	int flags;

	(void)state;
	assert_non_null(c);
	assert_int_equal(sbt_hello(c, NULL), 0);
	flags = fcntl(c->fd, F_GETFL);
	fcntl(c->fd, F_SETFL, flags | O_NONBLOCK);
	for (int round = 0; round < 50; round++) {
		for (int i = 0; i < 200; i++) {
			struct sb_request req = {.op = SB_OP_HEALTH};
			assert_true(sbt_queue(c, &req) > 0);
		}
		/* write what the socket takes; stop when it is full */
		ssize_t k = send(c->fd, sb_buf_ptr(&c->out), sb_buf_len(&c->out), MSG_NOSIGNAL);
		if (k > 0)
			sb_buf_consume(&c->out, (size_t)k);
		if (k < 0 && errno == EAGAIN)
			break;
		good_ping();
	}
	good_ping();
	sbt_client_free(c);
	good_ping();
}

static int raw_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = {.tv_sec = SBT_TIMEOUT_MS / 1000};

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static int read_full(int fd, uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t k = recv(fd, p, n, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static enum sb_op hello_op(uint64_t id, void *ud)
{
	(void)ud;
	return id == 1 ? SB_OP_HELLO : SB_OP_INVALID;
}

/* Reads one reply frame and checks it is the ok hello reply. */
static int read_hello_reply(int fd)
{
	uint8_t hdr[4], body[4096];
	struct sb_reply rep;
	uint32_t n;
	int r;

	if (read_full(fd, hdr, 4) < 0)
		return -1;
	n = sb_be32_get(hdr);
	if (n == 0 || n > sizeof(body) || read_full(fd, body, n) < 0)
		return -1;
	r = sb_reply_decode(&rep, body, n, hello_op, NULL, NULL);
	if (r < 0)
		return -1;
	r = rep.ok && rep.id == 1 ? 0 : -1;
	sb_reply_done(&rep);
	return r;
}

static void test_5000_connections(void **state)
{
	struct sb_buf hello;
	uint64_t versions[] = {1};
	struct sb_request req = {.op = SB_OP_HELLO, .id = 1};
	struct rlimit rl;
	int *fds;
	uint64_t t0, t_open, t_replies;
	struct sbt_client *admin;
	struct sb_reply rep;

	(void)state;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < N_CONNS + 100) {
		print_message("RLIMIT_NOFILE %llu is too low for %d connections\n",
			      (unsigned long long)rl.rlim_cur, N_CONNS);
		fail();
	}
	req.u.hello.versions = (struct sb_u64v){.set = true, .n = 1, .v = versions};
	req.u.hello.client = "load/1";
	sb_buf_init(&hello, 4096);
	assert_int_equal(sb_request_encode(&req, &hello, SB_MAX_HELLO_FRAME), 0);
	fds = calloc(N_CONNS, sizeof(*fds));
	assert_non_null(fds);
	good_ping();

	t0 = now_ms();
	for (int i = 0; i < N_CONNS; i++) {
		fds[i] = raw_connect(D.socket);
		if (fds[i] < 0)
			print_message("connect %d: %s\n", i, strerror(-fds[i]));
		assert_true(fds[i] >= 0);
		assert_int_equal(send(fds[i], sb_buf_ptr(&hello), sb_buf_len(&hello), MSG_NOSIGNAL),
				 (ssize_t)sb_buf_len(&hello));
		if (i % 500 == 0)
			assert_int_equal(sbt_ping(good), 0);
	}
	t_open = now_ms();
	for (int i = 0; i < N_CONNS; i++) {
		assert_int_equal(read_hello_reply(fds[i]), 0);
		if (i % 500 == 0)
			assert_int_equal(sbt_ping(good), 0);
	}
	t_replies = now_ms();
	assert_int_equal(sbt_ping(good), 0);

	/* all of them are open at once: ask the admin socket */
	admin = sbt_connect_hello(D.admin);
	assert_int_equal(sbt_call(admin, SB_OP_STATS, &rep), 0);
	assert_true(rep.ok);
	{
		const msgpack_object *m = rep.u.stats.connections;
		uint64_t current = 0;
		for (uint32_t k = 0; k < m->via.map.size; k++)
			if (m->via.map.ptr[k].key.via.str.size == 7 &&
			    memcmp(m->via.map.ptr[k].key.via.str.ptr, "current", 7) == 0)
				current = m->via.map.ptr[k].val.via.u64;
		assert_true(current >= N_CONNS + 2);
	}
	sb_reply_done(&rep);
	sbt_client_free(admin);

	for (int i = 0; i < N_CONNS; i++)
		close(fds[i]);
	free(fds);
	sb_buf_free(&hello);
	assert_int_equal(sbt_ping(good), 0);
	print_message("%d connections: connect+hello sent in %llu ms, all hello replies in %llu ms\n",
		      N_CONNS, (unsigned long long)(t_open - t0), (unsigned long long)(t_replies - t0));
}

static void test_connection_limits(void **state)
{
	/* a second daemon with small limits: the per-uid limit refuses the extra connection
	 * with rate_limited, and a closed connection frees its slot */
	struct sbt_daemon d2;
	char conf[8192];
	const char *names[] = {"acme"};
	const char *extra[] = {"allow_uids = 0\n"};
	struct sbt_client *c[3];
	struct sb_reply rep;

	(void)state;
	sbt_daemon_init(&d2);
	sbt_config(&d2, conf, sizeof(conf), "max_connections_per_uid = 2\n", 1, names, extra);
	assert_int_equal(sbt_daemon_start(&d2, conf, NULL), 0);
	c[0] = sbt_connect(d2.socket);
	c[1] = sbt_connect(d2.socket);
	assert_non_null(c[0]);
	assert_non_null(c[1]);
	assert_int_equal(sbt_hello(c[0], NULL), 0);
	assert_int_equal(sbt_hello(c[1], NULL), 0);
	c[2] = sbt_connect(d2.socket);
	assert_non_null(c[2]);
	assert_int_equal(sbt_recv(c[2], &rep), 0);
	assert_false(rep.ok);
	assert_string_equal(sbt_outcome(&rep), "rate_limited");
	sb_reply_done(&rep);
	assert_int_equal(sbt_wait_closed(c[2]), 0);
	sbt_client_free(c[2]);
	assert_int_equal(sbt_log_wait(&d2, "max_connections_per_uid (2) reached", SBT_TIMEOUT_MS), 0);

	sbt_client_free(c[0]);
	/* the slot frees once the daemon has seen the close: retry until admitted */
	for (int tries = 0;; tries++) {
		struct timespec ms10 = {0, 10 * 1000 * 1000};
		c[2] = sbt_connect(d2.socket);
		assert_non_null(c[2]);
		if (sbt_hello(c[2], NULL) == 0)
			break;
		sbt_client_free(c[2]);
		assert_true(tries < SBT_TIMEOUT_MS / 10);
		nanosleep(&ms10, NULL);
	}
	assert_int_equal(sbt_ping(c[2]), 0);
	sbt_client_free(c[1]);
	sbt_client_free(c[2]);
	assert_int_equal(sbt_daemon_stop(&d2), 0);
}

static void test_global_limit_spares_admin(void **state)
{
	struct sbt_daemon d2;
	char conf[8192];
	const char *names[] = {"acme"};
	const char *extra[] = {"allow_uids = 0\n"};
	struct sbt_client *c[3], *admin;
	struct sb_reply rep;

	(void)state;
	sbt_daemon_init(&d2);
	sbt_config(&d2, conf, sizeof(conf), "max_connections = 2\n", 1, names, extra);
	assert_int_equal(sbt_daemon_start(&d2, conf, NULL), 0);
	for (int i = 0; i < 2; i++) {
		c[i] = sbt_connect(d2.socket);
		assert_non_null(c[i]);
		assert_int_equal(sbt_hello(c[i], NULL), 0);
	}
	c[2] = sbt_connect(d2.socket);
	assert_non_null(c[2]);
	assert_int_equal(sbt_recv(c[2], &rep), 0);
	assert_string_equal(sbt_outcome(&rep), "rate_limited");
	sb_reply_done(&rep);
	assert_int_equal(sbt_wait_closed(c[2]), 0);
	assert_int_equal(sbt_log_wait(&d2, "max_connections (2) reached", SBT_TIMEOUT_MS), 0);
	/* the admin socket still answers, and counts the refusal */
	admin = sbt_connect_hello(d2.admin);
	assert_int_equal(sbt_call(admin, SB_OP_STATS, &rep), 0);
	assert_true(rep.ok);
	{
		const msgpack_object *m = rep.u.stats.connections;
		uint64_t refused = 0;
		for (uint32_t k = 0; k < m->via.map.size; k++)
			if (m->via.map.ptr[k].key.via.str.size == 13 &&
			    memcmp(m->via.map.ptr[k].key.via.str.ptr, "refused_limit", 13) == 0)
				refused = m->via.map.ptr[k].val.via.u64;
		assert_int_equal(refused, 1);
	}
	sb_reply_done(&rep);
	for (int i = 0; i < 3; i++)
		sbt_client_free(c[i]);
	sbt_client_free(admin);
	assert_int_equal(sbt_daemon_stop(&d2), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slow_client_before_hello),
		cmocka_unit_test(test_slow_client_after_hello),
		cmocka_unit_test(test_client_not_reading),
		cmocka_unit_test(test_5000_connections),
		cmocka_unit_test(test_connection_limits),
		cmocka_unit_test(test_global_limit_spares_admin),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
