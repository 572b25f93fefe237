/* SPDX-License-Identifier: MIT */
/* Upstream HTTP on sd-event against a loopback server: statuses, retry rules, caps, timeouts. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/clock.h"
#include "util/log.h"
#include "util/jsonalloc.h"
#include "testhttp.h"
#include "upstream/upstream.h"
#include "testlog.h"

static sd_event *event;
static struct upstream *up;
static struct th_server *srv;

/* What the server does, by request number (1-based); 0 entries mean "200 {}". */
static struct th_reply script[8];
static char big_body[2 * 1024 * 1024];

static void handler(struct th_server *s, unsigned n, const char *method, const char *path,
		    const char *body, struct th_reply *reply)
{
	if (n <= 8 && (script[n - 1].status || script[n - 1].action != TH_RESPOND))
		*reply = script[n - 1];
	else
		reply->body = "{}";
}

struct outcome {
	int done;
	int r;
	long status;
	unsigned attempts;
	char body[256];
	char request_id[130];
	char error[512];
};

static void on_done(struct upstream_request *req, const struct upstream_response *resp,
		    void *userdata)
{
	struct outcome *o = userdata;

	o->done++;
	o->r = resp->r;
	o->status = resp->status;
	o->attempts = resp->attempts;
	snprintf(o->body, sizeof(o->body), "%s", resp->body);
	snprintf(o->request_id, sizeof(o->request_id), "%s", resp->request_id);
	snprintf(o->error, sizeof(o->error), "%s", resp->error);
}

static int setup(void **state)
{
	jsonalloc_init(); /* as the daemon does */
	log_set_max_level(LOG_ERR);
	assert_int_equal(sd_event_new(&event), 0);
	assert_int_equal(upstream_new(event, &up), 0);
	srv = th_start(event, handler, NULL);
	return 0;
}

static int teardown(void **state)
{
	upstream_free(up);
	th_stop(srv);
	sd_event_unref(event);
	return 0;
}

static void reset(void)
{
	memset(script, 0, sizeof(script));
	srv->requests = 0;
}

static struct upstream_opts opts(void)
{
	struct upstream_opts o = {
		.insecure_http = true,
		.connect_timeout_ms = 1000,
		.total_timeout_ms = 1000,
		.retry_base_ms = 20,
	};
	return o;
}

static void run(const char *method, const char *path, bool idempotent, struct upstream_opts *o,
		struct outcome *out)
{
	char url[128];

	memset(out, 0, sizeof(*out));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", srv->port, path);
	assert_int_equal(upstream_request_start(up, o, method, url, "{\"a\":1}", 7, idempotent,
						on_done, out, NULL), 0);
	assert_int_equal(out->done, 0); /* never synchronous */
	assert_true(th_run_until(event, &out->done, 5000));
	assert_int_equal(out->done, 1);
}

static void test_ok_json_and_request_id(void **state)
{
	struct upstream_opts o = opts();
	struct outcome out;

	reset();
	script[0] = (struct th_reply){ .status = 200, .body = "{\"x\":\"y\"}",
				       .request_id = "req-123\x01<script>" };
	run("POST", "/v1/auth/sts/token", true, &o, &out);
	assert_int_equal(out.r, 0);
	assert_int_equal(out.status, 200);
	assert_int_equal(out.attempts, 1);
	assert_string_equal(out.body, "{\"x\":\"y\"}");
	assert_string_equal(out.request_id, "req-123script"); /* sanitised */
	assert_string_equal(srv->last_body, "{\"a\":1}");
	assert_string_equal(srv->last_path, "/v1/auth/sts/token");
}

/* PUT and DELETE carry their JSON body; GET none; the bearer goes as Authorization. */
static void test_methods_and_bearer(void **state)
{
	static const char *const methods[] = {"PUT", "DELETE", "POST", "GET"};
	struct upstream_opts o = opts();
	struct outcome out;

	o.bearer = "tok.en-1";
	for (size_t i = 0; i < 4; i++) {
		reset();
		script[0] = (struct th_reply){ .status = 200, .body = "{}" };
		run(methods[i], "/v1/vaults/v/t", false, &o, &out);
		assert_int_equal(out.r, 0);
		assert_int_equal(strncmp(srv->last_head, methods[i], strlen(methods[i])), 0);
		assert_non_null(strstr(srv->last_head, "\r\nAuthorization: Bearer tok.en-1\r\n"));
		if (strcmp(methods[i], "GET") == 0) {
			assert_string_equal(srv->last_body, "");
			assert_null(strcasestr(srv->last_head, "content-type"));
		} else {
			assert_string_equal(srv->last_body, "{\"a\":1}");
			assert_non_null(strstr(srv->last_head, "Content-Type: application/json"));
		}
	}
	/* a bearer that would add a header line is refused */
	o.bearer = "x\r\nX-Evil: 1";
	assert_int_equal(upstream_request_start(up, &o, "GET", "http://127.0.0.1:1/", NULL, 0,
						true, on_done, &out, NULL), -EINVAL);
	o.bearer = NULL;
	reset();
	script[0] = (struct th_reply){ .status = 200, .body = "{}" };
	run("GET", "/x", true, &o, &out);
	assert_null(strcasestr(srv->last_head, "authorization"));
}

static void test_retry_on_5xx(void **state)
{
	struct upstream_opts o = opts();
	struct upstream_counters c0, c1;
	struct outcome out;

	reset();
	upstream_get_counters(up, &c0);
	script[0] = (struct th_reply){ .status = 503, .body = "{}" };
	run("GET", "/keys", true, &o, &out);
	assert_int_equal(out.status, 200);
	assert_int_equal(out.attempts, 2);
	assert_int_equal(srv->requests, 2);
	upstream_get_counters(up, &c1);
	assert_int_equal(c1.retries - c0.retries, 1);

	/* Two 500s: exactly one retry, then the 500 is delivered. */
	reset();
	script[0] = (struct th_reply){ .status = 500, .body = "{\"error\":{\"message\":\"boom\"}}" };
	script[1] = script[0];
	run("GET", "/keys", true, &o, &out);
	assert_int_equal(out.r, 0);
	assert_int_equal(out.status, 500);
	assert_int_equal(out.attempts, 2);
	assert_int_equal(srv->requests, 2);
}

static void test_no_retry_for_4xx_or_non_idempotent(void **state)
{
	struct upstream_opts o = opts();
	struct outcome out;

	reset();
	script[0] = (struct th_reply){ .status = 429, .body = "{}" };
	run("POST", "/t", true, &o, &out);
	assert_int_equal(out.status, 429);
	assert_int_equal(srv->requests, 1);

	reset();
	script[0] = (struct th_reply){ .status = 401, .body = "{}" };
	run("POST", "/t", true, &o, &out);
	assert_int_equal(out.status, 401);
	assert_int_equal(srv->requests, 1);

	reset();
	script[0] = (struct th_reply){ .status = 502, .body = "{}" };
	run("POST", "/t", false, &o, &out);
	assert_int_equal(out.status, 502);
	assert_int_equal(srv->requests, 1);

	reset();
	o.no_retry = true;
	script[0] = (struct th_reply){ .status = 502, .body = "{}" };
	run("POST", "/t", true, &o, &out);
	assert_int_equal(srv->requests, 1);
}

static void test_dropped_connection_retried(void **state)
{
	struct upstream_opts o = opts();
	struct outcome out;

	reset();
	script[0] = (struct th_reply){ .action = TH_DROP };
	run("POST", "/t", true, &o, &out);
	assert_int_equal(out.r, 0);
	assert_int_equal(out.status, 200);
	assert_int_equal(out.attempts, 2);

	reset();
	script[0] = (struct th_reply){ .action = TH_DROP };
	script[1] = script[0];
	run("POST", "/t", true, &o, &out);
	assert_int_equal(out.r, -EIO);
	assert_int_equal(out.attempts, 2);
	assert_true(out.error[0] != '\0');
}

static void test_timeout_not_retried(void **state)
{
	struct upstream_opts o = opts();
	struct outcome out;

	reset();
	o.total_timeout_ms = 200;
	script[0] = (struct th_reply){ .action = TH_HANG };
	run("GET", "/slow", true, &o, &out);
	assert_int_equal(out.r, -ETIMEDOUT);
	assert_int_equal(out.attempts, 1);
	assert_int_equal(srv->requests, 1);
	assert_non_null(strstr(out.error, "imeout") ? strstr(out.error, "imeout") :
			strstr(out.error, "imed out"));
}

static void test_connection_refused(void **state)
{
	struct upstream_opts o = opts();
	struct outcome out = { 0 };
	struct th_server *dead = th_start(event, handler, NULL);
	char url[128];
	int port = dead->port;

	th_stop(dead); /* nothing listens there now */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	assert_int_equal(upstream_request_start(up, &o, "GET", url, NULL, 0, true, on_done, &out,
						NULL), 0);
	assert_true(th_run_until(event, &out.done, 5000));
	assert_int_equal(out.r, -ECONNREFUSED);
	assert_int_equal(out.attempts, 2);
}

static void test_size_cap(void **state)
{
	struct upstream_opts o = opts();
	struct outcome out;

	reset();
	memset(big_body, 'x', sizeof(big_body));
	script[0] = (struct th_reply){ .status = 200, .body = big_body, .body_len = sizeof(big_body) };
	o.max_response = 64 * 1024;
	o.total_timeout_ms = 3000;
	run("GET", "/big", true, &o, &out);
	assert_int_equal(out.r, -EMSGSIZE);
	assert_non_null(strstr(out.error, "exceeds"));
	assert_int_equal(srv->requests, 1);
}

static void test_scheme_rules(void **state)
{
	struct upstream_opts o = opts();
	struct outcome out = { 0 };
	struct testlog tl;

	testlog_begin(&tl); /* each refusal is logged as an error: checked here, not printed */
	o.insecure_http = false;
	assert_int_equal(upstream_request_start(up, &o, "GET", "http://127.0.0.1:1/", NULL, 0, true,
						on_done, &out, NULL), -EPROTONOSUPPORT);
	assert_int_equal(upstream_request_start(up, &o, "GET", "file:///etc/passwd", NULL, 0, true,
						on_done, &out, NULL), -EPROTONOSUPPORT);
	o.insecure_http = true;
	assert_int_equal(upstream_request_start(up, &o, "GET", "ftp://127.0.0.1/", NULL, 0, true,
						on_done, &out, NULL), -EPROTONOSUPPORT);
	assert_int_equal(upstream_request_start(up, &o, "PATCH", "http://127.0.0.1/", NULL, 0, true,
						on_done, &out, NULL), -EINVAL);
	testlog_end();
	assert_int_equal(out.done, 0);
	assert_true(testlog_has(&tl, "<3>upstream: refusing URL that is not https: scheme of "
				     "'http://127.0.0.1'"));
	assert_true(testlog_has(&tl, "'file:///etc/pass"));
	assert_true(testlog_has(&tl, "<3>upstream: refusing URL that is not http(s): scheme of "
				     "'ftp://127.0.0.1/'"));
}

static void test_redirect_not_followed(void **state)
{
	struct upstream_opts o = opts();
	struct outcome out;

	reset();
	script[0] = (struct th_reply){ .status = 302, .body = "" };
	run("GET", "/r", true, &o, &out);
	assert_int_equal(out.status, 302);
	assert_int_equal(srv->requests, 1);
}

static void test_cancel(void **state)
{
	struct upstream_opts o = opts();
	struct upstream_request *req = NULL;
	struct upstream_counters c;
	struct outcome out = { 0 };
	char url[128];
	int never = 0;

	reset();
	script[0] = (struct th_reply){ .action = TH_HANG };
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", srv->port);
	assert_int_equal(upstream_request_start(up, &o, "GET", url, NULL, 0, true, on_done, &out,
						&req), 0);
	th_run_until(event, &never, 100);
	upstream_request_cancel(req);
	th_run_until(event, &never, 1500);
	assert_int_equal(out.done, 0);
	upstream_get_counters(up, &c);
	assert_int_equal(c.in_flight, 0);
}

/* curl's timeout timer starts a request's transfer (a 0 ms timeout means "now"): it must fire
 * on time. With accuracy 0, sd-event applies its default of 250 ms and every upstream call
 * started up to 250 ms late (issue 9, item 2). */
static void test_curl_timer_is_precise(void **state)
{
	struct upstream_opts o = opts();
	struct upstream_request *req = NULL;
	struct outcome out = { 0 };
	uint64_t accuracy = 0;
	char url[128];
	int never = 0;

	reset();
	script[0] = (struct th_reply){ .action = TH_HANG };
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", srv->port);
	assert_int_equal(upstream_request_start(up, &o, "GET", url, NULL, 0, true, on_done, &out,
						&req), 0);
	assert_int_equal(upstream_timer_accuracy(up, &accuracy), 0);
	assert_int_equal(accuracy, CLOCK_ACCURACY_PRECISE_USEC);
	th_run_until(event, &never, 50);
	assert_int_equal(upstream_timer_accuracy(up, &accuracy), 0);
	assert_int_equal(accuracy, CLOCK_ACCURACY_PRECISE_USEC);
	upstream_request_cancel(req);
}

static char captured[8192];

static void capture_line(const char *line, void *userdata)
{
	size_t n = strlen(captured);

	(void)userdata;
	snprintf(captured + n, sizeof(captured) - n, "%s\n", line);
}

/* A URL's userinfo never reaches a log line (review of issue 9: a token_uri from a
 * credentials file bypassed the configuration's check, and log lines printed it whole). */
static void test_userinfo_not_logged(void **state)
{
	struct upstream_opts o = opts();
	struct outcome out;
	char url[160];

	reset();
	script[0] = (struct th_reply){ .status = 503, .body = "{}" };
	script[1] = (struct th_reply){ .status = 503, .body = "{}" };
	captured[0] = '\0';
	log_set_max_level(LOG_DEBUG);
	log_set_capture(capture_line, NULL);
	snprintf(url, sizeof(url), "http://user:s3cretpass@127.0.0.1:%d/token?x=1", srv->port);
	memset(&out, 0, sizeof(out));
	assert_int_equal(upstream_request_start(up, &o, "POST", url, "{}", 2, true, on_done, &out,
						NULL), 0);
	assert_true(th_run_until(event, &out.done, 5000));
	log_set_capture(NULL, NULL);
	log_set_max_level(LOG_ERR);
	assert_non_null(strstr(captured, "127.0.0.1")); /* the lines were written */
	assert_null(strstr(captured, "s3cretpass"));
	assert_null(strstr(captured, "user:"));
	assert_non_null(strstr(captured, "http://***@127.0.0.1"));
}

static void test_many_concurrent(void **state)
{
	struct upstream_opts o = opts();
	struct outcome *outs = calloc(50, sizeof(*outs));
	char url[128];
	int all = 0;

	reset();
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", srv->port);
	for (int i = 0; i < 50; i++)
		assert_int_equal(upstream_request_start(up, &o, "GET", url, NULL, 0, true, on_done,
							&outs[i], NULL), 0);
	for (int waited = 0; waited < 5000 && !all; waited += 10) {
		sd_event_run(event, 10000);
		all = 1;
		for (int i = 0; i < 50; i++)
			all &= outs[i].done == 1;
	}
	assert_true(all);
	for (int i = 0; i < 50; i++)
		assert_int_equal(outs[i].status, 200);
	free(outs);
}

static void test_json_limits(void **state)
{
	struct upstream_response resp = { .body = "[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]" };
	json_t *j = NULL;

	resp.body_len = strlen(resp.body);
	assert_int_equal(upstream_response_json(&resp, NULL, &j), -EMSGSIZE);
	resp.body = "{\"a\":1,\"a\":2}";
	resp.body_len = strlen(resp.body);
	assert_int_equal(upstream_response_json(&resp, NULL, &j), -EBADMSG);
	resp.body = "{\"a\":\"\\u0000\"}";
	resp.body_len = strlen(resp.body);
	assert_int_equal(upstream_response_json(&resp, NULL, &j), -EBADMSG);
	resp.body = "{\"a\":[1,{\"b\":\"]]]\"}]}";
	resp.body_len = strlen(resp.body);
	assert_int_equal(upstream_response_json(&resp, NULL, &j), 0);
	json_decref(j);
}

/* Proxy variables in the environment do not reroute requests (they carry tokens): the
 * request goes straight to the server, not to the (closed) proxy port. */
static void test_proxy_env_ignored(void **state)
{
	static const char *const vars[] = { "http_proxy", "HTTP_PROXY", "https_proxy",
					    "HTTPS_PROXY", "all_proxy", "ALL_PROXY" };
	struct upstream_opts o = opts();
	struct outcome out;

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		setenv(vars[i], "http://127.0.0.1:9", 1);
	unsetenv("no_proxy");
	unsetenv("NO_PROXY");
	reset();
	run("GET", "/v1/keys", true, &o, &out);
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	assert_int_equal(out.r, 0);
	assert_int_equal(out.status, 200);
	assert_int_equal(srv->requests, 1);
	assert_string_equal(srv->last_path, "/v1/keys");
}

static int on_marker(sd_event_source *s, void *userdata)
{
	return 0;
}

/* The destroy callback of a floating source: runs when its loop is freed. */
static void on_loop_freed(void *userdata)
{
	(*(int *)userdata)++;
}

/* Runs loop e until upstream u has counted `retries` retries (or 5 s pass). */
static void run_until_retries(sd_event *e, struct upstream *u, uint64_t retries)
{
	struct upstream_counters c;

	for (int waited = 0; waited < 5000; waited += 10) {
		upstream_get_counters(u, &c);
		if (c.retries >= retries)
			return;
		sd_event_run(e, 10 * 1000);
	}
	fail_msg("no retry scheduled");
}

/*
 * The daemon's life: one upstream on a loop of its own serves a request; then, with one
 * request waiting for its retry and one on the wire, upstream_free cancels both without a
 * callback and releases every source and its loop reference, so that the loop's last unref
 * frees it. Under valgrind (--leak-check=full --show-leak-kinds=all) nothing is left.
 */
static void test_lifecycle(void **state)
{
	struct upstream_opts o = opts();
	struct outcome served, retrying = { 0 }, hanging = { 0 };
	struct upstream_counters c;
	sd_event_source *marker = NULL;
	struct th_server *s;
	struct upstream *u = NULL;
	sd_event *e = NULL;
	int loop_freed = 0, never = 0;
	char url[128];

	assert_int_equal(sd_event_new(&e), 0);
	assert_int_equal(sd_event_add_defer(e, &marker, on_marker, &loop_freed), 0);
	assert_int_equal(sd_event_source_set_enabled(marker, SD_EVENT_OFF), 0);
	assert_int_equal(sd_event_source_set_destroy_callback(marker, on_loop_freed), 0);
	assert_true(sd_event_source_set_floating(marker, 1) >= 0);
	marker = sd_event_source_unref(marker);

	assert_int_equal(upstream_new(e, &u), 0);
	s = th_start(e, handler, NULL);
	memset(script, 0, sizeof(script));
	script[1] = (struct th_reply){ .status = 503, .body = "{}" };
	script[2] = (struct th_reply){ .action = TH_HANG };
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s->port);

	memset(&served, 0, sizeof(served));
	assert_int_equal(upstream_request_start(u, &o, "GET", url, NULL, 0, true, on_done, &served,
						NULL), 0);
	assert_true(th_run_until(e, &served.done, 5000));
	assert_int_equal(served.status, 200);

	o.retry_base_ms = 60 * 1000; /* the retry waits far beyond the test */
	assert_int_equal(upstream_request_start(u, &o, "GET", url, NULL, 0, true, on_done,
						&retrying, NULL), 0);
	run_until_retries(e, u, 1);
	assert_int_equal(upstream_request_start(u, &o, "POST", url, "{}", 2, false, on_done,
						&hanging, NULL), 0);
	for (int waited = 0; waited < 5000 && s->requests < 3; waited += 10)
		sd_event_run(e, 10 * 1000);
	assert_int_equal(s->requests, 3);
	upstream_get_counters(u, &c);
	assert_int_equal(c.in_flight, 2);

	u = upstream_free(u);
	th_run_until(e, &never, 200); /* no callback comes, no stale source fires */
	assert_int_equal(retrying.done, 0);
	assert_int_equal(hanging.done, 0);
	th_stop(s);
	assert_int_equal(loop_freed, 0);
	e = sd_event_unref(e);
	assert_int_equal(loop_freed, 1); /* nothing held a reference on the loop */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok_json_and_request_id),
		cmocka_unit_test(test_methods_and_bearer),
		cmocka_unit_test(test_retry_on_5xx),
		cmocka_unit_test(test_no_retry_for_4xx_or_non_idempotent),
		cmocka_unit_test(test_dropped_connection_retried),
		cmocka_unit_test(test_timeout_not_retried),
		cmocka_unit_test(test_connection_refused),
		cmocka_unit_test(test_size_cap),
		cmocka_unit_test(test_scheme_rules),
		cmocka_unit_test(test_redirect_not_followed),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_curl_timer_is_precise),
		cmocka_unit_test(test_userinfo_not_logged),
		cmocka_unit_test(test_many_concurrent),
		cmocka_unit_test(test_json_limits),
		cmocka_unit_test(test_proxy_env_ignored),
		cmocka_unit_test(test_lifecycle),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
