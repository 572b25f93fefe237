/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-event.h>

#include "tenancy/config.h"

/*
 * A tenant at run time: its (immutable) configuration, its readiness, and the per-tenant state
 * of the modules that serve it (identity, exchange, cache...). Tenants are reference-counted:
 * the daemon holds one reference per configured tenant, every admitted connection and every
 * in-flight request one more. A reload builds new tenant objects from the new config; old ones
 * live on (with their config) until their last connection closes, so a request always sees
 * one consistent configuration. Tenants never share state.
 *
 * Seams for the identity/exchange modules:
 *  - tenant_hooks_register(): `attach` runs for every new tenant object (start and each
 *    reload), with the daemon's sd_event; it may allocate per-tenant state in
 *    tenant_ext_set(t, slot, ptr), start JWKS fetches, and mark the tenant not ready
 *    (tenant_set_not_ready(t, "jwks", "JWKS not fetched yet")) until they complete.
 *    `detach` runs when the tenant object is freed (after reload, once nothing uses it, and at
 *    exit) and must cancel anything it started and free its state.
 *    An `attach` failure makes the start fail, or the reload keep the old configuration.
 *  - Readiness: a tenant is ready when no module holds a "not ready" reason for it. health
 *    reports the reasons; skybrokerd sends READY=1 once every tenant is ready. Requests that
 *    need the tenant wait while it is starting (tenant_wait_ready).
 */

#define TENANT_EXT_MAX 8
#define TENANT_MAX_BLOCKERS 8
#define TENANT_REASON_MAX 256

struct tenant;

struct tenant_hooks {
	const char *name;
	/* 0 or -errno (logged by the hook itself). */
	int (*attach)(struct tenant *t, sd_event *event, void *userdata);
	void (*detach)(struct tenant *t, void *userdata);
	void *userdata;
};

/* Registers hooks for all tenants created afterwards (call before the daemon starts).
 * h is borrowed for the life of the process. Returns 0, -ENOSPC. Hooks are slot-ordered:
 * the returned index (>= 0) may be used as the tenant_ext slot. */
int tenant_hooks_register(const struct tenant_hooks *h);
/* Gives slot back (a module's done, once no tenant is left: a tenant freed later would not
 * see its detach hook). */
void tenant_hooks_unregister(int slot);
/* Forgets every registration (tests; at exit, once no tenant is left). */
void tenant_hooks_reset(void);

/* Creates a tenant for cfg, which must belong to config (a reference on config is taken), and
 * runs every attach hook. Returns 0 and *ret (one reference, caller unrefs), or -errno. */
int tenant_new(struct broker_config *config, const struct tenant_config *cfg, sd_event *event,
	       struct tenant **ret);

/* Same, on a reload: previous is the tenant of the same name in the configuration being
 * replaced (borrowed; NULL if the tenant is new), which attach hooks may consult through
 * tenant_previous() to carry state over (a JWKS already fetched, so the tenant is ready at
 * once instead of refetching). */
int tenant_new_successor(struct broker_config *config, const struct tenant_config *cfg,
			 sd_event *event, struct tenant *previous, struct tenant **ret);

/* During attach only: the previous generation's tenant of the same name, or NULL (first
 * start, new tenant). Its ext state is still owned by its own module instance; copy or take
 * a reference, never steal. */
struct tenant *tenant_previous(const struct tenant *t);

struct tenant *tenant_ref(struct tenant *t);
/* Drops a reference; the last one runs the detach hooks and frees. NULL is fine. */
struct tenant *tenant_unref(struct tenant *t);

/* Borrowed for the tenant's lifetime. */
const char *tenant_name(const struct tenant *t);
const struct tenant_config *tenant_config(const struct tenant *t);
const struct broker_config *tenant_broker_config(const struct tenant *t);

/* Per-module state. slot < TENANT_EXT_MAX; the module owns ptr and frees it in detach. */
void tenant_ext_set(struct tenant *t, unsigned slot, void *ptr);
void *tenant_ext_get(const struct tenant *t, unsigned slot);

/* Readiness. `key` names the module's reason ("jwks", "credentials"...); setting it again
 * replaces the text. Returns 0, -ENOSPC. Changes call the readiness callback. */
int tenant_set_not_ready(struct tenant *t, const char *key, const char *reason);
/* The same for a reason that only a reload clears (credentials that do not load): requests do
 * not wait for the tenant while it holds one (tenant_starting). */
int tenant_set_broken(struct tenant *t, const char *key, const char *reason);
void tenant_set_ready(struct tenant *t, const char *key);
bool tenant_is_ready(const struct tenant *t);
/* Fills v with up to max borrowed reason strings (valid until the next readiness change). */
size_t tenant_reasons(const struct tenant *t, const char **v, size_t max);

/*
 * Waiting for a tenant that is still starting, so that the first request after an on-demand
 * start does not fail. A tenant is starting while it is not ready, has not been ready since
 * it was created, holds no broken reason, and [broker] start_timeout has not passed since it
 * was created (at start, or by the reload that added it).
 */
bool tenant_starting(const struct tenant *t);

struct tenant_waiter;
/* r: 0 the tenant became ready; -ETIMEDOUT its start_timeout passed first. Called once, from
 * the event loop (never from inside tenant_set_ready), the waiter already freed. */
typedef void (*tenant_wait_fn)(void *userdata, int r);
/*
 * Parks a waiter on t when it is starting: returns 1 and *ret (cancel it with
 * tenant_wait_cancel until cb runs); 0 and *ret = NULL when there is nothing to wait for
 * (ready, broken, or past the start window: go on at once); -ENOMEM or an sd-event error. The
 * caller holds a reference on t until cb runs or it cancels.
 */
int tenant_wait_ready(struct tenant *t, tenant_wait_fn cb, void *userdata,
		      struct tenant_waiter **ret);
/* Unlinks and frees w; cb will not run. NULL is fine. */
void tenant_wait_cancel(struct tenant_waiter *w);

/* The daemon's callback for readiness changes of any tenant (READY=1, STATUS=). */
void tenant_on_readiness_change(void (*cb)(void *userdata), void *userdata);

/* Connection accounting, for stats and logs. */
void tenant_conn_opened(struct tenant *t);
void tenant_conn_closed(struct tenant *t);
unsigned tenant_connections(const struct tenant *t);
