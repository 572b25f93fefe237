/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

/*
 * Timer accuracies (sd-event coalesces a timer's wake-up anywhere within its accuracy; 0 means
 * its default of 250 ms, so no timer of the broker passes 0):
 *  - PRECISE: a wait on a request's path (curl's timeouts, which include "start now");
 *  - MS: short waits whose exact end does not matter to a client (retries, drains, pauses);
 *  - COARSE: housekeeping (key refreshes, cache sweeps).
 */
#define CLOCK_ACCURACY_PRECISE_USEC 1u
#define CLOCK_ACCURACY_MS_USEC 1000u
#define CLOCK_ACCURACY_COARSE_USEC 1000000u

/*
 * The one clock helper. Monotonic time in microseconds: the event loop's cached time for the
 * current iteration when event is given (cheap, and the same for every callback of one
 * iteration), else clock_gettime(CLOCK_MONOTONIC). event may be NULL.
 */
uint64_t clock_now_usec(sd_event *event);

/* Wall-clock time in whole seconds (CLOCK_REALTIME), for JWT NumericDates. */
int64_t clock_wall_sec(void);
