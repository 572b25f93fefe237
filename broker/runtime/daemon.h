/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "tenancy/config.h"
#include "tenancy/tenant.h"
#include "upstream/upstream.h"

/*
 * The daemon: one sd_event loop, the one upstream HTTP handle, the current configuration and
 * tenants, the listeners and the connections, and the process-level state machine (start,
 * reload on SIGHUP, drain on SIGTERM/SIGINT). Single-threaded; everything runs in callbacks
 * of its loop. It owns every piece of process state below it and frees it in reverse order
 * of creation; nothing below calls up into it (the connection set and the tenants report
 * through hooks).
 *
 * Life: daemon_new (loop, signals, upstream) -> the modules attach to daemon_event() and
 * daemon_upstream() -> daemon_start (tenants, listeners) -> daemon_run -> daemon_free.
 */

struct daemon;

/* Set by main when --log-level was given: the config's log_level then does not override it. */
extern bool daemon_log_level_locked;

/* Loads the configuration from path (NULL: the environment); its errors are logged, one line
 * each. 0 or -errno. */
int daemon_load_config(const char *path, struct broker_config **ret);

/* Creates the event loop, the signal handling and the upstream HTTP handle, and takes the
 * configuration (transferred, freed on failure too). 0 or -errno, logged. */
int daemon_new(struct broker_config *config /* transferred */, const char *config_path,
	       struct daemon **ret);

/* Borrowed until daemon_free: for the modules' init. */
sd_event *daemon_event(const struct daemon *d);
struct upstream *daemon_upstream(const struct daemon *d);

/*
 * The one observer of the daemon's life (metrics/, registered by its module init; NULL
 * removes it). It learns of the configuration in force after a start or a reload and of
 * the daemon going away, and may read the daemon through the accessors below until then.
 *  - DAEMON_EV_STARTED: from daemon_start, tenants built; a negative return fails the start.
 *  - DAEMON_EV_RELOADED / DAEMON_EV_RELOAD_FAILED: after each SIGHUP; config is the one in
 *    force (the new one, or the old one kept); the return value is ignored (log it).
 *  - DAEMON_EV_FREEING: first thing in daemon_free (config may be NULL): drop every event
 *    source on the loop and every pointer into d.
 */
enum daemon_event_kind {
	DAEMON_EV_STARTED,
	DAEMON_EV_RELOADED,
	DAEMON_EV_RELOAD_FAILED,
	DAEMON_EV_FREEING,
};
typedef int (*daemon_observer_t)(struct daemon *d, enum daemon_event_kind ev,
				 const struct broker_config *config);
void daemon_set_observer(daemon_observer_t fn);

/* The current generation of tenants, config order (borrowed until the next reload). */
struct tenant *const *daemon_tenants(const struct daemon *d, size_t *n);

/* What is open and held right now. */
struct daemon_gauges {
	size_t connections;       /* open, tenant and admin */
	unsigned inflight;        /* requests in flight */
	uint64_t inflight_bytes;  /* bytes they hold */
	uint64_t inflight_bytes_max;
};
void daemon_get_gauges(const struct daemon *d, struct daemon_gauges *ret);

/* Builds the tenants (running the modules' attach hooks) and the listeners (adopting sockets
 * passed by systemd). 0 or -errno, logged. */
int daemon_start(struct daemon *d);

/* Runs until a shutdown completes. Returns the exit status. */
int daemon_run(struct daemon *d);

/* Closes connections and listeners, frees the tenants (their detach hooks run), then the
 * upstream handle and the loop. NULL is fine. */
struct daemon *daemon_free(struct daemon *d);
