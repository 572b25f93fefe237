/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-event.h>

#include "tenancy/config.h"
#include "tenancy/tenant.h"

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

struct daemon;

struct listener {
	struct daemon *d;
	int fd;
	bool admin;
	bool activated;  /* passed by systemd: never unlinked, never closed on reload */
	char *key;       /* "path:/run/x.sock" or "fd:NAME", identifies it across reloads */
	char *path;      /* socket path we created and unlink at close, or NULL */
	char *label;     /* for logs: path or fd name */
	struct tenant **tenants; /* references */
	size_t n_tenants;
	sd_event_source *src;
	struct listener *next;
};

/*
 * Computes the endpoints of config for tenants (the new generation, parallel to
 * config->tenants), reusing listeners of *list whose key matches, creating the others, and
 * closing those no longer needed. On failure nothing changes and -errno is returned (logged).
 * On success *list is the new set.
 */
int listeners_apply(struct daemon *d, const struct broker_config *config,
		    struct tenant *const *tenants, size_t n_tenants, struct listener **list);

/* Enables or disables accepting on every listener (connection limit, shutdown). */
void listeners_set_enabled(struct listener *list, bool on);

/* Closes every listener (unlinking sockets we created). */
void listeners_free(struct listener *list);
