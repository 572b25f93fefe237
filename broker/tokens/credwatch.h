/* SPDX-License-Identifier: MIT */
#pragma once

#include <systemd/sd-event.h>

#include "tokens/credentials.h"

/*
 * credwatch: tells its owner, from the event loop, that a credentials file may have changed,
 * so the key can be rotated without a reload (skybroker.conf(5), "CREDENTIAL ROTATION").
 *
 * It watches the directory holding the file as configured (not its real path) with inotify
 * on the daemon's sd_event: a file renamed into place (`mv new.json skyflow-sa.json`), one
 * written in place, and Kubernetes' atomic update of a Secret volume (a new timestamped
 * directory, then the `..data` link renamed over) all show as events in that directory. Any
 * event there re-arms a short settle timer (CREDWATCH_SETTLE_USEC), so a burst of events
 * gives one callback, after the writer is done. Names are not filtered: the Secret update
 * touches `..data`, not the file's own name; a settled burst costs one read of a small file.
 *
 * Once settled, the file is loaded again (credentials_load, the same file rule as at start).
 * When its key differs from the one in use (key id or public-key fingerprint), the change is
 * logged (key ids and fingerprints only, never the key) and handed to the owner; when it does
 * not load, the key in use stays and a warning says why. A directory replaced as a whole (not
 * what systemd or the kubelet do) is no longer watched; a reload watches it again.
 */

#define CREDWATCH_SETTLE_USEC (200u * 1000u)

struct credwatch;

/* The new credentials (transferred: the owner frees them), on the event loop. */
typedef void (*credwatch_rotated_t)(struct credentials *fresh, void *userdata);

/*
 * Watches the credentials file configured as file (credentials_file: a path, or a bare name
 * under $CREDENTIALS_DIRECTORY) for tenant (for logs); both are copied. current (borrowed,
 * NULL when none loaded) is the key in use; rotated(fresh, userdata) runs when another one
 * loads, until credwatch_free. Returns 0 and *ret (owned), the -errno of credentials_path, or
 * that of sd_event_add_inotify (-ENOENT: the directory does not exist).
 */
int credwatch_new(sd_event *event, const char *tenant, const char *file,
		  const struct credentials *current, credwatch_rotated_t rotated, void *userdata,
		  struct credwatch **ret);

/* Stops watching; no callback afterwards. NULL is fine. Returns NULL. */
struct credwatch *credwatch_free(struct credwatch *w);
