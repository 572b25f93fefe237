/* SPDX-License-Identifier: MIT */
/* tenant: the runtime tenant (refcounted): its config, readiness, module state, hooks. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/list.h"
#include "util/log.h"
#include "util/ref.h"
#include "tenancy/tenant.h"

struct blocker {
	char key[32];
	char reason[TENANT_REASON_MAX];
	bool broken; /* only a reload clears it: nothing to wait for */
};

/* A request parked until its starting tenant is ready (tenant_wait_ready). */
struct tenant_waiter {
	struct tenant_waiter *prev, *next;
	struct tenant *t; /* borrowed: the waiter's owner holds a reference */
	tenant_wait_fn cb;
	void *userdata;
};

struct tenant {
	unsigned n_ref;
	struct broker_config *config; /* reference held */
	const struct tenant_config *cfg; /* borrowed from config */
	void *ext[TENANT_EXT_MAX];
	bool attached[TENANT_EXT_MAX];
	struct blocker blockers[TENANT_MAX_BLOCKERS];
	size_t n_blockers;
	unsigned n_conns;
	struct tenant *previous; /* borrowed, set only while attach hooks run */

	/* Start: requests that need the tenant wait for it until start_deadline (CLOCK_MONOTONIC)
	 * unless it has been ready once (tenant_starting). */
	sd_event *event; /* reference held; NULL in unit tests: nobody waits */
	uint64_t start_deadline;
	bool was_ready;
	struct tenant_waiter *waiters;
	sd_event_source *wake;     /* defer: the tenant became ready, answer the waiters */
	sd_event_source *deadline; /* time: start_deadline passed, answer the waiters */
};

static const struct tenant_hooks *hooks[TENANT_EXT_MAX];
static size_t n_hooks;
static void (*readiness_cb)(void *userdata);
static void *readiness_ud;

int tenant_hooks_register(const struct tenant_hooks *h)
{
	for (size_t i = 0; i < n_hooks; i++)
		if (!hooks[i]) { /* a slot given back */
			hooks[i] = h;
			return (int)i;
		}
	if (n_hooks >= TENANT_EXT_MAX)
		return -ENOSPC;
	hooks[n_hooks] = h;
	return (int)n_hooks++;
}

void tenant_hooks_unregister(int slot)
{
	if (slot >= 0 && (size_t)slot < n_hooks)
		hooks[slot] = NULL;
}

void tenant_on_readiness_change(void (*cb)(void *userdata), void *userdata)
{
	readiness_cb = cb;
	readiness_ud = userdata;
}

void tenant_hooks_reset(void)
{
	memset(hooks, 0, sizeof(hooks));
	n_hooks = 0;
}

static void readiness_changed(void)
{
	if (readiness_cb)
		readiness_cb(readiness_ud);
}

static void tenant_free(struct tenant *t)
{
	/* Every waiter's owner holds a reference: none is left when the last one goes. */
	assert(!t->waiters);
	sd_event_source_disable_unref(t->wake);
	sd_event_source_disable_unref(t->deadline);
	sd_event_unref(t->event);
	for (size_t i = n_hooks; i-- > 0;)
		if (t->attached[i] && hooks[i] && hooks[i]->detach)
			hooks[i]->detach(t, hooks[i]->userdata);
	config_free(t->config);
	free(t);
}

int tenant_new(struct broker_config *config, const struct tenant_config *cfg, sd_event *event,
	       struct tenant **ret)
{
	return tenant_new_successor(config, cfg, event, NULL, ret);
}

struct tenant *tenant_previous(const struct tenant *t)
{
	return t->previous;
}

int tenant_new_successor(struct broker_config *config, const struct tenant_config *cfg,
			 sd_event *event, struct tenant *previous, struct tenant **ret)
{
	struct tenant *t;
	int r;

	*ret = NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->n_ref = 1;
	t->config = config_ref(config);
	t->cfg = cfg;
	t->previous = previous;
	if (event) {
		t->event = sd_event_ref(event);
		t->start_deadline = clock_now_usec(event) + config->start_timeout_usec;
	}
	for (size_t i = 0; i < n_hooks; i++) {
		if (!hooks[i])
			continue;
		if (!hooks[i]->attach) {
			t->attached[i] = true;
			continue;
		}
		r = hooks[i]->attach(t, event, hooks[i]->userdata);
		if (r < 0) {
			log_error("tenant=%s: %s failed to start: %s", cfg->name, hooks[i]->name,
				  strerror(-r));
			tenant_free(t);
			return r;
		}
		t->attached[i] = true;
	}
	t->previous = NULL;
	t->was_ready = t->n_blockers == 0;
	*ret = t;
	return 0;
}

DEFINE_REF_UNREF(struct tenant, tenant, tenant_free)

const char *tenant_name(const struct tenant *t)
{
	return t->cfg->name;
}

const struct tenant_config *tenant_config(const struct tenant *t)
{
	return t->cfg;
}

const struct broker_config *tenant_broker_config(const struct tenant *t)
{
	return t->config;
}

void tenant_ext_set(struct tenant *t, unsigned slot, void *ptr)
{
	if (slot < TENANT_EXT_MAX)
		t->ext[slot] = ptr;
}

void *tenant_ext_get(const struct tenant *t, unsigned slot)
{
	return slot < TENANT_EXT_MAX ? t->ext[slot] : NULL;
}

static int set_not_ready(struct tenant *t, const char *key, const char *reason, bool broken)
{
	struct blocker *b = NULL;
	bool was_ready = t->n_blockers == 0;

	for (size_t i = 0; i < t->n_blockers; i++)
		if (strcmp(t->blockers[i].key, key) == 0)
			b = &t->blockers[i];
	if (!b) {
		if (t->n_blockers >= TENANT_MAX_BLOCKERS)
			return -ENOSPC;
		b = &t->blockers[t->n_blockers++];
		snprintf(b->key, sizeof(b->key), "%s", key);
	}
	snprintf(b->reason, sizeof(b->reason), "%s", reason);
	b->broken = broken;
	if (was_ready)
		log_notice("tenant=%s: not ready: %s", t->cfg->name, b->reason);
	readiness_changed();
	return 0;
}

int tenant_set_not_ready(struct tenant *t, const char *key, const char *reason)
{
	return set_not_ready(t, key, reason, false);
}

int tenant_set_broken(struct tenant *t, const char *key, const char *reason)
{
	return set_not_ready(t, key, reason, true);
}

static void waiters_answer_soon(struct tenant *t);

void tenant_set_ready(struct tenant *t, const char *key)
{
	for (size_t i = 0; i < t->n_blockers; i++)
		if (strcmp(t->blockers[i].key, key) == 0) {
			t->blockers[i] = t->blockers[--t->n_blockers];
			if (t->n_blockers == 0) {
				log_notice("tenant=%s: ready", t->cfg->name);
				t->was_ready = true;
				waiters_answer_soon(t);
			}
			readiness_changed();
			return;
		}
}

bool tenant_is_ready(const struct tenant *t)
{
	return t->n_blockers == 0;
}

size_t tenant_reasons(const struct tenant *t, const char **v, size_t max)
{
	size_t n = 0;
	for (; n < t->n_blockers && n < max; n++)
		v[n] = t->blockers[n].reason;
	return n;
}

void tenant_conn_opened(struct tenant *t)
{
	t->n_conns++;
}

void tenant_conn_closed(struct tenant *t)
{
	if (t->n_conns)
		t->n_conns--;
}

unsigned tenant_connections(const struct tenant *t)
{
	return t->n_conns;
}

/* ---------------------------------------------------------------- waiting for the start */

bool tenant_starting(const struct tenant *t)
{
	if (t->was_ready || t->n_blockers == 0 || !t->event)
		return false;
	for (size_t i = 0; i < t->n_blockers; i++)
		if (t->blockers[i].broken)
			return false;
	return clock_now_usec(t->event) < t->start_deadline;
}

/* Answers every waiter with r (each unlinked and freed before its callback runs). A callback
 * may drop the last reference a request held on t: t lives until the loop is done. */
static void waiters_answer(struct tenant *t, int r)
{
	tenant_ref(t);
	while (t->waiters) {
		struct tenant_waiter *w = t->waiters;
		tenant_wait_fn cb = w->cb;
		void *ud = w->userdata;

		LIST_REMOVE(t->waiters, w);
		free(w);
		cb(ud, r);
	}
	tenant_unref(t);
}

static int on_wake(sd_event_source *s, void *userdata)
{
	(void)s;
	waiters_answer(userdata, 0);
	return 0;
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct tenant *t = userdata;

	(void)s;
	(void)usec;
	if (t->waiters)
		log_warning("tenant=%s: still not ready when start_timeout passed (%s); the requests "
			    "waiting for it get upstream_unavailable", t->cfg->name,
			    t->n_blockers ? t->blockers[0].reason : "starting");
	waiters_answer(t, -ETIMEDOUT);
	return 0;
}

/* Ready: the waiters are answered from the loop, never from inside the module's callback
 * that made the tenant ready (a JWKS completion), so a woken request starts afresh. */
static void waiters_answer_soon(struct tenant *t)
{
	if (t->waiters && t->wake)
		(void)sd_event_source_set_enabled(t->wake, SD_EVENT_ONESHOT);
}

/* The defer and timer sources, made on the first wait (disabled and enabled respectively). */
static int waiter_sources(struct tenant *t)
{
	int r;

	if (!t->wake) {
		r = sd_event_add_defer(t->event, &t->wake, on_wake, t);
		if (r < 0)
			return r;
		(void)sd_event_source_set_enabled(t->wake, SD_EVENT_OFF);
	}
	if (!t->deadline) {
		r = sd_event_add_time(t->event, &t->deadline, CLOCK_MONOTONIC, t->start_deadline,
				      CLOCK_ACCURACY_MS_USEC, on_deadline, t);
		if (r < 0)
			return r;
	}
	return 0;
}

int tenant_wait_ready(struct tenant *t, tenant_wait_fn cb, void *userdata,
		      struct tenant_waiter **ret)
{
	struct tenant_waiter *w;
	int r;

	*ret = NULL;
	if (!tenant_starting(t))
		return 0;
	r = waiter_sources(t);
	if (r < 0)
		return r;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->t = t;
	w->cb = cb;
	w->userdata = userdata;
	LIST_PREPEND(t->waiters, w);
	*ret = w;
	return 1;
}

void tenant_wait_cancel(struct tenant_waiter *w)
{
	if (!w)
		return;
	LIST_REMOVE(w->t->waiters, w);
	free(w);
}
