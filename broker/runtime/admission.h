/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "tenancy/tenant.h"

/*
 * Admission: who is on the other end of an accepted socket, and which tenant (if any) admits
 * them. Credentials are read once, at accept, from the kernel (SO_PEERCRED, SO_PEERGROUPS,
 * and SO_PEERPIDFD where the kernel has it), never from anything the client sends.
 */

#define PEER_MAX_GROUPS 256u

struct peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	gid_t *groups; /* owned; supplementary groups, may be NULL */
	size_t n_groups;
	int pidfd; /* owned; -1 when the kernel does not offer SO_PEERPIDFD */
};

/* Reads the peer credentials of a connected AF_UNIX socket. Returns 0 or -errno; on success
 * *p owns its groups and pidfd (release with peer_done). */
int peer_from_socket(int fd, struct peer *p);
void peer_done(struct peer *p);

/* Whether the peer's process still exists as the one that connected (via the pidfd); true
 * when unknown. Lets a log line say the pid may have been reused. */
bool peer_alive(const struct peer *p);

/* Whether the tenant's allow_uids / allow_gids admit the peer (primary or supplementary gid). */
bool admission_tenant_admits(const struct tenant_config *t, const struct peer *p);

/* The first tenant of candidates (those bound to the socket the peer came in on, in config
 * order) that admits the peer, or NULL. Borrowed from candidates. */
struct tenant *admission_pick(struct tenant *const *candidates, size_t n, const struct peer *p);

/* The admin socket admits root and the broker's own effective uid. */
bool admission_admin_admits(const struct peer *p);
