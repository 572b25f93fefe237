/* SPDX-License-Identifier: MIT */
/* admission: peer credentials from the kernel and the tenant that admits them. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runtime/admission.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5; bookworm's headers predate it */
#endif

int peer_from_socket(int fd, struct peer *p)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	gid_t small[64];
	int pidfd = -1;

	*p = (struct peer){.pidfd = -1};
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	if (len != sizeof(cred))
		return -EIO;
	p->uid = cred.uid;
	p->gid = cred.gid;
	p->pid = cred.pid;

	len = sizeof(small);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, small, &len) == 0) {
		size_t n = len / sizeof(gid_t);
		if (n) {
			p->groups = malloc(n * sizeof(gid_t));
			if (!p->groups)
				return -ENOMEM;
			memcpy(p->groups, small, n * sizeof(gid_t));
			p->n_groups = n;
		}
	} else if (errno == ERANGE && len / sizeof(gid_t) <= PEER_MAX_GROUPS * 256) {
		size_t n = len / sizeof(gid_t);
		p->groups = malloc(len);
		if (!p->groups)
			return -ENOMEM;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, p->groups, &len) < 0) {
			int r = -errno;
			peer_done(p);
			return r;
		}
		p->n_groups = len / sizeof(gid_t) < n ? len / sizeof(gid_t) : n;
	}
	/* A pidfd names the process without pid-reuse races (audit lines can tell whether the
	 * pid they print is still the peer). Not fatal when the kernel lacks it. The kernel
	 * creates it with O_CLOEXEC. */
	len = sizeof(pidfd);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) == 0 && len == sizeof(pidfd) &&
	    pidfd >= 0) {
		(void)fcntl(pidfd, F_SETFD, FD_CLOEXEC); /* the kernel sets it; be explicit */
		p->pidfd = pidfd;
	}
	return 0;
}

void peer_done(struct peer *p)
{
	free(p->groups);
	p->groups = NULL;
	p->n_groups = 0;
	if (p->pidfd >= 0)
		close(p->pidfd);
	p->pidfd = -1;
}

bool peer_alive(const struct peer *p)
{
	struct pollfd pfd = {.fd = p->pidfd, .events = POLLIN};

	if (p->pidfd < 0)
		return true;
	/* A pidfd polls readable once its process has exited; timeout 0 never blocks. */
	return poll(&pfd, 1, 0) == 0;
}

static bool gid_in(const gid_t *v, size_t n, gid_t g)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == g)
			return true;
	return false;
}

bool admission_tenant_admits(const struct tenant_config *t, const struct peer *p)
{
	for (size_t i = 0; i < t->n_allow_uids; i++)
		if (t->allow_uids[i] == p->uid)
			return true;
	for (size_t i = 0; i < t->n_allow_gids; i++)
		if (t->allow_gids[i] == p->gid || gid_in(p->groups, p->n_groups, t->allow_gids[i]))
			return true;
	return false;
}

struct tenant *admission_pick(struct tenant *const *candidates, size_t n, const struct peer *p)
{
	for (size_t i = 0; i < n; i++)
		if (admission_tenant_admits(tenant_config(candidates[i]), p))
			return candidates[i];
	return NULL;
}

bool admission_admin_admits(const struct peer *p)
{
	return p->uid == 0 || p->uid == geteuid();
}
