/* SPDX-License-Identifier: MIT */
/*
 * Memory held by requests in flight (issue 9, item 1). With the emulator's STS delayed by 8 s,
 * 10 connections each pipeline 32 exchange requests whose frames carry an unknown field of 15
 * arrays of 4,096 nils (62 KB frames, ~320 KB of msgpack objects each once decoded). The
 * daemon must keep only what the operation uses: its peak RSS (VmHWM) stays under 64 MiB, and
 * its RSS after the replies is back near where it started.
 */
#include <fcntl.h>
#include <poll.h>

#include "exchange_daemon.h"
#include "proto/frame.h"
#include "proto/limits.h"

#define STS_EP "POST /v1/auth/sts/token"
#define N_CONN 10
#define PER_CONN 32
#define PAD_ARRAYS 15
#define PAD_NILS 4096
#define HWM_LIMIT_KB (64 * 1024)
#define RSS_MARGIN_KB (8 * 1024)

/* Under ASan the daemon's memory is the sanitizer's (shadow, quarantine): only the replies
 * are checked there. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

static struct xe_emu E;
static struct sbt_daemon D;

/* Replaces the first `from` in buf (size bytes, NUL-terminated) by `to`. */
static void replace(char *buf, size_t size, const char *from, const char *to)
{
	char *p = strstr(buf, from);
	size_t tail;

	assert_non_null(p);
	tail = strlen(p + strlen(from)) + 1;
	assert_true((size_t)(p - buf) + strlen(to) + tail <= size);
	memmove(p + strlen(to), p + strlen(from), tail);
	memcpy(p, to, strlen(to));
}

static int group_setup(void **state)
{
	char *cfg = xe_config(NULL), conf[8192];
	size_t len;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (xe_emu_start(&E, cfg) < 0)
		return -1;
	free(cfg);
	sbt_daemon_init(&D);
	len = xd_broker(conf, sizeof(conf), &D, NULL);
	len = xd_tenant(conf, sizeof(conf), len, &E, "acme", "sts", NULL, NULL);
	(void)len;
	/* the STS is delayed 8 s: wait for it */
	replace(conf, sizeof(conf), "http_timeout = 2s", "http_timeout = 30s");
	return sbt_daemon_start(&D, conf, NULL) < 0 ? -1 : 0;
}

static int group_teardown(void **state)
{
	xd_stop_clean(&D);
	xe_emu_stop(&E);
	return 0;
}

/* A field of the daemon's /proc/PID/status, in kB. */
static long proc_kb(const char *field)
{
	char path[64], line[256];
	size_t n = strlen(field);
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)D.pid);
	f = fopen(path, "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, n) == 0 && line[n] == ':')
			kb = strtol(line + n + 1, NULL, 10);
	fclose(f);
	assert_true(kb > 0);
	return kb;
}

static void pack_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* One exchange frame (length prefix + map) with id and the unknown field "padding". */
static void append_frame(msgpack_sbuffer *out, uint64_t id, const char *token)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	uint8_t hdr[4];

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 4);
	pack_str(&pk, "id");
	msgpack_pack_uint64(&pk, id);
	pack_str(&pk, "op");
	pack_str(&pk, "exchange");
	pack_str(&pk, "padding");
	msgpack_pack_array(&pk, PAD_ARRAYS);
	for (int i = 0; i < PAD_ARRAYS; i++) {
		msgpack_pack_array(&pk, PAD_NILS);
		for (int k = 0; k < PAD_NILS; k++)
			msgpack_pack_nil(&pk);
	}
	pack_str(&pk, "subject_token");
	pack_str(&pk, token);
	assert_true(sb.size < SB_MAX_REQUEST_FRAME_DEFAULT);
	hdr[0] = (uint8_t)(sb.size >> 24);
	hdr[1] = (uint8_t)(sb.size >> 16);
	hdr[2] = (uint8_t)(sb.size >> 8);
	hdr[3] = (uint8_t)sb.size;
	msgpack_sbuffer_write(out, (const char *)hdr, sizeof(hdr));
	msgpack_sbuffer_write(out, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
}

static enum sb_op always_exchange(uint64_t id, void *userdata)
{
	(void)id;
	(void)userdata;
	return SB_OP_EXCHANGE;
}

struct pipe_state {
	struct sbt_client *c;
	msgpack_sbuffer frames; /* everything this connection sends */
	size_t sent;
	struct sb_buf in;
	unsigned replies, ok;
};

/* Reads what is there and counts whole replies. */
static void take_replies(struct pipe_state *s)
{
	for (;;) {
		const uint8_t *payload;
		size_t len;
		uint8_t *dst;
		ssize_t n;
		int r = sb_frame_next(&s->in, SB_MAX_REPLY_FRAME_LIMIT, &payload, &len, NULL);

		if (r == SB_FRAME_READY) {
			struct sb_proto_error e = {0};
			struct sb_reply rep;

			assert_int_equal(sb_reply_decode(&rep, payload, len, always_exchange, NULL, &e),
					 0);
			if (!rep.ok && s->replies - s->ok < 3)
				print_message("  failed: %s: %s\n", sbt_outcome(&rep), rep.error.message);
			s->ok += rep.ok;
			s->replies++;
			sb_reply_done(&rep);
			sb_frame_consume(&s->in, len);
			continue;
		}
		assert_int_equal(sb_buf_reserve(&s->in, 65536, &dst), 0);
		n = recv(s->c->fd, dst, 65536, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		assert_true(n > 0);
		sb_buf_commit(&s->in, (size_t)n);
	}
}

/* Sends every connection's frames and reads every reply, all connections at once. */
static void run_pipelines(struct pipe_state *s)
{
	unsigned done = 0;

	while (done < N_CONN) {
		struct pollfd p[N_CONN];

		for (int i = 0; i < N_CONN; i++) {
			p[i] = (struct pollfd){.fd = s[i].c->fd, .events = POLLIN};
			if (s[i].sent < s[i].frames.size)
				p[i].events |= POLLOUT;
		}
		assert_true(poll(p, N_CONN, SBT_TIMEOUT_MS) > 0);
		done = 0;
		for (int i = 0; i < N_CONN; i++) {
			if (p[i].revents & POLLOUT) {
				ssize_t n = send(s[i].c->fd, s[i].frames.data + s[i].sent,
						 s[i].frames.size - s[i].sent,
						 MSG_DONTWAIT | MSG_NOSIGNAL);
				assert_true(n > 0 || errno == EAGAIN);
				if (n > 0)
					s[i].sent += (size_t)n;
			}
			if (p[i].revents & (POLLIN | POLLHUP | POLLERR))
				take_replies(&s[i]);
			done += s[i].replies == PER_CONN;
		}
	}
}

static void test_pipelined_padding_stays_small(void **state)
{
	char *warm = xd_mint(&E, "U2memwarm", "Viewer", 3600, NULL);
	char *t = xd_mint(&E, "U2mem", "Viewer", 3600, NULL);
	static struct pipe_state s[N_CONN];
	struct sbt_client *c0 = xd_client(D.socket);
	struct sb_reply rep;
	long rss0, hwm, rss1, calls0;
	unsigned ok = 0;

	/* Warm up: the JWKS fetched, a TLS session to the emulator, the caches allocated. */
	xd_exchange(c0, warm, &rep);
	assert_true(rep.ok);
	sb_reply_done(&rep);
	for (int i = 0; i < N_CONN; i++) {
		s[i].c = xd_client(D.socket);
		msgpack_sbuffer_init(&s[i].frames);
		for (int k = 0; k < PER_CONN; k++)
			append_frame(&s[i].frames, (uint64_t)k + 1, t);
		sb_buf_init(&s[i].in, SB_MAX_REPLY_FRAME_LIMIT);
		assert_int_equal(fcntl(s[i].c->fd, F_SETFL, O_NONBLOCK), 0);
	}
	rss0 = proc_kb("VmRSS");

	xe_reset(&E);
	xe_fault(&E, json_pack("{s:s, s:i, s:i}", "path_prefix", "/v1/auth/sts/token", "delay_ms",
			       8000, "count", 1));
	calls0 = xe_count(&E, STS_EP);
	run_pipelines(s);
	for (int i = 0; i < N_CONN; i++)
		ok += s[i].ok;
	hwm = proc_kb("VmHWM");
	rss1 = proc_kb("VmRSS");
	print_message("  %d x %d exchanges of %zu-byte frames: %u ok, %ld STS call(s); "
		      "VmRSS %ld kB before, VmHWM %ld kB, VmRSS %ld kB after\n",
		      N_CONN, PER_CONN, s[0].frames.size / PER_CONN, ok,
		      xe_count(&E, STS_EP) - calls0, rss0, hwm, rss1);
	assert_int_equal(ok, N_CONN * PER_CONN);
	if (SANITIZED) {
		print_message("  (sanitizer build: the memory limits are not checked)\n");
	} else {
		assert_true(hwm < HWM_LIMIT_KB);
		assert_true(rss1 < rss0 + RSS_MARGIN_KB);
	}

	for (int i = 0; i < N_CONN; i++) {
		msgpack_sbuffer_destroy(&s[i].frames);
		sb_buf_free(&s[i].in);
		sbt_client_free(s[i].c);
	}
	sbt_client_free(c0);
	free(warm);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipelined_padding_stays_small),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
