/* SPDX-License-Identifier: MIT */
/* secretfile: who may change a file that holds a secret: its owner, mode and directories. */
#include "util/secretfile.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int sys_stat(const char *path, struct stat *ret)
{
	return stat(path, ret) < 0 ? -errno : 0;
}

static int sys_realpath(const char *path, char ret[static PATH_MAX])
{
	return realpath(path, ret) ? 0 : -errno;
}

static int sys_lstat(const char *path, struct stat *ret)
{
	return lstat(path, ret) < 0 ? -errno : 0;
}

const struct secretfile_ops secretfile_sys = {
	.stat = sys_stat,
	.realpath = sys_realpath,
	.lstat = sys_lstat,
};

static bool owner_ok(uid_t owner, uid_t uid)
{
	return owner == 0 || owner == uid;
}

/* Cuts buf (a path) to its parent directory; false when it has none left ("/", or the first
 * name of a relative path: the real path covers those). */
static bool cut_to_parent(char *buf)
{
	size_t n = strlen(buf);
	char *slash;

	while (n > 1 && buf[n - 1] == '/')
		buf[--n] = '\0';
	slash = strrchr(buf, '/');
	if (!slash || n <= 1)
		return false;
	while (slash > buf && slash[-1] == '/')
		slash--;
	if (slash == buf)
		slash++; /* the parent is "/" */
	*slash = '\0';
	return true;
}

/* Every directory above path: owned by root or uid, writable by neither group nor others
 * (but a root-owned sticky one above the file's own directory). */
static int check_dirs(const char *path, uid_t uid, const struct secretfile_ops *ops, struct error_detail *err)
{
	char dir[PATH_MAX];
	bool own = true; /* the file's own directory */
	struct stat st;
	int r;

	if ((size_t)snprintf(dir, sizeof(dir), "%s", path) >= sizeof(dir))
		return error_detail_set(err, -ENAMETOOLONG, "%s: path too long", path);
	for (; cut_to_parent(dir); own = false) {
		r = ops->stat(dir, &st);
		if (r < 0)
			return error_detail_set(err, r, "directory %s: %s", dir, strerror(-r));
		if (!owner_ok(st.st_uid, uid))
			return error_detail_set(err, -EACCES,
				    "directory %s is owned by uid %u, neither root nor the daemon's "
				    "user (uid %u)",
				    dir, (unsigned)st.st_uid, (unsigned)uid);
		if ((st.st_mode & 0022) && (own || !(st.st_mode & S_ISVTX) || st.st_uid != 0))
			return error_detail_set(err, -EACCES,
				    "directory %s is writable by group or others (mode %04o)", dir,
				    (unsigned)(st.st_mode & 07777));
	}
	return 0;
}

/* Every symbolic link on path as given (each prefix ending at a '/', and path itself) is owned
 * by root or uid. */
static int check_links(const char *path, uid_t uid, const struct secretfile_ops *ops,
		       struct error_detail *err)
{
	char prefix[PATH_MAX];
	size_t n = strlen(path);
	struct stat st;
	int r;

	if (!ops->lstat)
		return 0;
	if (n >= sizeof(prefix))
		return error_detail_set(err, -ENAMETOOLONG, "%s: path too long", path);
	for (size_t i = 1; i <= n; i++) {
		if ((i < n && path[i] != '/') || path[i - 1] == '/')
			continue;
		memcpy(prefix, path, i);
		prefix[i] = '\0';
		r = ops->lstat(prefix, &st);
		if (r < 0)
			return error_detail_set(err, r, "%s: %s", prefix, strerror(-r));
		if (S_ISLNK(st.st_mode) && !owner_ok(st.st_uid, uid))
			return error_detail_set(err, -EACCES,
				    "symbolic link %s is owned by uid %u, neither root nor the "
				    "daemon's user (uid %u): its owner could point it elsewhere",
				    prefix, (unsigned)st.st_uid, (unsigned)uid);
	}
	return 0;
}

/* Whether the real path real lies inside the real path of dir (NULL, "" or missing: no). */
static bool inside(const char *real, const char *dir, const struct secretfile_ops *ops)
{
	char rd[PATH_MAX];
	size_t n;

	if (!dir || !*dir || ops->realpath(dir, rd) < 0)
		return false;
	n = strlen(rd);
	return strncmp(real, rd, n) == 0 && (real[n] == '/' || (n == 1 && rd[0] == '/'));
}

/* The file itself: its owner, and no access for group or others (but read in the shared
 * directory). */
static int check_file(const char *path, const struct stat *st, uid_t uid, bool shared,
		      struct error_detail *err)
{
	unsigned mode = (unsigned)(st->st_mode & 07777);

	if (!owner_ok(st->st_uid, uid))
		return error_detail_set(err, -EACCES,
			    "%s is owned by uid %u, neither root nor the daemon's user (uid %u)",
			    path, (unsigned)st->st_uid, (unsigned)uid);
	if (shared && (mode & 0022))
		return error_detail_set(err, -EACCES, "%s is writable by group or others (mode %04o)",
			    path, mode);
	if (!shared && (mode & 0077))
		return error_detail_set(err, -EACCES,
			    "%s is accessible by group or others (mode %04o); chmod 0600 it, or "
			    "pass it as a systemd credential ($CREDENTIALS_DIRECTORY)",
			    path, mode);
	return 0;
}

int secretfile_check(const char *path, const struct stat *st, uid_t uid, const char *shared_dir,
		     const struct secretfile_ops *ops, struct error_detail *err)
{
	char real[PATH_MAX];
	bool shared;
	int r;

	r = ops->realpath(path, real);
	if (r < 0)
		return error_detail_set(err, r, "%s: %s", path, strerror(-r));
	shared = inside(real, shared_dir, ops);
	r = check_file(path, st, uid, shared, err);
	if (r < 0)
		return r;
	/* the links on the path as given, its directories, then where it leads */
	r = check_links(path, uid, ops, err);
	if (r == 0)
		r = check_dirs(path, uid, ops, err);
	if (r == 0 && strcmp(path, real) != 0)
		r = check_dirs(real, uid, ops, err);
	return r < 0 ? r : shared ? 1 : 0;
}
