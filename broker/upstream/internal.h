/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include <curl/curl.h>
#include <systemd/sd-event.h>

#include "upstream/upstream.h"

/*
 * Private to broker/upstream/: what the multi handle (upstream.c) and the requests
 * (request.c) share. Nothing outside this folder includes it.
 */

struct upstream_sock;

struct upstream {
	sd_event *event;                   /* a reference */
	CURLM *multi;                      /* owned */
	sd_event_source *timer;            /* owned; curl's one timeout */
	struct upstream_sock *socks;       /* owned; one watch per socket curl uses */
	struct upstream_request *requests; /* every live request (owned through this list) */
	struct upstream_counters counters;
	upstream_observer_t observer;
	bool curl_global;                  /* holds one curl_global_init, released at free */
};

/*
 * Called by the multi loop (upstream.c) when curl reports req's transfer finished with cc:
 * detaches the easy handle from the multi handle, then schedules the one retry or delivers
 * the response (which calls the completion callback and frees req).
 */
void upstream_request_finished(struct upstream_request *req, CURLcode cc);
