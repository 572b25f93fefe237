/* SPDX-License-Identifier: MIT */
#pragma once

/* What the conformance test programs share: cmocka, the conformance client, the daemon
 * harness, and small request builders on mp.h. Header-only, included by test_*.c only. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cf.h"
#include "harness.h"
#include "mp.h"

/* The operations of PROTOCOL.md section 7 that act for a user, with the least each needs
 * to decode (section 7's required fields): a test can send any of them, offered or not. */
static inline void cft_user_request(struct mpw *w, uint64_t id, const char *op, const char *token)
{
	static const struct {
		const char *op;
		const char *fields; /* t: table, i: skyflow_id, r: records, f: fields map,
				     * s: skyflow_ids, k: tokens, g: column_group + values, q: query */
	} ops[] = {
		{"exchange", ""}, {"get_records", "t"}, {"get_record", "ti"},
		{"insert_records", "tr"}, {"update_record", "tif"}, {"delete_records", "ts"},
		{"detokenize", "k"}, {"tokenize", "g"}, {"query", "q"},
	};
	const char *f = NULL;
	uint32_t n = 1;

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(ops[i].op, op) == 0)
			f = ops[i].fields;
	assert_non_null(f);
	for (const char *c = f; *c; c++)
		n += *c == 'g' ? 2 : 1;
	mpw_request(w, id, op, n);
	mpw_str(w, "subject_token");
	mpw_str(w, token);
	for (const char *c = f; *c; c++) {
		switch (*c) {
		case 't': mpw_str(w, "table"); mpw_str(w, "persons"); break;
		case 'i': mpw_str(w, "skyflow_id"); mpw_str(w, "f8d2"); break;
		case 'r': mpw_str(w, "records"); mpw_array(w, 1); mpw_map(w, 0); break;
		case 'f': mpw_str(w, "fields"); mpw_map(w, 0); break;
		case 's': mpw_str(w, "skyflow_ids"); mpw_array(w, 1); mpw_str(w, "f8d2"); break;
		case 'k': mpw_str(w, "tokens"); mpw_array(w, 1); mpw_str(w, "tok"); break;
		case 'g':
			mpw_str(w, "column_group"); mpw_str(w, "cg");
			mpw_str(w, "values"); mpw_array(w, 1); mpw_str(w, "v");
			break;
		case 'q': mpw_str(w, "query"); mpw_str(w, "SELECT * FROM persons"); break;
		}
	}
}

static const char *const cft_user_ops[] = {
	"exchange", "get_records", "get_record", "insert_records", "update_record",
	"delete_records", "detokenize", "tokenize", "query",
};
#define CFT_N_USER_OPS (sizeof(cft_user_ops) / sizeof(cft_user_ops[0]))

/* Sends payload w on fd (freeing w) and fails the test if it cannot be sent. */
static inline void cft_send(int fd, struct mpw *w)
{
	int r = cf_send(fd, w);

	mpw_free(w);
	if (r < 0)
		fail_msg("send: %s", strerror(-r));
}

/* An exchange request with this token. */
static inline void cft_exchange(int fd, uint64_t id, const char *token)
{
	struct mpw w;

	mpw_init(&w);
	cft_user_request(&w, id, "exchange", token);
	cft_send(fd, &w);
}

/* The uint value of key k of map m; fails the test when it is absent or not a uint. */
static inline uint64_t cft_uint(const struct mpv *m, const char *k)
{
	const struct mpv *v = mpv_get(m, k);

	if (!v || v->t != MPV_UINT)
		fail_msg("'%s' is missing or not a uint", k);
	return v->u;
}

/* Fails the test unless fd is closed by the broker with nothing more sent. */
static inline void cft_closed(int fd, const char *what)
{
	int r = cf_expect_closed(fd, CF_TIMEOUT_MS);

	if (r < 0)
		fail_msg("%s: the broker did not close the connection (%s)", what,
			 r == -EBADMSG ? "it sent a frame" : strerror(-r));
	close(fd);
}

static inline uint64_t cft_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
