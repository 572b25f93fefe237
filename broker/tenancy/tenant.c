/* SPDX-License-Identifier: MIT */
/* tenant: the runtime tenant (refcounted): its config, readiness, module state, hooks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/ref.h"
#include "tenancy/tenant.h"

struct blocker {
	char key[32];
	char reason[TENANT_REASON_MAX];
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

int tenant_set_not_ready(struct tenant *t, const char *key, const char *reason)
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
	if (was_ready)
		log_notice("tenant=%s: not ready: %s", t->cfg->name, b->reason);
	readiness_changed();
	return 0;
}

void tenant_set_ready(struct tenant *t, const char *key)
{
	for (size_t i = 0; i < t->n_blockers; i++)
		if (strcmp(t->blockers[i].key, key) == 0) {
			t->blockers[i] = t->blockers[--t->n_blockers];
			if (t->n_blockers == 0)
				log_notice("tenant=%s: ready", t->cfg->name);
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
