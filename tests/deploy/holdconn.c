/* SPDX-License-Identifier: MIT */
/*
 * holdconn: one connection to skybrokerd, kept open, sending `health` every 50 ms until the
 * file STOPFILE exists (or 120 s pass); no retry and no reconnect, so a connection the broker
 * drops, or a request it fails, shows. Prints "holdconn: N requests, M failed" and exits 1
 * if any failed (tests/deploy/podman-kube.sh runs it across a credential rotation, a reload
 * and the notify messages).
 *
 * usage: holdconn SOCKET STOPFILE
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "skybroker.h"

int main(int argc, char **argv)
{
	struct skybroker_error err = { 0 };
	skybroker *h = NULL;
	unsigned long n = 0, failed = 0;
	time_t end = time(NULL) + 120;
	int r;

	if (argc != 3) {
		fprintf(stderr, "usage: holdconn SOCKET STOPFILE\n");
		return 2;
	}
	r = skybroker_connect(argv[1], "holdconn/1", 5000, &h, &err);
	if (r != 0) {
		fprintf(stderr, "holdconn: connect: %s\n", skybroker_code_name(r));
		return 1;
	}
	skybroker_set_retry(h, 1, 0);
	while (access(argv[2], F_OK) != 0 && time(NULL) < end) {
		r = skybroker_health(h, 5000, NULL, &err);
		n++;
		if (r != 0) {
			failed++;
			fprintf(stderr, "holdconn: request %lu: %s\n", n, skybroker_code_name(r));
		}
		usleep(50 * 1000);
	}
	skybroker_free(h);
	printf("holdconn: %lu requests, %lu failed\n", n, failed);
	return failed ? 1 : 0;
}
