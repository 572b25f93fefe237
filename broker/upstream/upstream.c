/* SPDX-License-Identifier: MIT */
/* upstream: the one libcurl multi handle driven by sd-event (a watch per socket, one timer). */
#include "upstream/upstream.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include "util/cleanup.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/list.h"
#include "upstream/internal.h"

/* One socket curl asked us to watch; owned by u->socks, assigned to the socket in curl. */
struct upstream_sock {
	struct upstream *u;
	curl_socket_t fd;
	sd_event_source *source;
	struct upstream_sock *next, *prev;
};

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

/* curl_multi_init, whose wakeup socketpair is made without close-on-exec: whatever descriptor
 * it created is marked so. NULL when out of memory. */
static CURLM *multi_new_cloexec(void)
{
	uint64_t before[FD_BITS / 64];
	CURLM *multi;

	fd_snapshot(before);
	multi = curl_multi_init();
	fd_cloexec_new(before);
	return multi;
}

/* ---- sd-event glue ---- */

/* Hands every transfer curl reports finished to its request (retry or delivery). */
static void upstream_process(struct upstream *u)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(u->multi, &left))) {
		struct upstream_request *req = NULL;
		CURLcode cc;

		if (m->msg != CURLMSG_DONE)
			continue;
		cc = m->data.result;
		if (curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&req) != CURLE_OK)
			continue;
		if (!req)
			continue;
		/* Removing the handle (in there) invalidates m; nothing after reads it. */
		upstream_request_finished(req, cc);
	}
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
		log_printf(LOG_ERR, "upstream: curl_multi_socket_action: %s",
			   curl_multi_strerror(mc));
	upstream_process(u);
	return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct upstream *u = userdata;
	int running = 0;
	CURLMcode mc;

	mc = curl_multi_socket_action(u->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	if (mc != CURLM_OK)
		log_printf(LOG_ERR, "upstream: curl_multi_socket_action: %s",
			   curl_multi_strerror(mc));
	upstream_process(u);
	return 0;
}

static void sock_free(struct upstream *u, struct upstream_sock *sock)
{
	if (!sock)
		return;
	sd_event_source_disable_unref(sock->source);
	LIST_REMOVE(u->socks, sock);
	free(sock);
}

/* Starts watching fd for events (EPOLLIN/EPOLLOUT) and assigns the watch to fd in curl.
 * Returns 0 or -1 (curl's failure value; logged). */
static int sock_new(struct upstream *u, curl_socket_t fd, uint32_t events)
{
	struct upstream_sock *sock;
	int r;

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
	LIST_PREPEND(u->socks, sock);
	if (curl_multi_assign(u->multi, fd, sock) != CURLM_OK) {
		sock_free(u, sock);
		return -1;
	}
	return 0;
}

/* CURLMOPT_SOCKETFUNCTION: watch, re-arm or forget one socket. */
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
	if (!sock)
		return sock_new(u, fd, events);

	r = sd_event_source_set_io_events(sock->source, events);
	if (r >= 0)
		r = sd_event_source_set_enabled(sock->source, SD_EVENT_ON);
	if (r < 0) {
		log_printf(LOG_ERR, "upstream: cannot update socket watch: %s", strerror(-r));
		return -1;
	}
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: (re)arms or stops the one timer. */
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
	when = clock_now_usec(u->event) + (uint64_t)timeout_ms * 1000u;
	if (!u->timer) {
		r = sd_event_add_time(u->event, &u->timer, CLOCK_MONOTONIC, when,
				      CLOCK_ACCURACY_PRECISE_USEC, on_timer, u);
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

/* ---- life ---- */

DEFINE_TRIVIAL_CLEANUP_FUNC(struct upstream *, upstream_free)

int upstream_new(sd_event *e, struct upstream **ret)
{
	_cleanup_(upstream_freep) struct upstream *u = NULL;
	int r;

	if (!e || !ret)
		return -EINVAL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -EIO;
	u->curl_global = true;
	u->multi = multi_new_cloexec();
	if (!u->multi)
		return -ENOMEM;
	u->event = sd_event_ref(e);
	(void)curl_multi_setopt(u->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
	(void)curl_multi_setopt(u->multi, CURLMOPT_SOCKETDATA, u);
	(void)curl_multi_setopt(u->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
	(void)curl_multi_setopt(u->multi, CURLMOPT_TIMERDATA, u);
	r = upstream_set_limits(u, &(struct upstream_limits){0});
	if (r < 0)
		return r;
	*ret = TAKE_PTR(u);
	return 0;
}

int upstream_set_limits(struct upstream *u, const struct upstream_limits *lim)
{
	long idle = lim->max_idle ? (long)lim->max_idle : (long)UPSTREAM_DEFAULT_MAX_IDLE;
	long per_host = lim->max_per_host ? (long)lim->max_per_host
					  : (long)UPSTREAM_DEFAULT_MAX_PER_HOST;
	CURLMcode mc;

	mc = curl_multi_setopt(u->multi, CURLMOPT_MAXCONNECTS, idle);
	if (mc == CURLM_OK)
		mc = curl_multi_setopt(u->multi, CURLMOPT_MAX_HOST_CONNECTIONS, per_host);
	if (mc != CURLM_OK) {
		log_printf(LOG_ERR, "upstream: cannot set connection limits: %s",
			   curl_multi_strerror(mc));
		return -EINVAL;
	}
	return 0;
}

struct upstream *upstream_free(struct upstream *u)
{
	if (!u)
		return NULL;
	/* Dropped as by upstream_request_cancel: no completion callback runs. */
	while (u->requests)
		upstream_request_cancel(u->requests);
	/* Closes cached connections; may report CURL_POLL_REMOVE for their sockets. */
	if (u->multi)
		(void)curl_multi_cleanup(u->multi);
	while (u->socks)
		sock_free(u, u->socks);
	u->timer = sd_event_source_disable_unref(u->timer);
	u->event = sd_event_unref(u->event);
	if (u->curl_global)
		curl_global_cleanup();
	free(u);
	return NULL;
}

void upstream_set_observer(struct upstream *u, upstream_observer_t fn)
{
	u->observer = fn;
}

void upstream_get_counters(const struct upstream *u, struct upstream_counters *ret)
{
	*ret = u->counters;
}

int upstream_timer_accuracy(const struct upstream *u, uint64_t *ret)
{
	if (!u->timer)
		return -ENOENT;
	return sd_event_source_get_time_accuracy(u->timer, ret);
}
