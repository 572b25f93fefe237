/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/*
 * Path sockets skybrokerd creates itself: bound with a restrictive umask, then given the
 * configured mode and group, so there is no window in which a socket is more accessible than
 * configured. A stale socket file (nobody listening) is replaced; a live one is never stolen;
 * anything that is not a socket is never touched.
 */

struct socketfile_access {
	mode_t mode;
	bool group_set;
	gid_t group;
};

/* Creates a listening, non-blocking, close-on-exec socket at path. 0 and *ret_fd, or -errno
 * (logged, with the path). */
int socketfile_bind(const char *path, const struct socketfile_access *access, int *ret_fd);

/* Re-applies mode and group to a socket we created (a reload may change them); logs failures. */
void socketfile_set_access(const char *path, const struct socketfile_access *access);
