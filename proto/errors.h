/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

/*
 * Error conventions.
 *
 * Internal functions return int: >= 0 on success, a negative errno on failure. Domain errors
 * use these fixed values, so that any layer can turn a failure into a wire error code:
 *
 *   -EBADMSG       malformed input (bad frame, bad msgpack, missing or mistyped field)
 *   -EMSGSIZE      something exceeds a limit (frame, string, count, depth)
 *   -EPROTO        protocol state or version (no common version, op before hello)
 *   -EOPNOTSUPP    unknown operation
 *   -EACCES        peer not admitted, or operation not allowed for its tenant
 *   -EKEYREJECTED  subject token invalid
 *   -EKEYEXPIRED   subject token expired (or not yet valid)
 *   -EPERM         upstream refused (401/403 and similar)
 *   -ENOENT        upstream says not found
 *   -ETIMEDOUT     upstream did not answer in time
 *   -EIO           upstream unavailable or answered garbage
 *   -EUSERS        rate limited (local budget or upstream 429)
 *   -ESHUTDOWN     daemon is shutting down
 *
 * The wire carries only the stable code strings below, never errno numbers.
 */

enum sb_errcode {
	SB_ERR_BAD_REQUEST,
	SB_ERR_UNSUPPORTED_VERSION,
	SB_ERR_UNAUTHENTICATED,
	SB_ERR_TOKEN_EXPIRED,
	SB_ERR_FORBIDDEN,
	SB_ERR_UPSTREAM_DENIED,
	SB_ERR_NOT_FOUND,
	SB_ERR_UPSTREAM_UNAVAILABLE,
	SB_ERR_RATE_LIMITED,
	SB_ERR_TOO_LARGE,
	SB_ERR_SHUTTING_DOWN,
	SB_ERR_INTERNAL,
	_SB_ERR_MAX,
};

/* The wire string of a code ("bad_request", ...); "internal" for out-of-range values. */
const char *sb_errcode_name(enum sb_errcode code);

/* Parses a wire string; returns the code or -EBADMSG for an unknown string. */
int sb_errcode_from_name(const char *name);

/* Maps a negative errno of the table above to a wire code; anything else is SB_ERR_INTERNAL. */
enum sb_errcode sb_errcode_from_errno(int r);

/* Whether a client may retry the same request later and expect a different outcome. */
bool sb_errcode_retryable(enum sb_errcode code);

/*
 * Why a decode failed, for the error reply and the log. `code` is the negative errno the
 * decoder returned; `message` is a short human sentence naming the field or offset, e.g.
 * "field 'table' is missing". It never contains a field's value.
 */
struct sb_proto_error {
	int code;
	char message[160];
};

/* Sets e (if non-NULL) from a printf-style message and returns code. */
int sb_proto_error_set(struct sb_proto_error *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
