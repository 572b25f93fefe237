/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The conformance client: a blocking Unix-socket client that speaks proto/PROTOCOL.md through
 * mp.h alone, and the checks every conformance test repeats (an error reply's shape against
 * sections 5.2 and 9, a close with nothing more sent). The daemon and the emulator are
 * started with the integration harness (tests/integration), which is not on the wire path.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mp.h"

#define CF_TIMEOUT_MS 30000

/* Connects to path (blocking, CF_TIMEOUT_MS receive timeout). The fd, or -errno. */
int cf_connect(const char *path);
/* Sends n raw bytes. 0 or -errno. */
int cf_send_raw(int fd, const void *p, size_t n);
/* Sends one frame holding payload. 0 or -errno. */
int cf_send(int fd, const struct mpw *payload);
/*
 * Receives one frame and decodes it (*ret: free with mpv_free). 0; -EPIPE when the broker
 * closed the connection (EOF or reset) before a whole frame; -ETIMEDOUT after timeout_ms;
 * -EBADMSG for a frame that does not decode (the test fails on it anyway).
 */
int cf_recv(int fd, struct mpv **ret, int timeout_ms);
/* Waits until the broker closes the connection without sending anything more: 0, -EBADMSG
 * if a frame came first, -ETIMEDOUT. */
int cf_expect_closed(int fd, int timeout_ms);

/* The retryable flag section 9 gives code; -1 for a code not in the table. */
int cf_code_retryable(const char *code);

/*
 * Checks that rep is an error reply of section 5.2 with this id and code: ok false, error a
 * map with code, message (a str of at most 1024 bytes), retryable as section 9 says. Fails
 * the test (cmocka) with what differs, naming `what`. Returns error.message (borrowed).
 */
void cf_check_error(const struct mpv *rep, uint64_t id, const char *code, const char *what);
/* Checks rep is {id, ok: true, result: map}; returns result (borrowed). */
const struct mpv *cf_check_ok(const struct mpv *rep, uint64_t id, const char *what);
/* Whether the error message of rep contains needle. */
bool cf_message_has(const struct mpv *rep, const char *needle);

/* Sends a hello {id, op, versions: [1], client: "conformance/1"} and returns its reply (0, or
 * -errno from cf_recv). */
int cf_hello(int fd, uint64_t id, struct mpv **ret);
/* cf_connect + cf_hello, failing the test unless the reply is ok; the fd. */
int cf_open(const char *path);
/* Sends a request with no arguments and receives one reply (0 or -errno). */
int cf_call(int fd, uint64_t id, const char *op, struct mpv **ret);
/* Receives one reply and checks it is an error (cf_check_error), then frees it. */
void cf_recv_error(int fd, uint64_t id, const char *code, const char *what);
/* Receives one reply and checks it is ok with this id, then frees it. */
void cf_recv_ok(int fd, uint64_t id, const char *what);
/* Whether the str array arr holds s. */
bool cf_array_has(const struct mpv *arr, const char *s);
