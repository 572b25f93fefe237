/* SPDX-License-Identifier: MIT */
/* socketfile: path sockets made safely (directory, umask, mode, stale, no stealing, ours only). */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "runtime/socketfile.h"
#include "util/cleanup.h"
#include "util/log.h"

#define UNSAFE_HINT                                                                              \
	"another local user could replace the socket; use a directory only root and the "        \
	"broker's user can write (such as /run/skybroker)"

/*
 * Checks one directory on the way to the socket at sock: owned by root or us, and writable by
 * neither group nor others; above the socket's own directory (own false) a sticky bit makes
 * group or other write access harmless, since nobody may then rename what they do not own.
 * shared: the socket's own directory may be writable by others (socketfile_access.shared_dir).
 */
static int check_dir(const char *sock, const char *dir, bool own, bool shared)
{
	const char *what = own ? "directory " : "", *above = own ? "" : ", above it,";
	uid_t me = geteuid();
	struct stat st;

	if (stat(dir, &st) < 0)
		return log_errno(LOG_ERR, -errno, "socket %s: cannot check %s%s", sock, what, dir);
	if (!S_ISDIR(st.st_mode)) {
		log_error("socket %s: %s is not a directory", sock, dir);
		return -ENOTDIR;
	}
	if (st.st_uid != 0 && st.st_uid != me) {
		log_error("socket %s: %s%s%s is owned by uid %u, neither root nor the broker's uid "
			  "%u: " UNSAFE_HINT,
			  sock, what, dir, above, (unsigned)st.st_uid, (unsigned)me);
		return -EPERM;
	}
	if (own && shared)
		return 0;
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && (own || !(st.st_mode & S_ISVTX))) {
		log_error("socket %s: %s%s%s is writable by its group or by others (mode %04o%s): "
			  UNSAFE_HINT,
			  sock, what, dir, above, (unsigned)(st.st_mode & 07777),
			  own ? "" : ", not sticky");
		return -EPERM;
	}
	return 0;
}

/* The directories of the socket's path as given, dir itself last: a symbolic link on it must
 * be owned by root or us (its owner could point it elsewhere), and each directory must pass
 * check_dir, so a writable directory holding a link is caught too. */
static int check_given_path(const char *sock, const char *dir, bool shared)
{
	char prefix[PATH_MAX];
	size_t n = strlen(dir);
	uid_t me = geteuid();
	struct stat st;
	int r;

	if (n >= sizeof(prefix))
		return log_errno(LOG_ERR, -ENAMETOOLONG, "socket %s: path too long", sock);
	for (size_t i = 1; i <= n; i++) {
		if ((i < n && dir[i] != '/') || dir[i - 1] == '/')
			continue;
		memcpy(prefix, dir, i);
		prefix[i] = '\0';
		if (lstat(prefix, &st) < 0)
			return log_errno(LOG_ERR, -errno, "socket %s: cannot check %s", sock, prefix);
		if (S_ISLNK(st.st_mode) && st.st_uid != 0 && st.st_uid != me) {
			log_error("socket %s: symbolic link %s is owned by uid %u, neither root nor "
				  "the broker's uid %u: " UNSAFE_HINT,
				  sock, prefix, (unsigned)st.st_uid, (unsigned)me);
			return -EPERM;
		}
		r = check_dir(sock, prefix, i == n, shared);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Refuses a socket path in a directory that someone but root and us could change: along the
 * path as given (its links included), then its own real directory and each one above it. */
static int check_directories(const char *path, bool shared)
{
	_cleanup_free_ char *dir = strdup(path), *real = NULL;
	char *slash;
	int r;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (!slash || dir[0] != '/')
		return log_errno(LOG_ERR, -EINVAL, "socket %s: not an absolute path", path);
	slash[slash == dir ? 1 : 0] = '\0';
	r = check_given_path(path, dir, shared);
	if (r < 0)
		return r;
	real = realpath(dir, NULL);
	if (!real)
		return log_errno(LOG_ERR, -errno, "socket %s: directory %s", path, dir);
	r = check_dir(path, real, true, shared);
	while (r == 0 && strcmp(real, "/") != 0) {
		slash = strrchr(real, '/');
		slash[slash == real ? 1 : 0] = '\0';
		r = check_dir(path, real, false, false);
	}
	return r;
}

/* Whether the file at path is still the socket id. */
static bool is_ours(const char *path, const struct socketfile_id *id)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == id->dev &&
	       st.st_ino == id->ino;
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

/* Makes room for a new socket at path: nothing there, or a stale socket file removed. */
static int clear_stale(const char *path, const struct sockaddr_un *sa, socklen_t len)
{
	struct stat st;
	int r;

	if (lstat(path, &st) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		log_error("socket %s: the path exists and is not a socket; not touching it", path);
		return -EEXIST;
	}
	r = socket_file_is_stale(sa, len);
	if (r == 0) {
		log_error("socket %s: another process is listening on it; not stealing it", path);
		return -EADDRINUSE;
	}
	if (r < 0)
		return log_errno(LOG_ERR, r, "socket %s: cannot probe the existing socket", path);
	log_notice("socket %s: replacing a stale socket file", path);
	if (unlink(path) < 0 && errno != ENOENT)
		return log_errno(LOG_ERR, -errno, "socket %s: cannot remove the stale file", path);
	return 0;
}

/* Binds fd at sa with mode 0600 whatever the process umask. */
static int bind_private(int fd, const char *path, const struct sockaddr_un *sa, socklen_t len)
{
	mode_t old_umask = umask(0177);
	int r = bind(fd, (const struct sockaddr *)sa, len);

	r = r < 0 ? -errno : 0;
	umask(old_umask);
	if (r < 0)
		return log_errno(LOG_ERR, r, "socket %s: bind", path);
	return 0;
}

/*
 * Listens, then opens the bound socket up to the configured access. listen() first: once the
 * file has its final mode a peer may connect, and before listen() it would be refused
 * (ECONNREFUSED, seen by integration_runtime_signals under load). While the file is still
 * 0600 only its owner can connect, and admission applies as to any peer.
 */
static int open_up_and_listen(int fd, const char *path, const struct socketfile_access *a)
{
	if (listen(fd, SOMAXCONN) < 0)
		return log_errno(LOG_ERR, -errno, "socket %s: listen", path);
	if (a->group_set && chown(path, (uid_t)-1, a->group) < 0)
		return log_errno(LOG_ERR, -errno, "socket %s: chown to group %u", path,
				 (unsigned)a->group);
	if (chmod(path, a->mode) < 0)
		return log_errno(LOG_ERR, -errno, "socket %s: chmod %04o", path, (unsigned)a->mode);
	return 0;
}

/* What bind created at path. */
static int bound_id(const char *path, struct socketfile_id *ret)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return log_errno(LOG_ERR, -errno, "socket %s: cannot stat what was bound", path);
	*ret = (struct socketfile_id){st.st_dev, st.st_ino};
	return 0;
}

int socketfile_bind(const char *path, const struct socketfile_access *access, int *ret_fd,
		    struct socketfile_id *ret_id)
{
	struct socketfile_id id;
	struct sockaddr_un sa;
	socklen_t len;
	int fd, r;

	r = sockaddr_for(path, &sa, &len);
	if (r < 0)
		return log_errno(LOG_ERR, r, "socket %s", path);
	r = check_directories(path, access->shared_dir);
	if (r >= 0 && access->shared_dir)
		log_notice("socket %s: its directory is shared (socket_dir_shared = yes): whoever "
			   "can write it could put another socket there", path);
	if (r < 0)
		return r;
	r = clear_stale(path, &sa, len);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return log_errno(LOG_ERR, -errno, "cannot create a listening socket");
	r = bind_private(fd, path, &sa, len);
	if (r >= 0)
		r = bound_id(path, &id);
	if (r < 0) {
		close(fd);
		return r;
	}
	r = open_up_and_listen(fd, path, access);
	if (r < 0) {
		close(fd);
		socketfile_unlink(path, &id);
		return r;
	}
	*ret_fd = fd;
	*ret_id = id;
	return 0;
}

void socketfile_set_access(const char *path, const struct socketfile_id *id,
			   const struct socketfile_access *a)
{
	if (!is_ours(path, id)) {
		log_warning("socket %s: not changing its mode: the file there is not the socket "
			    "this daemon bound",
			    path);
		return;
	}
	if (a->group_set && chown(path, (uid_t)-1, a->group) < 0)
		log_warning("socket %s: chown to group %u: %m", path, (unsigned)a->group);
	if (chmod(path, a->mode) < 0)
		log_warning("socket %s: chmod %04o: %m", path, (unsigned)a->mode);
}

void socketfile_unlink(const char *path, const struct socketfile_id *id)
{
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return;
	if (!is_ours(path, id)) {
		log_notice("socket %s: not removing it: the file there is not the socket this daemon "
			   "bound",
			   path);
		return;
	}
	if (unlink(path) < 0 && errno != ENOENT)
		log_warning("socket %s: cannot remove it: %m", path);
}
