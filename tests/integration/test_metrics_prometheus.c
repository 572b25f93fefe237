/* SPDX-License-Identifier: MIT */
/*
 * A real Prometheus server (Debian's prometheus package) on loopback scrapes skybrokerd's
 * metrics listener every second while a load of pings runs over the Unix socket; then the
 * counter queried through Prometheus's HTTP API equals the number of pings sent. Skipped
 * when /usr/bin/prometheus is missing (scripts/bootstrap installs it).
 */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "metrics_test.h"

#define PROMETHEUS "/usr/bin/prometheus"
#define CONNS 4
#define BATCHES 30
#define PER_BATCH 100 /* pings per connection per batch */

struct body {
	char buf[65536];
	size_t len;
};

static size_t on_data(char *p, size_t s, size_t n, void *ud)
{
	struct body *b = ud;
	size_t k = s * n;

	if (k > sizeof(b->buf) - 1 - b->len)
		return 0;
	memcpy(b->buf + b->len, p, k);
	b->len += k;
	b->buf[b->len] = '\0';
	return k;
}

/* GET http://127.0.0.1:port/path (path already escaped); the HTTP status, or -1. */
static long http_get(int port, const char *path, struct body *b)
{
	char url[1024];
	long status = -1;
	CURL *h = curl_easy_init();

	b->len = 0;
	b->buf[0] = '\0';
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	return status;
}

/* The one value of an instant query (PromQL text, URL-escaped here), or -1. */
static double query(int port, const char *promql)
{
	static struct body b;
	char path[1024];
	CURL *h = curl_easy_init();
	char *q = curl_easy_escape(h, promql, 0);
	json_t *root, *v;
	double r = -1;

	snprintf(path, sizeof(path), "/api/v1/query?query=%s", q);
	curl_free(q);
	curl_easy_cleanup(h);
	if (http_get(port, path, &b) != 200)
		return -1;
	root = json_loads(b.buf, 0, NULL);
	v = json_array_get(json_object_get(json_array_get(json_object_get(json_object_get(root,
		"data"), "result"), 0), "value"), 1);
	if (json_is_string(v))
		r = strtod(json_string_value(v), NULL);
	json_decref(root);
	return r;
}

static pid_t start_prometheus(const struct sbt_daemon *d, int prom_port, int target_port)
{
	char yml[PATH_MAX], text[512], cfg_arg[PATH_MAX + 32], db_arg[PATH_MAX + 32], web[64],
		log[PATH_MAX];
	pid_t pid;

	snprintf(yml, sizeof(yml), "%s/prometheus.yml", d->dir);
	snprintf(text, sizeof(text),
		 "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
		 "scrape_configs:\n  - job_name: skybroker\n    static_configs:\n"
		 "      - targets: ['127.0.0.1:%d']\n", target_port);
	sbt_write_file(yml, text, 0644);
	snprintf(cfg_arg, sizeof(cfg_arg), "--config.file=%s", yml);
	snprintf(db_arg, sizeof(db_arg), "--storage.tsdb.path=%s/tsdb", d->dir);
	snprintf(web, sizeof(web), "--web.listen-address=127.0.0.1:%d", prom_port);
	snprintf(log, sizeof(log), "%s/prometheus.log", d->dir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (fd >= 0) {
			dup3(fd, STDOUT_FILENO, 0);
			dup3(fd, STDERR_FILENO, 0);
		}
		execl(PROMETHEUS, PROMETHEUS, cfg_arg, db_arg, web, "--log.level=warn", (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Waits until the target has been scraped once (up == 1). */
static void wait_up(int prom_port)
{
	struct body b;
	uint64_t t0 = mt_now_usec();

	while (http_get(prom_port, "/-/ready", &b) != 200)
		assert_true(mt_now_usec() - t0 < 30000000u);
	while (query(prom_port, "up{job=\"skybroker\"}") != 1)
		assert_true(mt_now_usec() - t0 < 30000000u);
}

static void test_prometheus_scrapes_under_load(void **state)
{
	struct sbt_daemon d;
	char conf[4096], extra[64];
	int port = mt_free_port(), prom_port = mt_free_port();
	struct sbt_client *c[CONNS];
	double want = CONNS * BATCHES * PER_BATCH, got = -1, scrapes;
	pid_t prom;
	uint64_t t0;
	int st;

	(void)state;
	if (access(PROMETHEUS, X_OK) != 0)
		skip();
	snprintf(extra, sizeof(extra), "metrics_listen = 127.0.0.1:%d\n", port);
	sbt_start_one(&d, conf, sizeof(conf), extra);
	prom = start_prometheus(&d, prom_port, port);
	wait_up(prom_port);

	/* The load, paced over about 3 s so that it spans several scrapes. */
	for (int i = 0; i < CONNS; i++)
		c[i] = sbt_connect_hello(d.socket);
	t0 = mt_now_usec();
	for (int b = 0; b < BATCHES; b++) {
		for (int i = 0; i < CONNS; i++) {
			for (int k = 0; k < PER_BATCH; k++) {
				struct sb_request req = {.op = SB_OP_PING};

				assert_true(sbt_queue(c[i], &req) > 0);
			}
			assert_int_equal(sbt_flush(c[i]), 0);
		}
		for (int i = 0; i < CONNS; i++)
			for (int k = 0; k < PER_BATCH; k++) {
				struct sb_reply rep;

				assert_int_equal(sbt_recv(c[i], &rep), 0);
				assert_true(rep.ok);
				sb_reply_done(&rep);
			}
		usleep(100000); /* pacing of the load, not a wait for a condition */
	}
	fprintf(stderr, "sent %.0f pings over %.1f s\n", want,
		(double)(mt_now_usec() - t0) / 1e6);
	for (int i = 0; i < CONNS; i++)
		sbt_client_free(c[i]);

	/* Prometheus scraped during the load, and its latest sample counts every ping. */
	t0 = mt_now_usec();
	while ((got = query(prom_port, "skybroker_requests_total{tenant=\"acme\",op=\"ping\","
				       "outcome=\"ok\"}")) != want &&
	       mt_now_usec() - t0 < 30000000u)
		usleep(200000);
	scrapes = query(prom_port, "count_over_time(up{job=\"skybroker\"}[1m])");
	fprintf(stderr, "prometheus: skybroker_requests_total{op=\"ping\"} = %.0f after %.0f scrapes\n",
		got, scrapes);
	assert_true(got == want);
	assert_true(scrapes >= 3);
	assert_true(query(prom_port, "max_over_time(skybroker_tenant_ready{tenant=\"acme\"}[1m])") == 1);

	kill(prom, SIGTERM);
	assert_int_equal(waitpid(prom, &st, 0), prom);
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prometheus_scrapes_under_load),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
