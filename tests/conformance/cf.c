/* SPDX-License-Identifier: MIT */
/* cf: the conformance client over a Unix socket, on mp.c alone (see cf.h). */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "cf.h"

int cf_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

int cf_send_raw(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		ssize_t k = send(fd, b, n, MSG_NOSIGNAL);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

int cf_send(int fd, const struct mpw *payload)
{
	struct mpw f;
	int r;

	mpw_frame(payload, &f);
	r = cf_send_raw(fd, f.p, f.n);
	mpw_free(&f);
	return r;
}

/* Reads exactly n bytes before the deadline: 0, -EPIPE on EOF or reset, -ETIMEDOUT. */
static int read_exact(int fd, uint8_t *p, size_t n, int timeout_ms)
{
	while (n > 0) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t k;
		int r = poll(&pfd, 1, timeout_ms);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -ETIMEDOUT;
		k = recv(fd, p, n, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == ECONNRESET)
			return -EPIPE;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -EPIPE;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

int cf_recv(int fd, struct mpv **ret, int timeout_ms)
{
	uint8_t h[4], *body;
	uint32_t len;
	const char *why = NULL;
	int r;

	*ret = NULL;
	r = read_exact(fd, h, 4, timeout_ms);
	if (r < 0)
		return r;
	len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
	/* the reply cap of section 3, at most 16 MiB */
	if (len == 0 || len > 16u * 1024 * 1024)
		return -EBADMSG;
	body = malloc(len);
	if (!body)
		abort();
	r = read_exact(fd, body, len, timeout_ms);
	if (r == 0 && mpv_decode(body, len, ret, &why) < 0) {
		fprintf(stderr, "conformance: a reply does not decode: %s\n", why);
		r = -EBADMSG;
	}
	free(body);
	if (r == 0 && (*ret)->t != MPV_MAP) {
		mpv_free(*ret);
		*ret = NULL;
		r = -EBADMSG;
	}
	return r;
}

int cf_expect_closed(int fd, int timeout_ms)
{
	struct mpv *v = NULL;
	int r = cf_recv(fd, &v, timeout_ms);

	mpv_free(v);
	if (r == -EPIPE)
		return 0;
	return r == 0 ? -EBADMSG : r;
}

static const struct {
	const char *code;
	bool retryable;
} section9[] = {
	{"bad_request", false},	     {"unsupported_version", false}, {"unauthenticated", false},
	{"token_expired", false},    {"forbidden", false},	     {"upstream_denied", false},
	{"not_found", false},	     {"upstream_unavailable", true}, {"rate_limited", true},
	{"too_large", false},	     {"shutting_down", true},	     {"internal", false},
};

int cf_code_retryable(const char *code)
{
	for (size_t i = 0; i < sizeof(section9) / sizeof(section9[0]); i++)
		if (strcmp(section9[i].code, code) == 0)
			return section9[i].retryable;
	return -1;
}

static void dump_str(char *out, size_t size, const struct mpv *v)
{
	if (v && v->t == MPV_STR)
		snprintf(out, size, "%.*s", (int)v->len, v->s);
	else
		snprintf(out, size, "(%s)", v ? "not a str" : "absent");
}

void cf_check_error(const struct mpv *rep, uint64_t id, const char *code, const char *what)
{
	const struct mpv *v = mpv_get(rep, "id"), *ok = mpv_get(rep, "ok");
	const struct mpv *e = mpv_get(rep, "error"), *c, *m, *rt;
	char got[128], msg[1100];

	if (!v || v->t != MPV_UINT || v->u != id)
		fail_msg("%s: reply id %llu, want %llu", what,
			 v && v->t == MPV_UINT ? (unsigned long long)v->u : 0ull,
			 (unsigned long long)id);
	if (!ok || ok->t != MPV_BOOL || ok->b)
		fail_msg("%s: not an error reply (want %s)", what, code);
	if (!e || e->t != MPV_MAP)
		fail_msg("%s: error is not a map", what);
	c = mpv_get(e, "code");
	m = mpv_get(e, "message");
	rt = mpv_get(e, "retryable");
	dump_str(got, sizeof(got), c);
	dump_str(msg, sizeof(msg), m);
	if (!mpv_is_str(c, code))
		fail_msg("%s: error code %s (%s), want %s", what, got, msg, code);
	if (!m || m->t != MPV_STR || m->len > 1024)
		fail_msg("%s: error message missing, not a str or over 1024 bytes", what);
	if (!rt || rt->t != MPV_BOOL || (int)rt->b != cf_code_retryable(code))
		fail_msg("%s: retryable is not what section 9 says for %s", what, code);
}

const struct mpv *cf_check_ok(const struct mpv *rep, uint64_t id, const char *what)
{
	const struct mpv *v = mpv_get(rep, "id"), *ok = mpv_get(rep, "ok");
	const struct mpv *res = mpv_get(rep, "result");

	if (!v || v->t != MPV_UINT || v->u != id)
		fail_msg("%s: reply id is not %llu", what, (unsigned long long)id);
	if (!ok || ok->t != MPV_BOOL || !ok->b) {
		char code[128], msg[1100];

		dump_str(code, sizeof(code), mpv_get(mpv_get(rep, "error"), "code"));
		dump_str(msg, sizeof(msg), mpv_get(mpv_get(rep, "error"), "message"));
		fail_msg("%s: failed with %s: %s", what, code, msg);
	}
	if (!res || res->t != MPV_MAP)
		fail_msg("%s: result is not a map", what);
	return res;
}

bool cf_message_has(const struct mpv *rep, const char *needle)
{
	const struct mpv *m = mpv_get(mpv_get(rep, "error"), "message");
	char msg[1100];

	if (!m || m->t != MPV_STR)
		return false;
	snprintf(msg, sizeof(msg), "%.*s", (int)m->len, m->s);
	return strstr(msg, needle) != NULL;
}

int cf_hello(int fd, uint64_t id, struct mpv **ret)
{
	struct mpw w;
	int r;

	mpw_init(&w);
	mpw_request(&w, id, "hello", 2);
	mpw_str(&w, "versions");
	mpw_array(&w, 1);
	mpw_uint(&w, 1);
	mpw_str(&w, "client");
	mpw_str(&w, "conformance/1");
	r = cf_send(fd, &w);
	mpw_free(&w);
	/* A broker that refuses the connection (section 8: rate_limited, forbidden) sends its
	 * error frame at accept and closes; our hello may then meet EPIPE or ECONNRESET, but the
	 * frame is still there to read. */
	if (r < 0 && r != -EPIPE && r != -ECONNRESET)
		return r;
	return cf_recv(fd, ret, CF_TIMEOUT_MS);
}

int cf_open(const char *path)
{
	struct mpv *rep = NULL;
	int fd = cf_connect(path);

	if (fd < 0)
		fail_msg("cannot connect to %s: %s", path, strerror(-fd));
	if (cf_hello(fd, 1, &rep) < 0)
		fail_msg("no hello reply on %s", path);
	cf_check_ok(rep, 1, "hello");
	mpv_free(rep);
	return fd;
}

int cf_call(int fd, uint64_t id, const char *op, struct mpv **ret)
{
	struct mpw w;
	int r;

	mpw_init(&w);
	mpw_request(&w, id, op, 0);
	r = cf_send(fd, &w);
	mpw_free(&w);
	/* A broker that refuses the connection (section 8: rate_limited, forbidden) sends its
	 * error frame at accept and closes; our hello may then meet EPIPE or ECONNRESET, but the
	 * frame is still there to read. */
	if (r < 0 && r != -EPIPE && r != -ECONNRESET)
		return r;
	return cf_recv(fd, ret, CF_TIMEOUT_MS);
}

void cf_recv_error(int fd, uint64_t id, const char *code, const char *what)
{
	struct mpv *rep = NULL;
	int r = cf_recv(fd, &rep, CF_TIMEOUT_MS);

	if (r < 0)
		fail_msg("%s: no reply (%s), want %s", what, strerror(-r), code);
	cf_check_error(rep, id, code, what);
	mpv_free(rep);
}

void cf_recv_ok(int fd, uint64_t id, const char *what)
{
	struct mpv *rep = NULL;
	int r = cf_recv(fd, &rep, CF_TIMEOUT_MS);

	if (r < 0)
		fail_msg("%s: no reply (%s)", what, strerror(-r));
	cf_check_ok(rep, id, what);
	mpv_free(rep);
}

bool cf_array_has(const struct mpv *arr, const char *s)
{
	if (!arr || arr->t != MPV_ARRAY)
		return false;
	for (uint32_t i = 0; i < arr->len; i++)
		if (mpv_is_str(&arr->kids[i], s))
			return true;
	return false;
}
