/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "tenancy/config.h"
#include "tenancy/tenant.h"

/*
 * The daemon: one sd_event loop, the current configuration and tenants, the listeners and the
 * connections, and the process-level state machine (start, reload on SIGHUP, drain on
 * SIGTERM/SIGINT). Single-threaded; everything runs in callbacks of `event`.
 */

enum daemon_state {
	DAEMON_STARTING,
	DAEMON_RUNNING,
	DAEMON_STOPPING, /* not accepting; in-flight requests finishing */
};

struct listener;
struct conn;

struct activated_fd {
	int fd;
	char *name;
	bool used;
};

struct uid_count {
	uid_t uid;
	unsigned n;
	struct uid_count *next;
};

#define DAEMON_UID_BUCKETS 256

struct daemon {
	sd_event *event;
	enum daemon_state state;
	char *config_path; /* NULL: configuration from the environment */
	struct broker_config *config;
	struct tenant **tenants; /* current generation, config order */
	size_t n_tenants;

	struct listener *listeners;
	struct activated_fd *activated;
	size_t n_activated;

	struct conn *conns; /* every open connection */
	size_t n_conns;
	uint64_t next_conn_id;
	struct uid_count *uid_counts[DAEMON_UID_BUCKETS];
	bool accept_paused; /* out of descriptors: until a connection closes or a retry timer */
	sd_event_source *accept_retry;

	sd_event_source *sig_term, *sig_int, *sig_hup;
	sd_event_source *shutdown_timer;
	sd_event_source *ready_defer;
	sd_event_source *test_ready_timer; /* TEST ONLY: test_ready_delay */
	bool ready_sent;
	uint64_t start_usec;
	uint64_t refused_log_usec; /* rate limit for "refused" log lines */
	unsigned refused_logged;
	unsigned refused_suppressed;
};

/* Set by main when --log-level was given: the config's log_level then does not override it. */
extern bool daemon_log_level_locked;

/* Builds the daemon from a loaded config (ownership of config is transferred): creates the
 * event loop, tenants and listeners (adopting sockets passed by systemd). 0 or -errno, logged. */
int daemon_new(struct broker_config *config /* transferred */, const char *config_path,
	       struct daemon **ret);

/* Runs until a shutdown completes. Returns the exit status. */
int daemon_run(struct daemon *d);

struct daemon *daemon_free(struct daemon *d);

/* Monotonic now in usec (cached by sd-event for the current iteration). */
uint64_t daemon_now(const struct daemon *d);

/* Connection accounting used by listener/conn. */
bool daemon_uid_admit(struct daemon *d, uid_t uid); /* false when the per-uid limit is hit */
void daemon_uid_release(struct daemon *d, uid_t uid);
void daemon_conn_added(struct daemon *d, struct conn *c);
void daemon_conn_removed(struct daemon *d, struct conn *c);

/* Stops accepting after EMFILE/ENFILE; resumes when a connection closes, or after a short
 * delay whatever happens. */
void daemon_pause_accepting(struct daemon *d);

/* Called by conn when its last in-flight request completes during shutdown. */
void daemon_maybe_finish_shutdown(struct daemon *d);

/* Rate-limited warning for refused connections (a flood must not flood the journal). */
void daemon_log_refused(struct daemon *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
