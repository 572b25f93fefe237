/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-event.h>

#include "tenancy/config.h"
#include "runtime/conn.h"
#include "runtime/socketfile.h"
#include "tenancy/tenant.h"
#include "util/cleanup.h"

/*
 * Listening sockets. An endpoint is either a path socket skybrokerd creates (restrictive
 * umask while binding, then the configured mode and group; a stale socket file is replaced,
 * a live one is never stolen) or a socket passed by systemd, identified by its
 * FileDescriptorName=. Each tenant listener carries the tenants bound to it, in config order;
 * the admin listener carries none.
 *
 * Mapping (skybroker.conf(5)): an activated socket named like a tenant's socket_name (default:
 * the tenant name) serves that tenant; one named [broker] socket_name serves every tenant
 * without a socket of its own; one named admin_socket_name is the admin socket. Endpoints
 * without an activated socket fall back to their configured path.
 */

struct listeners;
struct conn_set;

struct activated_fd {
	int fd;
	char *name;
	bool used;
};

struct listener {
	struct listeners *set; /* borrowed: the set this listener belongs to */
	int fd;
	bool admin;
	bool activated;  /* passed by systemd: never unlinked, never closed on reload */
	char *key;       /* "path:/run/x.sock" or "fd:NAME", identifies it across reloads */
	char *path;      /* socket path we created and unlink at close, or NULL */
	struct socketfile_id id; /* the file we bound at path: only that one is removed */
	char *label;     /* for logs: path or fd name */
	struct tenant **tenants; /* references */
	size_t n_tenants;
	sd_event_source *src;
	struct listener *next;
};

/*
 * The listening side of the daemon: takes the sockets systemd passed (sd_listen_fds), and
 * accepts into conns, handing each connection's frames to on_frame. event and conns are
 * borrowed for the set's life. Accepting is off until listeners_set_accepting(true).
 * 0 or -errno (logged).
 */
int listeners_new(sd_event *event, struct conn_set *conns, conn_frame_handler on_frame,
		  struct listeners **ret);
/* Closes every listener (unlinking sockets we created) and the unused activated sockets. */
struct listeners *listeners_free(struct listeners *ls);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct listeners *, listeners_free);

/*
 * Computes the endpoints of config for tenants (the new generation, parallel to
 * config->tenants), reusing listeners whose key matches, creating the others, and closing
 * those no longer needed; new connections get config's limits. On failure nothing changes
 * and -errno is returned (logged).
 */
int listeners_apply(struct listeners *ls, const struct broker_config *config,
		    struct tenant *const *tenants, size_t n_tenants);

/* Whether to accept (the daemon runs) or not (shutdown). Out of descriptors, the listeners
 * accept and refuse with a spare one; when that cannot help (or accept fails for lack of
 * memory) they pause until a connection closes or a short retry delay passes, whatever this
 * says. */
void listeners_set_accepting(struct listeners *ls, bool on);

/* The tenant a new connection of peer p on the tenant socket whose key is key (struct
 * listener) would be admitted to now, or NULL (no such socket, or nobody there admits p).
 * Borrowed until the next apply. For the re-check of open connections after a reload. */
struct tenant *listeners_pick(const struct listeners *ls, const char *key, const struct peer *p);

/* The first listener (then ->next), borrowed until the next apply: for tests and logs. */
const struct listener *listeners_first(const struct listeners *ls);

/* Closes the listeners (unlinking sockets we created) but keeps the set: at shutdown, so
 * that nobody connects to a daemon that is going away. */
void listeners_close_all(struct listeners *ls);
