/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "runtime/admission.h"
#include "runtime/conn.h"
#include "runtime/daemon.h"
#include "runtime/listener.h"
#include "util/log.h"
#include "proto/message.h"
#include "runtime/stats.h"

#define ACCEPTS_PER_WAKEUP 64
#define LISTENER_PRIORITY 10 /* below connections: existing clients first under a flood */

static int listener_accept_cb(sd_event_source *s, int fd, uint32_t revents, void *userdata);

static struct listener *listener_free(struct listener *l)
{
	if (!l)
		return NULL;
	l->src = sd_event_source_disable_unref(l->src);
	if (!l->activated && l->fd >= 0) {
		close(l->fd);
		if (l->path)
			unlink(l->path);
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

void listeners_free(struct listener *list)
{
	while (list) {
		struct listener *next = list->next;
		listener_free(list);
		list = next;
	}
}

void listeners_set_enabled(struct listener *list, bool on)
{
	for (struct listener *l = list; l; l = l->next)
		if (l->src)
			(void)sd_event_source_set_enabled(l->src, on ? SD_EVENT_ON : SD_EVENT_OFF);
}

/* Fills a sockaddr_un; -ENAMETOOLONG if the path does not fit. */
static int sockaddr_for(const char *path, struct sockaddr_un *sa, socklen_t *len)
{
	size_t n = strlen(path);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (n >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memcpy(sa->sun_path, path, n);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

/*
 * Whether a socket file at path is stale. A non-blocking connect to an AF_UNIX socket never
 * waits: it succeeds or fails with EAGAIN (backlog full) when someone listens, with
 * ECONNREFUSED when nobody does.
 */
static int socket_file_is_stale(const struct sockaddr_un *sa, socklen_t len)
{
	int fd, r;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, (const struct sockaddr *)sa, len);
	r = r < 0 ? -errno : 0;
	close(fd);
	if (r == -ECONNREFUSED)
		return 1;
	if (r == 0 || r == -EAGAIN || r == -EINPROGRESS)
		return 0;
	return r;
}

static int bind_path_socket(const char *path, const struct broker_config *c, int *ret_fd)
{
	struct sockaddr_un sa;
	socklen_t len;
	struct stat st;
	mode_t old_umask;
	int fd, r;

	r = sockaddr_for(path, &sa, &len);
	if (r < 0)
		return log_errno(LOG_ERR, r, "socket %s", path);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_error("socket %s: the path exists and is not a socket; not touching it",
				  path);
			return -EEXIST;
		}
		r = socket_file_is_stale(&sa, len);
		if (r == 0) {
			log_error("socket %s: another process is listening on it; not stealing it",
				  path);
			return -EADDRINUSE;
		}
		if (r < 0)
			return log_errno(LOG_ERR, r, "socket %s: cannot probe the existing socket",
					 path);
		log_notice("socket %s: replacing a stale socket file", path);
		if (unlink(path) < 0 && errno != ENOENT)
			return log_errno(LOG_ERR, -errno, "socket %s: cannot remove the stale file",
					 path);
	}

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return log_errno(LOG_ERR, -errno, "cannot create a listening socket");
	/* Created 0600 whatever the process umask, then opened up to the configured mode, so
	 * there is no window in which it is more accessible than configured. */
	old_umask = umask(0177);
	r = bind(fd, (const struct sockaddr *)&sa, len);
	r = r < 0 ? -errno : 0;
	umask(old_umask);
	if (r < 0) {
		close(fd);
		return log_errno(LOG_ERR, r, "socket %s: bind", path);
	}
	if (c->socket_group_set && chown(path, (uid_t)-1, c->socket_group) < 0) {
		r = log_errno(LOG_ERR, -errno, "socket %s: chown to group %u", path,
			      (unsigned)c->socket_group);
		goto fail;
	}
	if (chmod(path, c->socket_mode) < 0) {
		r = log_errno(LOG_ERR, -errno, "socket %s: chmod %04o", path,
			      (unsigned)c->socket_mode);
		goto fail;
	}
	if (listen(fd, SOMAXCONN) < 0) {
		r = log_errno(LOG_ERR, -errno, "socket %s: listen", path);
		goto fail;
	}
	*ret_fd = fd;
	return 0;
fail:
	close(fd);
	unlink(path);
	return r;
}

/* ---------------------------------------------------------------- accepting */

static void refuse(struct daemon *d, int fd, enum sb_errcode code, const char *message)
{
	struct sb_buf out;

	/* One small frame into an empty socket buffer: send() does not block (MSG_DONTWAIT
	 * anyway); whatever happens, the socket is closed. */
	sb_buf_init(&out, 1024);
	if (sb_reply_encode_error(0, code, message, &out, 1000) == 0)
		(void)send(fd, sb_buf_ptr(&out), sb_buf_len(&out), MSG_NOSIGNAL | MSG_DONTWAIT);
	sb_buf_free(&out);
	close(fd);
	(void)d;
}

static void accept_one(struct listener *l, int cfd)
{
	struct daemon *d = l->d;
	const struct broker_config *cfg = d->config;
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
	if (l->admin) {
		if (!admission_admin_admits(&peer)) {
			stats_conn_event(STATS_CONN_REFUSED_ADMISSION);
			daemon_log_refused(d,
					   "conn=- uid=%u pid=%d tenant=-: refused on the admin socket %s "
					   "(gid=%u): only root and the broker's uid",
					   (unsigned)peer.uid, (int)peer.pid, l->label, (unsigned)peer.gid);
			refuse(d, cfd, SB_ERR_FORBIDDEN, "not admitted");
			peer_done(&peer);
			return;
		}
	} else {
		t = admission_pick(l->tenants, l->n_tenants, &peer);
		if (!t) {
			stats_conn_event(STATS_CONN_REFUSED_ADMISSION);
			daemon_log_refused(d,
					   "conn=- uid=%u pid=%d tenant=-: refused on socket %s (gid=%u, "
					   "%zu supplementary groups): no tenant of this socket admits it",
					   (unsigned)peer.uid, (int)peer.pid, l->label, (unsigned)peer.gid,
					   peer.n_groups);
			refuse(d, cfd, SB_ERR_FORBIDDEN, "not admitted");
			peer_done(&peer);
			return;
		}
	}
	/* The admin socket stays usable when clients exhaust max_connections (to see why);
	 * the per-uid limit still applies to it. */
	if (!l->admin && d->n_conns >= cfg->max_connections) {
		stats_conn_event(STATS_CONN_REFUSED_LIMIT);
		daemon_log_refused(d, "conn=- uid=%u pid=%d tenant=%s: refused: max_connections (%llu) reached",
				   (unsigned)peer.uid, (int)peer.pid, t ? tenant_name(t) : "@admin",
				   (unsigned long long)cfg->max_connections);
		refuse(d, cfd, SB_ERR_RATE_LIMITED, "too many connections");
		peer_done(&peer);
		return;
	}
	if (!daemon_uid_admit(d, peer.uid)) {
		stats_conn_event(STATS_CONN_REFUSED_LIMIT);
		daemon_log_refused(d,
				   "conn=- uid=%u pid=%d tenant=%s: refused: max_connections_per_uid (%llu) reached",
				   (unsigned)peer.uid, (int)peer.pid, t ? tenant_name(t) : "@admin",
				   (unsigned long long)cfg->max_connections_per_uid);
		refuse(d, cfd, SB_ERR_RATE_LIMITED, "too many connections for this uid");
		peer_done(&peer);
		return;
	}
	r = conn_new(d, cfd, &peer, t, l->admin, NULL);
	if (r < 0)
		daemon_uid_release(d, peer.uid);
}

static int listener_accept_cb(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct listener *l = userdata;
	struct daemon *d = l->d;

	(void)s;
	(void)revents;
	for (int i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN)
				break;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				/* Out of descriptors: stop accepting until a connection closes,
				 * rather than spin on a level-triggered listener. */
				log_warning("socket %s: accept: %s; pausing for a moment",
					    l->label, strerror(errno));
				daemon_pause_accepting(d);
				break;
			}
			log_warning("socket %s: accept: %s", l->label, strerror(errno));
			break;
		}
		accept_one(l, cfd);
		if (d->accept_paused || d->state != DAEMON_RUNNING)
			break;
	}
	return 0;
}

/* ---------------------------------------------------------------- building the set */

struct endpoint {
	char *key;
	bool admin;
	const char *path;      /* borrowed from config */
	int activated_fd;      /* -1 if a path */
	const char *fd_name;   /* borrowed */
	struct tenant **tenants; /* borrowed pointers (refs taken when installed) */
	size_t n_tenants;
	struct tenant **install; /* the listener's new tenant array, allocated in phase 1 */
	struct listener *made;   /* newly created */
	struct listener *reused; /* taken from the old list */
};

static int find_activated(struct daemon *d, const char *name)
{
	for (size_t i = 0; i < d->n_activated; i++)
		if (strcmp(d->activated[i].name, name) == 0)
			return (int)i;
	return -1;
}

static struct endpoint *endpoint_get(struct endpoint *eps, size_t *n, const char *key)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp(eps[i].key, key) == 0)
			return &eps[i];
	memset(&eps[*n], 0, sizeof(eps[*n]));
	eps[*n].key = strdup(key);
	if (!eps[*n].key)
		return NULL;
	eps[*n].activated_fd = -1;
	return &eps[(*n)++];
}

static int endpoint_for(struct daemon *d, struct endpoint *eps, size_t *n, const char *fd_name,
			const char *path, bool admin, struct endpoint **ret)
{
	char key[sizeof(((struct sockaddr_un *)NULL)->sun_path) + 300];
	int idx = fd_name ? find_activated(d, fd_name) : -1;
	struct endpoint *ep;

	if (idx >= 0)
		snprintf(key, sizeof(key), "fd:%s", fd_name);
	else if (path)
		snprintf(key, sizeof(key), "path:%s", path);
	else {
		*ret = NULL;
		return 0;
	}
	ep = endpoint_get(eps, n, key);
	if (!ep)
		return -ENOMEM;
	if (ep->n_tenants || ep->admin) {
		if (ep->admin != admin) {
			log_error("socket %s is configured both as the admin socket and for tenants",
				  key + (idx >= 0 ? 3 : 5));
			return -EINVAL;
		}
	}
	ep->admin = admin;
	if (idx >= 0) {
		ep->activated_fd = d->activated[idx].fd;
		ep->fd_name = d->activated[idx].name;
	} else
		ep->path = path;
	*ret = ep;
	return 0;
}

static int listener_make(struct daemon *d, const struct broker_config *c, struct endpoint *ep,
			 struct listener **ret)
{
	struct listener *l;
	int r;

	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->d = d;
	l->fd = -1;
	l->admin = ep->admin;
	l->key = strdup(ep->key);
	l->label = strdup(ep->activated_fd >= 0 ? ep->fd_name : ep->path);
	if (!l->key || !l->label) {
		listener_free(l);
		return -ENOMEM;
	}
	if (ep->activated_fd >= 0) {
		l->activated = true;
		l->fd = ep->activated_fd;
	} else {
		r = bind_path_socket(ep->path, c, &l->fd);
		if (r < 0) {
			listener_free(l);
			return r;
		}
		l->path = strdup(ep->path);
		if (!l->path) {
			listener_free(l);
			return -ENOMEM;
		}
	}
	r = sd_event_add_io(d->event, &l->src, l->fd, EPOLLIN, listener_accept_cb, l);
	if (r >= 0)
		r = sd_event_source_set_priority(l->src, LISTENER_PRIORITY);
	if (r < 0) {
		log_errno(LOG_ERR, r, "socket %s: cannot watch", l->label);
		listener_free(l);
		return r;
	}
	if (d->state != DAEMON_RUNNING || d->accept_paused)
		(void)sd_event_source_set_enabled(l->src, SD_EVENT_OFF);
	*ret = l;
	return 0;
}

int listeners_apply(struct daemon *d, const struct broker_config *c,
		    struct tenant *const *tenants, size_t n_tenants, struct listener **list)
{
	size_t max_eps = n_tenants + 2, n_eps = 0;
	struct endpoint *eps;
	struct listener *new_list = NULL, **tail = &new_list;
	int r = 0;

	eps = calloc(max_eps, sizeof(*eps));
	if (!eps)
		return -ENOMEM;
	for (size_t i = 0; i < max_eps; i++)
		eps[i].activated_fd = -1;

	for (size_t i = 0; r == 0 && i < n_tenants; i++) {
		const struct tenant_config *tc = tenant_config(tenants[i]);
		struct endpoint *ep = NULL;

		/* an activated socket named for the tenant, else its own path, else the shared
		 * socket (activated under [broker] socket_name, else its path) */
		if (find_activated(d, tc->socket_name) >= 0)
			r = endpoint_for(d, eps, &n_eps, tc->socket_name, NULL, false, &ep);
		else if (tc->socket)
			r = endpoint_for(d, eps, &n_eps, NULL, tc->socket, false, &ep);
		else
			r = endpoint_for(d, eps, &n_eps, c->socket_name, c->socket, false, &ep);
		if (r == 0 && !ep) {
			log_error("tenant=%s: no socket to listen on", tc->name);
			r = -EINVAL;
		}
		if (r == 0) {
			struct tenant **v = realloc(ep->tenants, (ep->n_tenants + 1) * sizeof(*v));
			if (!v)
				r = -ENOMEM;
			else {
				v[ep->n_tenants++] = tenants[i];
				ep->tenants = v;
			}
		}
	}
	if (r == 0) {
		struct endpoint *ep = NULL;
		r = endpoint_for(d, eps, &n_eps, c->admin_socket_name, c->admin_socket, true, &ep);
	}

	/* Phase 1: find reusable listeners, create the missing ones, and allocate everything
	 * phase 2 needs; nothing changes on error, so a reload applies as a whole or not at all
	 * (a socket never keeps the previous generation's tenants and allow lists). */
	for (size_t i = 0; r == 0 && i < n_eps; i++) {
		for (struct listener *l = *list; l; l = l->next)
			if (strcmp(l->key, eps[i].key) == 0)
				eps[i].reused = l;
		if (eps[i].n_tenants) {
			eps[i].install = calloc(eps[i].n_tenants, sizeof(*eps[i].install));
			if (!eps[i].install) {
				log_error("socket %s: out of memory for its tenants", eps[i].key);
				r = -ENOMEM;
				break;
			}
		}
		if (!eps[i].reused)
			r = listener_make(d, c, &eps[i], &eps[i].made);
	}
	if (r < 0) {
		for (size_t i = 0; i < n_eps; i++)
			listener_free(eps[i].made);
		goto out;
	}

	/* Phase 2 (cannot fail): install tenants, unlink reused ones from the old list, free the
	 * rest. */
	for (size_t i = 0; i < n_eps; i++) {
		struct listener *l = eps[i].made ? eps[i].made : eps[i].reused;
		struct tenant **v = eps[i].install;

		if (eps[i].reused) {
			for (struct listener **pp = list; *pp; pp = &(*pp)->next)
				if (*pp == l) {
					*pp = l->next;
					break;
				}
			/* a reload may change the mode or group of sockets we created */
			if (l->path && c->socket_group_set &&
			    chown(l->path, (uid_t)-1, c->socket_group) < 0)
				log_warning("socket %s: chown to group %u: %m", l->path,
					    (unsigned)c->socket_group);
			if (l->path && chmod(l->path, c->socket_mode) < 0)
				log_warning("socket %s: chmod %04o: %m", l->path,
					    (unsigned)c->socket_mode);
		}
		for (size_t k = 0; k < l->n_tenants; k++)
			tenant_unref(l->tenants[k]);
		free(l->tenants);
		for (size_t k = 0; k < eps[i].n_tenants; k++)
			v[k] = tenant_ref(eps[i].tenants[k]);
		l->tenants = v;
		l->n_tenants = eps[i].n_tenants;
		eps[i].install = NULL; /* transferred */
		l->admin = eps[i].admin;
		l->next = NULL;
		*tail = l;
		tail = &l->next;
		log_info("listening on %s%s for %s", l->activated ? "activated socket " : "", l->label,
			 l->admin ? "admin" : "tenants");
	}
	listeners_free(*list);
	*list = new_list;
	for (size_t i = 0; i < d->n_activated; i++)
		d->activated[i].used = false;
	for (struct listener *l = new_list; l; l = l->next)
		for (size_t i = 0; l->activated && i < d->n_activated; i++)
			if (d->activated[i].fd == l->fd)
				d->activated[i].used = true;
	for (size_t i = 0; i < d->n_activated; i++)
		if (!d->activated[i].used)
			log_warning("activated socket '%s' matches no tenant, shared or admin socket name",
				    d->activated[i].name);
out:
	for (size_t i = 0; i < n_eps; i++) {
		free(eps[i].key);
		free(eps[i].tenants);
		free(eps[i].install);
	}
	free(eps);
	return r;
}
