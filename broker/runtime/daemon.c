/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "runtime/audit.h"
#include "runtime/conn.h"
#include "runtime/daemon.h"
#include "runtime/dispatch.h"
#include "runtime/listener.h"
#include "util/log.h"
#include "runtime/ops.h"
#include "tenancy/ratelimit.h"
#include "runtime/stats.h"

#define REFUSED_LOG_INTERVAL_USEC (1000000u)
#define REFUSED_LOG_BURST 20u

uint64_t daemon_now(const struct daemon *d)
{
	uint64_t now = 0;
	(void)sd_event_now(d->event, CLOCK_MONOTONIC, &now);
	return now;
}

void daemon_log_refused(struct daemon *d, const char *fmt, ...)
{
	uint64_t now = daemon_now(d);
	char msg[1024];
	va_list ap;

	/* At most REFUSED_LOG_BURST lines per interval; the first line of the next interval
	 * says how many were not logged. */
	if (now >= d->refused_log_usec + REFUSED_LOG_INTERVAL_USEC) {
		d->refused_log_usec = now;
		d->refused_logged = 0;
	}
	if (d->refused_logged >= REFUSED_LOG_BURST) {
		d->refused_suppressed++;
		return;
	}
	d->refused_logged++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (d->refused_suppressed)
		log_warning("%s (and %u more refusals not logged)", msg, d->refused_suppressed);
	else
		log_warning("%s", msg);
	d->refused_suppressed = 0;
}

static void resume_accepting(struct daemon *d);

/* ---------------------------------------------------------------- per-uid counts */

static struct uid_count **uid_slot(struct daemon *d, uid_t uid)
{
	struct uid_count **pp = &d->uid_counts[uid % DAEMON_UID_BUCKETS];
	while (*pp && (*pp)->uid != uid)
		pp = &(*pp)->next;
	return pp;
}

bool daemon_uid_admit(struct daemon *d, uid_t uid)
{
	struct uid_count **pp = uid_slot(d, uid);

	if (!*pp) {
		*pp = calloc(1, sizeof(**pp));
		if (!*pp)
			return false;
		(*pp)->uid = uid;
	}
	if ((*pp)->n >= d->config->max_connections_per_uid)
		return false;
	(*pp)->n++;
	return true;
}

void daemon_uid_release(struct daemon *d, uid_t uid)
{
	struct uid_count **pp = uid_slot(d, uid);
	struct uid_count *u = *pp;

	if (!u)
		return;
	if (u->n > 0)
		u->n--;
	if (u->n == 0) {
		*pp = u->next;
		free(u);
	}
}

void daemon_conn_added(struct daemon *d, struct conn *c)
{
	c->next = d->conns;
	c->prev = NULL;
	if (d->conns)
		d->conns->prev = c;
	d->conns = c;
	d->n_conns++;
}

void daemon_conn_removed(struct daemon *d, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else if (d->conns == c)
		d->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	d->n_conns--;
	daemon_uid_release(d, c->peer.uid);
	resume_accepting(d);
	if (d->state == DAEMON_STOPPING)
		daemon_maybe_finish_shutdown(d);
}

#define ACCEPT_RETRY_USEC (250u * 1000u)

static void resume_accepting(struct daemon *d)
{
	if (!d->accept_paused)
		return;
	d->accept_paused = false;
	(void)sd_event_source_set_enabled(d->accept_retry, SD_EVENT_OFF);
	if (d->state == DAEMON_RUNNING)
		listeners_set_enabled(d->listeners, true);
}

static int accept_retry_fire(sd_event_source *s, uint64_t usec, void *userdata)
{
	(void)s;
	(void)usec;
	resume_accepting(userdata);
	return 0;
}

void daemon_pause_accepting(struct daemon *d)
{
	int r;

	d->accept_paused = true;
	listeners_set_enabled(d->listeners, false);
	if (d->accept_retry)
		r = sd_event_source_set_time_relative(d->accept_retry, ACCEPT_RETRY_USEC);
	else
		r = sd_event_add_time_relative(d->event, &d->accept_retry, CLOCK_MONOTONIC,
					       ACCEPT_RETRY_USEC, 0, accept_retry_fire, d);
	if (r >= 0)
		r = sd_event_source_set_enabled(d->accept_retry, SD_EVENT_ONESHOT);
	if (r < 0)
		resume_accepting(d); /* better a busy listener than a dead one */
}

/* ---------------------------------------------------------------- readiness */

static void notify_status(struct daemon *d)
{
	size_t ready = 0;

	for (size_t i = 0; i < d->n_tenants; i++)
		ready += tenant_is_ready(d->tenants[i]);
	sd_notifyf(false, "STATUS=%zu/%zu tenants ready, %zu connections", ready, d->n_tenants,
		   d->n_conns);
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

static void readiness_changed(void *userdata)
{
	struct daemon *d = userdata;
	/* Deferred: a module may change readiness from deep inside a callback. */
	if (d->ready_defer)
		(void)sd_event_source_set_enabled(d->ready_defer, SD_EVENT_ONESHOT);
}

/* ---------------------------------------------------------------- tenants */

static void tenants_free(struct tenant **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
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
	r = sd_event_add_time_relative(d->event, &d->test_ready_timer, CLOCK_MONOTONIC, delay, 0,
				       test_ready_fire, d);
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

static int load_config(const char *path, struct broker_config **ret)
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

static void daemon_reload(struct daemon *d)
{
	struct broker_config *nc = NULL;
	struct tenant **nt = NULL;
	uint64_t mono = 0;
	int r;

	(void)sd_event_now(d->event, CLOCK_MONOTONIC, &mono);
	sd_notifyf(false, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading %s",
		   (unsigned long long)mono, d->config_path ? d->config_path : "environment");
	log_info("reloading the configuration from %s",
		 d->config_path ? d->config_path : "the environment");

	r = load_config(d->config_path, &nc);
	if (r >= 0) {
		r = tenants_build(d, nc, &nt);
		if (r < 0)
			log_errno(LOG_ERR, r, "reload: cannot start the new tenants");
	}
	if (r >= 0) {
		/* listeners use the new limits and mode; max_connections is checked against
		 * d->config, swapped below */
		r = listeners_apply(d, nc, nt, nc->n_tenants, &d->listeners);
		if (r < 0)
			log_errno(LOG_ERR, r, "reload: cannot set up the sockets");
	}
	if (r < 0) {
		tenants_free(nt, nc ? nc->n_tenants : 0);
		config_free(nc);
		log_error("reload failed: keeping the previous configuration");
		sd_notifyf(false, "READY=1\nSTATUS=reload failed, previous configuration kept");
		return;
	}
	tenants_free(d->tenants, d->n_tenants); /* connections keep their own references */
	config_free(d->config);
	d->config = nc;
	d->tenants = nt;
	d->n_tenants = nc->n_tenants;
	apply_runtime_settings(nc, daemon_log_level_locked);
	test_ready_delay_start(d);
	log_info("reloaded: %zu tenant(s); open connections keep their configuration",
		 d->n_tenants);
	d->ready_sent = false;
	ready_check(NULL, d);
}

/* ---------------------------------------------------------------- shutdown */

static bool all_quiet(const struct daemon *d)
{
	for (const struct conn *c = d->conns; c; c = c->next)
		if (c->inflight > 0 || (c->state != CONN_CLOSED && sb_buf_len(&c->out) > 0))
			return false;
	return true;
}

void daemon_maybe_finish_shutdown(struct daemon *d)
{
	if (d->state != DAEMON_STOPPING || !all_quiet(d))
		return;
	log_info("all in-flight requests finished; exiting");
	sd_event_exit(d->event, 0);
}

static int shutdown_deadline(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;
	unsigned n = 0;

	(void)s;
	(void)usec;
	for (struct conn *c = d->conns; c; c = c->next)
		n += c->inflight;
	log_warning("shutdown_timeout reached with %u request(s) in flight; cancelling them", n);
	/* Cancelling may close connections (a failed write), so work on a referenced copy of
	 * the list. */
	struct conn **v = calloc(d->n_conns ? d->n_conns : 1, sizeof(*v));
	size_t k = 0;
	for (struct conn *c = d->conns; v && c; c = c->next)
		v[k++] = conn_ref(c);
	for (size_t i = 0; i < k; i++) {
		conn_cancel_all(v[i]);
		/* the loop exits below: write the shutting_down replies now (the connection
		 * would otherwise flush them from its deferred source, which no longer runs) */
		conn_flush_now(v[i]);
		conn_unref(v[i]);
	}
	free(v);
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
	listeners_free(d->listeners);
	d->listeners = NULL;
	sd_notifyf(false, "STOPPING=1\nSTATUS=shutting down (%s)", why);
	log_info("%s: no longer accepting; waiting up to %llu ms for in-flight requests", why,
		 (unsigned long long)(d->config->shutdown_timeout_usec / 1000));
	r = sd_event_add_time_relative(d->event, &d->shutdown_timer, CLOCK_MONOTONIC,
				       d->config->shutdown_timeout_usec, 0, shutdown_deadline, d);
	if (r < 0) {
		log_errno(LOG_ERR, r, "cannot arm the shutdown timer; exiting now");
		sd_event_exit(d->event, 0);
		return;
	}
	daemon_maybe_finish_shutdown(d);
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

static int collect_activated(struct daemon *d)
{
	char **names = NULL;
	int n, r = 0;

	n = sd_listen_fds_with_names(1, &names); /* 1: unset the environment, set CLOEXEC */
	if (n < 0)
		return log_errno(LOG_ERR, n, "sd_listen_fds_with_names");
	if (n == 0)
		return 0;
	d->activated = calloc((size_t)n, sizeof(*d->activated));
	if (!d->activated)
		r = -ENOMEM;
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		if (r == 0 && sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
			log_error("activated fd %d ('%s') is not a listening AF_UNIX stream socket",
				  fd, names && names[i] ? names[i] : "?");
			r = -EINVAL;
		}
		if (r == 0 && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
			r = log_errno(LOG_ERR, -errno, "fcntl(O_NONBLOCK) on activated fd %d", fd);
		if (r == 0) {
			d->activated[i].fd = fd;
			d->activated[i].name = strdup(names && names[i] ? names[i] : "unknown");
			if (!d->activated[i].name)
				r = -ENOMEM;
			else
				d->n_activated++;
		}
		if (names)
			free(names[i]);
	}
	free(names);
	if (r < 0)
		return r;
	log_info("received %zu listening sockets from the service manager", d->n_activated);
	return 0;
}

int daemon_new(struct broker_config *config, const char *config_path, struct daemon **ret)
{
	struct daemon *d;
	sigset_t ss;
	int r;

	*ret = NULL;
	d = calloc(1, sizeof(*d));
	if (!d) {
		config_free(config);
		return -ENOMEM;
	}
	d->config = config;
	d->state = DAEMON_STARTING;
	if (config_path) {
		d->config_path = strdup(config_path);
		if (!d->config_path) {
			r = -ENOMEM;
			goto fail;
		}
	}
	r = sd_event_new(&d->event);
	if (r < 0) {
		log_errno(LOG_ERR, r, "sd_event_new");
		goto fail;
	}
	d->start_usec = daemon_now(d);
	stats_init(d->start_usec);

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
	if (r < 0) {
		log_errno(LOG_ERR, r, "cannot set up the event loop");
		goto fail;
	}

	ops_register_builtin(d->event);
	r = ratelimit_init();
	if (r < 0) {
		log_errno(LOG_ERR, r, "cannot set up rate limiting");
		goto fail;
	}
	apply_runtime_settings(config, daemon_log_level_locked);
	tenant_on_readiness_change(readiness_changed, d);

	r = collect_activated(d);
	if (r < 0)
		goto fail;
	r = tenants_build(d, config, &d->tenants);
	if (r < 0) {
		log_errno(LOG_ERR, r, "cannot start the tenants");
		goto fail;
	}
	d->n_tenants = config->n_tenants;
	test_ready_delay_start(d);
	r = listeners_apply(d, config, d->tenants, d->n_tenants, &d->listeners);
	if (r < 0)
		goto fail;
	*ret = d;
	return 0;
fail:
	daemon_free(d);
	return r;
}

int daemon_run(struct daemon *d)
{
	int r;

	/* Accept from the start (clients can ask `health`); READY=1 waits for every tenant. */
	d->state = DAEMON_RUNNING;
	listeners_set_enabled(d->listeners, true);
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
	/* Close every connection (cancelling what is in flight), then the rest. */
	while (d->conns)
		conn_close(d->conns, "exiting");
	listeners_free(d->listeners);
	tenants_free(d->tenants, d->n_tenants);
	tenant_on_readiness_change(NULL, NULL);
	for (size_t i = 0; i < d->n_activated; i++) {
		close(d->activated[i].fd);
		free(d->activated[i].name);
	}
	free(d->activated);
	for (size_t i = 0; i < DAEMON_UID_BUCKETS; i++)
		while (d->uid_counts[i]) {
			struct uid_count *u = d->uid_counts[i];
			d->uid_counts[i] = u->next;
			free(u);
		}
	sd_event_source_disable_unref(d->sig_term);
	sd_event_source_disable_unref(d->sig_int);
	sd_event_source_disable_unref(d->sig_hup);
	sd_event_source_disable_unref(d->shutdown_timer);
	sd_event_source_disable_unref(d->ready_defer);
	sd_event_source_disable_unref(d->test_ready_timer);
	sd_event_source_disable_unref(d->accept_retry);
	log_flush();
	sd_event_unref(d->event);
	config_free(d->config);
	free(d->config_path);
	free(d);
	return NULL;
}
