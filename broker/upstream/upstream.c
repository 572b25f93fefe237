/* SPDX-License-Identifier: MIT */
#include "upstream/upstream.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/ssl.h>

#include "util/log.h"
#include "proto/buf.h"

#ifdef SKYBROKER_VERSION
#define SKYBROKER_UPSTREAM_VERSION SKYBROKER_VERSION
#else
#define SKYBROKER_UPSTREAM_VERSION "0"
#endif

struct upstream_sock {
	struct upstream *u;
	curl_socket_t fd;
	sd_event_source *source;
	struct upstream_sock *next, *prev;
};

struct upstream {
	sd_event *event;
	CURLM *multi;
	sd_event_source *timer;
	struct upstream_sock *socks;
	struct upstream_request *requests; /* every live request */
	struct upstream_counters counters;
	bool processing;
};

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
	char errbuf[CURL_ERROR_SIZE];
	upstream_done_t done;
	void *userdata;
};

static uint64_t now_usec(const struct upstream *u)
{
	uint64_t t = 0;

	if (sd_event_now(u->event, CLOCK_MONOTONIC, &t) < 0) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		t = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	}
	return t;
}

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

/* ---- sd-event glue ---- */

static int upstream_process(struct upstream *u);

/* ---- close-on-exec for libcurl's descriptors ---- */

#define FD_BITS 4096u

/* Marks in bits (FD_BITS) the descriptors open now (below FD_BITS). */
static void fd_snapshot(uint64_t *bits)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	memset(bits, 0, FD_BITS / 8);
	if (!d)
		return;
	while ((de = readdir(d))) {
		char *end;
		unsigned long fd = strtoul(de->d_name, &end, 10);

		if (de->d_name[0] != '.' && *end == '\0' && fd < FD_BITS && (int)fd != dirfd(d))
			bits[fd / 64] |= UINT64_C(1) << (fd % 64);
	}
	closedir(d);
}

/* Sets FD_CLOEXEC on every descriptor opened since fd_snapshot(before). */
static void fd_cloexec_new(const uint64_t *before)
{
	uint64_t now[FD_BITS / 64];

	fd_snapshot(now);
	for (unsigned fd = 0; fd < FD_BITS; fd++) {
		int fl;

		if (!(now[fd / 64] & ~before[fd / 64] & (UINT64_C(1) << (fd % 64))))
			continue;
		fl = fcntl((int)fd, F_GETFD);
		if (fl >= 0 && !(fl & FD_CLOEXEC))
			(void)fcntl((int)fd, F_SETFD, fl | FD_CLOEXEC);
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

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct upstream_sock *sock = userdata;
	struct upstream *u = sock->u;
	int action = 0, running = 0;
	CURLMcode mc;

	if (revents & EPOLLIN)
		action |= CURL_CSELECT_IN;
	if (revents & EPOLLOUT)
		action |= CURL_CSELECT_OUT;
	if (revents & (EPOLLERR | EPOLLHUP))
		action |= CURL_CSELECT_ERR;
	/* sock may be freed inside socket_action (CURL_POLL_REMOVE); do not touch it after. */
	mc = curl_multi_socket_action(u->multi, fd, action, &running);
	if (mc != CURLM_OK)
		log_printf(LOG_ERR, "upstream: curl_multi_socket_action: %s", curl_multi_strerror(mc));
	return upstream_process(u);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct upstream *u = userdata;
	int running = 0;
	CURLMcode mc;

	mc = curl_multi_socket_action(u->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	if (mc != CURLM_OK)
		log_printf(LOG_ERR, "upstream: curl_multi_socket_action: %s", curl_multi_strerror(mc));
	return upstream_process(u);
}

static void sock_free(struct upstream *u, struct upstream_sock *sock)
{
	if (!sock)
		return;
	sd_event_source_disable_unref(sock->source);
	if (sock->prev)
		sock->prev->next = sock->next;
	else
		u->socks = sock->next;
	if (sock->next)
		sock->next->prev = sock->prev;
	free(sock);
}

static int curl_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct upstream *u = userp;
	struct upstream_sock *sock = socketp;
	uint32_t events = 0;
	int r;

	if (what == CURL_POLL_REMOVE) {
		if (sock) {
			(void)curl_multi_assign(u->multi, fd, NULL);
			sock_free(u, sock);
		}
		return 0;
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		events |= EPOLLIN;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		events |= EPOLLOUT;

	if (sock) {
		r = sd_event_source_set_io_events(sock->source, events);
		if (r >= 0)
			r = sd_event_source_set_enabled(sock->source, SD_EVENT_ON);
		if (r < 0) {
			log_printf(LOG_ERR, "upstream: cannot update socket watch: %s", strerror(-r));
			return -1;
		}
		return 0;
	}

	sock = calloc(1, sizeof(*sock));
	if (!sock)
		return -1;
	sock->u = u;
	sock->fd = fd;
	r = sd_event_add_io(u->event, &sock->source, fd, events, on_io, sock);
	if (r < 0) {
		log_printf(LOG_ERR, "upstream: cannot watch socket: %s", strerror(-r));
		free(sock);
		return -1;
	}
	(void)sd_event_source_set_description(sock->source, "upstream-io");
	sock->next = u->socks;
	if (u->socks)
		u->socks->prev = sock;
	u->socks = sock;
	if (curl_multi_assign(u->multi, fd, sock) != CURLM_OK) {
		sock_free(u, sock);
		return -1;
	}
	return 0;
}

static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct upstream *u = userp;
	uint64_t when;
	int r;

	if (timeout_ms < 0) {
		if (u->timer)
			(void)sd_event_source_set_enabled(u->timer, SD_EVENT_OFF);
		return 0;
	}
	/* 0 means "as soon as possible": the next loop iteration, never from inside curl. */
	when = now_usec(u) + (uint64_t)timeout_ms * 1000u;
	if (!u->timer) {
		r = sd_event_add_time(u->event, &u->timer, CLOCK_MONOTONIC, when, 0, on_timer, u);
		if (r < 0) {
			log_printf(LOG_ERR, "upstream: cannot add timer: %s", strerror(-r));
			return -1;
		}
		(void)sd_event_source_set_description(u->timer, "upstream-timer");
		return 0;
	}
	r = sd_event_source_set_time(u->timer, when);
	if (r >= 0)
		r = sd_event_source_set_enabled(u->timer, SD_EVENT_ONESHOT);
	if (r < 0) {
		log_printf(LOG_ERR, "upstream: cannot arm timer: %s", strerror(-r));
		return -1;
	}
	return 0;
}

/* ---- requests ---- */

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
	curl_slist_free_all(req->headers);
	sd_event_source_disable_unref(req->retry_timer);
	if (req->body) {
		explicit_bzero(req->body, req->body_len);
		free(req->body);
	}
	sb_buf_free(&req->response);
	free(req->url);
	free(req->log_url);
	free(req->log_tag);
	if (req->prev)
		req->prev->next = req->next;
	else
		u->requests = req->next;
	if (req->next)
		req->next->prev = req->prev;
	u->counters.in_flight--;
	explicit_bzero(req, sizeof(*req));
	free(req);
}

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

static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata)
{
	struct upstream_request *req = userdata;
	static const char name[] = "x-request-id:";
	size_t n = size * nitems, i, o = 0;

	/* A new response (after a 1xx or on retry) starts with its status line. */
	if (n >= 5 && memcmp(buf, "HTTP/", 5) == 0)
		req->request_id[0] = '\0';
	if (n <= sizeof(name) - 1 || strncasecmp(buf, name, sizeof(name) - 1) != 0)
		return n;
	i = sizeof(name) - 1;
	while (i < n && (buf[i] == ' ' || buf[i] == '\t'))
		i++;
	/* Keep only a safe, bounded subset: the value goes into logs and replies. */
	for (; i < n && o < UPSTREAM_MAX_REQUEST_ID; i++) {
		char c = buf[i];

		if (c == '\r' || c == '\n')
			break;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == ':' || c == '/' || c == '=' || c == '+')
			req->request_id[o++] = c;
	}
	req->request_id[o] = '\0';
	return n;
}

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
	resp.elapsed_usec = now_usec(req->u) - req->start_usec;

	if (r < 0) {
		const char *detail = req->errbuf[0] ? req->errbuf : curl_easy_strerror(cc);

		if (req->too_large || cc == CURLE_FILESIZE_EXCEEDED)
			(void)snprintf(msg, sizeof(msg), "response body exceeds %zu bytes",
				       req->max_response);
		else if (curl_is_tls_failure(cc))
			(void)snprintf(msg, sizeof(msg),
				       "TLS failure (certificate not trusted? check ca_file): %s",
				       detail);
		else
			(void)snprintf(msg, sizeof(msg), "%s", detail);
		resp.error = msg;
		req->u->counters.failed++;
		log_printf(LOG_WARNING, "upstream: %s%s%s failed after %u attempt(s): %s",
		      req->log_tag ? req->log_tag : "", req->log_tag ? " " : "", req->log_url,
		      req->attempts, msg);
	}
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

static uint64_t jitter_ms(uint32_t base)
{
	uint32_t x = 0;

	/* Jitter needs no cryptographic quality; getrandom never blocks after boot. */
	if (getrandom(&x, sizeof(x), GRND_NONBLOCK) != sizeof(x)) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		x = (uint32_t)ts.tv_nsec;
	}
	return base + (base ? x % base : 0);
}

static void request_finished(struct upstream_request *req, CURLcode cc)
{
	long status = 0;
	bool retry = false;
	int r;

	(void)curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &status);
	if (cc == CURLE_OK)
		r = 0;
	else if (req->too_large)
		r = -EMSGSIZE;
	else
		r = upstream_errno_from_curl(cc);

	if (req->idempotent && !req->no_retry && req->attempts < 2) {
		if (r == 0 && status >= 500 && status <= 599)
			retry = true;
		else if (r < 0 && curl_retryable(cc))
			retry = true;
	}
	if (retry) {
		uint64_t delay = jitter_ms(req->retry_base_ms);

		log_printf(LOG_INFO, "upstream: %s%s%s: %s, retrying in %" PRIu64 " ms",
		      req->log_tag ? req->log_tag : "", req->log_tag ? " " : "", req->log_url,
		      r == 0 ? "server error" : (req->errbuf[0] ? req->errbuf : curl_easy_strerror(cc)),
		      delay);
		req->u->counters.retries++;
		r = sd_event_add_time_relative(req->u->event, &req->retry_timer, CLOCK_MONOTONIC,
					       delay * 1000u, 0, on_retry_timer, req);
		if (r >= 0)
			return;
		log_printf(LOG_ERR, "upstream: cannot schedule retry: %s", strerror(-r));
	}
	deliver(req, r, status, cc);
}

static int upstream_process(struct upstream *u)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(u->multi, &left))) {
		struct upstream_request *req = NULL;
		CURLcode cc;

		if (m->msg != CURLMSG_DONE)
			continue;
		cc = m->data.result;
		if (curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&req) != CURLE_OK ||
		    !req)
			continue;
		/* Removing the handle invalidates m; nothing below reads it. */
		(void)curl_multi_remove_handle(u->multi, req->easy);
		req->in_multi = false;
		request_finished(req, cc);
	}
	return 0;
}

int upstream_new(sd_event *e, struct upstream **ret)
{
	static bool curl_ready;
	struct upstream *u;

	if (!e || !ret)
		return -EINVAL;
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return -EIO;
		curl_ready = true;
	}
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	{
		/* curl_multi_init makes a wakeup socketpair without close-on-exec: mark whatever
		 * descriptor it created so. */
		uint64_t before[FD_BITS / 64];

		fd_snapshot(before);
		u->multi = curl_multi_init();
		fd_cloexec_new(before);
	}
	if (!u->multi) {
		free(u);
		return -ENOMEM;
	}
	u->event = sd_event_ref(e);
	(void)curl_multi_setopt(u->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
	(void)curl_multi_setopt(u->multi, CURLMOPT_SOCKETDATA, u);
	(void)curl_multi_setopt(u->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
	(void)curl_multi_setopt(u->multi, CURLMOPT_TIMERDATA, u);
	*ret = u;
	return 0;
}

struct upstream *upstream_free(struct upstream *u)
{
	if (!u)
		return NULL;
	while (u->requests)
		request_free(u->requests);
	/* Closes cached connections; may report CURL_POLL_REMOVE for their sockets. */
	curl_multi_cleanup(u->multi);
	while (u->socks)
		sock_free(u, u->socks);
	sd_event_source_disable_unref(u->timer);
	sd_event_unref(u->event);
	free(u);
	return NULL;
}

static int url_check(const char *url, bool insecure_http)
{
	if (strncasecmp(url, "https://", 8) == 0)
		return 0;
	if (insecure_http && strncasecmp(url, "http://", 7) == 0)
		return 0;
	return -EPROTONOSUPPORT;
}

int upstream_request_start(struct upstream *u, const struct upstream_opts *opts,
			   const char *method, const char *url, const void *body, size_t body_len,
			   bool idempotent, upstream_done_t done, void *userdata,
			   struct upstream_request **ret)
{
	static const struct upstream_opts defaults = { 0 };
	struct upstream_request *req;
	bool post;
	size_t q;
	int r;

	if (ret)
		*ret = NULL;
	if (!u || !method || !url || !done)
		return -EINVAL;
	if (!opts)
		opts = &defaults;
	post = strcmp(method, "POST") == 0;
	if (!post && strcmp(method, "GET") != 0)
		return -EINVAL;
	r = url_check(url, opts->insecure_http);
	if (r < 0) {
		log_printf(LOG_ERR, "upstream: refusing URL that is not %s: scheme of '%.*s'",
		      opts->insecure_http ? "http(s)" : "https", 16, url);
		return r;
	}

	req = calloc(1, sizeof(*req));
	if (!req)
		return -ENOMEM;
	req->u = u;
	req->next = u->requests;
	if (u->requests)
		u->requests->prev = req;
	u->requests = req;
	u->counters.in_flight++;
	req->done = done;
	req->userdata = userdata;
	req->idempotent = idempotent;
	req->no_retry = opts->no_retry;
	req->retry_base_ms = opts->retry_base_ms ? opts->retry_base_ms : UPSTREAM_DEFAULT_RETRY_BASE_MS;
	req->max_response = opts->max_response ? opts->max_response : UPSTREAM_DEFAULT_MAX_RESPONSE;
	sb_buf_init(&req->response, req->max_response + 1);
	req->url = strdup(url);
	q = strcspn(url, "?#");
	req->log_url = strndup(url, q);
	if (opts->log_tag)
		req->log_tag = strdup(opts->log_tag);
	if (!req->url || !req->log_url || (opts->log_tag && !req->log_tag))
		goto oom;
	if (post) {
		req->body = malloc(body_len ? body_len : 1);
		if (!req->body)
			goto oom;
		if (body_len)
			memcpy(req->body, body, body_len);
		req->body_len = body_len;
	}

	req->easy = curl_easy_init();
	if (!req->easy)
		goto oom;
	req->headers = curl_slist_append(NULL, "Accept: application/json");
	if (!req->headers)
		goto oom;
	if (post) {
		struct curl_slist *h;

		h = curl_slist_append(req->headers, "Content-Type: application/json");
		if (!h)
			goto oom;
		/* No "Expect: 100-continue" round trip. */
		h = curl_slist_append(req->headers, "Expect:");
		if (!h)
			goto oom;
	}

	{
		const char *protos = opts->insecure_http ? "http,https" : "https";
		CURL *c = req->easy;
		CURLcode cc = CURLE_OK;

#define SETOPT(o, v)                                           \
	do {                                                   \
		if (cc == CURLE_OK)                            \
			cc = curl_easy_setopt(c, o, v);       \
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
		if (cc == CURLE_OK &&
		    curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx) != CURLE_OK)
			log_printf(LOG_DEBUG, "upstream: no CURLOPT_SSL_CTX_FUNCTION; TLS buffers "
			      "are not cleansed");
		/*
		 * libcurl silently resends a request whose kept-alive connection died before any
		 * answer. Harmless for idempotent calls; a non-idempotent one gets a connection of
		 * its own so that it is never sent twice.
		 */
		if (!idempotent)
			SETOPT(CURLOPT_FRESH_CONNECT, 1L);
		if (post) {
			SETOPT(CURLOPT_POST, 1L);
			SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
			SETOPT(CURLOPT_POSTFIELDS, (char *)req->body);
		} else {
			SETOPT(CURLOPT_HTTPGET, 1L);
		}
#undef SETOPT
		if (cc != CURLE_OK) {
			log_printf(LOG_ERR, "upstream: curl_easy_setopt: %s", curl_easy_strerror(cc));
			request_free(req);
			return cc == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
		}
	}

	req->start_usec = now_usec(u);
	u->counters.started++;
	r = request_attempt(req);
	if (r < 0) {
		request_free(req);
		return r;
	}
	if (ret)
		*ret = req;
	return 0;

oom:
	request_free(req);
	return -ENOMEM;
}

void upstream_request_cancel(struct upstream_request *req)
{
	request_free(req);
}

void upstream_get_counters(const struct upstream *u, struct upstream_counters *ret)
{
	*ret = u->counters;
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
