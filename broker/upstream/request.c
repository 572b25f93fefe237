/* SPDX-License-Identifier: MIT */
/* request: one upstream request: its easy handle, capped body, X-Request-ID, retry, delivery. */
#include "upstream/upstream.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/ssl.h>

#include "util/cleanup.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/list.h"
#include "proto/buf.h"
#include "upstream/internal.h"

#ifdef SKYBROKER_VERSION
#define SKYBROKER_UPSTREAM_VERSION SKYBROKER_VERSION
#else
#define SKYBROKER_UPSTREAM_VERSION "0"
#endif

/* Owned by u->requests from upstream_request_start until it is delivered or cancelled. */
struct upstream_request {
	struct upstream *u;
	struct upstream_request *next, *prev;
	CURL *easy;
	struct curl_slist *headers;
	char *url;
	char *log_url;          /* scheme://host/path without the query, for log lines */
	char *log_tag;
	uint8_t *body;          /* owned copy, wiped on free */
	size_t body_len;
	struct sb_buf response; /* wiped on free: may hold a token */
	size_t max_response;
	bool too_large;
	bool in_multi;
	bool idempotent;
	bool no_retry;
	uint32_t retry_base_ms;
	unsigned attempts;
	uint64_t start_usec;
	sd_event_source *retry_timer;
	char request_id[UPSTREAM_MAX_REQUEST_ID + 1];
	char tenant[UPSTREAM_MAX_LABEL + 1], kind[UPSTREAM_MAX_LABEL + 1]; /* for the observer */
	char errbuf[CURL_ERROR_SIZE];
	upstream_done_t done;
	void *userdata;
};

int upstream_errno_from_curl(CURLcode cc)
{
	switch (cc) {
	case CURLE_OK:
		return 0;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -ECONNREFUSED;
	case CURLE_UNSUPPORTED_PROTOCOL:
		return -EPROTONOSUPPORT;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_FILESIZE_EXCEEDED:
		return -EMSGSIZE;
	default:
		return -EIO;
	}
}

/* Connection-level failures after which a second attempt may well succeed. */
static bool curl_retryable(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

static bool curl_is_tls_failure(CURLcode cc)
{
	switch (cc) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return true;
	default:
		return false;
	}
}

/* Every connection's socket is created close-on-exec (curl's own socket() call is not). */
static curl_socket_t on_open_socket(void *clientp, curlsocktype purpose,
				    struct curl_sockaddr *a)
{
	int fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);

	return fd < 0 ? CURL_SOCKET_BAD : fd;
}

/* OpenSSL clears each TLS record's plaintext (tokens, assertions) from its buffers once read. */
static CURLcode on_ssl_ctx(CURL *easy, void *ssl_ctx, void *userptr)
{
	(void)SSL_CTX_set_options(ssl_ctx, SSL_OP_CLEANSE_PLAINTEXT);
	return CURLE_OK;
}

/* Frees req whatever state it is in (also half-built by upstream_request_start): detaches its
 * easy handle, stops its retry timer, wipes its body and response, unlinks it. No callback. */
static void request_free(struct upstream_request *req)
{
	struct upstream *u;

	if (!req)
		return;
	u = req->u;
	if (req->in_multi)
		(void)curl_multi_remove_handle(u->multi, req->easy);
	if (req->easy)
		curl_easy_cleanup(req->easy);
	for (struct curl_slist *h = req->headers; h; h = h->next)
		explicit_bzero(h->data, strlen(h->data)); /* the Authorization header */
	curl_slist_free_all(req->headers);
	sd_event_source_disable_unref(req->retry_timer);
	if (req->body) {
		explicit_bzero(req->body, req->body_len);
		free(req->body);
	}
	sb_buf_free(&req->response);
	if (req->url)
		explicit_bzero(req->url, strlen(req->url)); /* its query may carry record values */
	free(req->url);
	free(req->log_url);
	free(req->log_tag);
	LIST_REMOVE(u->requests, req);
	u->counters.in_flight--;
	explicit_bzero(req, sizeof(*req));
	free(req);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct upstream_request *, request_free)

/* ---- transfer callbacks ---- */

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct upstream_request *req = userdata;
	size_t n = size * nmemb;

	if (n > req->max_response - sb_buf_len(&req->response) ||
	    sb_buf_append(&req->response, ptr, n) < 0) {
		req->too_large = true;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	return n;
}

/*
 * Copies the value of an X-Request-ID header (v[0..n), up to the line end) into dst (size
 * UPSTREAM_MAX_REQUEST_ID + 1), keeping only [A-Za-z0-9-_.:/=+] and dropping every other byte.
 * Stricter than util/sanitize.h's log sanitiser (which turns a bad byte into '?'): the value
 * goes into replies to clients (error.request_id) as well as into logs, so nothing but an id's
 * own alphabet passes.
 */
static void request_id_keep(char *dst, const char *v, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o < UPSTREAM_MAX_REQUEST_ID; i++) {
		char c = v[i];

		if (c == '\r' || c == '\n')
			break;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    (c != '\0' && strchr("-_.:/=+", c)))
			dst[o++] = c;
	}
	dst[o] = '\0';
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata)
{
	struct upstream_request *req = userdata;
	static const char name[] = "x-request-id:";
	size_t n = size * nitems, i;

	/* A new response (after a 1xx or on retry) starts with its status line. */
	if (n >= 5 && memcmp(buf, "HTTP/", 5) == 0)
		req->request_id[0] = '\0';
	if (n <= sizeof(name) - 1 || strncasecmp(buf, name, sizeof(name) - 1) != 0)
		return n;
	i = sizeof(name) - 1;
	while (i < n && (buf[i] == ' ' || buf[i] == '\t'))
		i++;
	request_id_keep(req->request_id, buf + i, n - i);
	return n;
}

/* ---- attempts, retry and delivery ---- */

/* Starts one attempt: a fresh response, the easy handle added to the multi handle. */
static int request_attempt(struct upstream_request *req)
{
	CURLMcode mc;

	sb_buf_free(&req->response);
	req->too_large = false;
	req->request_id[0] = '\0';
	req->errbuf[0] = '\0';
	req->attempts++;
	req->u->counters.attempts++;
	mc = curl_multi_add_handle(req->u->multi, req->easy);
	if (mc != CURLM_OK) {
		log_printf(LOG_ERR, "upstream: curl_multi_add_handle: %s", curl_multi_strerror(mc));
		return -ENOMEM;
	}
	req->in_multi = true;
	return 0;
}

/* The human text of a transport failure: the body cap, a TLS hint, or curl's own words. */
static void failure_text(const struct upstream_request *req, CURLcode cc, char *msg, size_t size)
{
	const char *detail = req->errbuf[0] ? req->errbuf : curl_easy_strerror(cc);

	if (req->too_large || cc == CURLE_FILESIZE_EXCEEDED)
		(void)snprintf(msg, size, "response body exceeds %zu bytes", req->max_response);
	else if (curl_is_tls_failure(cc))
		(void)snprintf(msg, size,
			       "TLS failure (certificate not trusted? check ca_file): %s", detail);
	else
		(void)snprintf(msg, size, "%s", detail);
}

/* Calls the completion callback with the outcome (r < 0: a transport failure, logged here
 * once) and frees req. */
static void deliver(struct upstream_request *req, int r, long status, CURLcode cc)
{
	struct upstream_response resp = {
		.r = r,
		.status = status,
		.request_id = req->request_id,
		.attempts = req->attempts,
		.error = "",
	};
	char *ct = NULL;
	char msg[CURL_ERROR_SIZE + 256];
	uint8_t *nul;

	/* NUL-terminate the body without counting the NUL. */
	if (sb_buf_reserve(&req->response, 1, &nul) >= 0)
		*nul = 0;
	else
		sb_buf_free(&req->response);
	resp.body = (const char *)sb_buf_ptr(&req->response);
	resp.body_len = sb_buf_len(&req->response);
	if (curl_easy_getinfo(req->easy, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK)
		resp.content_type = ct;
	resp.elapsed_usec = clock_now_usec(req->u->event) - req->start_usec;

	if (r < 0) {
		failure_text(req, cc, msg, sizeof(msg));
		resp.error = msg;
		req->u->counters.failed++;
		log_printf(LOG_WARNING, "upstream: %s%s%s failed after %u attempt(s): %s",
			   req->log_tag ? req->log_tag : "", req->log_tag ? " " : "", req->log_url,
			   req->attempts, msg);
	}
	if (req->u->observer)
		req->u->observer(&(struct upstream_outcome){
			.tenant = req->tenant, .kind = req->kind, .r = r, .status = status,
			.attempts = req->attempts, .elapsed_usec = resp.elapsed_usec});
	req->done(req, &resp, req->userdata);
	request_free(req);
}

static int on_retry_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct upstream_request *req = userdata;
	int r;

	req->retry_timer = sd_event_source_disable_unref(req->retry_timer);
	r = request_attempt(req);
	if (r < 0)
		deliver(req, r, 0, CURLE_OUT_OF_MEMORY);
	return 0;
}

/* A delay in [base, 2*base) ms. */
static uint64_t jitter_ms(uint32_t base)
{
	uint32_t x = 0;

	/* Jitter needs no cryptographic quality; getrandom never blocks after boot. */
	if (getrandom(&x, sizeof(x), GRND_NONBLOCK) != sizeof(x))
		x = (uint32_t)clock_now_usec(NULL);
	return base + (base ? x % base : 0);
}

/* Whether the attempt that ended with r / status / cc gets the one retry: an idempotent
 * request, retries allowed, first attempt, and a 5xx or a connection-level failure. */
static bool retry_wanted(const struct upstream_request *req, int r, long status, CURLcode cc)
{
	if (!req->idempotent || req->no_retry || req->attempts >= 2)
		return false;
	if (r == 0)
		return status >= 500 && status <= 599;
	return curl_retryable(cc);
}

/* Arms the retry timer (logged). Returns 0, or a negative errno when it cannot be armed. */
static int schedule_retry(struct upstream_request *req, int r, CURLcode cc)
{
	uint64_t delay = jitter_ms(req->retry_base_ms);
	const char *why = r == 0 ? "server error"
				 : (req->errbuf[0] ? req->errbuf : curl_easy_strerror(cc));

	log_printf(LOG_INFO, "upstream: %s%s%s: %s, retrying in %" PRIu64 " ms",
		   req->log_tag ? req->log_tag : "", req->log_tag ? " " : "", req->log_url, why,
		   delay);
	req->u->counters.retries++;
	r = sd_event_add_time_relative(req->u->event, &req->retry_timer, CLOCK_MONOTONIC,
				       delay * 1000u, CLOCK_ACCURACY_MS_USEC, on_retry_timer, req);
	if (r < 0)
		return log_errno(LOG_ERR, r, "upstream: cannot schedule retry");
	return 0;
}

void upstream_request_finished(struct upstream_request *req, CURLcode cc)
{
	long status = 0;
	int r;

	(void)curl_multi_remove_handle(req->u->multi, req->easy);
	req->in_multi = false;
	(void)curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &status);
	if (cc == CURLE_OK)
		r = 0;
	else if (req->too_large)
		r = -EMSGSIZE;
	else
		r = upstream_errno_from_curl(cc);

	if (retry_wanted(req, r, status, cc) && schedule_retry(req, r, cc) >= 0)
		return;
	deliver(req, r, status, cc);
}

/* ---- building a request ---- */

static int url_check(const char *url, bool insecure_http)
{
	if (strncasecmp(url, "https://", 8) == 0)
		return 0;
	if (insecure_http && strncasecmp(url, "http://", 7) == 0)
		return 0;
	return -EPROTONOSUPPORT;
}

/* What a log line shows of url: scheme://host/path, without the query or fragment (which may
 * carry ids) and without any userinfo (user:password@), which must never reach a log. */
static char *log_url_of(const char *url)
{
	size_t n = strcspn(url, "?#");
	const char *host = strstr(url, "://");
	const char *at;
	char *out;

	host = host && (size_t)(host - url) < n ? host + 3 : url;
	at = memchr(host, '@', n - (size_t)(host - url));
	if (at && (size_t)(at - host) < strcspn(host, "/"))
		return asprintf(&out, "%.*s***@%.*s", (int)(host - url), url,
				(int)(n - (size_t)(at + 1 - url)), at + 1) < 0 ? NULL : out;
	return strndup(url, n);
}

/*
 * A new request for url under opts, linked into u->requests (so counted in flight), with its
 * strings copied and no easy handle yet. *ret is owned by the caller until the request is
 * started. Returns 0 or -ENOMEM.
 */
static int request_new(struct upstream *u, const struct upstream_opts *opts, const char *url,
		       struct upstream_request **ret)
{
	_cleanup_(request_freep) struct upstream_request *req = NULL;

	req = calloc(1, sizeof(*req));
	if (!req)
		return -ENOMEM;
	req->u = u;
	LIST_PREPEND(u->requests, req);
	u->counters.in_flight++;
	req->no_retry = opts->no_retry;
	req->retry_base_ms = opts->retry_base_ms ?: UPSTREAM_DEFAULT_RETRY_BASE_MS;
	req->max_response = opts->max_response ?: UPSTREAM_DEFAULT_MAX_RESPONSE;
	sb_buf_init(&req->response, req->max_response + 1);
	req->url = strdup(url);
	req->log_url = log_url_of(url);
	if (opts->log_tag)
		req->log_tag = strdup(opts->log_tag);
	(void)snprintf(req->tenant, sizeof(req->tenant), "%s", opts->tenant ? opts->tenant : "");
	(void)snprintf(req->kind, sizeof(req->kind), "%s", opts->kind ? opts->kind : "");
	if (!req->url || !req->log_url || (opts->log_tag && !req->log_tag))
		return -ENOMEM;
	*ret = TAKE_PTR(req);
	return 0;
}

/* The request body: an owned copy (never NULL, also when empty), wiped when req is freed. */
static int request_set_body(struct upstream_request *req, const void *body, size_t body_len)
{
	req->body = malloc(body_len ? body_len : 1);
	if (!req->body)
		return -ENOMEM;
	if (body_len)
		memcpy(req->body, body, body_len);
	req->body_len = body_len;
	return 0;
}

/* The request headers: JSON both ways, the bearer token when given, and with a body no
 * "Expect: 100-continue" round trip. */
static int request_set_headers(struct upstream_request *req, bool with_body, const char *bearer)
{
	req->headers = curl_slist_append(NULL, "Accept: application/json");
	if (!req->headers)
		return -ENOMEM;
	if (bearer) {
		static const char prefix[] = "Authorization: Bearer ";
		size_t n = strlen(bearer);
		_cleanup_(erase_and_freep) char *h = NULL;

		if (strpbrk(bearer, "\r\n"))
			return -EINVAL;
		h = malloc(sizeof(prefix) + n);
		if (!h)
			return -ENOMEM;
		memcpy(h, prefix, sizeof(prefix) - 1);
		memcpy(h + sizeof(prefix) - 1, bearer, n + 1);
		if (!curl_slist_append(req->headers, h)) /* copied; wiped in request_free */
			return -ENOMEM;
	}
	if (!with_body)
		return 0;
	if (!curl_slist_append(req->headers, "Content-Type: application/json"))
		return -ENOMEM;
	if (!curl_slist_append(req->headers, "Expect:"))
		return -ENOMEM;
	return 0;
}

/*
 * Creates req's easy handle with every option of upstream.h's contract (HTTPS only unless
 * allowed, peer verified, no redirects, no proxy, body cap, timeouts, close-on-exec sockets).
 * Returns 0, -ENOMEM or -EINVAL (an option libcurl refused, logged).
 */
static int request_set_options(struct upstream_request *req, const struct upstream_opts *opts,
			       const char *method)
{
	const char *protos = opts->insecure_http ? "http,https" : "https";
	CURLcode cc = CURLE_OK;
	CURL *c;

	c = req->easy = curl_easy_init();
	if (!c)
		return -ENOMEM;
#define SETOPT(o, v)                                                                             \
	do {                                                                                     \
		if (cc == CURLE_OK)                                                              \
			cc = curl_easy_setopt(c, o, v);                                          \
	} while (0)
	SETOPT(CURLOPT_URL, req->url);
	SETOPT(CURLOPT_PRIVATE, (char *)req);
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_NOPROGRESS, 1L);
	SETOPT(CURLOPT_ERRORBUFFER, req->errbuf);
	SETOPT(CURLOPT_WRITEFUNCTION, on_write);
	SETOPT(CURLOPT_WRITEDATA, req);
	SETOPT(CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(CURLOPT_HEADERDATA, req);
	SETOPT(CURLOPT_HTTPHEADER, req->headers);
	SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(CURLOPT_PROTOCOLS_STR, protos);
	SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, protos);
	SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
	SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
	SETOPT(CURLOPT_CONNECTTIMEOUT_MS, (long)(opts->connect_timeout_ms ?
		opts->connect_timeout_ms : UPSTREAM_DEFAULT_CONNECT_TIMEOUT_MS));
	SETOPT(CURLOPT_TIMEOUT_MS, (long)(opts->total_timeout_ms ?
		opts->total_timeout_ms : UPSTREAM_DEFAULT_TOTAL_TIMEOUT_MS));
	SETOPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)req->max_response);
	SETOPT(CURLOPT_USERAGENT, "skybroker/" SKYBROKER_UPSTREAM_VERSION);
	if (opts->ca_file)
		SETOPT(CURLOPT_CAINFO, opts->ca_file);
	/* No proxy, whatever the environment says (http_proxy, HTTPS_PROXY, ALL_PROXY):
	 * requests carrying tokens and assertions go straight to the configured host.
	 * Proxies are not supported yet. */
	SETOPT(CURLOPT_PROXY, "");
	SETOPT(CURLOPT_NOPROXY, "*");
	SETOPT(CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
	SETOPT(CURLOPT_OPENSOCKETDATA, NULL);
	/* Only with a TLS backend that supports it (OpenSSL's, on Debian): not fatal. */
	if (cc == CURLE_OK && curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx) != CURLE_OK)
		log_printf(LOG_DEBUG, "upstream: no CURLOPT_SSL_CTX_FUNCTION; TLS buffers "
			   "are not cleansed");
	/*
	 * libcurl silently resends a request whose kept-alive connection died before any
	 * answer. Harmless for idempotent calls; a non-idempotent one gets a connection of
	 * its own so that it is never sent twice.
	 */
	if (!req->idempotent)
		SETOPT(CURLOPT_FRESH_CONNECT, 1L);
	if (req->body) {
		/* POST's machinery sends the body; PUT and DELETE only rename the method */
		SETOPT(CURLOPT_POST, 1L);
		SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		SETOPT(CURLOPT_POSTFIELDS, (char *)req->body);
		if (strcmp(method, "POST") != 0)
			SETOPT(CURLOPT_CUSTOMREQUEST, method);
	} else if (strcmp(method, "GET") == 0) {
		SETOPT(CURLOPT_HTTPGET, 1L);
	} else {
		SETOPT(CURLOPT_CUSTOMREQUEST, method); /* DELETE without a body */
	}
#undef SETOPT
	if (cc != CURLE_OK) {
		log_printf(LOG_ERR, "upstream: curl_easy_setopt: %s", curl_easy_strerror(cc));
		return cc == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
	}
	return 0;
}

int upstream_request_start(struct upstream *u, const struct upstream_opts *opts,
			   const char *method, const char *url, const void *body, size_t body_len,
			   bool idempotent, upstream_done_t done, void *userdata,
			   struct upstream_request **ret)
{
	static const struct upstream_opts defaults = { 0 };
	_cleanup_(request_freep) struct upstream_request *req = NULL;
	struct upstream_request *started;
	bool post, with_body;
	int r;

	if (ret)
		*ret = NULL;
	if (!u || !method || !url || !done)
		return -EINVAL;
	if (!opts)
		opts = &defaults;
	post = strcmp(method, "POST") == 0;
	if (!post && strcmp(method, "GET") != 0 && strcmp(method, "PUT") != 0 &&
	    strcmp(method, "DELETE") != 0)
		return -EINVAL;
	with_body = post || (body && strcmp(method, "GET") != 0);
	r = url_check(url, opts->insecure_http);
	if (r < 0) {
		log_printf(LOG_ERR, "upstream: refusing URL that is not %s: scheme of '%.*s'",
			   opts->insecure_http ? "http(s)" : "https", 16, url);
		return r;
	}

	r = request_new(u, opts, url, &req);
	if (r < 0)
		return r;
	req->done = done;
	req->userdata = userdata;
	req->idempotent = idempotent;
	if (with_body) {
		r = request_set_body(req, body, body_len);
		if (r < 0)
			return r;
	}
	r = request_set_headers(req, with_body, opts->bearer);
	if (r < 0)
		return r;
	r = request_set_options(req, opts, method);
	if (r < 0)
		return r;

	req->start_usec = clock_now_usec(u->event);
	u->counters.started++;
	r = request_attempt(req);
	if (r < 0)
		return r;
	/* From here u->requests owns it until it is delivered or cancelled. */
	started = TAKE_PTR(req);
	if (ret)
		*ret = started;
	return 0;
}

void upstream_request_cancel(struct upstream_request *req)
{
	request_free(req);
}

int upstream_response_json(const struct upstream_response *resp,
			   const struct jsonbound_limits *lim, json_t **ret)
{
	static const struct jsonbound_limits dflt = { .max_size = UPSTREAM_DEFAULT_MAX_RESPONSE,
						      .max_depth = JSONBOUND_DEFAULT_DEPTH };

	*ret = NULL;
	if (!resp->body)
		return -EBADMSG;
	return jsonbound_parse(resp->body, resp->body_len, lim ? lim : &dflt, ret, NULL);
}
