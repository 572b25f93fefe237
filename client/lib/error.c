/* SPDX-License-Identifier: MIT */
/* error: struct skybroker_error from a local failure or from the broker's error reply. */
#include <stdio.h>
#include <string.h>

#include "client/lib/internal.h"

/* Local codes after SKYBROKER_E_INTERNAL, in enum order. */
static const char *const local_names[] = {
	"invalid_argument", "unreachable", "timeout", "disconnected", "protocol", "no_memory",
};

const char *skybroker_code_name(int code)
{
	if (code == SKYBROKER_OK)
		return "ok";
	if (code >= SKYBROKER_E_BAD_REQUEST && code <= SKYBROKER_E_INTERNAL)
		return sb_errcode_name((enum sb_errcode)(code - SKYBROKER_E_BAD_REQUEST));
	if (code >= SKYBROKER_E_INVALID_ARGUMENT && code <= SKYBROKER_E_NO_MEMORY)
		return local_names[code - SKYBROKER_E_INVALID_ARGUMENT];
	return "internal";
}

int client_code_of(enum sb_errcode c)
{
	if ((unsigned)c >= _SB_ERR_MAX)
		return SKYBROKER_E_INTERNAL;
	return SKYBROKER_E_BAD_REQUEST + (int)c;
}

/* Whether a local failure may go away if the same call is made later. */
static bool local_retryable(int code)
{
	return code == SKYBROKER_E_UNREACHABLE || code == SKYBROKER_E_TIMEOUT ||
	       code == SKYBROKER_E_DISCONNECTED;
}

int client_error(struct skybroker_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	memset(err, 0, sizeof(*err));
	err->code = code;
	snprintf(err->code_name, sizeof(err->code_name), "%s", skybroker_code_name(code));
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	err->retryable = local_retryable(code);
	return code;
}

int client_error_reply(struct skybroker_error *err, const struct sb_error *e)
{
	int code = client_code_of(e->code);

	if (!err)
		return code;
	memset(err, 0, sizeof(*err));
	err->code = code;
	snprintf(err->code_name, sizeof(err->code_name), "%s", skybroker_code_name(code));
	snprintf(err->message, sizeof(err->message), "%s", e->message ? e->message : "");
	err->retryable = e->retryable;
	if (e->upstream_status.set)
		err->upstream_status = (unsigned)e->upstream_status.v;
	if (e->request_id)
		snprintf(err->request_id, sizeof(err->request_id), "%s", e->request_id);
	return code;
}
