/* SPDX-License-Identifier: MIT */
/* socketfile: creating path sockets safely (umask, mode, group, stale files, no stealing). */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "runtime/socketfile.h"
#include "util/log.h"

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

/* Opens the bound socket up to the configured access, and listens. */
static int open_up_and_listen(int fd, const char *path, const struct socketfile_access *a)
{
	if (a->group_set && chown(path, (uid_t)-1, a->group) < 0)
		return log_errno(LOG_ERR, -errno, "socket %s: chown to group %u", path,
				 (unsigned)a->group);
	if (chmod(path, a->mode) < 0)
		return log_errno(LOG_ERR, -errno, "socket %s: chmod %04o", path, (unsigned)a->mode);
	if (listen(fd, SOMAXCONN) < 0)
		return log_errno(LOG_ERR, -errno, "socket %s: listen", path);
	return 0;
}

int socketfile_bind(const char *path, const struct socketfile_access *access, int *ret_fd)
{
	struct sockaddr_un sa;
	socklen_t len;
	int fd, r;

	r = sockaddr_for(path, &sa, &len);
	if (r < 0)
		return log_errno(LOG_ERR, r, "socket %s", path);
	r = clear_stale(path, &sa, len);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return log_errno(LOG_ERR, -errno, "cannot create a listening socket");
	r = bind_private(fd, path, &sa, len);
	if (r < 0) {
		close(fd);
		return r;
	}
	r = open_up_and_listen(fd, path, access);
	if (r < 0) {
		close(fd);
		unlink(path);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

void socketfile_set_access(const char *path, const struct socketfile_access *a)
{
	if (a->group_set && chown(path, (uid_t)-1, a->group) < 0)
		log_warning("socket %s: chown to group %u: %m", path, (unsigned)a->group);
	if (chmod(path, a->mode) < 0)
		log_warning("socket %s: chmod %04o: %m", path, (unsigned)a->mode);
}
