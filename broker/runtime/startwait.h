/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "runtime/dispatch.h"

/*
 * Requests that arrive while their tenant is still starting (its JWKS not loaded yet, say: the
 * first request after socket activation started the daemon) wait for it instead of failing.
 * Only operations that carry a subject token wait (the others never need the tenant's keys or
 * credentials). The wait never blocks the loop: the request is parked on the tenant
 * (tenant_wait_ready) and its handler runs when the tenant becomes ready; when [broker]
 * start_timeout passes first, it is answered upstream_unavailable (retryable) with the
 * tenant's reasons. A parked request is cancelled like any other (its connection closes, the
 * shutdown deadline).
 */

/*
 * Runs handler h for rc now, or parks rc until its tenant is ready and runs it then. Either
 * way rc is finished exactly once (the handler's contract, runtime/request.h); a negative
 * return of h is answered with its mapped code.
 */
void startwait_run(struct request_ctx *rc, dispatch_handler h);
