/* SPDX-License-Identifier: MIT */
/* Unit tests of metrics/ (series bounds, histograms, the text writer), util/inetaddr and the
 * structured log records in text and JSON. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>
#include <jansson.h>

#include "metrics/series.h"
#include "metrics/text.h"
#include "util/inetaddr.h"
#include "util/log.h"

static int reset(void **state)
{
	(void)state;
	metrics_series_reset();
	return 0;
}

static void test_requests_by_tenant_op_outcome(void **state)
{
	struct request_outcome ok = {.tenant = "acme", .op = SB_OP_PING, .ok = true,
				     .latency_usec = 700};
	struct request_outcome bad = {.tenant = "acme", .op = SB_OP_INVALID,
				      .code = SB_ERR_BAD_REQUEST, .latency_usec = 20000000};
	const struct metrics_tenant *mt;

	(void)state;
	metrics_series_request(&ok);
	metrics_series_request(&ok);
	metrics_series_request(&bad);
	mt = metrics_series_tenant("acme");
	assert_non_null(mt);
	assert_int_equal(mt->requests[SB_OP_PING][METRICS_OUTCOME_OK], 2);
	assert_int_equal(mt->requests[METRICS_OP_INVALID][SB_ERR_BAD_REQUEST], 1);
	/* 700 us lands in the 1 ms bucket; 20 s only in the count (+Inf) */
	assert_int_equal(mt->latency[SB_OP_PING].bucket[1], 2);
	assert_int_equal(mt->latency[SB_OP_PING].count, 2);
	assert_int_equal(mt->latency[METRICS_OP_INVALID].count, 1);
	for (unsigned b = 0; b < METRICS_N_BUCKETS; b++)
		assert_int_equal(mt->latency[METRICS_OP_INVALID].bucket[b], 0);
	assert_ptr_equal(metrics_series_first(), mt);
}

static void test_bounded_tenants_and_codes(void **state)
{
	char name[32];
	const struct metrics_tenant *mt;
	size_t n = 0;

	(void)state;
	for (unsigned i = 0; i < METRICS_MAX_TENANTS + 50; i++) {
		snprintf(name, sizeof(name), "t%u", i);
		assert_non_null(metrics_series_tenant(name));
	}
	for (mt = metrics_series_first(); mt; mt = mt->next)
		n++;
	assert_int_equal(n, METRICS_MAX_TENANTS + 1); /* and one "_other" */
	assert_ptr_equal(metrics_series_tenant("t9999"), metrics_series_tenant("_other"));

	for (long s = 200; s < 200 + METRICS_MAX_CODES + 5; s++)
		metrics_series_upstream(&(struct upstream_outcome){.tenant = "t0", .kind = "vault",
								 .status = s});
	metrics_series_upstream(&(struct upstream_outcome){.tenant = "t0", .kind = "nonsense",
							 .r = -ETIMEDOUT});
	mt = metrics_series_tenant("t0");
	assert_int_equal(mt->upstream[MK_VAULT].n_codes, METRICS_MAX_CODES);
	assert_int_equal(mt->upstream[MK_VAULT].other_code, 5);
	assert_int_equal(mt->upstream[MK_OTHER].failed[MF_TIMEOUT], 1);
	assert_string_equal(mt->last_error, "other:timeout");
	metrics_series_upstream(&(struct upstream_outcome){.tenant = "t0", .kind = "sts",
							 .status = 503});
	assert_string_equal(mt->last_error, "sts:503");
}

static void test_text_escapes_and_histogram(void **state)
{
	static const uint64_t le[] = {1000, 2000};
	static const uint64_t b[] = {1, 2};
	struct text t;
	const char *p;

	(void)state;
	text_init(&t, TEXT_MAX);
	text_family(&t, "x_total", "counter", "Help.");
	text_sample_u64(&t, "x_total", (const struct text_label[]){{"a", "q\"b\\c\nd"}}, 1, 7);
	text_histogram(&t, "h_seconds", (const struct text_label[]){{"op", "ping"}}, 1, le, b, 2, 4,
		       1500);
	assert_int_equal(t.err, 0);
	assert_int_equal(sb_buf_append(&t.b, "", 1), 0);
	p = (const char *)sb_buf_ptr(&t.b);
	assert_non_null(strstr(p, "# HELP x_total Help.\n# TYPE x_total counter\n"));
	assert_non_null(strstr(p, "x_total{a=\"q\\\"b\\\\c\\nd\"} 7\n"));
	assert_non_null(strstr(p, "h_seconds_bucket{op=\"ping\",le=\"0.001\"} 1\n"));
	assert_non_null(strstr(p, "h_seconds_bucket{op=\"ping\",le=\"0.002\"} 3\n"));
	assert_non_null(strstr(p, "h_seconds_bucket{op=\"ping\",le=\"+Inf\"} 4\n"));
	assert_non_null(strstr(p, "h_seconds_sum{op=\"ping\"} 0.001500\n"));
	assert_non_null(strstr(p, "h_seconds_count{op=\"ping\"} 4\n"));
	text_done(&t);

	/* over the cap: an error, not a partial write past it */
	text_init(&t, 64);
	for (int i = 0; i < 10; i++)
		text_family(&t, "x_total", "counter", "Help.");
	assert_int_equal(t.err, -EMSGSIZE);
	assert_true(sb_buf_len(&t.b) <= 64);
	text_done(&t);
}

static void test_inetaddr(void **state)
{
	struct sockaddr_storage sa;
	socklen_t len;

	(void)state;
	assert_int_equal(inetaddr_parse("127.0.0.1:9464", &sa, &len), 0);
	assert_int_equal(sa.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&sa)->sin_port), 9464);
	assert_int_equal(inetaddr_parse("[::1]:1", &sa, &len), 0);
	assert_int_equal(sa.ss_family, AF_INET6);
	const char *bad[] = {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
			     "localhost:9464", "::1:9464", "[::1]9464", "[::1]:", "1.2.3.4:+80",
			     "1.2.3.4:80x", "[127.0.0.1]:80", " 127.0.0.1:80", NULL};
	for (int i = 0; bad[i]; i++)
		assert_int_equal(inetaddr_parse(bad[i], &sa, &len), -EINVAL);
}

#define CAP_MAX 8
static char *captured[CAP_MAX];
static size_t n_captured;

static void capture(const char *line, void *ud)
{
	(void)ud;
	if (n_captured < CAP_MAX)
		captured[n_captured++] = strdup(line);
}

static void capture_free(void)
{
	for (size_t i = 0; i < n_captured; i++)
		free(captured[i]);
	n_captured = 0;
}

static void test_log_record_formats(void **state)
{
	const struct log_field f[] = {
		{"tenant", "acme", false, NULL},
		{"sub", "U2x outcome=ok\n\"", false, NULL},
		{"id", "7", true, "REQUEST_ID"},
		{"table", NULL, false, NULL},
		{"bytes", "\xff\x01", false, NULL},
	};
	json_t *o;

	(void)state;
	log_set_capture(capture, NULL);
	log_record(LOG_INFO, true, false, "audit", f, 5);
	log_set_format(LOG_FORMAT_JSON);
	log_record(LOG_INFO, true, true, "audit", f, 5);
	log_printf(LOG_NOTICE, "plain \"line\"\nwith a break");
	log_set_format(LOG_FORMAT_TEXT);
	log_set_capture(NULL, NULL);
	assert_int_equal(n_captured, 3);
	assert_string_equal(captured[0], "<6>audit: tenant=acme sub=\"U2x outcome=ok\\n\\\"\" id=7 "
					 "table=- bytes=\"\\xff\\x01\"");
	o = json_loads(captured[1], 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "message")), "audit");
	assert_string_equal(json_string_value(json_object_get(o, "level")), "info");
	assert_string_equal(json_string_value(json_object_get(o, "sub")), "U2x outcome=ok\n\"");
	assert_string_equal(json_string_value(json_object_get(o, "table")), "-");
	assert_non_null(json_string_value(json_object_get(o, "bytes"))); /* still valid JSON */
	json_decref(o);
	o = json_loads(captured[2], 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "message")),
			    "plain \"line\" with a break");
	assert_int_equal(json_integer_value(json_object_get(o, "priority")), LOG_NOTICE);
	json_decref(o);
	capture_free();
	assert_int_equal(log_format_from_name("json"), LOG_FORMAT_JSON);
	assert_int_equal(log_format_from_name("logfmt"), LOG_FORMAT_TEXT);
	assert_int_equal(log_format_from_name("xml"), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_requests_by_tenant_op_outcome, reset),
		cmocka_unit_test_setup(test_bounded_tenants_and_codes, reset),
		cmocka_unit_test(test_text_escapes_and_histogram),
		cmocka_unit_test(test_inetaddr),
		cmocka_unit_test(test_log_record_formats),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);

	metrics_series_reset();
	return r;
}
