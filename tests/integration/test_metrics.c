/* SPDX-License-Identifier: MIT */
/*
 * Metrics against the emulator over TLS: the exposition over HTTP (metrics_listen) and over
 * the admin socket (`metrics`) count what was sent (requests by operation and outcome,
 * upstream calls by kind and status, cache hits, rejections by reason, readiness), pass
 * `promtool check metrics`, carry no token or subject; counters survive a reload; `health`
 * has its detail (JWKS age, the last upstream error); and the listener survives hostile
 * clients (bad requests, garbage, slow clients, too many clients) while the Unix-socket
 * clients are served.
 */
#include <ctype.h>
#include "exchange_daemon.h"
#include "metrics_test.h"

#define TEXT_SIZE (1024 * 1024)

static struct xe_emu E;
static struct sbt_daemon D;
static int port;
static char conf[16384];
static char *text, *buf;

static int group_setup(void **state)
{
	char *cfg = xe_config(NULL), extra[64];
	size_t len;

	(void)state;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (xe_emu_start(&E, cfg) < 0)
		return -1;
	free(cfg);
	port = mt_free_port();
	snprintf(extra, sizeof(extra), "metrics_listen = 127.0.0.1:%d\n", port);
	sbt_daemon_init(&D);
	len = xd_broker(conf, sizeof(conf), &D, extra);
	(void)xd_tenant(conf, sizeof(conf), len, &E, "acme", "sts", NULL, NULL);
	if (sbt_daemon_start(&D, conf, NULL) < 0)
		return -1;
	text = malloc(TEXT_SIZE);
	buf = malloc(TEXT_SIZE);
	return text && buf ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	xd_stop_clean(&D);
	xe_emu_stop(&E);
	free(text);
	free(buf);
	return 0;
}

static double admin_value(const char *series)
{
	assert_int_equal(mt_admin_text(D.admin, text, TEXT_SIZE), 0);
	return mt_value(text, series);
}

#define REQ(op, outcome) "skybroker_requests_total{tenant=\"acme\",op=\"" op "\",outcome=\"" outcome "\"}"

static void test_exposition_counts_and_checks(void **state)
{
	const double pings0 = admin_value(REQ("ping", "ok"));
	const double ex0 = admin_value(REQ("exchange", "ok"));
	struct sbt_client *c = xd_client(D.socket);
	char *tok = xd_mint(&E, "U2metrics", "Viewer", 600, NULL), out[4096];
	const char *body;
	struct sb_reply rep;

	(void)state;
	for (int i = 0; i < 25; i++)
		assert_int_equal(sbt_ping(c), 0);
	for (int i = 0; i < 5; i++) {
		xd_exchange(c, tok, &rep);
		assert_true(rep.ok);
		sb_reply_done(&rep);
	}
	xd_exchange(c, "not.a.token", &rep);
	assert_string_equal(sbt_outcome(&rep), "unauthenticated");
	sb_reply_done(&rep);
	sbt_client_free(c);

	/* over HTTP */
	body = mt_scrape(port, buf, TEXT_SIZE);
	assert_non_null(body);
	assert_non_null(strstr(buf, "Content-Type: text/plain; version=0.0.4"));
	assert_non_null(strstr(buf, "Connection: close"));
	assert_true(mt_value(body, REQ("ping", "ok")) == (pings0 < 0 ? 0 : pings0) + 25);
	assert_true(mt_value(body, REQ("exchange", "ok")) == (ex0 < 0 ? 0 : ex0) + 5);
	assert_true(mt_value(body, REQ("exchange", "unauthenticated")) >= 1);
	assert_true(mt_value(body, "skybroker_upstream_requests_total{tenant=\"acme\",kind=\"sts\",status=\"200\"}") >= 1);
	assert_true(mt_value(body, "skybroker_upstream_requests_total{tenant=\"acme\",kind=\"jwks\",status=\"200\"}") >= 1);
	assert_true(mt_value(body, "skybroker_token_cache_hits_total{tenant=\"acme\"}") >= 4);
	assert_true(mt_value(body, "skybroker_subject_token_rejections_total{tenant=\"acme\",reason=\"invalid\"}") >= 1);
	assert_true(mt_value(body, "skybroker_tenant_ready{tenant=\"acme\"}") == 1);
	assert_true(mt_value(body, "skybroker_jwks_keys{tenant=\"acme\"}") >= 1);
	assert_true(mt_value(body, "skybroker_jwks_age_seconds{tenant=\"acme\"}") >= 0);
	assert_true(mt_value(body, "skybroker_request_duration_seconds_count{tenant=\"acme\",op=\"ping\"}") >= 25);
	assert_non_null(strstr(body, "skybroker_build_info{version=\""));
	/* no token, no subject in any label */
	assert_null(strstr(body, "eyJ"));
	assert_null(strstr(body, "U2metrics"));
	assert_int_equal(mt_promtool(&D, body, out, sizeof(out)), 0);

	/* the same families over the admin socket */
	assert_int_equal(mt_admin_text(D.admin, text, TEXT_SIZE), 0);
	assert_true(mt_value(text, REQ("ping", "ok")) == mt_value(body, REQ("ping", "ok")));
	assert_int_equal(mt_promtool(&D, text, out, sizeof(out)), 0);
	free(tok);
}

static void test_health_detail(void **state)
{
	struct sbt_client *c = xd_client(D.socket);
	char *tok = xd_mint(&E, "U2healthdetail", "Viewer", 600, NULL);
	struct sb_reply rep;

	(void)state;
	assert_int_equal(sbt_call(c, SB_OP_HEALTH, &rep), 0);
	assert_true(rep.ok && rep.u.health.ready);
	assert_true(rep.u.health.jwks_age_s.set);
	assert_true(rep.u.health.jwks_age_s.v < 600);
	sb_reply_done(&rep);

	/* an STS failure becomes the tenant's last upstream error */
	xe_fault(&E, json_pack("{s:s, s:i, s:i}", "path_prefix", "/v1/auth/sts/token", "status",
			       503, "count", 2));
	xd_exchange(c, tok, &rep);
	assert_false(rep.ok);
	sb_reply_done(&rep);
	assert_int_equal(sbt_call(c, SB_OP_HEALTH, &rep), 0);
	assert_true(rep.ok);
	assert_non_null(rep.u.health.last_upstream_error);
	assert_string_equal(rep.u.health.last_upstream_error, "sts:503");
	assert_true(rep.u.health.last_upstream_error_age_s.set);
	sb_reply_done(&rep);
	assert_true(admin_value("skybroker_upstream_requests_total{tenant=\"acme\",kind=\"sts\",status=\"503\"}") >= 1);
	xe_reset(&E);
	sbt_client_free(c);
	free(tok);
}

static void test_counters_survive_reload(void **state)
{
	struct sbt_client *c = xd_client(D.socket);
	double pings, hits, reloads;
	char *tok = xd_mint(&E, "U2reload", "Viewer", 600, NULL);
	struct sb_reply rep;
	size_t n = sbt_log_count(&D, "reloaded:");

	(void)state;
	for (int i = 0; i < 3; i++) {
		xd_exchange(c, tok, &rep);
		assert_true(rep.ok);
		sb_reply_done(&rep);
	}
	pings = admin_value(REQ("ping", "ok"));
	hits = mt_value(text, "skybroker_token_cache_hits_total{tenant=\"acme\"}");
	reloads = mt_value(text, "skybroker_reloads_total{outcome=\"ok\"}");
	sbt_client_free(c); /* the old generation can go once nobody uses it */

	sbt_daemon_kill(&D, SIGHUP);
	for (int i = 0; i < 600 && sbt_log_count(&D, "reloaded:") == n; i++)
		usleep(10000);
	assert_true(sbt_log_count(&D, "reloaded:") > n);
	c = xd_client(D.socket);
	for (int i = 0; i < 10; i++)
		assert_int_equal(sbt_ping(c), 0);
	xd_exchange(c, tok, &rep); /* the cached token was carried over: a hit */
	assert_true(rep.ok);
	sb_reply_done(&rep);
	assert_true(admin_value(REQ("ping", "ok")) == pings + 10);
	assert_true(mt_value(text, "skybroker_token_cache_hits_total{tenant=\"acme\"}") >= hits + 1);
	assert_true(mt_value(text, "skybroker_reloads_total{outcome=\"ok\"}") == reloads + 1);
	sbt_client_free(c);
	free(tok);
}

/* What the listener answers to one raw request: the status line's code, or -1. */
static int status_of(const char *req, size_t n)
{
	if (mt_http_raw(port, req, n, buf, TEXT_SIZE) < 12 || strncmp(buf, "HTTP/1.1 ", 9) != 0)
		return -1;
	/* exactly three digits, then a space */
	if (!isdigit((unsigned char)buf[9]) || !isdigit((unsigned char)buf[10]) ||
	    !isdigit((unsigned char)buf[11]) || buf[12] != ' ')
		return -1;
	return (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
}

static void test_listener_refuses_what_it_does_not_serve(void **state)
{
	char big[4096];

	(void)state;
	assert_int_equal(status_of("GET / HTTP/1.1\r\n\r\n", 18), 404);
	assert_int_equal(status_of("GET /metricsx HTTP/1.1\r\n\r\n", 26), 404);
	assert_int_equal(status_of("GET /metrics?x=1 HTTP/1.1\r\n\r\n", 29), 200);
	assert_int_equal(status_of("POST /metrics HTTP/1.1\r\n\r\n", 26), 405);
	assert_int_equal(status_of("GET /metrics\r\n\r\n", 16), 400);
	assert_int_equal(status_of("GET  /metrics HTTP/1.1\r\n\r\n", 26), 400);
	assert_int_equal(status_of("\r\n\r\n", 4), 400);
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
	assert_int_equal(status_of(big, sizeof(big)), 431);
}

/* A client that sends more than its head (a body, pipelined requests) still gets the whole
 * answer: closing with its bytes unread would reset the connection under the answer. */
static void test_listener_answer_survives_extra_bytes(void **state)
{
	static char req[256 * 1024];
	const char *body, *cl;
	int fd = mt_tcp(port);
	ssize_t n;

	(void)state;
	assert_true(fd >= 0);
	memset(req, 'x', sizeof(req));
	memcpy(req, "GET /metrics HTTP/1.1\r\n\r\n", 26);
	/* the head and a first part of the rest, then the rest while the answer is sent */
	assert_int_equal(send(fd, req, 64 * 1024, MSG_NOSIGNAL), 64 * 1024);
	usleep(100000); /* let the broker answer and close with bytes unread: the case at hand */
	(void)!send(fd, req + 64 * 1024, sizeof(req) - 64 * 1024, MSG_NOSIGNAL | MSG_DONTWAIT);
	n = mt_read_all(fd, buf, TEXT_SIZE);
	close(fd);
	assert_true(n > 0);
	assert_true(strncmp(buf, "HTTP/1.1 200 ", 13) == 0);
	cl = strstr(buf, "Content-Length: ");
	body = strstr(buf, "\r\n\r\n");
	assert_non_null(cl);
	assert_non_null(body);
	assert_int_equal(strtoul(cl + 16, NULL, 10), strlen(body + 4));
}

/* Random bytes from many connections, some ending the head (answered), the others closed
 * before the head ends (dropped at once: no slot is held). */
static void test_listener_survives_garbage(void **state)
{
	unsigned seed = 16;

	(void)state;
	for (int i = 0; i < 300; i++) {
		char junk[512];
		size_t n = (size_t)(rand_r(&seed) % (int)sizeof(junk)); /* lint:allow test data */
		int fd = mt_tcp(port);

		assert_true(fd >= 0);
		for (size_t k = 0; k < n; k++)
			junk[k] = (char)rand_r(&seed); /* lint:allow test data */
		if (i % 3 == 0 && n >= 4)
			memcpy(junk + n - 4, "\r\n\r\n", 4);
		(void)!send(fd, junk, n, MSG_NOSIGNAL);
		if (i % 3 == 0) /* a complete head: answered (400) and closed */
			(void)mt_read_all(fd, buf, 4096);
		close(fd);
	}
	assert_non_null(mt_scrape(port, buf, TEXT_SIZE));
	assert_true(admin_value("skybroker_metrics_http_requests_total{outcome=\"bad_request\"}") >= 50);
}

/* HTTP_MAX_CLIENTS slow clients hold every slot: one more is refused with 503 at once, a
 * Unix-socket client's pings keep their latency, and the slow ones are closed at the
 * deadline (5 s), after which a scrape works again. */
static void test_listener_slow_clients(void **state)
{
	int slow[8], extra;
	uint64_t t0, worst = 0;
	struct sbt_client *c = xd_client(D.socket);
	double timeouts0 = admin_value("skybroker_metrics_http_requests_total{outcome=\"timeout\"}");

	(void)state;
	for (int i = 0; i < 8; i++) {
		slow[i] = mt_tcp(port);
		assert_true(slow[i] >= 0);
		assert_int_equal(send(slow[i], "GET /met", 8, MSG_NOSIGNAL), 8);
	}
	extra = mt_tcp(port);
	assert_true(extra >= 0);
	assert_true(mt_read_all(extra, buf, 4096) > 0);
	assert_non_null(strstr(buf, "503"));
	close(extra);
	for (int i = 0; i < 200; i++) {
		uint64_t s = mt_now_usec(), d;

		assert_int_equal(sbt_ping(c), 0);
		d = mt_now_usec() - s;
		worst = d > worst ? d : worst;
	}
	fprintf(stderr, "ping while 8 slow metrics clients hold the listener: worst %llu us\n",
		(unsigned long long)worst);
	t0 = mt_now_usec();
	for (int i = 0; i < 8; i++) {
		/* a byte a second does not extend the deadline */
		(void)!send(slow[i], "r", 1, MSG_NOSIGNAL);
		assert_true(mt_read_all(slow[i], buf, 4096) >= 0);
		close(slow[i]);
	}
	assert_true(mt_now_usec() - t0 < 10u * 1000000u);
	assert_non_null(mt_scrape(port, buf, TEXT_SIZE));
	assert_true(admin_value("skybroker_metrics_http_requests_total{outcome=\"timeout\"}") >=
		    timeouts0 + 8);
	assert_true(admin_value("skybroker_metrics_http_requests_total{outcome=\"busy\"}") >= 1);
	assert_int_equal(sbt_ping(c), 0);
	sbt_client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exposition_counts_and_checks),
		cmocka_unit_test(test_health_detail),
		cmocka_unit_test(test_counters_survive_reload),
		cmocka_unit_test(test_listener_refuses_what_it_does_not_serve),
		cmocka_unit_test(test_listener_answer_survives_extra_bytes),
		cmocka_unit_test(test_listener_survives_garbage),
		cmocka_unit_test(test_listener_slow_clients),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
