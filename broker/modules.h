/* SPDX-License-Identifier: MIT */
#pragma once

#include <systemd/sd-event.h>

#include "upstream/upstream.h"

/*
 * The operation modules linked into skybrokerd. Each gets the daemon's event loop and its one
 * upstream HTTP handle (both borrowed until daemon_free, which frees the tenants, and with
 * them every use of the two, before it frees the handle and the loop), registers its operation handlers
 * (dispatch_register) and its per-tenant hooks (tenant_hooks_register), and must not block or
 * start I/O (that happens in the tenant attach hooks). done undoes init (handlers, hooks,
 * borrowed pointers); the modules are done in reverse order, after daemon_free.
 *
 * To add a module: declare its init and done in its own header and add one line to the table
 * in modules.c. (A table rather than constructors or weak symbols: objects of a static library
 * are only linked when something references them.)
 */

/* Runs every module's init in order. 0, or the first -errno (logged by the module), after
 * which the modules already initialised are done again. */
int modules_init(sd_event *event, struct upstream *upstream);

/* Runs every initialised module's done, in reverse order. */
void modules_done(void);
