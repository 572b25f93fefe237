/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The operation modules linked into skybrokerd, initialised once by main() before the daemon
 * starts. A module's init registers its operation handlers (dispatch_register) and its
 * per-tenant hooks (tenant_hooks_register); it must not block or start I/O (that happens in
 * the tenant attach hooks, which get the event loop).
 *
 * To add a module: declare its `int NAME_module_init(void)` in its own header and add one
 * line to the table in modules.c. (A table rather than constructors or weak symbols: objects
 * of a static library are only linked when something references them.)
 */

/* Runs every module's init in order. 0, or the first -errno (logged by the module). */
int modules_init(void);
