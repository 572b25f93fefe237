/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>

/*
 * The one clock helper. Monotonic time in microseconds: the event loop's cached time for the
 * current iteration when event is given (cheap, and the same for every callback of one
 * iteration), else clock_gettime(CLOCK_MONOTONIC). event may be NULL.
 */
uint64_t clock_now_usec(sd_event *event);

/* Wall-clock time in whole seconds (CLOCK_REALTIME), for JWT NumericDates. */
int64_t clock_wall_sec(void);
