/* SPDX-License-Identifier: MIT */
/* errors: the wire error codes, their names and retryability, and the codec's error detail. */
#include <errno.h>
#include <string.h>

#include "errors.h"

static const char *const errcode_names[_SB_ERR_MAX] = {
	[SB_ERR_BAD_REQUEST] = "bad_request",
	[SB_ERR_UNSUPPORTED_VERSION] = "unsupported_version",
	[SB_ERR_UNAUTHENTICATED] = "unauthenticated",
	[SB_ERR_TOKEN_EXPIRED] = "token_expired",
	[SB_ERR_FORBIDDEN] = "forbidden",
	[SB_ERR_UPSTREAM_DENIED] = "upstream_denied",
	[SB_ERR_NOT_FOUND] = "not_found",
	[SB_ERR_UPSTREAM_UNAVAILABLE] = "upstream_unavailable",
	[SB_ERR_RATE_LIMITED] = "rate_limited",
	[SB_ERR_TOO_LARGE] = "too_large",
	[SB_ERR_SHUTTING_DOWN] = "shutting_down",
	[SB_ERR_INTERNAL] = "internal",
};

const char *sb_errcode_name(enum sb_errcode code)
{
	if ((unsigned)code >= _SB_ERR_MAX)
		return errcode_names[SB_ERR_INTERNAL];
	return errcode_names[code];
}

int sb_errcode_from_name(const char *name)
{
	if (!name)
		return -EBADMSG;
	for (int i = 0; i < _SB_ERR_MAX; i++)
		if (strcmp(errcode_names[i], name) == 0)
			return i;
	return -EBADMSG;
}

enum sb_errcode sb_errcode_from_errno(int r)
{
	switch (r) {
	case -EBADMSG:
	case -EINVAL:
	case -EOPNOTSUPP:
		return SB_ERR_BAD_REQUEST;
	case -EPROTO:
		return SB_ERR_UNSUPPORTED_VERSION;
	case -EMSGSIZE:
	case -E2BIG:
		return SB_ERR_TOO_LARGE;
	case -EACCES:
		return SB_ERR_FORBIDDEN;
	case -EKEYREJECTED:
		return SB_ERR_UNAUTHENTICATED;
	case -EKEYEXPIRED:
		return SB_ERR_TOKEN_EXPIRED;
	case -EPERM:
		return SB_ERR_UPSTREAM_DENIED;
	case -ENOENT:
		return SB_ERR_NOT_FOUND;
	case -ETIMEDOUT:
	case -EIO:
	case -ECONNREFUSED:
	case -EHOSTUNREACH:
		return SB_ERR_UPSTREAM_UNAVAILABLE;
	case -EUSERS:
		return SB_ERR_RATE_LIMITED;
	case -ESHUTDOWN:
		return SB_ERR_SHUTTING_DOWN;
	default:
		return SB_ERR_INTERNAL;
	}
}

bool sb_errcode_retryable(enum sb_errcode code)
{
	return code == SB_ERR_UPSTREAM_UNAVAILABLE || code == SB_ERR_RATE_LIMITED ||
	       code == SB_ERR_SHUTTING_DOWN;
}

#include <stdarg.h>
#include <stdio.h>  /* lint:allow vsnprintf only, no I/O */

int sb_proto_error_set(struct sb_proto_error *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return code;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return code;
}
