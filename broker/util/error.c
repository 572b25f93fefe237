/* SPDX-License-Identifier: MIT */
/* error: struct error_detail, the broker's one carrier of an error and its detail. */
#include <stdio.h>
#include <string.h>

#include "util/error.h"
#include "util/sanitize.h"

void error_detail_clear(struct error_detail *e)
{
	if (e)
		*e = (struct error_detail){0};
}

int error_detail_setv(struct error_detail *e, int r, const char *fmt, va_list ap)
{
	char raw[ERROR_DETAIL_MESSAGE_MAX];

	if (!e)
		return r;
	e->r = r;
	if (!fmt) {
		e->message[0] = '\0';
		return r;
	}
	(void)vsnprintf(raw, sizeof(raw), fmt, ap);
	sanitize_for_log(e->message, sizeof(e->message), raw);
	return r;
}

int error_detail_set(struct error_detail *e, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	r = error_detail_setv(e, r, fmt, ap);
	va_end(ap);
	return r;
}

void error_detail_set_upstream(struct error_detail *e, long status, const char *request_id)
{
	if (!e)
		return;
	e->upstream_status = status;
	sanitize_for_log(e->request_id, sizeof(e->request_id), request_id ? request_id : "");
}
