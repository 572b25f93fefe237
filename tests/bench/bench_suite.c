/* SPDX-License-Identifier: MIT */
/*
 * bench_suite: every benchmark of issue 15, each against its baseline in the same run,
 * interleaved (rounds alternate broker and baseline; sequential scenarios alternate per
 * request), so the ratios hold on a noisy machine even where the absolute figures do not.
 *
 *   ping 1x1, 64x1, 64x16 and cached exchange 64x16   vs  a bare epoll echo server
 *   cold exchange (libskybroker)                       vs  one direct STS call, kept alive
 *   get_records on a cached token (libskybroker)       vs  the guide's pattern per request
 *                                                          (validate, STS, GET) and a direct
 *                                                          GET with a token exchanged once
 *   1,000 concurrent exchanges of one new token        STS calls counted at the emulator
 *   10,000 cached tokens + 1,000 idle connections      the daemon's RSS
 *
 * Usage: bench_suite [--smoke] [--json FILE] [--markdown FILE]
 * --smoke: tiny counts, so that ctest keeps this program working; nothing is asserted on a
 * time, only that every scenario ran and answered. The environment is the integration
 * tests' (SKYBROKERD, SKYFLOW_EMULATOR, SKYBROKER_SOURCE_DIR); BENCH_COMMIT names the commit.
 * BENCH_ONLY=ping,cached,get,cold,single,rss runs only those scenarios; BENCH_BEFORE=path runs
 * a second skybrokerd from that binary in the throughput rounds too (rows "[before]"), so a
 * change's before and after are measured in one run.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "bench.h"
#include "skybroker.h"
#include "vault_test.h"

#define STS_EP "POST /v1/auth/sts/token"

struct cfg {
	bool smoke;
	unsigned rounds, n_seq, n_tokens, n_idle, n_burst_conns, n_burst_depth;
	double warm, dur;
};

struct env {
	struct cfg c;
	struct xe_emu e;
	struct sbt_daemon d;
	struct sbt_daemon before; /* BENCH_BEFORE: the same scenarios on another skybrokerd */
	bool ab;
	struct echo_server echo;
	struct guide *g;
	char *tok[64]; /* one per connection of the cached scenarios, exchanged once */
	json_t *results;
	FILE *md;
	unsigned failures;
};

/* ------------------------------------------------------------------ recording */

static json_t *lg_json(struct lg_result *r)
{
	double rps = r->seconds > 0 ? (double)r->n / r->seconds : 0;

	return json_pack("{s:f, s:f, s:f, s:f, s:I, s:I, s:f, s:I}", "rps", rps, "p50_us",
			 samples_quantile_us(&r->lat, 0.5), "p99_us",
			 samples_quantile_us(&r->lat, 0.99), "p999_us",
			 samples_quantile_us(&r->lat, 0.999), "requests", (json_int_t)r->n,
			 "errors", (json_int_t)r->errors, "cpu_us_per_request",
			 r->n ? r->cpu_s * 1e6 / (double)r->n : 0, "rss_kib",
			 (json_int_t)r->rss_kib);
}

/* One row: value (the broker's), against base (the baseline's); ratio value/base; the target
 * as text and whether it holds (-1: no target). */
static void record(struct env *v, const char *scenario, const char *metric, double value,
		   const char *base_name, double base, const char *target, int holds,
		   json_t *detail)
{
	double ratio = base > 0 ? value / base : 0;

	json_array_append_new(v->results,
			      json_pack("{s:s, s:s, s:f, s:s, s:f, s:f, s:s, s:O?, s:o}", "scenario",
					scenario, "metric", metric, "skybrokerd", value, "baseline",
					base_name, "baseline_value", base, "ratio", ratio, "target",
					target, "holds", holds < 0 ? NULL : json_boolean(holds),
					"detail", detail ? detail : json_object()));
	printf("%-44s %-14s %12.1f | %-28s %12.1f | %6.2fx | %s%s\n", scenario, metric, value,
	       base_name, base, ratio, target, holds < 0 ? "" : holds ? " (holds)" : " (MISSED)");
	fflush(stdout);
}

/* ------------------------------------------------------------------ encoders */

static int enc_ping(void *ud, unsigned conn, unsigned slot, uint64_t id, struct sb_buf *out)
{
	struct sb_request req = {.op = SB_OP_PING, .id = id};

	(void)ud, (void)conn, (void)slot;
	return sb_request_encode(&req, out, SB_MAX_REQUEST_FRAME_DEFAULT);
}

static int enc_exchange(void *ud, unsigned conn, unsigned slot, uint64_t id, struct sb_buf *out)
{
	char **tok = ud;
	struct sb_request req = {.op = SB_OP_EXCHANGE, .id = id};

	(void)slot;
	req.u.exchange.subject_token = tok[conn % 64];
	return sb_request_encode(&req, out, SB_MAX_REQUEST_FRAME_DEFAULT);
}

static int enc_one_token(void *ud, unsigned conn, unsigned slot, uint64_t id, struct sb_buf *out)
{
	struct sb_request req = {.op = SB_OP_EXCHANGE, .id = id};

	(void)conn, (void)slot;
	req.u.exchange.subject_token = ud;
	return sb_request_encode(&req, out, SB_MAX_REQUEST_FRAME_DEFAULT);
}

/* ------------------------------------------------------------------ scenarios */

/* The log holds one audit line per request; emptied between runs so a long run does not fill
 * the disk (the daemon appends: O_APPEND, so it writes at the new end). */
static void log_reset(struct env *v)
{
	if (truncate(v->d.log, 0) < 0)
		perror("truncate log");
}

/* conns x depth against the echo server and skybrokerd, rounds alternating. */
static void tp_pair(struct env *v, unsigned conns, unsigned depth,
		    int (*enc)(void *, unsigned, unsigned, uint64_t, struct sb_buf *), void *ud,
		    struct lg_result *echo, struct lg_result *broker, struct lg_result *before)
{
	struct lg_params pe = {.path = v->echo.path, .hello = false, .conns = conns,
			       .depth = depth, .warmup_s = v->c.warm, .duration_s = v->c.dur,
			       .server = v->echo.pid, .encode = enc, .ud = ud};
	struct lg_params pb = pe, p0;

	pb.path = v->d.socket;
	pb.hello = true;
	pb.server = v->d.pid;
	p0 = pb;
	p0.path = v->before.socket;
	p0.server = v->before.pid;
	for (unsigned r = 0; r < v->c.rounds; r++) {
		if (lg_run(&pe, echo) < 0 || lg_run(&pb, broker) < 0 ||
		    (v->ab && lg_run(&p0, before) < 0)) {
			fprintf(stderr, "load %ux%u failed\n", conns, depth);
			v->failures++;
		}
		log_reset(v);
		if (v->ab && truncate(v->before.log, 0) < 0)
			perror("truncate log");
	}
}

static json_t *pair_detail(struct lg_result *echo, struct lg_result *broker)
{
	return json_pack("{s:o, s:o}", "skybrokerd", lg_json(broker), "echo", lg_json(echo));
}

/* With BENCH_BEFORE: the other daemon's figure of the same rounds, and its ratio. */
static void record_before(struct env *v, const char *scenario, const char *metric,
			  struct lg_result *before, struct lg_result *echo, bool p50)
{
	char name[128];
	double x = p50 ? samples_quantile_us(&before->lat, 0.5) : (double)before->n / before->seconds;
	double base = p50 ? samples_quantile_us(&echo->lat, 0.5) : (double)echo->n / echo->seconds;

	if (!v->ab)
		return;
	snprintf(name, sizeof(name), "%s [before]", scenario);
	record(v, name, metric, x, "bare echo, same framing", base, "", -1,
	       json_pack("{s:o}", "skybrokerd_before", lg_json(before)));
	snprintf(name, sizeof(name), "%s [before]: CPU per request", scenario);
	record(v, name, "us", before->cpu_s * 1e6 / (double)before->n, "bare echo, same framing",
	       echo->cpu_s * 1e6 / (double)echo->n, "", -1, NULL);
	lg_result_free(before);
}

static void scen_ping(struct env *v)
{
	struct lg_result e1 = {0}, b1 = {0}, e64 = {0}, b64 = {0}, e16 = {0}, b16 = {0};
	struct lg_result x1 = {0}, x64 = {0}, x16 = {0};
	double p_e, p_b;

	tp_pair(v, 1, 1, enc_ping, NULL, &e1, &b1, &x1);
	record_before(v, "ping, 1 connection", "p50 us", &x1, &e1, true);
	p_e = samples_quantile_us(&e1.lat, 0.5);
	p_b = samples_quantile_us(&b1.lat, 0.5);
	record(v, "ping, 1 connection", "p50 us", p_b, "bare echo, same framing", p_e,
	       "<= 1.1x", p_b <= 1.1 * p_e, pair_detail(&e1, &b1));
	tp_pair(v, 64, 1, enc_ping, NULL, &e64, &b64, &x64);
	record_before(v, "ping, 64 connections", "req/s", &x64, &e64, false);
	record(v, "ping, 64 connections", "req/s", (double)b64.n / b64.seconds,
	       "bare echo, same framing", (double)e64.n / e64.seconds, "", -1,
	       pair_detail(&e64, &b64));
	tp_pair(v, 64, 16, enc_ping, NULL, &e16, &b16, &x16);
	record_before(v, "ping, 64 connections x 16 pipelined", "req/s", &x16, &e16, false);
	p_b = (double)b16.n / b16.seconds;
	p_e = (double)e16.n / e16.seconds;
	record(v, "ping, 64 connections x 16 pipelined", "req/s", p_b, "bare echo, same framing",
	       p_e, ">= 0.6x", p_b >= 0.6 * p_e, pair_detail(&e16, &b16));
	record(v, "ping, 64 x 16: CPU per request", "us", b16.cpu_s * 1e6 / (double)b16.n,
	       "bare echo, same framing", e16.cpu_s * 1e6 / (double)e16.n, "", -1, NULL);
	lg_result_free(&e1), lg_result_free(&b1), lg_result_free(&e64), lg_result_free(&b64);
	lg_result_free(&e16), lg_result_free(&b16);
}

static void scen_cached_exchange(struct env *v)
{
	struct lg_result e = {0}, b = {0}, x = {0};
	double p_b, p_e;

	tp_pair(v, 64, 16, enc_exchange, v->tok, &e, &b, &x);
	record_before(v, "cached exchange, 64 x 16", "req/s", &x, &e, false);
	p_b = (double)b.n / b.seconds;
	p_e = (double)e.n / e.seconds;
	record(v, "cached exchange, 64 x 16", "req/s", p_b, "bare echo, same framing", p_e,
	       ">= 0.5x", p_b >= 0.5 * p_e, pair_detail(&e, &b));
	record(v, "cached exchange, 64 x 16: CPU per request", "us",
	       b.cpu_s * 1e6 / (double)b.n, "bare echo, same framing",
	       e.cpu_s * 1e6 / (double)e.n, "", -1, NULL);
	if (b.errors)
		v->failures++;
	lg_result_free(&e), lg_result_free(&b);
}

static json_t *seq_json(struct samples *s)
{
	return json_pack("{s:f, s:f, s:f, s:I}", "p50_us", samples_quantile_us(s, 0.5), "p99_us",
			 samples_quantile_us(s, 0.99), "p999_us", samples_quantile_us(s, 0.999),
			 "requests", (json_int_t)s->n);
}

static skybroker *connect_lib(struct env *v)
{
	struct skybroker_error err;
	skybroker *h = NULL;

	if (skybroker_connect(v->d.socket, "bench/1", 30000, &h, &err) != 0) {
		fprintf(stderr, "skybroker_connect: %s\n", err.message);
		abort();
	}
	return h;
}

/* Cold exchange through libskybroker against one direct STS call, alternating per request. */
static void scen_cold(struct env *v)
{
	struct samples direct = {0}, cold = {0};
	skybroker *h = connect_lib(v);
	char sub[64], *access;

	for (unsigned i = 0; i <= v->c.n_seq; i++) {
		char *td, *tb;
		uint64_t t0, t1, t2;
		int r1, r2;

		snprintf(sub, sizeof(sub), "Ucold-d%u", i);
		td = guide_mint(v->g, sub, "Viewer");
		snprintf(sub, sizeof(sub), "Ucold-b%u", i);
		tb = guide_mint(v->g, sub, "Viewer");
		if (!td || !tb)
			abort();
		t0 = bench_now_ns();
		r1 = guide_sts(v->g, td, &access);
		t1 = bench_now_ns();
		r2 = skybroker_exchange(h, tb, 30000, NULL, NULL);
		t2 = bench_now_ns();
		if (r1 || r2)
			v->failures++;
		if (i > 0) { /* the first one warms both */
			samples_add(&direct, t1 - t0);
			samples_add(&cold, t2 - t1);
		}
		free(access);
		free(td);
		free(tb);
	}
	record(v, "cold exchange (new token)", "p50 us", samples_quantile_us(&cold, 0.5),
	       "one direct STS call, kept alive", samples_quantile_us(&direct, 0.5), "<= 1.2x",
	       samples_quantile_us(&cold, 0.5) <= 1.2 * samples_quantile_us(&direct, 0.5),
	       json_pack("{s:o, s:o}", "skybrokerd", seq_json(&cold), "direct", seq_json(&direct)));
	skybroker_free(h);
	samples_free(&direct), samples_free(&cold);
}

/* get_records on a cached token against the guide's pattern and a direct GET. */
static void scen_get_records(struct env *v)
{
	struct samples guide = {0}, direct = {0}, broker = {0};
	struct skybroker_get_records_args args = {.table = "persons", .redaction = "DEFAULT"};
	skybroker *h = connect_lib(v);
	const char *tok = v->tok[0];
	char *once = NULL, *access = NULL;
	double pb, pg, pd;

	if (guide_sts(v->g, tok, &once) < 0)
		abort();
	for (unsigned i = 0; i <= v->c.n_seq; i++) {
		skybroker_result *res = NULL;
		uint64_t t0, t1, t2, t3;
		int r;

		t0 = bench_now_ns();
		r = guide_validate(v->g, tok) ?: guide_sts(v->g, tok, &access) ?:
			guide_get(v->g, access, "persons");
		t1 = bench_now_ns();
		r = r ?: guide_get(v->g, once, "persons");
		t2 = bench_now_ns();
		r = r ?: skybroker_get_records(h, tok, &args, 30000, &res, NULL);
		t3 = bench_now_ns();
		if (r)
			v->failures++;
		if (i > 0) {
			samples_add(&guide, t1 - t0);
			samples_add(&direct, t2 - t1);
			samples_add(&broker, t3 - t2);
		}
		skybroker_result_free(res);
		free(access);
		access = NULL;
	}
	pb = samples_quantile_us(&broker, 0.5);
	pg = samples_quantile_us(&guide, 0.5);
	pd = samples_quantile_us(&direct, 0.5);
	record(v, "get_records, cached token", "p50 us", pb,
	       "guide: validate, STS, GET", pg, "<= 0.5x", pb <= 0.5 * pg,
	       json_pack("{s:o, s:o, s:o}", "skybrokerd", seq_json(&broker), "guide",
			 seq_json(&guide), "direct_get", seq_json(&direct)));
	record(v, "get_records, cached token", "p50 us", pb, "direct GET, token exchanged once",
	       pd, "", -1, NULL);
	skybroker_free(h);
	free(once);
	samples_free(&guide), samples_free(&direct), samples_free(&broker);
}

/* 1,000 exchanges of one new token in flight at once: STS calls counted at the emulator. */
static void scen_single_flight(struct env *v)
{
	char *tok = guide_mint(v->g, "Usingle-flight", "Viewer");
	struct lg_params p = {.path = v->d.socket, .hello = true, .conns = v->c.n_burst_conns,
			      .depth = v->c.n_burst_depth, .once = true, .server = v->d.pid,
			      .encode = enc_one_token, .ud = tok};
	struct lg_result b = {0};
	long n0 = xe_count(&v->e, STS_EP), n1;
	unsigned total = p.conns * p.depth;
	char name[96];

	if (lg_run(&p, &b) < 0 || b.n != total || b.errors)
		v->failures++;
	n1 = xe_count(&v->e, STS_EP);
	snprintf(name, sizeof(name), "%u concurrent exchanges, one new token", total);
	record(v, name, "STS calls", (double)(n1 - n0), "exactly one", 1, "== 1", n1 - n0 == 1,
	       json_pack("{s:o}", "skybrokerd", lg_json(&b)));
	lg_result_free(&b);
	free(tok);
}

/* Exchanges n new tokens, 32 in flight on one connection. */
static void fill_cache(struct env *v, unsigned n)
{
	struct sbt_client *c = xd_client(v->d.socket);
	char sub[64];

	for (unsigned i = 0; i < n; i += 32) {
		char *t[32];
		unsigned k = n - i < 32 ? n - i : 32;

		for (unsigned j = 0; j < k; j++) {
			struct sb_request req = {.op = SB_OP_EXCHANGE};

			snprintf(sub, sizeof(sub), "Ufill%u", i + j);
			t[j] = guide_mint(v->g, sub, "Viewer");
			req.u.exchange.subject_token = t[j];
			if (!t[j] || sbt_queue(c, &req) < 0)
				abort();
		}
		if (sbt_flush(c) < 0)
			abort();
		for (unsigned j = 0; j < k; j++) {
			struct sb_reply rep;

			if (sbt_recv(c, &rep) < 0)
				abort();
			v->failures += !rep.ok;
			sb_reply_done(&rep);
			free(t[j]);
		}
	}
	sbt_client_free(c);
}

static void scen_rss(struct env *v)
{
	struct procstat s0, s1;
	struct sbt_client **idle = calloc(v->c.n_idle, sizeof(*idle));
	char name[128];
	double mib;

	procstat_read(v->d.pid, &s0);
	fill_cache(v, v->c.n_tokens);
	for (unsigned i = 0; i < v->c.n_idle; i++)
		idle[i] = xd_client(v->d.socket);
	procstat_read(v->d.pid, &s1);
	mib = (double)s1.rss_kib / 1024.0;
	snprintf(name, sizeof(name), "%u cached tokens + %u idle connections", v->c.n_tokens,
		 v->c.n_idle);
	record(v, name, "RSS MiB", mib, "the limit", 48, "<= 48 MiB", mib <= 48,
	       json_pack("{s:f}", "rss_mib_before", (double)s0.rss_kib / 1024.0));
	for (unsigned i = 0; i < v->c.n_idle; i++)
		sbt_client_free(idle[i]);
	free(idle);
}

/* ------------------------------------------------------------------ set-up and report */

/* Mints the 64 tokens of the cached scenarios and exchanges each once. */
static void warm_tokens(struct env *v)
{
	struct sbt_client *c = xd_client(v->d.socket);
	struct sbt_client *c0 = v->ab ? xd_client(v->before.socket) : NULL;
	char sub[32];

	for (unsigned i = 0; i < 64; i++) {
		struct sb_reply rep;

		snprintf(sub, sizeof(sub), "Ucached%u", i);
		v->tok[i] = guide_mint(v->g, sub, "Viewer");
		if (!v->tok[i])
			abort();
		xd_exchange(c, v->tok[i], &rep);
		v->failures += !rep.ok;
		sb_reply_done(&rep);
		if (c0) {
			xd_exchange(c0, v->tok[i], &rep);
			v->failures += !rep.ok;
			sb_reply_done(&rep);
		}
	}
	sbt_client_free(c);
	sbt_client_free(c0);
}

/* BENCH_BEFORE=path: a second daemon from that binary, same configuration, for before/after
 * figures of a change in one run (throughput scenarios only). */
static void start_before(struct env *v)
{
	const char *after = getenv("SKYBROKERD");
	char *saved = strdup(after), conf[16384];
	size_t len;

	sbt_daemon_init(&v->before);
	len = (size_t)snprintf(conf, sizeof(conf),
			       "[broker]\nsocket = %s\nadmin_socket = %s\nlog_level = info\n"
			       "max_connections = 4096\nmax_connections_per_uid = 4096\n",
			       v->before.socket, v->before.admin);
	(void)xd_tenant(conf, sizeof(conf), len, &v->e, "acme", "sts", NULL,
			"allow_tables = persons\n");
	setenv("SKYBROKERD", getenv("BENCH_BEFORE"), 1);
	if (sbt_daemon_start(&v->before, conf, NULL) < 0)
		abort();
	setenv("SKYBROKERD", saved, 1);
	free(saved);
}

static void start(struct env *v)
{
	char *cfg = vt_demo_config(NULL), conf[16384];
	size_t len;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (xe_emu_start(&v->e, cfg) < 0)
		abort();
	free(cfg);
	sbt_daemon_init(&v->d);
	len = (size_t)snprintf(conf, sizeof(conf),
			       "[broker]\nsocket = %s\nadmin_socket = %s\nlog_level = info\n"
			       "max_connections = 4096\nmax_connections_per_uid = 4096\n",
			       v->d.socket, v->d.admin);
	(void)xd_tenant(conf, sizeof(conf), len, &v->e, "acme", "sts", NULL,
			"allow_tables = persons\n");
	if (sbt_daemon_start(&v->d, conf, NULL) < 0 || echo_start(&v->echo, v->d.dir) < 0)
		abort();
	if (v->ab)
		start_before(v);
	v->g = guide_new(&v->e);
	if (!v->g)
		abort();
	warm_tokens(v);
}

static void stop(struct env *v)
{
	echo_stop(&v->echo);
	guide_free(v->g);
	for (unsigned i = 0; i < 64; i++)
		free(v->tok[i]);
	xd_stop_clean(&v->d);
	if (v->ab)
		sbt_daemon_stop(&v->before);
	xe_emu_stop(&v->e);
	curl_global_cleanup();
}

static void loadavg(char *buf, size_t n)
{
	FILE *f = fopen("/proc/loadavg", "re");

	buf[0] = '\0';
	if (f) {
		if (!fgets(buf, (int)n, f))
			buf[0] = '\0';
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = '\0';
}

static json_t *machine(void)
{
	char model[256] = "", line[512], la[128];
	struct utsname u;
	FILE *f = fopen("/proc/cpuinfo", "re");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "model name : %255[^\n]", model) == 1)
			break;
	if (f)
		fclose(f);
	uname(&u);
	loadavg(la, sizeof(la));
	return json_pack("{s:s, s:I, s:s, s:s}", "cpu", model, "cpus",
			 (json_int_t)sysconf(_SC_NPROCESSORS_ONLN), "kernel", u.release,
			 "loadavg_start", la);
}

/* docs/BENCHMARKS.md's generated part: the table of this run. */
static void write_markdown(const char *path, json_t *root)
{
	FILE *f = fopen(path, "we");
	json_t *m = json_object_get(root, "machine"), *row;
	size_t i;

	if (!f) {
		perror(path);
		return;
	}
	fprintf(f, "| scenario | metric | skybrokerd | baseline | baseline's | ratio | target |\n"
		   "|---|---|---|---|---|---|---|\n");
	json_array_foreach(json_object_get(root, "results"), i, row) {
		json_t *h = json_object_get(row, "holds");

		fprintf(f, "| %s | %s | %.1f | %s | %.1f | %.2fx | %s%s |\n",
			json_string_value(json_object_get(row, "scenario")),
			json_string_value(json_object_get(row, "metric")),
			json_real_value(json_object_get(row, "skybrokerd")),
			json_string_value(json_object_get(row, "baseline")),
			json_real_value(json_object_get(row, "baseline_value")),
			json_real_value(json_object_get(row, "ratio")),
			json_string_value(json_object_get(row, "target")),
			!json_is_boolean(h) ? "" : json_is_true(h) ? " holds" : " **missed**");
	}
	fprintf(f, "\nMachine: %s, %lld CPUs, kernel %s; load average %s at the start, %s at "
		   "the end. Date %s, commit %s, build %s.\n",
		json_string_value(json_object_get(m, "cpu")),
		(long long)json_integer_value(json_object_get(m, "cpus")),
		json_string_value(json_object_get(m, "kernel")),
		json_string_value(json_object_get(m, "loadavg_start")),
		json_string_value(json_object_get(m, "loadavg_end")),
		json_string_value(json_object_get(root, "date")),
		json_string_value(json_object_get(root, "commit")),
		json_string_value(json_object_get(root, "build")));
	if (json_is_string(json_object_get(root, "before")))
		fprintf(f, "Rows marked [before]: BENCH_BEFORE=%s, in the same rounds.\n",
			json_string_value(json_object_get(root, "before")));
	fclose(f);
}

static const struct {
	const char *key;
	void (*fn)(struct env *v);
} scenarios[] = {
	{"ping", scen_ping},     {"cached", scen_cached_exchange}, {"get", scen_get_records},
	{"cold", scen_cold},     {"single", scen_single_flight},   {"rss", scen_rss},
};

/* BENCH_ONLY="ping,cold" runs only those scenarios (to profile one); all when unset. */
static bool wanted(const char *key)
{
	const char *only = getenv("BENCH_ONLY");
	size_t n = strlen(key);

	for (const char *p = only; p && *p; p += strcspn(p, ","), p += *p == ',')
		if (strncmp(p, key, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
	return !only || !*only;
}

static void parse_args(int argc, char **argv, struct cfg *c, const char **json_out,
		       const char **md_out)
{
	*c = (struct cfg){.rounds = 3, .warm = 0.3, .dur = 1.5, .n_seq = 300, .n_tokens = 10000,
			  .n_idle = 1000, .n_burst_conns = 100, .n_burst_depth = 10};
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--smoke") == 0)
			*c = (struct cfg){.smoke = true, .rounds = 1, .warm = 0.05, .dur = 0.1,
					  .n_seq = 5, .n_tokens = 40, .n_idle = 20,
					  .n_burst_conns = 10, .n_burst_depth = 10};
		else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
			*json_out = argv[++i];
		else if (strcmp(argv[i], "--markdown") == 0 && i + 1 < argc)
			*md_out = argv[++i];
	}
}

int main(int argc, char **argv)
{
	struct env v = {0};
	const char *json_out = NULL, *md_out = NULL, *commit = getenv("BENCH_COMMIT");
	const char *build = getenv("BENCH_BUILD");
	json_t *root, *m;
	char date[64], la[128];
	time_t now = time(NULL);

	parse_args(argc, argv, &v.c, &json_out, &md_out);
	v.ab = getenv("BENCH_BEFORE") && *getenv("BENCH_BEFORE");
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime(&now));
	m = machine();
	v.results = json_array();
	start(&v);
	printf("%-44s %-14s %12s | %-28s %12s | %7s | target\n", "scenario", "metric",
	       "skybrokerd", "baseline", "baseline's", "ratio");
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		if (wanted(scenarios[i].key))
			scenarios[i].fn(&v);
	stop(&v);
	loadavg(la, sizeof(la));
	json_object_set_new(m, "loadavg_end", json_string(la));
	root = json_pack("{s:s, s:s, s:s, s:b, s:o, s:o}", "date", date, "commit",
			 commit ? commit : "unknown", "build", build ? build : "unknown", "smoke",
			 v.c.smoke, "machine", m, "results", v.results);
	if (v.ab)
		json_object_set_new(root, "before", json_string(getenv("BENCH_BEFORE")));
	if (json_out && json_dump_file(root, json_out, JSON_INDENT(2)) < 0)
		perror(json_out);
	if (md_out)
		write_markdown(md_out, root);
	json_decref(root);
	if (v.failures)
		fprintf(stderr, "bench_suite: %u requests or scenarios failed\n", v.failures);
	return v.failures ? 1 : 0;
}
