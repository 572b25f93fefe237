/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Runs the skybroker CLI ($SKYBROKER_CLI) for the tests (header-only): argv, extra
 * environment, bytes for stdin; stdout and stderr captured apart (bounded); the exit code.
 */

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct cli_run {
	int status; /* exit code, or -1 if it did not exit normally */
	char out[65536];
	char err[16384];
};

/* Reads both pipes until EOF into r. */
static inline void cli_drain(int o, int e, struct cli_run *r)
{
	size_t no = 0, ne = 0;
	struct pollfd p[2] = {{.fd = o, .events = POLLIN}, {.fd = e, .events = POLLIN}};

	while (p[0].fd >= 0 || p[1].fd >= 0) {
		if (poll(p, 2, 60000) <= 0)
			break;
		for (int i = 0; i < 2; i++) {
			char *dst = i == 0 ? r->out : r->err;
			size_t *n = i == 0 ? &no : &ne;
			size_t cap = i == 0 ? sizeof(r->out) : sizeof(r->err);
			ssize_t k;

			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			k = read(p[i].fd, dst + *n, cap - 1 - *n);
			if (k <= 0) {
				close(p[i].fd);
				p[i].fd = -1;
				continue;
			}
			*n += (size_t)k;
			dst[*n] = '\0';
		}
	}
}

/* Runs the CLI with args (NULL-terminated, without argv[0]); env entries "K=V" added
 * (NULL-terminated, may be NULL); stdin_text written to its stdin (NULL: /dev/null). */
static inline void cli_run(struct cli_run *r, const char *const *args, const char *const *env,
			   const char *stdin_text)
{
	const char *cli = getenv("SKYBROKER_CLI");
	int po[2], pe[2], pi[2], st;
	const char *argv[64];
	size_t n = 0;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	if (!cli)
		abort();
	argv[n++] = cli;
	for (size_t i = 0; args[i] && n < 63; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0 || pipe2(pi, O_CLOEXEC) < 0)
		abort();
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		dup3(pi[0], 0, 0);
		dup3(po[1], 1, 0);
		dup3(pe[1], 2, 0);
		for (size_t i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		execv(cli, (char *const *)argv);
		_exit(127);
	}
	close(pi[0]);
	close(po[1]);
	close(pe[1]);
	if (stdin_text && write(pi[1], stdin_text, strlen(stdin_text)) < 0) {
		/* the CLI may exit before reading: its exit code tells */
	}
	close(pi[1]);
	cli_drain(po[0], pe[0], r);
	waitpid(pid, &st, 0);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
