/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <jansson.h>
#include <systemd/sd-event.h>

#include "util/jsonbound.h"

/*
 * Upstream HTTP(S): one libcurl multi handle driven by sd-event. curl tells us which sockets
 * to watch (CURLMOPT_SOCKETFUNCTION -> one sd_event_add_io source per socket) and when to
 * wake it (CURLMOPT_TIMERFUNCTION -> one time source); both call curl_multi_socket_action()
 * and then collect finished transfers with curl_multi_info_read(). Nothing blocks and no
 * thread is started (CURLOPT_NOSIGNAL; curl's threaded resolver is internal to libcurl).
 *
 * Each request owns its easy handle; cancelling a request drops it (no callback). Requests
 * are HTTPS only unless the caller's options allow plain HTTP, verify the peer (CAINFO from
 * ca_file), never follow redirects, cap the response body (abort in the write callback) and
 * keep the X-Request-ID response header. Idempotent requests are retried once, after a
 * jittered delay, on a 5xx status or a connection error (not on 4xx, not on a timeout: the
 * time budget is spent).
 *
 * Transport failures are converted to negative errno values and logged once, here, with
 * curl's own text (CURLOPT_ERRORBUFFER); callers log only the outcome.
 */

#define UPSTREAM_MAX_REQUEST_ID 128u
#define UPSTREAM_DEFAULT_CONNECT_TIMEOUT_MS 5000u
#define UPSTREAM_DEFAULT_TOTAL_TIMEOUT_MS 10000u
#define UPSTREAM_DEFAULT_MAX_RESPONSE (1024u * 1024u)
#define UPSTREAM_DEFAULT_RETRY_BASE_MS 200u
#define UPSTREAM_DEFAULT_MAX_IDLE 16u
#define UPSTREAM_DEFAULT_MAX_PER_HOST 64u

/* Per-request options (the tenant's). Strings are borrowed for the duration of the start call. */
struct upstream_opts {
	const char *ca_file;          /* PEM bundle for peer verification; NULL: system store */
	bool insecure_http;           /* allow http:// (tests and demo on loopback only) */
	uint32_t connect_timeout_ms;  /* 0: default */
	uint32_t total_timeout_ms;    /* 0: default */
	size_t max_response;          /* body cap in bytes; 0: default */
	uint32_t retry_base_ms;       /* first retry after [base, 2*base) ms; 0: default */
	bool no_retry;                /* disable the one retry even for idempotent requests */
	const char *log_tag;          /* e.g. "tenant=acme op=sts" for the log line; may be NULL */
	const char *bearer;           /* sent as "Authorization: Bearer <bearer>" (a secret: the
				       * header is wiped when the request is freed); may be NULL */
	const char *tenant;           /* for the observer: the tenant's name (copied, at most
				       * UPSTREAM_MAX_LABEL bytes kept); may be NULL */
	const char *kind;             /* for the observer: "sts", "sa_token", "jwks", "vault";
				       * copied likewise; may be NULL */
};

/* What a finished request produced. Everything is borrowed until the callback returns. */
struct upstream_response {
	int r;             /* 0: an HTTP status arrived; <0: transport failure (-ETIMEDOUT, -EIO,
			    * -ECONNREFUSED, -EMSGSIZE for a body over the cap) */
	long status;       /* HTTP status, 0 without one */
	const char *body;  /* NUL-terminated (also when binary); len in body_len */
	size_t body_len;
	const char *content_type; /* may be NULL */
	const char *request_id;   /* X-Request-ID of the last response, sanitised; "" if none */
	const char *error;        /* human text for a transport failure ("" otherwise) */
	unsigned attempts;        /* 1 or 2 */
	uint64_t elapsed_usec;
};

struct upstream;
struct upstream_request;

/*
 * Completion. Called exactly once per request that was not cancelled, from the event loop
 * (never from inside upstream_request_start). After it returns the request is freed: drop
 * every pointer to it. The callback may start and cancel other requests; it must not free
 * the upstream.
 */
typedef void (*upstream_done_t)(struct upstream_request *req, const struct upstream_response *resp,
				void *userdata);

/*
 * Creates the multi handle on event loop e (a reference is taken, dropped by upstream_free).
 * The daemon makes one at start and frees it at exit; *ret is owned by the caller.
 *
 * libcurl's global state: upstream_new calls curl_global_init(CURL_GLOBAL_DEFAULT) and
 * upstream_free the matching curl_global_cleanup (libcurl counts the pairs; the last cleanup
 * releases it). Whoever owns the process may hold a pair of its own around everything
 * (curl_global_init first, before any thread exists; curl_global_cleanup last, after the last
 * upstream_free); upstream's pair then only moves the count. Nothing else is expected.
 * Returns 0, -EINVAL, -ENOMEM, -EIO (curl_global_init failed).
 */
int upstream_new(sd_event *e, struct upstream **ret);

/* The accuracy of curl's timeout timer, for tests and diagnostics: 0 and *ret, or -ENOENT
 * when no timer was armed yet. */
int upstream_timer_accuracy(const struct upstream *u, uint64_t *ret);

/*
 * Caps on upstream connections, each a descriptor and a TLS session (about 115 KiB). 0 means
 * the default.
 *  - max_idle (CURLMOPT_MAXCONNECTS): connections kept open for reuse once their transfer is
 *    done; beyond it, the oldest idle one is closed. Without it libcurl keeps up to 4 per
 *    transfer ever added at once, and a burst leaves hundreds open.
 *  - max_per_host (CURLMOPT_MAX_HOST_CONNECTIONS): connections to one host (and port) at once;
 *    a transfer beyond it waits for one to be free, within its own timeouts.
 */
struct upstream_limits {
	unsigned max_idle;
	unsigned max_per_host;
};

/* Applies lim to u (upstream_new starts with the defaults); a reload may call it again: a new
 * cap applies as transfers start and finish. 0, or -EINVAL (logged) if curl refuses it. */
int upstream_set_limits(struct upstream *u, const struct upstream_limits *lim);

/*
 * Frees u: every request still running is cancelled as by upstream_request_cancel (its
 * completion callback is NOT called and its userdata is not touched: whoever started it
 * releases that), cached connections are closed, every event source is released and the
 * reference on the event loop is dropped (the loop can then be freed), and u's
 * curl_global_init is paired. Must not be called from a completion callback. NULL is fine.
 * Returns NULL.
 */
struct upstream *upstream_free(struct upstream *u);

/*
 * Starts a request. method is "GET", "POST", "PUT" or "DELETE"; body (copied, wiped when
 * freed) is sent when not NULL, with Content-Type application/json (POST always sends one,
 * empty when NULL; GET never). idempotent enables the one retry and connection reuse for it. userdata is
 * borrowed until the callback or a cancel. *ret (may be NULL) is a borrowed handle for
 * upstream_request_cancel, valid until the callback returns.
 * Returns 0; -EPROTONOSUPPORT for a URL that is not https:// (or http:// when allowed);
 * -EINVAL, -ENOMEM.
 */
int upstream_request_start(struct upstream *u, const struct upstream_opts *opts,
			   const char *method, const char *url, const void *body, size_t body_len,
			   bool idempotent, upstream_done_t done, void *userdata,
			   struct upstream_request **ret);

/* Drops a request that has not completed (its transfer aborted, its body wiped): no callback
 * will come. NULL is fine. Not from req's own callback (req is freed after it returns). */
void upstream_request_cancel(struct upstream_request *req);

/* Counters for stats and tests. */
struct upstream_counters {
	uint64_t started;   /* requests started */
	uint64_t attempts;  /* HTTP attempts including retries */
	uint64_t retries;
	uint64_t failed;    /* transport failures delivered */
	uint64_t in_flight;
};
void upstream_get_counters(const struct upstream *u, struct upstream_counters *ret);

/*
 * The observer of finished requests (metrics/): called once per delivered request, just
 * before its completion callback, with the tenant and kind its options named ("" when not
 * named). Not called for cancelled requests. One per upstream; NULL removes it.
 */
#define UPSTREAM_MAX_LABEL 64u
struct upstream_outcome {
	const char *tenant;
	const char *kind;
	int r;         /* as upstream_response.r */
	long status;   /* HTTP status, 0 without one */
	unsigned attempts;
	uint64_t elapsed_usec;
};
typedef void (*upstream_observer_t)(const struct upstream_outcome *o);
void upstream_set_observer(struct upstream *u, upstream_observer_t fn);

/*
 * Parses the body of resp as JSON under lim (or 1 MiB / depth 16 when NULL).
 * *ret is a new reference. Returns 0, -EBADMSG, -EMSGSIZE.
 */
int upstream_response_json(const struct upstream_response *resp,
			   const struct jsonbound_limits *lim, json_t **ret);

/* Maps a CURLcode to a negative errno as described above. */
int upstream_errno_from_curl(CURLcode cc);
