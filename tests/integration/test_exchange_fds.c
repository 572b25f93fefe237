/* SPDX-License-Identifier: MIT */
/*
 * Every descriptor of the daemon is close-on-exec (review finding 9), also those libcurl
 * creates: the multi handle's wakeup pair and the TCP connections to the emulator (kept alive
 * after an exchange). Read from /proc/<pid>/fdinfo: O_CLOEXEC is 02000000 in the flags.
 *
 * Idle upstream connections are capped (issue 9, item 12): after a burst of concurrent cold
 * exchanges the daemon keeps at most upstream_max_idle (default 16) of them, and never opens
 * more than upstream_max_per_host to one host. Counted in /proc/<pid>/fd.
 */
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include "exchange_daemon.h"

static struct xe_emu E;
static struct sbt_daemon D;

/* Whether the daemon's fd is one this test process passed on (the test runner's log and pipe,
 * left open without close-on-exec by ctest): the daemon did not create it. */
static bool inherited(int fd)
{
	char link[300], mine[256] = "", theirs[256] = "";
	ssize_t n;
	int fl = fcntl(fd, F_GETFD);

	if (fl < 0 || (fl & FD_CLOEXEC))
		return false;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, mine, sizeof(mine) - 1);
	mine[n > 0 ? n : 0] = '\0';
	snprintf(link, sizeof(link), "/proc/%d/fd/%d", (int)D.pid, fd);
	n = readlink(link, theirs, sizeof(theirs) - 1);
	theirs[n > 0 ? n : 0] = '\0';
	return mine[0] && strcmp(mine, theirs) == 0;
}

static void test_all_fds_cloexec(void **state)
{
	char *cfg = xe_config(NULL), conf[8192], path[128];
	struct sbt_client *c;
	struct sb_reply rep;
	struct dirent *de;
	unsigned checked = 0, sockets = 0, bad = 0;
	size_t len;
	DIR *dir;
	char *t;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	assert_int_equal(xe_emu_start(&E, cfg), 0);
	free(cfg);
	sbt_daemon_init(&D);
	len = xd_broker(conf, sizeof(conf), &D, NULL);
	len = xd_tenant(conf, sizeof(conf), len, &E, "acme", "ctx", NULL, NULL);
	(void)len;
	assert_int_equal(sbt_daemon_start(&D, conf, NULL), 0);
	c = xd_client(D.socket);
	t = xd_mint(&E, "U2fds", "Viewer", 600, NULL);
	xd_exchange(c, t, &rep);
	assert_true(rep.ok);
	sb_reply_done(&rep);

	snprintf(path, sizeof(path), "/proc/%d/fdinfo", (int)D.pid);
	dir = opendir(path);
	assert_non_null(dir);
	while ((de = readdir(dir))) {
		char p[512], line[256], link[300], target[256] = "";
		int fd = (int)strtol(de->d_name, NULL, 10);
		FILE *f;
		ssize_t n;

		if (de->d_name[0] == '.' || fd <= 2 || inherited(fd))
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
		f = fopen(p, "re");
		if (!f)
			continue; /* closed meanwhile */
		snprintf(link, sizeof(link), "/proc/%d/fd/%s", (int)D.pid, de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		while (fgets(line, sizeof(line), f)) {
			unsigned long fl;

			if (strncmp(line, "flags:", 6) != 0)
				continue;
			fl = strtoul(line + 6, NULL, 8);
			checked++;
			if (strncmp(target, "socket:", 7) == 0)
				sockets++;
			if (!(fl & 02000000)) {
				print_message("fd %d (%s) flags %lo: not close-on-exec\n", fd, target, fl);
				bad++;
			}
		}
		fclose(f);
	}
	closedir(dir);
	assert_true(checked > 0);
	assert_true(sockets > 0);
	assert_int_equal(bad, 0);
	free(t);
	sbt_client_free(c);
	xd_stop_clean(&D);
	xe_emu_stop(&E);
}

/* Number of descriptors the daemon has open. */
static unsigned count_fds(void)
{
	char path[64];
	struct dirent *de;
	unsigned n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)D.pid);
	dir = opendir(path);
	assert_non_null(dir);
	while ((de = readdir(dir)))
		n += de->d_name[0] != '.';
	closedir(dir);
	return n;
}

/* The daemon's resident set in KiB, for the message only. */
static unsigned long rss_kib(void)
{
	char path[64], line[256];
	unsigned long kib = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)D.pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %lu", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

/*
 * Starts a daemon (broker_extra in [broker]) against the emulator, makes one exchange, then a
 * burst of n concurrent exchanges of as many new subject tokens (each one STS call, started
 * together), and returns how many more descriptors the daemon holds after the burst than
 * before it (the client connection is open in both counts).
 */
static unsigned burst_growth(const char *broker_extra, int n)
{
	char *cfg = xe_config(NULL), conf[8192], extra[512];
	char **tokens = calloc((size_t)n, sizeof(*tokens));
	unsigned before, after;
	unsigned long rss_before, rss_after;
	struct sbt_client *c;
	struct sb_reply rep;
	char *t;
	size_t len;

	assert_non_null(tokens);
	assert_int_equal(xe_emu_start(&E, cfg), 0);
	free(cfg);
	sbt_daemon_init(&D);
	snprintf(extra, sizeof(extra), "max_inflight_per_connection = 1024\n%s", broker_extra);
	len = xd_broker(conf, sizeof(conf), &D, extra);
	len = xd_tenant(conf, sizeof(conf), len, &E, "acme", "sts", NULL, NULL);
	(void)len;
	xd_long_http_timeout(conf); /* a burst queues for upstream connections */
	assert_int_equal(sbt_daemon_start(&D, conf, NULL), 0);
	c = xd_client(D.socket);
	t = xd_mint(&E, "U2warm", "Viewer", 600, NULL);
	xd_exchange(c, t, &rep);
	assert_true(rep.ok);
	sb_reply_done(&rep);
	free(t);
	for (int i = 0; i < n; i++) {
		char sub[32];

		snprintf(sub, sizeof(sub), "U2burst%04d", i);
		tokens[i] = xd_mint(&E, sub, "Viewer", 600, NULL);
	}
	before = count_fds();
	rss_before = rss_kib();
	for (int i = 0; i < n; i++)
		xd_send(c, tokens[i]);
	for (int i = 0; i < n; i++) {
		assert_int_equal(sbt_recv(c, &rep), 0);
		if (!rep.ok)
			fail_msg("exchange failed: %s: %s", sbt_outcome(&rep), rep.error.message);
		sb_reply_done(&rep);
		free(tokens[i]);
	}
	after = count_fds();
	rss_after = rss_kib();
	print_message("  %d concurrent cold exchanges (%.*s): descriptors %u -> %u, RSS %lu -> %lu "
		      "KiB, STS calls %ld\n",
		      n, *broker_extra ? (int)strcspn(broker_extra, "\n") : 8,
		      *broker_extra ? broker_extra : "defaults", before, after, rss_before,
		      rss_after, xe_count(&E, "POST /v1/auth/sts/token"));
	free(tokens);
	sbt_client_free(c);
	xd_stop_clean(&D);
	xe_emu_stop(&E);
	return after > before ? after - before : 0;
}

static void test_idle_upstream_capped(void **state)
{
	/* the default cap: 16 idle connections, whatever the burst opened */
	assert_true(burst_growth("", 100) <= 16);
}

static void test_upstream_caps_configured(void **state)
{
	/* a smaller idle cap */
	assert_true(burst_growth("upstream_max_idle = 4\n", 100) <= 4);
	/* at most 2 connections to the emulator's host at once: no more than 2 stay open */
	assert_true(burst_growth("upstream_max_per_host = 2\n", 30) <= 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_fds_cloexec),
		cmocka_unit_test(test_idle_upstream_capped),
		cmocka_unit_test(test_upstream_caps_configured),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
