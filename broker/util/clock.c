/* SPDX-License-Identifier: MIT */
/* clock: monotonic microseconds (the loop's cached time when there is a loop) and wall seconds. */
#include <time.h>

#include "util/clock.h"

uint64_t clock_now_usec(sd_event *event)
{
	struct timespec ts;
	uint64_t now;

	if (event && sd_event_now(event, CLOCK_MONOTONIC, &now) >= 0)
		return now;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int64_t clock_wall_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}
