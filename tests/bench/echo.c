/* SPDX-License-Identifier: MIT */
/*
 * echo: the bare baseline. A child process with one epoll set that accepts on a Unix socket
 * and sends every frame (4-byte big-endian length + body, length capped) back as it came,
 * draining up to 256 events per epoll_wait and writing what one read produced in one write.
 * Nothing is parsed: this is the floor the broker's framing and syscalls are compared with.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define ECHO_BUF (256 * 1024)
#define ECHO_MAX_FRAME (64 * 1024)

struct echo_conn {
	int fd;
	size_t in_len;
	uint8_t in[ECHO_BUF];
};

/* Echoes every complete frame of c's input; false when the connection must close. */
static bool echo_frames(struct echo_conn *c)
{
	size_t off = 0, end;
	ssize_t w;

	while (c->in_len - off >= 4) {
		uint32_t len = sb_be32_get(c->in + off);

		if (len > ECHO_MAX_FRAME)
			return false;
		if (c->in_len - off < 4 + (size_t)len)
			break;
		off += 4 + (size_t)len;
	}
	end = off;
	for (size_t done = 0; done < end; done += (size_t)w) {
		w = send(c->fd, c->in + done, end - done, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			w = 0;
		else if (w <= 0)
			return false; /* a client that does not read: the baseline's clients do */
	}
	memmove(c->in, c->in + end, c->in_len - end);
	c->in_len -= end;
	return true;
}

static void echo_read(struct echo_conn *c)
{
	for (;;) {
		ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);

		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0 || (c->in_len += (size_t)n, !echo_frames(c))) {
			close(c->fd);
			free(c);
			return;
		}
	}
}

static void echo_loop(int lfd)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL}, evs[256];

	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);

		for (int i = 0; i < n; i++) {
			struct echo_conn *c = evs[i].data.ptr;

			if (!c) {
				int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

				if (fd < 0 || !(c = malloc(sizeof(*c)))) {
					if (fd >= 0)
						close(fd);
					continue;
				}
				c->fd = fd;
				c->in_len = 0;
				ev = (struct epoll_event){.events = EPOLLIN, .data.ptr = c};
				epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				continue;
			}
			echo_read(c);
		}
	}
}

int echo_start(struct echo_server *e, const char *dir)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int lfd;

	snprintf(e->path, sizeof(e->path), "%s/echo.sock", dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", e->path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4096) < 0)
		return -errno;
	e->pid = fork();
	if (e->pid < 0)
		return -errno;
	if (e->pid == 0) {
		echo_loop(lfd);
		_exit(0);
	}
	close(lfd);
	return 0;
}

void echo_stop(struct echo_server *e)
{
	if (e->pid > 0) {
		kill(e->pid, SIGKILL);
		waitpid(e->pid, NULL, 0);
		e->pid = 0;
	}
	unlink(e->path);
}
