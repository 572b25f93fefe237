/* SPDX-License-Identifier: MIT */
/* startwait: a request for a tenant that is still starting waits for it, bounded. */
#include "runtime/startwait.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "runtime/conn.h"
#include "tenancy/tenant.h"
#include "util/log.h"

struct parked {
	struct request_ctx *rc;
	dispatch_handler h;
	struct tenant_waiter *w;
};

static void run_now(struct request_ctx *rc, dispatch_handler h)
{
	int r = h(rc);

	if (r < 0)
		request_ctx_reply_error(rc, r, NULL);
}

/* The start window closed first: upstream_unavailable (retryable), saying why. */
static void reply_not_started(struct request_ctx *rc)
{
	struct tenant *t = request_ctx_tenant(rc);
	const char *why[TENANT_MAX_BLOCKERS];
	size_t n = tenant_reasons(t, why, TENANT_MAX_BLOCKERS);
	uint64_t s = tenant_broker_config(t)->start_timeout_usec / 1000000u;
	char msg[TENANT_REASON_MAX + 160];

	snprintf(msg, sizeof(msg),
		 "tenant %s is still not ready %llu s after it started (%s); retry later",
		 tenant_name(t), (unsigned long long)s, n ? why[0] : "starting");
	request_ctx_reply_error(rc, -ETIMEDOUT, msg);
}

static void on_tenant(void *userdata, int r)
{
	struct parked *p = userdata;
	struct request_ctx *rc = p->rc;
	dispatch_handler h = p->h;

	free(p);
	request_ctx_set_cancel(rc, NULL, NULL);
	if (r < 0)
		reply_not_started(rc);
	else
		run_now(rc, h);
}

/* The connection closed, or the shutdown deadline came, while the request waited. */
static void on_cancel(struct request_ctx *rc, void *userdata)
{
	struct parked *p = userdata;

	tenant_wait_cancel(p->w);
	free(p);
	request_ctx_reply_error(rc, -ECANCELED, NULL);
}

void startwait_run(struct request_ctx *rc, dispatch_handler h)
{
	struct tenant *t = request_ctx_tenant(rc);
	struct parked *p;
	int r;

	if (!t || !sb_op_needs_subject(request_ctx_op(rc)) || !tenant_starting(t)) {
		run_now(rc, h);
		return;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		request_ctx_reply_error(rc, -ENOMEM, NULL);
		return;
	}
	p->rc = rc;
	p->h = h;
	r = tenant_wait_ready(t, on_tenant, p, &p->w);
	if (r <= 0) {
		free(p);
		if (r < 0)
			request_ctx_reply_error(rc, r, NULL);
		else
			run_now(rc, h);
		return;
	}
	conn_log(request_ctx_conn(rc), LOG_DEBUG,
		 "request id=%llu waits for the tenant to finish starting",
		 (unsigned long long)request_ctx_id(rc));
	request_ctx_set_cancel(rc, on_cancel, p);
}
