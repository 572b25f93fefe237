/* SPDX-License-Identifier: MIT */
/* listener: listening sockets (created or passed by systemd), accept, admission, limits. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "proto/message.h"
#include "runtime/admission.h"
#include "runtime/conn.h"
#include "runtime/fdlimit.h"
#include "runtime/listener.h"
#include "runtime/socketfile.h"
#include "runtime/stats.h"
#include "util/clock.h"
#include "util/log.h"

#define ACCEPTS_PER_WAKEUP 64
#define LISTENER_PRIORITY 10 /* below connections: existing clients first under a flood */
#define ACCEPT_RETRY_USEC (250u * 1000u)
#define REFUSED_LOG_INTERVAL_USEC (1000000u)
#define REFUSED_LOG_BURST 20u

struct listeners {
	sd_event *event;          /* borrowed */
	struct conn_set *conns;   /* borrowed */
	conn_frame_handler on_frame;
	struct listener *list;
	struct activated_fd *activated; /* passed by systemd, owned */
	size_t n_activated;
	struct conn_limits limits;      /* for new connections */
	uint64_t max_connections;       /* for log lines */
	uint64_t max_connections_per_uid;
	bool accepting;                 /* the daemon runs */
	bool paused;                    /* out of memory, or of descriptors without a spare */
	int spare_fd;                   /* given up to accept and refuse when out of descriptors */
	sd_event_source *retry;
	uint64_t refused_log_usec;      /* rate limit of "refused" lines */
	unsigned refused_logged;
	unsigned refused_suppressed;
};

static int listener_accept_cb(sd_event_source *s, int fd, uint32_t revents, void *userdata);

static struct listener *listener_free(struct listener *l)
{
	if (!l)
		return NULL;
	l->src = sd_event_source_disable_unref(l->src);
	if (!l->activated && l->fd >= 0) {
		close(l->fd);
		if (l->path)
			socketfile_unlink(l->path, &l->id);
	}
	for (size_t i = 0; i < l->n_tenants; i++)
		tenant_unref(l->tenants[i]);
	free(l->tenants);
	free(l->key);
	free(l->path);
	free(l->label);
	free(l);
	return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct listener *, listener_free);

static void listener_list_free(struct listener *list)
{
	while (list) {
		struct listener *next = list->next;
		listener_free(list);
		list = next;
	}
}

/* Accepting happens when the daemon runs and descriptors are not exhausted. */
static void listeners_update_enabled(struct listeners *ls)
{
	bool on = ls->accepting && !ls->paused;

	for (struct listener *l = ls->list; l; l = l->next)
		if (l->src)
			(void)sd_event_source_set_enabled(l->src, on ? SD_EVENT_ON : SD_EVENT_OFF);
}

void listeners_set_accepting(struct listeners *ls, bool on)
{
	ls->accepting = on;
	listeners_update_enabled(ls);
}

const struct listener *listeners_first(const struct listeners *ls)
{
	return ls->list;
}

void listeners_close_all(struct listeners *ls)
{
	ls->accepting = false;
	listener_list_free(ls->list);
	ls->list = NULL;
}

/* ---------------------------------------------------------------- pausing */

/* A connection closed (conn_set's released hook), or the retry delay passed. */
static void resume_accepting(void *userdata)
{
	struct listeners *ls = userdata;

	if (ls->spare_fd < 0)
		ls->spare_fd = fdlimit_spare_open();
	if (!ls->paused)
		return;
	ls->paused = false;
	(void)sd_event_source_set_enabled(ls->retry, SD_EVENT_OFF);
	listeners_update_enabled(ls);
}

static int accept_retry_fire(sd_event_source *s, uint64_t usec, void *userdata)
{
	resume_accepting(userdata);
	return 0;
}

/* Out of descriptors: stop accepting until a connection closes, or a short delay whatever
 * happens, rather than spin on a level-triggered listener. */
static void pause_accepting(struct listeners *ls)
{
	int r;

	ls->paused = true;
	listeners_update_enabled(ls);
	if (ls->retry)
		r = sd_event_source_set_time_relative(ls->retry, ACCEPT_RETRY_USEC);
	else
		r = sd_event_add_time_relative(ls->event, &ls->retry, CLOCK_MONOTONIC,
					       ACCEPT_RETRY_USEC, CLOCK_ACCURACY_MS_USEC,
					       accept_retry_fire, ls);
	if (r >= 0)
		r = sd_event_source_set_enabled(ls->retry, SD_EVENT_ONESHOT);
	if (r < 0)
		resume_accepting(ls); /* better a busy listener than a dead one */
}

/* ---------------------------------------------------------------- accepting */

/* Rate-limited warning for refused connections (a flood must not flood the journal): at most
 * REFUSED_LOG_BURST lines per interval; the first line of the next says how many were not
 * logged. */
static void __attribute__((format(printf, 2, 3))) log_refused(struct listeners *ls, const char *fmt, ...)
{
	uint64_t now = conn_set_now(ls->conns);
	char msg[1024];
	va_list ap;

	if (now >= ls->refused_log_usec + REFUSED_LOG_INTERVAL_USEC) {
		ls->refused_log_usec = now;
		ls->refused_logged = 0;
	}
	if (ls->refused_logged >= REFUSED_LOG_BURST) {
		ls->refused_suppressed++;
		return;
	}
	ls->refused_logged++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ls->refused_suppressed)
		log_warning("%s (and %u more refusals not logged)", msg, ls->refused_suppressed);
	else
		log_warning("%s", msg);
	ls->refused_suppressed = 0;
}

/* Answers a refused peer with one error frame and closes the socket. */
static void refuse(int fd, struct peer *peer, enum sb_errcode code, const char *message)
{
	struct sb_buf out;

	/* One small frame into an empty socket buffer: send() does not block (MSG_DONTWAIT
	 * anyway); whatever happens, the socket is closed. */
	sb_buf_init(&out, 1024);
	if (sb_reply_encode_error(0, code, message, &out, 1000) == 0)
		(void)send(fd, sb_buf_ptr(&out), sb_buf_len(&out), MSG_NOSIGNAL | MSG_DONTWAIT);
	sb_buf_free(&out);
	close(fd);
	peer_done(peer);
}

/* The tenant of this socket that admits peer (NULL on the admin socket); false when nobody
 * admits it (logged). */
static bool admit(struct listener *l, const struct peer *peer, struct tenant **ret)
{
	*ret = NULL;
	if (l->admin) {
		if (admission_admin_admits(peer))
			return true;
		log_refused(l->set,
			    "conn=- uid=%u pid=%d tenant=-: refused on the admin socket %s "
			    "(gid=%u): only root and the broker's uid",
			    (unsigned)peer->uid, (int)peer->pid, l->label, (unsigned)peer->gid);
		return false;
	}
	*ret = admission_pick(l->tenants, l->n_tenants, peer);
	if (*ret)
		return true;
	log_refused(l->set,
		    "conn=- uid=%u pid=%d tenant=-: refused on socket %s (gid=%u, "
		    "%zu supplementary groups): no tenant of this socket admits it",
		    (unsigned)peer->uid, (int)peer->pid, l->label, (unsigned)peer->gid,
		    peer->n_groups);
	return false;
}

/* Reserves a connection slot for peer; a refusal when a limit is reached (logged). */
static enum conn_set_refusal reserve_slot(struct listener *l, const struct peer *peer,
					  const struct tenant *t)
{
	struct listeners *ls = l->set;
	const char *label = t ? tenant_name(t) : "@admin";
	enum conn_set_refusal why = conn_set_reserve(ls->conns, peer->uid, l->admin);

	switch (why) {
	case CONN_SET_ADMITTED:
		break;
	case CONN_SET_FULL:
		log_refused(ls, "conn=- uid=%u pid=%d tenant=%s: refused: max_connections (%llu) reached",
			    (unsigned)peer->uid, (int)peer->pid, label,
			    (unsigned long long)ls->max_connections);
		break;
	case CONN_SET_UID_FULL:
		log_refused(ls,
			    "conn=- uid=%u pid=%d tenant=%s: refused: max_connections_per_uid (%llu) reached",
			    (unsigned)peer->uid, (int)peer->pid, label,
			    (unsigned long long)ls->max_connections_per_uid);
		break;
	}
	return why;
}

static void accept_one(struct listener *l, int cfd)
{
	struct listeners *ls = l->set;
	struct tenant *t = NULL;
	struct peer peer;
	int r;

	r = peer_from_socket(cfd, &peer);
	if (r < 0) {
		log_errno(LOG_WARNING, r, "socket %s: cannot read peer credentials; closing",
			  l->label);
		close(cfd);
		return;
	}
	if (!admit(l, &peer, &t)) {
		stats_conn_event(STATS_CONN_REFUSED_ADMISSION);
		refuse(cfd, &peer, SB_ERR_FORBIDDEN, "not admitted");
		return;
	}
	switch (reserve_slot(l, &peer, t)) {
	case CONN_SET_ADMITTED:
		break;
	case CONN_SET_FULL:
		stats_conn_event(STATS_CONN_REFUSED_LIMIT);
		refuse(cfd, &peer, SB_ERR_RATE_LIMITED, "too many connections");
		return;
	case CONN_SET_UID_FULL:
		stats_conn_event(STATS_CONN_REFUSED_UID_LIMIT);
		refuse(cfd, &peer, SB_ERR_RATE_LIMITED, "too many connections for this uid");
		return;
	}
	(void)conn_new(ls->conns, cfd, &peer, t, l->admin, l->key, &ls->limits, ls->on_frame,
		       NULL);
}

struct tenant *listeners_pick(const struct listeners *ls, const char *key, const struct peer *p)
{
	for (const struct listener *l = ls->list; l; l = l->next)
		if (!l->admin && strcmp(l->key, key) == 0)
			return admission_pick(l->tenants, l->n_tenants, p);
	return NULL;
}

/*
 * Out of descriptors: gives up the spare one to accept the next peer and refuse it with
 * rate_limited (rather than leave it hanging in the backlog, and the listener readable), then
 * takes the spare again. 1 when a peer was refused, 0 when none was waiting, -errno when the
 * spare could not help (none, or taken meanwhile: the caller pauses).
 */
static int refuse_with_spare(struct listener *l)
{
	struct listeners *ls = l->set;
	struct peer peer;
	int cfd, r;

	if (ls->spare_fd < 0)
		return -EMFILE;
	close(ls->spare_fd);
	cfd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	r = cfd < 0 ? -errno : 1;
	if (cfd >= 0) {
		/* no descriptor is left for its pidfd: the peer comes without one */
		if (peer_from_socket(cfd, &peer) < 0)
			peer = (struct peer){.uid = (uid_t)-1, .pidfd = -1};
		stats_conn_event(STATS_CONN_REFUSED_NO_FDS);
		log_refused(ls, "conn=- uid=%u pid=%d tenant=-: refused on socket %s: out of descriptors",
			    (unsigned)peer.uid, (int)peer.pid, l->label);
		refuse(cfd, &peer, SB_ERR_RATE_LIMITED, "out of descriptors");
	}
	ls->spare_fd = fdlimit_spare_open();
	if (ls->spare_fd < 0)
		return ls->spare_fd;
	if (r == -EINTR || r == -ECONNABORTED)
		return 1; /* that one is gone: try the next */
	return r == -EAGAIN ? 0 : r;
}

static int listener_accept_cb(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct listener *l = userdata;
	struct listeners *ls = l->set;

	for (int i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK), e = errno;

		if (cfd < 0 && (e == EMFILE || e == ENFILE)) {
			int r = refuse_with_spare(l);
			if (r > 0)
				continue;
			if (r == 0)
				break;
		}
		if (cfd < 0) {
			if (e == EINTR || e == ECONNABORTED)
				continue;
			if (e == EAGAIN)
				break;
			if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
				log_warning("socket %s: accept: %s; pausing for a moment", l->label,
					    strerror(e));
				pause_accepting(ls);
				break;
			}
			log_warning("socket %s: accept: %s", l->label, strerror(e));
			break;
		}
		accept_one(l, cfd);
		if (ls->paused || !ls->accepting)
			break;
	}
	return 0;
}

/* ---------------------------------------------------------------- sockets from systemd */

/* Checks one passed descriptor and records it under its FileDescriptorName=. */
static int adopt_activated(struct listeners *ls, int fd, const char *name)
{
	struct activated_fd *a = &ls->activated[ls->n_activated];

	if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
		log_error("activated fd %d ('%s') is not a listening AF_UNIX stream socket", fd,
			  name ? name : "?");
		return -EINVAL;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		return log_errno(LOG_ERR, -errno, "fcntl(O_NONBLOCK) on activated fd %d", fd);
	a->name = strdup(name ? name : "unknown");
	if (!a->name)
		return -ENOMEM;
	a->fd = fd;
	ls->n_activated++;
	return 0;
}

static void strv_freep(char ***p)
{
	for (char **s = *p; s && *s; s++)
		free(*s);
	free(*p);
}

/* Takes the sockets systemd passed (sd_listen_fds), unsetting its environment. */
static int collect_activated(struct listeners *ls)
{
	_cleanup_(strv_freep) char **names = NULL;
	int n, r = 0;

	n = sd_listen_fds_with_names(1, &names); /* 1: unset the environment, set CLOEXEC */
	if (n < 0)
		return log_errno(LOG_ERR, n, "sd_listen_fds_with_names");
	if (n == 0)
		return 0;
	ls->activated = calloc((size_t)n, sizeof(*ls->activated));
	if (!ls->activated)
		return -ENOMEM;
	for (int i = 0; r == 0 && i < n; i++)
		r = adopt_activated(ls, SD_LISTEN_FDS_START + i, names ? names[i] : NULL);
	if (r < 0)
		return r;
	log_info("received %zu listening sockets from the service manager", ls->n_activated);
	return 0;
}

static int find_activated(const struct listeners *ls, const char *name)
{
	for (size_t i = 0; i < ls->n_activated; i++)
		if (strcmp(ls->activated[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Warns about passed sockets that no endpoint uses (a typo in FileDescriptorName=). */
static void warn_unused_activated(struct listeners *ls)
{
	for (size_t i = 0; i < ls->n_activated; i++) {
		ls->activated[i].used = false;
		for (struct listener *l = ls->list; l; l = l->next)
			if (l->activated && ls->activated[i].fd == l->fd)
				ls->activated[i].used = true;
		if (!ls->activated[i].used)
			log_warning("activated socket '%s' matches no tenant, shared or admin socket name",
				    ls->activated[i].name);
	}
}

/* ---------------------------------------------------------------- building the set */

struct endpoint {
	char *key;
	bool admin;
	const char *path;        /* borrowed from config */
	int activated_fd;        /* -1 if a path */
	const char *fd_name;     /* borrowed */
	struct tenant **tenants; /* borrowed pointers (refs taken when installed) */
	size_t n_tenants;
	struct tenant **install; /* the listener's new tenant array, allocated in phase 1 */
	struct listener *made;   /* newly created */
	struct listener *reused; /* taken from the old list */
};

struct endpoints {
	struct endpoint *v;
	size_t n, max;
};

static void endpoints_done(struct endpoints *eps)
{
	for (size_t i = 0; i < eps->n; i++) {
		free(eps->v[i].key);
		free(eps->v[i].tenants);
		free(eps->v[i].install);
	}
	free(eps->v);
}

static struct endpoint *endpoint_get(struct endpoints *eps, const char *key)
{
	struct endpoint *ep;

	for (size_t i = 0; i < eps->n; i++)
		if (strcmp(eps->v[i].key, key) == 0)
			return &eps->v[i];
	if (eps->n == eps->max)
		return NULL;
	ep = &eps->v[eps->n];
	*ep = (struct endpoint){.activated_fd = -1, .key = strdup(key)};
	if (!ep->key)
		return NULL;
	eps->n++;
	return ep;
}

/* The endpoint of an activated socket named fd_name if systemd passed one, else of path;
 * *ret NULL when neither exists. */
static int endpoint_for(struct listeners *ls, struct endpoints *eps, const char *fd_name,
			const char *path, bool admin, struct endpoint **ret)
{
	char key[sizeof(((struct sockaddr_un *)NULL)->sun_path) + 300];
	int idx = fd_name ? find_activated(ls, fd_name) : -1;
	struct endpoint *ep;

	*ret = NULL;
	if (idx >= 0)
		snprintf(key, sizeof(key), "fd:%s", fd_name);
	else if (path)
		snprintf(key, sizeof(key), "path:%s", path);
	else
		return 0;
	ep = endpoint_get(eps, key);
	if (!ep)
		return -ENOMEM;
	if ((ep->n_tenants || ep->admin) && ep->admin != admin) {
		log_error("socket %s is configured both as the admin socket and for tenants",
			  key + (idx >= 0 ? 3 : 5));
		return -EINVAL;
	}
	ep->admin = admin;
	if (idx >= 0) {
		ep->activated_fd = ls->activated[idx].fd;
		ep->fd_name = ls->activated[idx].name;
	} else
		ep->path = path;
	*ret = ep;
	return 0;
}

/* Where a tenant listens: an activated socket named for it, else its own path, else the
 * shared socket (activated under [broker] socket_name, else its path). */
static int endpoint_add_tenant(struct listeners *ls, struct endpoints *eps,
			       const struct broker_config *c, struct tenant *t)
{
	const struct tenant_config *tc = tenant_config(t);
	struct endpoint *ep = NULL;
	struct tenant **v;
	int r;

	if (find_activated(ls, tc->socket_name) >= 0)
		r = endpoint_for(ls, eps, tc->socket_name, NULL, false, &ep);
	else if (tc->socket)
		r = endpoint_for(ls, eps, NULL, tc->socket, false, &ep);
	else
		r = endpoint_for(ls, eps, c->socket_name, c->socket, false, &ep);
	if (r < 0)
		return r;
	if (!ep) {
		log_error("tenant=%s: no socket to listen on", tc->name);
		return -EINVAL;
	}
	v = realloc(ep->tenants, (ep->n_tenants + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	v[ep->n_tenants++] = t;
	ep->tenants = v;
	return 0;
}

static int endpoints_compute(struct listeners *ls, const struct broker_config *c,
			     struct tenant *const *tenants, size_t n_tenants, struct endpoints *eps)
{
	struct endpoint *admin = NULL;
	int r;

	eps->max = n_tenants + 2;
	eps->v = calloc(eps->max, sizeof(*eps->v));
	if (!eps->v)
		return -ENOMEM;
	for (size_t i = 0; i < n_tenants; i++) {
		r = endpoint_add_tenant(ls, eps, c, tenants[i]);
		if (r < 0)
			return r;
	}
	return endpoint_for(ls, eps, c->admin_socket_name, c->admin_socket, true, &admin);
}

static struct socketfile_access access_of(const struct broker_config *c)
{
	return (struct socketfile_access){
		.mode = c->socket_mode, .group_set = c->socket_group_set, .group = c->socket_group};
}

static int listener_make(struct listeners *ls, const struct broker_config *c,
			 const struct endpoint *ep, struct listener **ret)
{
	_cleanup_(listener_freep) struct listener *l = calloc(1, sizeof(*l));
	struct socketfile_access access = access_of(c);
	int r;

	if (!l)
		return -ENOMEM;
	l->set = ls;
	l->fd = -1;
	l->admin = ep->admin;
	l->key = strdup(ep->key);
	l->label = strdup(ep->activated_fd >= 0 ? ep->fd_name : ep->path);
	if (!l->key || !l->label)
		return -ENOMEM;
	if (ep->activated_fd >= 0) {
		l->activated = true;
		l->fd = ep->activated_fd;
	} else {
		r = socketfile_bind(ep->path, &access, &l->fd, &l->id);
		if (r < 0)
			return r;
		l->path = strdup(ep->path);
		if (!l->path)
			return -ENOMEM;
	}
	r = sd_event_add_io(ls->event, &l->src, l->fd, EPOLLIN, listener_accept_cb, l);
	if (r >= 0)
		r = sd_event_source_set_priority(l->src, LISTENER_PRIORITY);
	if (r < 0)
		return log_errno(LOG_ERR, r, "socket %s: cannot watch", l->label);
	if (!ls->accepting || ls->paused)
		(void)sd_event_source_set_enabled(l->src, SD_EVENT_OFF);
	*ret = TAKE_PTR(l);
	return 0;
}

/* Phase 1: finds reusable listeners, creates the missing ones, and allocates everything phase
 * 2 needs; nothing changes on error (the new listeners are closed again), so a reload
 * applies as a whole or not at all (a socket never keeps the previous generation's tenants
 * and allow lists). */
static int endpoints_prepare(struct listeners *ls, const struct broker_config *c,
			     struct endpoints *eps)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < eps->n; i++) {
		struct endpoint *ep = &eps->v[i];

		for (struct listener *l = ls->list; l; l = l->next)
			if (strcmp(l->key, ep->key) == 0)
				ep->reused = l;
		if (ep->n_tenants) {
			ep->install = calloc(ep->n_tenants, sizeof(*ep->install));
			if (!ep->install) {
				log_error("socket %s: out of memory for its tenants", ep->key);
				r = -ENOMEM;
			}
		}
		if (r == 0 && !ep->reused)
			r = listener_make(ls, c, ep, &ep->made);
	}
	if (r < 0)
		for (size_t i = 0; i < eps->n; i++)
			eps->v[i].made = listener_free(eps->v[i].made);
	return r;
}

/* Gives l the endpoint's tenants (references; the array allocated in phase 1 is transferred). */
static void listener_install(struct listener *l, struct endpoint *ep)
{
	for (size_t k = 0; k < l->n_tenants; k++)
		tenant_unref(l->tenants[k]);
	free(l->tenants);
	for (size_t k = 0; k < ep->n_tenants; k++)
		ep->install[k] = tenant_ref(ep->tenants[k]);
	l->tenants = TAKE_PTR(ep->install);
	l->n_tenants = ep->n_tenants;
	l->admin = ep->admin;
}

/* Phase 2 (cannot fail): installs the tenants, moves reused listeners from the old list to the
 * new one, and closes what is left of the old. */
static void endpoints_commit(struct listeners *ls, const struct broker_config *c,
			     struct endpoints *eps)
{
	struct socketfile_access access = access_of(c);
	struct listener *new_list = NULL, **tail = &new_list;

	for (size_t i = 0; i < eps->n; i++) {
		struct listener *l = eps->v[i].made ? eps->v[i].made : eps->v[i].reused;

		if (eps->v[i].reused) {
			for (struct listener **pp = &ls->list; *pp; pp = &(*pp)->next)
				if (*pp == l) {
					*pp = l->next;
					break;
				}
			if (l->path) /* a reload may change the mode or group */
				socketfile_set_access(l->path, &l->id, &access);
		}
		listener_install(l, &eps->v[i]);
		l->next = NULL;
		*tail = l;
		tail = &l->next;
		log_info("listening on %s%s for %s", l->activated ? "activated socket " : "", l->label,
			 l->admin ? "admin" : "tenants");
	}
	listener_list_free(ls->list);
	ls->list = new_list;
}

int listeners_apply(struct listeners *ls, const struct broker_config *c,
		    struct tenant *const *tenants, size_t n_tenants)
{
	struct endpoints eps = {0};
	int r;

	r = endpoints_compute(ls, c, tenants, n_tenants, &eps);
	if (r >= 0)
		r = endpoints_prepare(ls, c, &eps);
	if (r >= 0) {
		endpoints_commit(ls, c, &eps);
		warn_unused_activated(ls);
		/* Limits are fixed at accept: a reload applies to new connections. */
		ls->limits = (struct conn_limits){
			.max_request_frame = c->max_request_frame,
			.max_reply_frame = c->max_reply_frame,
			.max_inflight = (unsigned)c->max_inflight_per_connection,
			.max_inflight_bytes = c->max_inflight_bytes_per_connection,
			.hello_timeout_usec = c->hello_timeout_usec,
			.idle_timeout_usec = c->idle_timeout_usec,
		};
		ls->max_connections = c->max_connections;
		ls->max_connections_per_uid = c->max_connections_per_uid;
		conn_set_set_limits(ls->conns, c->max_connections, c->max_connections_per_uid);
		conn_set_set_inflight_bytes(ls->conns, c->max_inflight_bytes);
	}
	endpoints_done(&eps);
	return r;
}

/* ---------------------------------------------------------------- the set */

int listeners_new(sd_event *event, struct conn_set *conns, conn_frame_handler on_frame,
		  struct listeners **ret)
{
	_cleanup_(listeners_freep) struct listeners *ls = calloc(1, sizeof(*ls));
	int r;

	if (!ls)
		return -ENOMEM;
	ls->event = event;
	ls->conns = conns;
	ls->on_frame = on_frame;
	ls->spare_fd = fdlimit_spare_open();
	if (ls->spare_fd < 0)
		return log_errno(LOG_ERR, ls->spare_fd, "cannot open /dev/null as a spare descriptor");
	r = collect_activated(ls);
	if (r < 0)
		return r;
	conn_set_on_released(conns, resume_accepting, ls);
	*ret = TAKE_PTR(ls);
	return 0;
}

struct listeners *listeners_free(struct listeners *ls)
{
	if (!ls)
		return NULL;
	conn_set_on_released(ls->conns, NULL, NULL);
	listener_list_free(ls->list);
	if (ls->spare_fd >= 0)
		close(ls->spare_fd);
	for (size_t i = 0; i < ls->n_activated; i++) {
		close(ls->activated[i].fd);
		free(ls->activated[i].name);
	}
	free(ls->activated);
	sd_event_source_disable_unref(ls->retry);
	free(ls);
	return NULL;
}
