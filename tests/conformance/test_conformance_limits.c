/* SPDX-License-Identifier: MIT */
/*
 * Conformance, part 2: what takes time or a limit (PROTOCOL.md sections 6 and 8), against a
 * skybrokerd with small limits: max_inflight advertised and backpressure instead of refusal,
 * an id reused while in flight, the tenant's rate limit per request, the hello and idle
 * timeouts, too many connections per uid, a reload that no longer admits the peer, and
 * shutting_down. Pings are delayed 3 s (the TEST-ONLY test_ping_delay) so that requests
 * stay in flight (300 ms and then 1 s were too short under ASan in CI: the broker had answered
 * the ping in flight at SIGTERM and exited before the test's next ping reached it).
 */
#include <signal.h>

#include "conformance.h"

#define BROKER_EXTRA                                                                       \
	"hello_timeout = 1s\nidle_timeout = 2s\nmax_connections_per_uid = 6\n"             \
	"max_inflight_per_connection = 4\ntest_ping_delay = 3s\nshutdown_timeout = 30s\n"

static struct sbt_daemon D;

/* The configuration, with the tenant admitting uid (0: the tests). */
static void write_config(char *conf, size_t size, unsigned uid)
{
	const char *names[] = {"acme"};
	char extra[128];
	const char *extras[] = {extra};

	snprintf(extra, sizeof(extra), "allow_uids = %u\nrate_limit = 1\n", uid);
	sbt_config(&D, conf, size, BROKER_EXTRA, 1, names, extras);
}

static int limits_setup(void **state)
{
	static char conf[8192];

	(void)state;
	sbt_daemon_init(&D);
	write_config(conf, sizeof(conf), 0);
	return sbt_daemon_start(&D, conf, NULL) == 0 ? 0 : -1;
}

static int limits_teardown(void **state)
{
	(void)state;
	return sbt_daemon_stop(&D) == 0 ? 0 : -1;
}

/* Receives n replies in any order (section 6, item 4) into reps[id - first]. */
static void recv_by_id(int fd, struct mpv **reps, uint64_t first, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct mpv *rep;
		const struct mpv *id;

		assert_int_equal(cf_recv(fd, &rep, CF_TIMEOUT_MS), 0);
		id = mpv_get(rep, "id");
		assert_true(id && id->t == MPV_UINT && id->u >= first && id->u < first + n);
		assert_null(reps[id->u - first]);
		reps[id->u - first] = rep;
	}
}

/* Sends pings with ids first..first+n-1 in one write. */
static void pings(int fd, uint64_t first, size_t n)
{
	struct mpw all;

	mpw_init(&all);
	for (size_t i = 0; i < n; i++) {
		struct mpw w, f;

		mpw_init(&w);
		mpw_request(&w, first + i, "ping", 0);
		mpw_frame(&w, &f);
		mpw_raw(&all, f.p, f.n);
		mpw_free(&w);
		mpw_free(&f);
	}
	assert_int_equal(cf_send_raw(fd, all.p, all.n), 0);
	mpw_free(&all);
}

/* Section 6, item 3: max_inflight is advertised, and requests beyond it wait, never fail. */
static void test_max_inflight(void **state)
{
	int fd = cf_connect(D.socket);
	struct mpv *rep, *reps[10] = {0};

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(cf_hello(fd, 1, &rep), 0);
	assert_int_equal(cft_uint(cf_check_ok(rep, 1, "hello"), "max_inflight"), 4);
	mpv_free(rep);
	pings(fd, 100, 10); /* 10 pings of 3 s, 4 at a time */
	recv_by_id(fd, reps, 100, 10);
	for (size_t i = 0; i < 10; i++) {
		cf_check_ok(reps[i], 100 + i, "a ping beyond max_inflight");
		mpv_free(reps[i]);
	}
	close(fd);
}

/* Section 5.1 and section 8: an id reused while its request is in flight. */
static void test_id_in_flight(void **state)
{
	int fd = cf_open(D.socket);

	(void)state;
	pings(fd, 5, 1);
	pings(fd, 5, 1);
	/* the second is refused at once; the first one's reply follows 3 s later */
	cf_recv_error(fd, 5, "bad_request", "id 5 while id 5 is in flight");
	cf_recv_ok(fd, 5, "the first ping with id 5");
	pings(fd, 5, 1); /* answered: the id may be used again */
	cf_recv_ok(fd, 5, "id 5 again, once answered");
	close(fd);
}

/* Section 8: a request over the tenant's rate limit (rate_limit = 1, burst 1). Only the
 * operations that carry a subject token count; the connection keeps serving. */
static void test_rate_limited(void **state)
{
	int fd = cf_open(D.socket);
	struct mpv *rep;
	int r;

	(void)state;
	cft_exchange(fd, 2, "abc.def.ghi");
	cft_exchange(fd, 3, "abc.def.ghi");
	assert_int_equal(cf_recv(fd, &rep, CF_TIMEOUT_MS), 0);
	/* the first is validated (and refused), the second is over the budget */
	cf_check_error(rep, 2, "unauthenticated", "the first exchange");
	mpv_free(rep);
	r = cf_recv(fd, &rep, CF_TIMEOUT_MS);
	assert_int_equal(r, 0);
	cf_check_error(rep, 3, "rate_limited", "the second exchange within a second");
	mpv_free(rep);
	pings(fd, 4, 1);
	cf_recv_ok(fd, 4, "ping, not rate-limited");
	close(fd);
}

/* Section 8: no hello within the hello timeout (1 s here): closed, nothing sent. */
static void test_hello_timeout(void **state)
{
	uint64_t start = cft_now_ms();
	int fd = cf_connect(D.socket);

	(void)state;
	assert_true(fd >= 0);
	cft_closed(fd, "no hello");
	assert_true(cft_now_ms() - start >= 900);
	/* a partial hello does not count either */
	start = cft_now_ms();
	fd = cf_connect(D.socket);
	assert_int_equal(cf_send_raw(fd, "\0\0\0\x20\x84", 5), 0);
	cft_closed(fd, "half a hello");
	assert_true(cft_now_ms() - start >= 900);
}

/* Section 8: idle past the idle timeout (2 s here) with nothing in flight: closed, nothing
 * sent. */
static void test_idle_timeout(void **state)
{
	uint64_t start = cft_now_ms();
	int fd = cf_open(D.socket);

	(void)state;
	cft_closed(fd, "idle");
	assert_true(cft_now_ms() - start >= 1900);
}

/* Section 8: too many connections (max_connections_per_uid = 6): rate_limited, id 0, before
 * anything is read, then the close. */
static void test_too_many_connections(void **state)
{
	int fds[8], n = 0;
	bool refused = false;

	(void)state;
	while (n < 8 && !refused) {
		struct mpv *rep;
		const struct mpv *ok;
		int fd = cf_connect(D.socket);

		assert_true(fd >= 0);
		assert_int_equal(cf_hello(fd, 1, &rep), 0);
		ok = mpv_get(rep, "ok");
		if (ok && ok->t == MPV_BOOL && ok->b) {
			fds[n++] = fd;
		} else {
			/* the refusal came before our hello was read */
			cf_check_error(rep, 0, "rate_limited", "the 7th connection");
			cft_closed(fd, "the 7th connection");
			refused = true;
		}
		mpv_free(rep);
	}
	assert_true(refused);
	assert_true(n <= 6);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	/* the broker sees those closes in its own time: wait until a connection is admitted
	 * again, so that the next test starts with the slots free */
	for (int tries = 0;; tries++) {
		struct mpv *rep;
		const struct mpv *ok;
		int fd = cf_connect(D.socket);

		assert_true(fd >= 0 && tries < 1000);
		assert_int_equal(cf_hello(fd, 1, &rep), 0);
		ok = mpv_get(rep, "ok");
		n = ok && ok->t == MPV_BOOL && ok->b;
		mpv_free(rep);
		close(fd);
		if (n)
			break;
		usleep(10 * 1000);
	}
}

/* Section 8: a reload after which the peer would no longer be admitted: forbidden, id 0, and
 * the close; a request in flight gets no reply. Then the tenant is given back. */
static void test_reload_revokes(void **state)
{
	static char conf[8192];
	int fd = cf_open(D.socket);
	struct mpv *rep;

	(void)state;
	pings(fd, 9, 1); /* in flight for 3 s */
	write_config(conf, sizeof(conf), 4242);
	sbt_write_file(D.conf, conf, 0644);
	sbt_daemon_kill(&D, SIGHUP);
	assert_int_equal(cf_recv(fd, &rep, CF_TIMEOUT_MS), 0);
	cf_check_error(rep, 0, "forbidden", "after a reload that no longer admits us");
	assert_true(cf_message_has(rep, "reload"));
	mpv_free(rep);
	cft_closed(fd, "revoked");
	assert_int_equal(sbt_daemon_wait_notify(&D, "READY=1", SBT_TIMEOUT_MS), 0);
	write_config(conf, sizeof(conf), 0);
	sbt_write_file(D.conf, conf, 0644);
	sbt_daemon_kill(&D, SIGHUP);
	assert_int_equal(sbt_daemon_wait_notify(&D, "READY=1", SBT_TIMEOUT_MS), 0);
}

/* Section 6, item 6 and section 9: on shutdown, requests in flight are answered and new ones
 * get shutting_down (retryable). Last: the daemon exits. */
static void test_shutting_down(void **state)
{
	int fd = cf_open(D.socket);
	struct mpv *reps[2] = {0};

	(void)state;
	pings(fd, 1, 1); /* in flight for 3 s */
	sbt_daemon_kill(&D, SIGTERM);
	assert_int_equal(sbt_daemon_wait_notify(&D, "STOPPING=1", SBT_TIMEOUT_MS), 0);
	pings(fd, 2, 1);
	recv_by_id(fd, reps, 1, 2);
	cf_check_ok(reps[0], 1, "the ping in flight at SIGTERM");
	cf_check_error(reps[1], 2, "shutting_down", "a ping after SIGTERM");
	mpv_free(reps[0]);
	mpv_free(reps[1]);
	cft_closed(fd, "the broker exits");
	assert_int_equal(sbt_daemon_wait_exit(&D, SBT_TIMEOUT_MS), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_max_inflight),
		cmocka_unit_test(test_id_in_flight),
		cmocka_unit_test(test_rate_limited),
		cmocka_unit_test(test_hello_timeout),
		cmocka_unit_test(test_idle_timeout),
		cmocka_unit_test(test_too_many_connections),
		cmocka_unit_test(test_reload_revokes),
		cmocka_unit_test(test_shutting_down),
	};

	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	if (geteuid() != 0) {
		fprintf(stderr, "conformance tests run as root (other uids, sockets)\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, limits_setup, limits_teardown);
}
