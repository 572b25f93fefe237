/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/*
 * Path sockets skybrokerd creates itself: bound with a restrictive umask, then given the
 * configured mode and group, so there is no window in which a socket is more accessible than
 * configured. A stale socket file (nobody listening) is replaced; a live one is never stolen;
 * anything that is not a socket is never touched.
 *
 * Only in a directory that nobody but root and the daemon's user can change: its directory
 * must be owned by one of them and writable by neither group nor others (sticky or not: in a
 * /tmp-like directory another user could bind an impostor at the path whenever ours is not
 * there), and every directory above it must be owned by one of them and, if group or others
 * may write it, sticky (so that nobody can move ours away). The file we bound is remembered by
 * device and inode, and the daemon changes or removes only that file. The one exception is
 * socketfile_access.shared_dir, for a directory that only one pod's containers share.
 */

struct socketfile_access {
	mode_t mode;
	bool group_set;
	gid_t group;
	/* The socket's own directory may be writable by group and others (still owned by root
	 * or us; every directory above it is checked as usual): a Kubernetes emptyDir (mode
	 * 0777) that only the containers of one pod reach ([broker] socket_dir_shared). */
	bool shared_dir;
};

/* The file a socket was bound to; {0, 0} for none. */
struct socketfile_id {
	dev_t dev;
	ino_t ino;
};

/* Creates a listening, non-blocking, close-on-exec socket at path. 0, *ret_fd and *ret_id, or
 * -errno (logged, with the path); -EPERM for a directory another user could write. */
int socketfile_bind(const char *path, const struct socketfile_access *access, int *ret_fd,
		    struct socketfile_id *ret_id);

/* Re-applies mode and group to the socket we created at path (a reload may change them), if
 * the file there is still id; logs failures. */
void socketfile_set_access(const char *path, const struct socketfile_id *id,
			   const struct socketfile_access *access);

/* Removes path if it is still the socket file id (lstat: same device and inode); another file
 * there (someone replaced ours) is left alone, with a notice. */
void socketfile_unlink(const char *path, const struct socketfile_id *id);
