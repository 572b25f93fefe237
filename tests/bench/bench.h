/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The pieces of bench_suite: an epoll load generator speaking the protocol's framing
 * (loadgen.c), a bare epoll echo server with the same framing (echo.c), the daemon's CPU time
 * and RSS from /proc (procstat.c), latency samples and their quantiles (samples.c), and the
 * guide's pattern done directly against the emulator (guide.c).
 *
 * None of this asserts a time: it measures, and bench_suite prints and records the figures.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdarg.h>
#include <sys/types.h>

#include "exchange_emu.h"
#include "proto/buf.h"
#include "proto/limits.h"

uint64_t bench_now_ns(void);

/* ---- latency samples (ns), grown as needed; quantiles in microseconds */
struct samples {
	uint32_t *v; /* ns, saturated at UINT32_MAX (4.3 s) */
	size_t n, cap;
	bool sorted;
};
void samples_add(struct samples *s, uint64_t ns);
double samples_quantile_us(struct samples *s, double q);
void samples_free(struct samples *s);

/* ---- /proc/PID */
struct procstat {
	double cpu_s; /* utime + stime, seconds */
	long rss_kib; /* VmRSS */
};
int procstat_read(pid_t pid, struct procstat *ret);

/* ---- the echo server: a child process; frames of 4-byte big-endian length + body echoed */
struct echo_server {
	pid_t pid;
	char path[108];
};
int echo_start(struct echo_server *e, const char *dir);
void echo_stop(struct echo_server *e);

/* ---- the load generator */
struct lg_params {
	const char *path; /* Unix socket */
	bool hello;       /* say hello first (skybrokerd) or not (the echo server) */
	unsigned conns, depth;
	double warmup_s, duration_s; /* duration 0 with once: each slot sends once */
	bool once;
	pid_t server;               /* whose CPU and RSS are read (0: none) */
	/* The request of slot (conn, slot) with id as its id, encoded as a frame into out. */
	int (*encode)(void *ud, unsigned conn, unsigned slot, uint64_t id, struct sb_buf *out);
	void *ud;
};
struct lg_result {
	uint64_t n, errors; /* replies in the measured window; of which not ok */
	double seconds;     /* the measured window */
	double cpu_s;       /* the server's CPU seconds in that window */
	long rss_kib;       /* the server's RSS at the end */
	struct samples lat;
};
/* Runs one load; results are added to *acc (so interleaved rounds accumulate). 0 or -errno. */
int lg_run(const struct lg_params *p, struct lg_result *acc);

/* ---- the guide's pattern, directly against the emulator (blocking libcurl, one kept-alive
 * connection, as an MCP server would hold) */
struct guide;
struct guide *guide_new(struct xe_emu *e);
void guide_free(struct guide *g);
/* Validates token locally (RS256 signature with the JWKS key fetched once, exp) as the
 * Descope SDK does. 0 or -1. */
int guide_validate(struct guide *g, const char *token);
/* One STS exchange; *access (malloc'd) the Skyflow bearer. 0 or -1. */
int guide_sts(struct guide *g, const char *token, char **access);
/* GET /v1/vaults/{vault}/{table} with bearer. 0 when 200. */
int guide_get(struct guide *g, const char *bearer, const char *table);
/* A Descope token for sub with one role, valid one hour, minted at the emulator on g's
 * kept-alive connection (malloc'd, or NULL). */
char *guide_mint(struct guide *g, const char *sub, const char *role);
void lg_result_free(struct lg_result *r);
