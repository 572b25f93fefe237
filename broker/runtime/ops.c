/* SPDX-License-Identifier: MIT */
/* ops: the runtime's own operations: ping (and its TEST-ONLY delayed form), health, stats. */
#include <errno.h>
#include <stdlib.h>

#include "runtime/dispatch.h"
#include "runtime/ops.h"
#include "runtime/stats.h"
#include "util/clock.h"
#include "util/log.h"

static sd_event *ops_event;
static uint64_t test_ping_delay_usec;

void ops_set_test_ping_delay(uint64_t usec)
{
	test_ping_delay_usec = usec;
}

/* A delayed ping: the simplest asynchronous operation, written the way the upstream ones must
 * be (owns its event source, cancellable, finishes rc exactly once). */
struct delayed_ping {
	struct request_ctx *rc;
	sd_event_source *timer;
};

static int delayed_ping_fire(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct delayed_ping *dp = userdata;
	struct sb_reply rep = {.op = SB_OP_PING};

	(void)s;
	(void)usec;
	dp->timer = sd_event_source_unref(dp->timer);
	request_ctx_reply_ok(dp->rc, &rep);
	free(dp);
	return 0;
}

static void delayed_ping_cancel(struct request_ctx *rc, void *ud)
{
	struct delayed_ping *dp = ud;

	dp->timer = sd_event_source_disable_unref(dp->timer);
	free(dp);
	request_ctx_reply_error(rc, -ECANCELED, "cancelled");
}

static int op_ping(struct request_ctx *rc)
{
	struct sb_reply rep = {.op = SB_OP_PING};
	struct delayed_ping *dp;
	int r;

	if (test_ping_delay_usec == 0) {
		request_ctx_reply_ok(rc, &rep);
		return 0;
	}

	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return -ENOMEM;
	dp->rc = rc;
	r = sd_event_add_time(ops_event, &dp->timer, CLOCK_MONOTONIC,
			      clock_now_usec(ops_event) + test_ping_delay_usec,
			      CLOCK_ACCURACY_PRECISE_USEC, delayed_ping_fire, dp);
	if (r < 0) {
		free(dp);
		return r;
	}
	request_ctx_set_cancel(rc, delayed_ping_cancel, dp);
	return 0;
}

static ops_health_detail_t health_detail;

void ops_set_health_detail(ops_health_detail_t fn)
{
	health_detail = fn;
}

static int op_health(struct request_ctx *rc)
{
	struct tenant *t = request_ctx_tenant(rc);
	const char *reasons[TENANT_MAX_BLOCKERS];
	struct sb_reply rep = {.op = SB_OP_HEALTH};
	size_t n;

	if (!t)
		return -EACCES;
	n = tenant_reasons(t, reasons, TENANT_MAX_BLOCKERS);
	rep.u.health = (struct sb_health_result){
		.ready = tenant_is_ready(t),
		.tenant = tenant_name(t),
		.reasons = {.set = true, .n = (uint32_t)n, .v = reasons},
	};
	if (health_detail)
		health_detail(t, &rep.u.health);
	request_ctx_reply_ok(rc, &rep);
	return 0;
}

static int op_stats(struct request_ctx *rc)
{
	struct sb_reply rep = {.op = SB_OP_STATS};
	msgpack_zone *zone = NULL;
	int r;

	r = stats_build(&rep, clock_now_usec(ops_event), &zone);
	if (r < 0)
		return r;
	request_ctx_reply_ok(rc, &rep);
	msgpack_zone_free(zone);
	return 0;
}

void ops_register_builtin(sd_event *event)
{
	ops_event = event;
	dispatch_register(SB_OP_PING, op_ping);
	dispatch_register(SB_OP_HEALTH, op_health);
	dispatch_register(SB_OP_STATS, op_stats);
}

void ops_unregister_builtin(void)
{
	dispatch_register(SB_OP_PING, NULL);
	dispatch_register(SB_OP_HEALTH, NULL);
	dispatch_register(SB_OP_STATS, NULL);
	ops_event = NULL;
	test_ping_delay_usec = 0;
}
