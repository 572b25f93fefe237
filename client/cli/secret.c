/* SPDX-License-Identifier: MIT */
/* secret: the subject token and value files, read from files or stdin, never from argv. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define TOKEN_MAX (64u * 1024u) /* the protocol's cap on a subject token */

static bool b64url_char(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '_' || ch == '=';
}

bool cli_looks_like_token(const char *s)
{
	size_t seg = 0, dots = 0, n = 0;

	if (strncmp(s, "eyJ", 3) == 0 && strlen(s) >= 20)
		return true; /* base64url of '{"': a JWT header, or a piece of one */
	for (const char *p = s; *p; p++, n++) {
		if (*p == '.') {
			if (seg == 0)
				return false;
			dots++;
			seg = 0;
		} else if (b64url_char(*p)) {
			seg++;
		} else {
			return false;
		}
	}
	return dots == 2 && seg > 0 && n >= 40;
}

int cli_refuse_token_args(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *eq = strchr(a, '=');
		bool named = strcmp(a, "--token") == 0 || strncmp(a, "--token=", 8) == 0 ||
			     strcmp(a, "--subject-token") == 0 ||
			     strncmp(a, "--subject-token=", 16) == 0;

		if (named || cli_looks_like_token(a) ||
		    (a[0] == '-' && eq && cli_looks_like_token(eq + 1))) {
			fprintf(stderr,
				"skybroker: refusing %s on the command line: every user can read "
				"a process's arguments (/proc/PID/cmdline)\n"
				"skybroker: hint: pass the token with --token-file FILE, "
				"--token-file - (stdin) or $SKYBROKER_SUBJECT_TOKEN, and get a new "
				"one: this one may be exposed\n",
				named ? "a --token option" : "an argument that looks like a token");
			return EXIT_USAGE;
		}
	}
	return 0;
}

void cli_wipe_free(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

/* Reads fd to its end, at most max bytes, into *ret. 0, -EFBIG, -ENOMEM or -errno. */
static int read_all(int fd, size_t max, char **ret)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len + 1 == cap) {
			char *nb;

			if (cap > max + 1) {
				explicit_bzero(buf, len);
				free(buf);
				return -EFBIG;
			}
			nb = malloc(cap * 2); /* fresh, so the old one can be wiped */
			if (!nb) {
				explicit_bzero(buf, len);
				free(buf);
				return -ENOMEM;
			}
			memcpy(nb, buf, len);
			explicit_bzero(buf, len);
			free(buf);
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = -errno;

			explicit_bzero(buf, len);
			free(buf);
			return e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	if (len > max) {
		explicit_bzero(buf, len);
		free(buf);
		return -EFBIG;
	}
	*ret = buf;
	return 0;
}

int cli_read_file(const char *path, size_t max, const char *what, char **ret)
{
	bool is_stdin = strcmp(path, "-") == 0;
	int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	int r;

	*ret = NULL;
	if (fd < 0) {
		fprintf(stderr, "skybroker: cannot open the %s file %s: %m\n", what, path);
		return EXIT_USAGE;
	}
	if (!is_stdin && (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode))) {
		fprintf(stderr, "skybroker: the %s file %s is a directory\n", what, path);
		close(fd);
		return EXIT_USAGE;
	}
	if (!is_stdin && strcmp(what, "token") == 0 && S_ISREG(st.st_mode) &&
	    (st.st_mode & 0077))
		fprintf(stderr, "skybroker: warning: the token file %s can be read by other users "
				"than its owner (chmod 600 it)\n", path);
	r = read_all(fd, max, ret);
	if (!is_stdin)
		close(fd);
	if (r == -EFBIG) {
		fprintf(stderr, "skybroker: the %s in %s is longer than %zu bytes\n", what,
			is_stdin ? "stdin" : path, max);
		return EXIT_USAGE;
	}
	if (r < 0) {
		errno = -r;
		fprintf(stderr, "skybroker: cannot read the %s from %s: %m\n", what,
			is_stdin ? "stdin" : path);
		return EXIT_OTHER;
	}
	return 0;
}

/* Drops trailing whitespace (a file's final newline) in place. */
static void trim_end(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' ||
			 s[n - 1] == '\t'))
		s[--n] = '\0';
}

int cli_read_token(struct cli *c)
{
	const char *env = getenv("SKYBROKER_SUBJECT_TOKEN");
	int r;

	if (c->token_file) {
		r = cli_read_file(c->token_file, TOKEN_MAX, "token", &c->token);
		if (r != 0)
			return r;
		trim_end(c->token);
	} else if (env && *env) {
		c->token = strdup(env);
		if (!c->token)
			return EXIT_OTHER;
	} else {
		fprintf(stderr,
			"skybroker: %s needs the user's Descope session token\n"
			"skybroker: hint: pass it with --token-file FILE, --token-file - (stdin) or "
			"$SKYBROKER_SUBJECT_TOKEN\n", c->cmd->name);
		return EXIT_USAGE;
	}
	if (!*c->token || strchr(c->token, '\n') || strlen(c->token) > TOKEN_MAX) {
		fprintf(stderr, "skybroker: the subject token is empty, longer than %u bytes or "
				"more than one line\n", TOKEN_MAX);
		return EXIT_USAGE;
	}
	return 0;
}
