/* SPDX-License-Identifier: MIT */
/* daemon: the event loop and process state machine (start, reload, drain), owner of it all. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "runtime/audit.h"
#include "runtime/conn.h"
#include "runtime/daemon.h"
#include "runtime/dispatch.h"
#include "runtime/fdlimit.h"
#include "runtime/listener.h"
#include "runtime/ops.h"
#include "runtime/stats.h"
#include "tenancy/ratelimit.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/log.h"

enum daemon_state {
	DAEMON_STARTING,
	DAEMON_RUNNING,
	DAEMON_STOPPING, /* not accepting; in-flight requests finishing */
};

struct daemon {
	sd_event *event;
	struct upstream *upstream;
	enum daemon_state state;
	char *config_path; /* NULL: configuration from the environment */
	struct broker_config *config;
	struct tenant **tenants; /* current generation, config order */
	size_t n_tenants;
	struct conn_set *conns;
	struct listeners *listeners;

	sd_event_source *sig_term, *sig_int, *sig_hup;
	sd_event_source *shutdown_timer;
	sd_event_source *ready_defer;
	sd_event_source *test_ready_timer; /* TEST ONLY: test_ready_delay */
	bool ready_sent;
};

static daemon_observer_t daemon_observer;

void daemon_set_observer(daemon_observer_t fn)
{
	daemon_observer = fn;
}

static int observe(struct daemon *d, enum daemon_event_kind ev)
{
	return daemon_observer ? daemon_observer(d, ev, d->config) : 0;
}

struct tenant *const *daemon_tenants(const struct daemon *d, size_t *n)
{
	*n = d->tenants ? d->n_tenants : 0;
	return d->tenants;
}

void daemon_get_gauges(const struct daemon *d, struct daemon_gauges *ret)
{
	*ret = (struct daemon_gauges){
		.connections = conn_set_count(d->conns),
		.inflight = conn_set_inflight(d->conns),
		.inflight_bytes = conn_set_inflight_bytes(d->conns),
		.inflight_bytes_max = d->config->max_inflight_bytes,
	};
}

sd_event *daemon_event(const struct daemon *d)
{
	return d->event;
}

struct upstream *daemon_upstream(const struct daemon *d)
{
	return d->upstream;
}

/* ---------------------------------------------------------------- readiness */

static void notify_status(struct daemon *d)
{
	size_t ready = 0;

	for (size_t i = 0; i < d->n_tenants; i++)
		ready += tenant_is_ready(d->tenants[i]);
	sd_notifyf(false, "STATUS=%zu/%zu tenants ready, %zu connections", ready, d->n_tenants,
		   conn_set_count(d->conns));
}

static int ready_check(sd_event_source *s, void *userdata)
{
	struct daemon *d = userdata;
	bool all = true;

	(void)s;
	if (d->state == DAEMON_STOPPING)
		return 0;
	for (size_t i = 0; i < d->n_tenants; i++)
		all = all && tenant_is_ready(d->tenants[i]);
	if (all && !d->ready_sent) {
		d->ready_sent = true;
		d->state = DAEMON_RUNNING;
		sd_notifyf(false, "READY=1\nSTATUS=serving %zu tenant(s)", d->n_tenants);
		log_info("ready: serving %zu tenant(s)", d->n_tenants);
	} else {
		notify_status(d);
	}
	return 0;
}

/* A reload was applied: READY=1 ends it at once (systemd waits for it to finish the reload),
 * whether or not every tenant can serve yet; STATUS= and health say which cannot, and why. At
 * start, by contrast, READY=1 waits for every tenant (ready_check). */
static void reload_done(struct daemon *d)
{
	size_t ready = 0;

	for (size_t i = 0; i < d->n_tenants; i++)
		ready += tenant_is_ready(d->tenants[i]);
	d->ready_sent = true;
	if (ready == d->n_tenants) {
		sd_notifyf(false, "READY=1\nSTATUS=serving %zu tenant(s)", d->n_tenants);
		return;
	}
	sd_notifyf(false, "READY=1\nSTATUS=reloaded: %zu/%zu tenant(s) ready", ready, d->n_tenants);
	log_notice("reloaded with %zu of %zu tenant(s) ready; health says why the others are not",
		   ready, d->n_tenants);
}

static void readiness_changed(void *userdata)
{
	struct daemon *d = userdata;
	/* Deferred: a module may change readiness from deep inside a callback. */
	if (d->ready_defer)
		(void)sd_event_source_set_enabled(d->ready_defer, SD_EVENT_ONESHOT);
}

/* ---------------------------------------------------------------- tenants */

/* v may be NULL (a reload that failed before building them), whatever n says. */
static void tenants_free(struct tenant **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		tenant_unref(v[i]);
	free(v);
}

static int tenants_build(struct daemon *d, struct broker_config *c, struct tenant ***ret)
{
	struct tenant **v = calloc(c->n_tenants ? c->n_tenants : 1, sizeof(*v));
	int r;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_tenants; i++) {
		struct tenant *prev = NULL;
		for (size_t k = 0; k < d->n_tenants; k++)
			if (strcmp(tenant_name(d->tenants[k]), c->tenants[i].name) == 0)
				prev = d->tenants[k];
		r = tenant_new_successor(c, &c->tenants[i], d->event, prev, &v[i]);
		if (r < 0) {
			tenants_free(v, i);
			return r;
		}
	}
	*ret = v;
	return 0;
}

static void apply_runtime_settings(const struct broker_config *c, bool log_level_from_cmdline)
{
	if (!log_level_from_cmdline)
		log_set_max_level(c->log_level);
	audit_set_enabled(c->audit);
	ops_set_test_ping_delay(c->test_ping_delay_usec);
	if (c->test_ping_delay_usec)
		log_warning("test_ping_delay is set: a TEST-ONLY setting that delays every ping");
	for (size_t i = 0; i < c->n_tenants; i++)
		if (c->tenants[i].insecure_http)
			log_warning("tenant=%s: insecure_http = yes: plain HTTP upstream allowed "
				    "(tests and demos only)",
				    c->tenants[i].name);
}

/* The configuration's caps on upstream connections (at start and on reload; logs failures). */
static void apply_upstream_limits(struct daemon *d, const struct broker_config *c)
{
	(void)upstream_set_limits(d->upstream,
				  &(struct upstream_limits){
					  .max_idle = (unsigned)c->upstream_max_idle,
					  .max_per_host = (unsigned)c->upstream_max_per_host,
				  });
}

bool daemon_log_level_locked;

/* TEST ONLY: test_ready_delay stands in for a module that needs time before its tenants can
 * serve (a JWKS fetch), so the tests can see health's reasons and a delayed READY=1. */
static int test_ready_fire(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;

	(void)s;
	(void)usec;
	for (size_t i = 0; i < d->n_tenants; i++)
		tenant_set_ready(d->tenants[i], "test");
	return 0;
}

static void test_ready_delay_start(struct daemon *d)
{
	uint64_t delay = d->config->test_ready_delay_usec;
	int r;

	d->test_ready_timer = sd_event_source_disable_unref(d->test_ready_timer);
	if (!delay)
		return;
	log_warning("test_ready_delay is set: a TEST-ONLY setting that delays readiness");
	for (size_t i = 0; i < d->n_tenants; i++)
		(void)tenant_set_not_ready(d->tenants[i], "test", "TEST-ONLY test_ready_delay");
	r = sd_event_add_time_relative(d->event, &d->test_ready_timer, CLOCK_MONOTONIC, delay,
				       CLOCK_ACCURACY_MS_USEC, test_ready_fire, d);
	if (r < 0)
		test_ready_fire(NULL, 0, d);
}

/* ---------------------------------------------------------------- reload */

static void log_lines(int level, const char *text)
{
	const char *s = text;
	while (s && *s) {
		const char *e = strchr(s, '\n');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (n)
			log_printf(level, "%.*s", (int)n, s);
		s = e ? e + 1 : NULL;
	}
}

int daemon_load_config(const char *path, struct broker_config **ret)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *err = open_memstream(&buf, &len);
	int r;

	if (path)
		r = config_load_file(path, err, ret);
	else
		r = config_from_env(err, ret);
	if (err)
		fclose(err);
	if (r < 0)
		log_lines(LOG_ERR, buf);
	free(buf);
	return r;
}

/*
 * Whether an open connection is still admitted by the configuration just applied: a new
 * connection of its peer on the same socket would get a tenant of the same name. A tenant
 * removed, moved to another socket, or no longer admitting the peer (or now preceded by one
 * that does) fails it. The admin socket's rule does not depend on the configuration.
 */
static bool still_admitted(const struct conn *c, void *userdata)
{
	struct daemon *d = userdata;
	struct tenant *t;

	if (c->admin)
		return true;
	t = listeners_pick(d->listeners, c->socket, &c->peer);
	return t && strcmp(tenant_name(t), tenant_name(c->tenant)) == 0;
}

static void daemon_reload(struct daemon *d)
{
	size_t revoked;
	struct broker_config *nc = NULL;
	struct tenant **nt = NULL;
	uint64_t mono = clock_now_usec(d->event);
	int r;

	sd_notifyf(false, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading %s",
		   (unsigned long long)mono, d->config_path ? d->config_path : "environment");
	log_info("reloading the configuration from %s",
		 d->config_path ? d->config_path : "the environment");

	r = daemon_load_config(d->config_path, &nc);
	if (r >= 0)
		r = fdlimit_check(nc);
	if (r >= 0) {
		r = tenants_build(d, nc, &nt);
		if (r < 0)
			log_errno(LOG_ERR, r, "reload: cannot start the new tenants");
	}
	if (r >= 0) {
		/* listeners use the new limits and mode; max_connections is checked against
		 * d->config, swapped below */
		r = listeners_apply(d->listeners, nc, nt, nc->n_tenants);
		if (r < 0)
			log_errno(LOG_ERR, r, "reload: cannot set up the sockets");
	}
	if (r < 0) {
		tenants_free(nt, nc ? nc->n_tenants : 0);
		config_free(nc);
		log_error("reload failed: keeping the previous configuration");
		sd_notifyf(false, "READY=1\nSTATUS=reload failed, previous configuration kept");
		(void)observe(d, DAEMON_EV_RELOAD_FAILED);
		return;
	}
	tenants_free(d->tenants, d->n_tenants); /* connections keep their own references */
	config_free(d->config);
	d->config = nc;
	d->tenants = nt;
	d->n_tenants = nc->n_tenants;
	apply_runtime_settings(nc, daemon_log_level_locked);
	apply_upstream_limits(d, nc);
	test_ready_delay_start(d);
	revoked = conn_set_revoke(d->conns, still_admitted, d,
				  "no longer admitted after a configuration reload");
	log_info("reloaded: %zu tenant(s); %zu open connection(s) no longer admitted closed, "
		 "the others keep their configuration",
		 d->n_tenants, revoked);
	(void)observe(d, DAEMON_EV_RELOADED);
	reload_done(d);
}

/* ---------------------------------------------------------------- shutdown */

/* The connection set drained: nothing in flight, nothing left to send. */
static void on_quiet(void *userdata)
{
	struct daemon *d = userdata;

	log_info("all in-flight requests finished; exiting");
	sd_event_exit(d->event, 0);
}

static int shutdown_deadline(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;

	log_warning("shutdown_timeout reached with %u request(s) in flight; cancelling them",
		    conn_set_inflight(d->conns));
	conn_set_on_quiet(d->conns, NULL, NULL);
	conn_set_cancel_all(d->conns);
	sd_event_exit(d->event, 0);
	return 0;
}

static void daemon_begin_shutdown(struct daemon *d, const char *why)
{
	int r;

	if (d->state == DAEMON_STOPPING) {
		log_notice("%s again: not waiting any longer", why);
		shutdown_deadline(NULL, 0, d);
		return;
	}
	d->state = DAEMON_STOPPING;
	/* Closing the listeners unlinks the sockets we created; activated ones stay with
	 * systemd, which queues new clients for the next instance. Done before STOPPING=1, so
	 * whoever sees that knows no new connection is accepted. */
	listeners_close_all(d->listeners);
	sd_notifyf(false, "STOPPING=1\nSTATUS=shutting down (%s)", why);
	log_info("%s: no longer accepting; waiting up to %llu ms for in-flight requests", why,
		 (unsigned long long)(d->config->shutdown_timeout_usec / 1000));
	r = sd_event_add_time_relative(d->event, &d->shutdown_timer, CLOCK_MONOTONIC,
				       d->config->shutdown_timeout_usec, CLOCK_ACCURACY_MS_USEC,
				       shutdown_deadline, d);
	if (r < 0) {
		log_errno(LOG_ERR, r, "cannot arm the shutdown timer; exiting now");
		sd_event_exit(d->event, 0);
		return;
	}
	conn_set_on_quiet(d->conns, on_quiet, d);
	conn_set_begin_drain(d->conns);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct daemon *d = userdata;

	(void)s;
	switch (si->ssi_signo) {
	case SIGHUP:
		if (d->state != DAEMON_STOPPING)
			daemon_reload(d);
		break;
	case SIGTERM:
		daemon_begin_shutdown(d, "SIGTERM");
		break;
	case SIGINT:
		daemon_begin_shutdown(d, "SIGINT");
		break;
	}
	return 0;
}

/* ---------------------------------------------------------------- set-up */

static int add_signals(struct daemon *d)
{
	sigset_t ss;
	int r;

	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGHUP);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	signal(SIGPIPE, SIG_IGN);
	r = sd_event_add_signal(d->event, &d->sig_term, SIGTERM, on_signal, d);
	if (r >= 0)
		r = sd_event_add_signal(d->event, &d->sig_int, SIGINT, on_signal, d);
	if (r >= 0)
		r = sd_event_add_signal(d->event, &d->sig_hup, SIGHUP, on_signal, d);
	if (r >= 0)
		r = sd_event_add_defer(d->event, &d->ready_defer, ready_check, d);
	if (r >= 0)
		r = sd_event_source_set_enabled(d->ready_defer, SD_EVENT_OFF);
	if (r >= 0)
		r = sd_event_set_watchdog(d->event, true); /* WATCHDOG=1 when WatchdogSec= is set */
	if (r < 0)
		return log_errno(LOG_ERR, r, "cannot set up the event loop");
	return 0;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct daemon *, daemon_free);

int daemon_new(struct broker_config *config, const char *config_path, struct daemon **ret)
{
	_cleanup_(config_unrefp) struct broker_config *owned = config;
	_cleanup_(daemon_freep) struct daemon *d = calloc(1, sizeof(*d));
	int r;

	*ret = NULL;
	if (!d)
		return -ENOMEM;
	d->config = TAKE_PTR(owned);
	d->state = DAEMON_STARTING;
	if (config_path) {
		d->config_path = strdup(config_path);
		if (!d->config_path)
			return -ENOMEM;
	}
	r = sd_event_new(&d->event);
	if (r < 0)
		return log_errno(LOG_ERR, r, "sd_event_new");
	stats_init(clock_now_usec(d->event));
	r = add_signals(d);
	if (r < 0)
		return r;
	r = upstream_new(d->event, &d->upstream);
	if (r < 0)
		return log_errno(LOG_ERR, r, "cannot set up upstream HTTP");
	apply_upstream_limits(d, d->config);
	r = conn_set_new(d->event, &d->conns);
	if (r < 0)
		return r;
	r = listeners_new(d->event, d->conns, dispatch_frame, &d->listeners);
	if (r < 0)
		return r;
	ops_register_builtin(d->event);
	r = ratelimit_init();
	if (r < 0)
		return log_errno(LOG_ERR, r, "cannot set up rate limiting");
	apply_runtime_settings(d->config, daemon_log_level_locked);
	tenant_on_readiness_change(readiness_changed, d);
	*ret = TAKE_PTR(d);
	return 0;
}

int daemon_start(struct daemon *d)
{
	int r;

	r = fdlimit_check(d->config);
	if (r < 0)
		return r;
	r = tenants_build(d, d->config, &d->tenants);
	if (r < 0)
		return log_errno(LOG_ERR, r, "cannot start the tenants");
	d->n_tenants = d->config->n_tenants;
	test_ready_delay_start(d);
	r = listeners_apply(d->listeners, d->config, d->tenants, d->n_tenants);
	if (r < 0)
		return r;
	return observe(d, DAEMON_EV_STARTED);
}

int daemon_run(struct daemon *d)
{
	int r;

	/* Accept from the start (clients can ask `health`); READY=1 waits for every tenant. */
	d->state = DAEMON_RUNNING;
	listeners_set_accepting(d->listeners, true);
	ready_check(NULL, d);
	r = sd_event_loop(d->event);
	if (r < 0)
		return log_errno(LOG_ERR, r, "event loop failed"), 1;
	return r;
}

struct daemon *daemon_free(struct daemon *d)
{
	if (!d)
		return NULL;
	(void)observe(d, DAEMON_EV_FREEING);
	/* In reverse order of creation: the listeners, every connection (cancelling what is in
	 * flight), the tenants, then the rest. */
	d->listeners = listeners_free(d->listeners);
	d->conns = conn_set_free(d->conns);
	tenants_free(d->tenants, d->n_tenants);
	tenant_on_readiness_change(NULL, NULL);
	ratelimit_done();
	ops_unregister_builtin();
	sd_event_source_disable_unref(d->sig_term);
	sd_event_source_disable_unref(d->sig_int);
	sd_event_source_disable_unref(d->sig_hup);
	sd_event_source_disable_unref(d->shutdown_timer);
	sd_event_source_disable_unref(d->ready_defer);
	sd_event_source_disable_unref(d->test_ready_timer);
	d->upstream = upstream_free(d->upstream);
	log_flush();
	sd_event_unref(d->event);
	config_free(d->config);
	free(d->config_path);
	free(d);
	return NULL;
}
