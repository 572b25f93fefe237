/* SPDX-License-Identifier: MIT */
/* metrics: the module: observers, tenant generations, the listener's life, metrics and health. */
#include <errno.h>
#include <string.h>

#include "metrics/expo.h"
#include "metrics/http.h"
#include "metrics/metrics.h"
#include "metrics/series.h"
#include "runtime/daemon.h"
#include "runtime/dispatch.h"
#include "runtime/ops.h"
#include "runtime/request.h"
#include "util/clock.h"
#include "util/log.h"

static struct {
	bool initialised;
	sd_event *event;
	struct upstream *upstream;
	struct daemon *daemon; /* between DAEMON_EV_STARTED and DAEMON_EV_FREEING */
	struct mhttp *http;
	uint64_t start_usec;
	int slot;
} m = {.slot = -1};

void metrics_render(struct text *t)
{
	struct expo_sources src = {
		.daemon = m.daemon, .upstream = m.upstream, .start_usec = m.start_usec};

	expo_build(&src, t);
}

/* ---------------------------------------------------------------- operations */

static int op_metrics(struct request_ctx *rc)
{
	struct sb_reply rep = {.op = SB_OP_METRICS};
	struct text t;
	int r;

	text_init(&t, TEXT_MAX + 1);
	metrics_render(&t);
	r = t.err;
	if (r >= 0)
		r = sb_buf_append(&t.b, "", 1); /* the NUL of a C string */
	if (r < 0) {
		text_done(&t);
		return log_errno(LOG_ERR, r, "metrics: cannot render the exposition");
	}
	rep.u.metrics.text = (const char *)sb_buf_ptr(&t.b);
	request_ctx_reply_ok(rc, &rep);
	text_done(&t);
	return 0;
}

/* health's detail (runtime/ops.h): the JWKS age and the last upstream error. */
static void health_detail(const struct tenant *t, struct sb_health_result *h)
{
	const struct metrics_tenant *mt = metrics_series_tenant(tenant_name(t));
	uint64_t now = clock_now_usec(NULL);
	struct tokensvc_counters c;

	tokensvc_get_counters(t, &c);
	if (c.jwks_loaded_usec && now >= c.jwks_loaded_usec)
		h->jwks_age_s = (struct sb_opt_u64){true, (now - c.jwks_loaded_usec) / 1000000u};
	if (mt && mt->last_error[0]) {
		h->last_upstream_error = mt->last_error; /* the series lives until module done */
		h->last_upstream_error_age_s = (struct sb_opt_u64){
			true, now > mt->last_error_usec ? (now - mt->last_error_usec) / 1000000u : 0};
	}
}

/* ---------------------------------------------------------------- observers */

static void on_request(const struct request_outcome *o)
{
	metrics_series_request(o);
}

static void on_upstream(const struct upstream_outcome *o)
{
	metrics_series_upstream(o);
}

/* The listener follows [broker] metrics_listen: opened, moved or closed. */
static int apply_listen(const struct broker_config *config)
{
	const char *want = config ? config->metrics_listen : NULL;
	struct mhttp *h = NULL;
	int r;

	if (m.http && want && strcmp(mhttp_addr(m.http), want) == 0)
		return 0;
	if (!want) {
		m.http = mhttp_free(m.http);
		return 0;
	}
	/* the new one first: if it cannot bind, the old one keeps serving; but the same port
	 * on another address of the same family may need the old one closed first */
	r = mhttp_new(m.event, want, metrics_render, &h);
	if (r == -EADDRINUSE && m.http) {
		m.http = mhttp_free(m.http);
		r = mhttp_new(m.event, want, metrics_render, &h);
	}
	if (r < 0)
		return r;
	mhttp_free(m.http);
	m.http = h;
	return 0;
}

static int on_daemon(struct daemon *d, enum daemon_event_kind ev, const struct broker_config *config)
{
	struct metrics_global *g = metrics_global();
	int r;

	switch (ev) {
	case DAEMON_EV_STARTED:
		m.daemon = d;
		return apply_listen(config);
	case DAEMON_EV_RELOADED:
		g->reloads_ok++;
		r = apply_listen(config);
		if (r < 0)
			log_warning("metrics: metrics_listen not applied; no metrics listener now");
		return 0;
	case DAEMON_EV_RELOAD_FAILED:
		g->reloads_failed++;
		return 0;
	case DAEMON_EV_FREEING:
		m.http = mhttp_free(m.http);
		m.daemon = NULL;
		return 0;
	}
	return 0;
}

static int gen_attach(struct tenant *t, sd_event *event, void *userdata)
{
	(void)event;
	(void)userdata;
	return metrics_series_gen_add(t);
}

static void gen_detach(struct tenant *t, void *userdata)
{
	(void)userdata;
	metrics_series_gen_gone(t);
}

static const struct tenant_hooks hooks = {"metrics", gen_attach, gen_detach, NULL};

int metrics_module_init(sd_event *event, struct upstream *upstream)
{
	if (m.initialised)
		return 0;
	m.slot = tenant_hooks_register(&hooks);
	if (m.slot < 0)
		return log_errno(LOG_ERR, m.slot, "metrics: cannot register the tenant hooks");
	m.event = event;
	m.upstream = upstream;
	m.start_usec = clock_now_usec(NULL);
	request_set_observer(on_request);
	if (upstream)
		upstream_set_observer(upstream, on_upstream);
	daemon_set_observer(on_daemon);
	dispatch_register(SB_OP_METRICS, op_metrics);
	ops_set_health_detail(health_detail);
	m.initialised = true;
	return 0;
}

void metrics_module_done(void)
{
	if (!m.initialised)
		return;
	dispatch_register(SB_OP_METRICS, NULL);
	ops_set_health_detail(NULL);
	daemon_set_observer(NULL);
	request_set_observer(NULL);
	/* the upstream handle is gone by now (daemon_free): nothing to unset there */
	m.http = mhttp_free(m.http);
	tenant_hooks_unregister(m.slot);
	metrics_series_reset();
	m = (typeof(m)){.slot = -1};
}
