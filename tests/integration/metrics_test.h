/* SPDX-License-Identifier: MIT */
#pragma once
/*
 * Helpers of the metrics tests (header-only): a free loopback port, raw HTTP/1.1 against the
 * metrics listener, the exposition over the admin socket, and reading one sample.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* A loopback TCP port nobody listens on right now. */
static inline int mt_free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		abort();
	close(fd);
	return ntohs(a.sin_port);
}

/* A blocking TCP connection to 127.0.0.1:port, or -errno. */
static inline int mt_tcp(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {.tv_sec = SBT_TIMEOUT_MS / 1000};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

/* Reads until EOF into out (NUL-terminated, truncated at size - 1). Bytes read, or -errno. */
static inline ssize_t mt_read_all(int fd, char *out, size_t size)
{
	size_t len = 0;

	for (;;) {
		ssize_t n = recv(fd, out + len, size - 1 - len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			out[len] = '\0';
			return errno == ECONNRESET ? (ssize_t)len : -errno;
		}
		if (n == 0 || (len += (size_t)n) == size - 1)
			break;
	}
	out[len] = '\0';
	return (ssize_t)len;
}

/* Sends raw bytes to the listener and reads the whole answer. Bytes read or -errno. */
static inline ssize_t mt_http_raw(int port, const void *req, size_t n, char *out, size_t size)
{
	int fd = mt_tcp(port);
	ssize_t r;

	if (fd < 0)
		return fd;
	if (n && send(fd, req, n, MSG_NOSIGNAL) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	r = mt_read_all(fd, out, size);
	close(fd);
	return r;
}

/* GET /metrics: the body (a pointer into out) of a 200 answer, else NULL. */
static inline const char *mt_scrape(int port, char *out, size_t size)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
	const char *body;

	if (mt_http_raw(port, req, sizeof(req) - 1, out, size) <= 0)
		return NULL;
	if (strncmp(out, "HTTP/1.1 200 ", 13) != 0)
		return NULL;
	body = strstr(out, "\r\n\r\n");
	return body ? body + 4 : NULL;
}

/* The exposition over the admin socket (metrics op), copied into out; 0 or -1. */
static inline int mt_admin_text(const char *admin, char *out, size_t size)
{
	struct sbt_client *c = sbt_connect_hello(admin);
	struct sb_reply rep;
	int r = -1;

	if (sbt_call(c, SB_OP_METRICS, &rep) == 0) {
		if (rep.ok && rep.u.metrics.text) {
			snprintf(out, size, "%s", rep.u.metrics.text);
			r = 0;
		}
		sb_reply_done(&rep);
	}
	sbt_client_free(c);
	return r;
}

/* The value of the sample whose name and labels are exactly `series` (e.g.
 * `skybroker_requests_total{tenant="acme",op="ping",outcome="ok"}`), or -1 when absent. */
static inline double mt_value(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; (p = strstr(p, series)); p += n)
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

/* Runs `promtool check metrics` on text; its exit code (127 when promtool is missing). */
static inline int mt_promtool(const struct sbt_daemon *d, const char *text, char *out, size_t size)
{
	char path[PATH_MAX], cmd[PATH_MAX + 64];

	if (access("/usr/bin/promtool", X_OK) != 0)
		return 127;
	snprintf(path, sizeof(path), "%s/exposition.txt", d->dir);
	sbt_write_file(path, text, 0644);
	if (getenv("SKYBROKER_TEST_KEEP")) /* a copy to read after the test */
		sbt_write_file("/tmp/skybroker-exposition.txt", text, 0644);
	snprintf(cmd, sizeof(cmd), "exec /usr/bin/promtool check metrics < %s", path);
	return sbt_run((const char *const[]){"/bin/sh", "-c", cmd, NULL}, NULL, out, size);
}

static inline uint64_t mt_now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
