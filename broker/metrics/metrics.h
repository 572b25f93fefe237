/* SPDX-License-Identifier: MIT */
#pragma once

#include <systemd/sd-event.h>

#include "upstream/upstream.h"

/*
 * The metrics module (modules.c): counters and histograms by tenant, the Prometheus
 * exposition (metrics/expo.h), served by the admin `metrics` operation and, when [broker]
 * metrics_listen is set, by a bounded HTTP listener (metrics/http.h); and `health` with
 * detail (JWKS age, the last upstream error). It registers the observers of the layers
 * below (requests, upstream calls, the daemon's start, reloads and exit) and a tenant hook
 * that follows tenant generations, so per-tenant counters survive reloads.
 */

int metrics_module_init(sd_event *event, struct upstream *upstream /* borrowed until done */);
void metrics_module_done(void);

/* The exposition as the admin operation and the listener serve it (for tests). */
struct text;
void metrics_render(struct text *t);
