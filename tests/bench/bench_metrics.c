/* SPDX-License-Identifier: MIT */
/*
 * bench_metrics: does the metrics listener cost the Unix-socket clients anything? Ping
 * round trips on one connection, p50 and p99, measured three ways in the same run against the
 * same daemon: the listener idle; while two processes scrape /metrics back to back; and while
 * a hostile process holds every listener slot with slow clients and floods it with garbage
 * and new connections (refused 503). Prints the ratios to the idle figures.
 * Usage: bench_metrics [N]   (N x 10 pings per measurement, default 200)
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "metrics_test.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* n pings on c; p50 and p99 in microseconds. */
static void measure(struct sbt_client *c, size_t n, double *p50, double *p99)
{
	uint64_t *t = calloc(n, sizeof(*t));

	if (!t)
		abort();
	for (size_t i = 0; i < n; i++) {
		uint64_t s = mt_now_usec();

		if (sbt_ping(c) != 0)
			abort();
		t[i] = mt_now_usec() - s;
	}
	qsort(t, n, sizeof(*t), cmp_u64);
	*p50 = (double)t[n / 2];
	*p99 = (double)t[n * 99 / 100];
	free(t);
}

/* A child process that runs fn(port) until killed. */
static pid_t spawn(void (*fn)(int port), int port)
{
	pid_t pid = fork();

	if (pid < 0)
		abort();
	if (pid == 0) {
		fn(port);
		_exit(0);
	}
	return pid;
}

static void scraper(int port)
{
	static char buf[1 << 20];

	for (;;)
		(void)mt_scrape(port, buf, sizeof(buf));
}

/* Every slot held by a client sending a byte now and then, and a flood of garbage and of
 * connections that find no slot. */
static void hostile(int port)
{
	unsigned seed = 1;
	int slow[8] = {-1, -1, -1, -1, -1, -1, -1, -1};

	for (;;) {
		char junk[256];
		int fd;

		for (int i = 0; i < 8; i++)
			if (slow[i] < 0 && (slow[i] = mt_tcp(port)) >= 0)
				(void)!send(slow[i], "GET /me", 7, MSG_NOSIGNAL);
		for (size_t k = 0; k < sizeof(junk); k++)
			junk[k] = (char)rand_r(&seed); /* lint:allow bench data */
		fd = mt_tcp(port);
		if (fd >= 0) {
			(void)!send(fd, junk, sizeof(junk), MSG_NOSIGNAL | MSG_DONTWAIT);
			close(fd);
		}
		/* a slot freed by the deadline is taken again at once */
		for (int i = 0; i < 8; i++) {
			char b;

			if (slow[i] >= 0 && recv(slow[i], &b, 1, MSG_DONTWAIT) == 0) {
				close(slow[i]);
				slow[i] = -1;
			}
		}
	}
}

static void stop(pid_t pid)
{
	int st;

	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
}

int main(int argc, char **argv)
{
	size_t n = (argc > 1 ? strtoul(argv[1], NULL, 10) : 200) * 10;
	int port = mt_free_port();
	char conf[4096], extra[64];
	double idle50, idle99, s50, s99, h50, h99;
	struct sbt_daemon d;
	struct sbt_client *c;
	pid_t a, b;

	if (n < 100)
		n = 100;
	snprintf(extra, sizeof(extra), "metrics_listen = 127.0.0.1:%d\naudit = no\n", port);
	sbt_start_one(&d, conf, sizeof(conf), extra);
	c = sbt_connect_hello(d.socket);
	measure(c, n / 4, &idle50, &idle99); /* warm-up */
	measure(c, n, &idle50, &idle99);

	a = spawn(scraper, port);
	b = spawn(scraper, port);
	usleep(200000); /* let the scrapers run: load, not a condition */
	measure(c, n, &s50, &s99);
	stop(a);
	stop(b);

	a = spawn(hostile, port);
	usleep(200000);
	measure(c, n, &h50, &h99);
	stop(a);

	printf("ping on one connection, %zu samples each (microseconds)\n", n);
	printf("%-44s p50 %8.1f  p99 %8.1f\n", "metrics listener idle", idle50, idle99);
	printf("%-44s p50 %8.1f  p99 %8.1f  ratio p50 %.2fx p99 %.2fx\n",
	       "2 processes scraping /metrics back to back", s50, s99, s50 / idle50, s99 / idle99);
	printf("%-44s p50 %8.1f  p99 %8.1f  ratio p50 %.2fx p99 %.2fx\n",
	       "slots held + garbage + connection flood", h50, h99, h50 / idle50, h99 / idle99);
	sbt_client_free(c);
	return sbt_daemon_stop(&d) == 0 ? 0 : 1;
}
