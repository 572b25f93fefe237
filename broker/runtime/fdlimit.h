/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include "tenancy/config.h"

/*
 * Descriptors. Each client connection holds two (its socket and the peer's pidfd); besides
 * them the daemon needs one per listening socket, the upstream connections (at most
 * upstream_max_per_host to each host the tenants' URLs name, plus upstream_max_idle left from
 * hosts a reload dropped), and a fixed reserve for the event loop, the spare descriptor, files
 * it reads (configuration, credentials, CA bundles) and the resolver. A configuration whose
 * max_connections does not fit RLIMIT_NOFILE is refused at start and at reload, rather than
 * found out at the ten-thousandth connection. Admin-socket connections are exempt from
 * max_connections and not counted: when they, or anything unforeseen, use up the descriptors,
 * the listeners refuse new peers with the spare descriptor (listener.c).
 */

#define FDLIMIT_RESERVE 32u /* the loop, the spare, stdio, files, the resolver, sd_notify */

/* Descriptors configuration c may hold at once (the sum above). */
uint64_t fdlimit_needed(const struct broker_config *c);

/*
 * Checks c against RLIMIT_NOFILE, first raising the soft limit to the hard one when it is
 * short. 0, or -EMFILE when even the hard limit is too low (logged: what c needs, the limit,
 * and the largest max_connections that would fit).
 */
int fdlimit_check(const struct broker_config *c);

/* Opens the spare descriptor (/dev/null, close-on-exec) that lets a listener accept a peer
 * to refuse it when descriptors are exhausted. The descriptor, or -errno. */
int fdlimit_spare_open(void);
