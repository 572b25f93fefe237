/* SPDX-License-Identifier: MIT */
/*
 * Every descriptor of the daemon is close-on-exec (review finding 9), also those libcurl
 * creates: the multi handle's wakeup pair and the TCP connections to the emulator (kept alive
 * after an exchange). Read from /proc/<pid>/fdinfo: O_CLOEXEC is 02000000 in the flags.
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

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_all_fds_cloexec) };

	return cmocka_run_group_tests(tests, NULL, NULL);
}
