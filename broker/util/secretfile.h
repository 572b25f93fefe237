/* SPDX-License-Identifier: MIT */
#pragma once

#include "util/error.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/*
 * The one rule for a file that holds a secret (a credentials file), checked by the
 * configuration (skybroker.conf, --check-config) and again by the credentials module when it
 * opens the file. Nobody but root and the daemon's user may change what the daemon reads:
 *
 *  - the file is owned by root or by uid (the daemon's user), and is neither writable nor
 *    readable by group or others (0600 or stricter); in the shared directory (systemd's
 *    $CREDENTIALS_DIRECTORY, which the service manager fills and whose read access it grants,
 *    possibly through an ACL that shows in the group bits) group and other read access is
 *    allowed, write access still is not. The file lies in the shared directory when its real
 *    path (symbolic links resolved) does;
 *  - every directory above it, on the path as given and on its real path, is owned by root or
 *    uid and writable by neither group nor others, or anyone could rename the file, or a
 *    directory above it, and put another in its place. A root-owned sticky directory (/tmp)
 *    is allowed above the file's own directory, where nobody can rename what they do not
 *    own; the file's own directory must be private, sticky or not;
 *  - every symbolic link on the path as given, the file's own name included, is owned by root
 *    or uid: whoever owns a link can point it elsewhere later, in a sticky directory too.
 */

/* How the rule reaches the file system. Each returns 0 or a negative errno. */
struct secretfile_ops {
	int (*stat)(const char *path, struct stat *ret); /* follows symbolic links */
	int (*realpath)(const char *path, char ret[static PATH_MAX]);
	int (*lstat)(const char *path, struct stat *ret); /* NULL: a fake with no links */
};

/* The real file system's (stat(2), realpath(3)). */
extern const struct secretfile_ops secretfile_sys;

/*
 * Checks the file at path (absolute, or relative to the working directory), whose status is
 * *st (fstat of the opened file, or stat), against the rule above for the daemon's user uid;
 * shared_dir (NULL or "" for none) is the shared directory. Returns 1 when the file lies in
 * shared_dir, 0 when it lies elsewhere, -EACCES when the rule refuses it (err, may be NULL,
 * says why; it holds paths and modes only), or the negative errno of a failed lookup.
 */
int secretfile_check(const char *path, const struct stat *st, uid_t uid, const char *shared_dir,
		     const struct secretfile_ops *ops, struct error_detail *err);
