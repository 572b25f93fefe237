/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdarg.h>

/*
 * The one way an error travels with its detail inside the broker: the negative errno of
 * proto/errors.h (which decides the wire code), a message a client or operator can act on
 * (never a token, key or record value), and what upstream said when it came from upstream.
 * It is a plain value: copy it, keep it in a negative cache, hand it to many waiters.
 */

#define ERROR_DETAIL_MESSAGE_MAX 256
#define ERROR_DETAIL_REQUEST_ID_MAX 128 /* as UPSTREAM_MAX_REQUEST_ID and SB_MAX_REQUEST_ID */

struct error_detail {
	int r;                  /* negative errno; 0 when there is no error */
	long upstream_status;   /* HTTP status when upstream answered, else 0 */
	char request_id[ERROR_DETAIL_REQUEST_ID_MAX + 1]; /* upstream X-Request-ID, or "" */
	char message[ERROR_DETAIL_MESSAGE_MAX];           /* "" means the code's generic text */
};

/* Sets e (may be NULL) to r with a formatted message (truncated, one line) and returns r, so
 * `return error_detail_set(err, -EKEYREJECTED, "...")` reports and propagates. */
int error_detail_set(struct error_detail *e, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int error_detail_setv(struct error_detail *e, int r, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* Records the upstream status and request id (id may be NULL; it is copied sanitised). */
void error_detail_set_upstream(struct error_detail *e, long status, const char *request_id);

/* Clears e to "no error". */
void error_detail_clear(struct error_detail *e);
