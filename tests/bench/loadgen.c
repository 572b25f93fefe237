/* SPDX-License-Identifier: MIT */
/*
 * loadgen: a closed-loop load on a Unix socket speaking the protocol's framing. conns
 * connections, each keeping depth requests in flight (ids 1..depth, each slot's frame encoded
 * once and sent again as soon as its reply comes back), driven by one epoll set. Replies are
 * matched by the id at the head of the reply map (the broker answers out of order); latency is
 * from the write that sent a request to the read that completed its reply.
 *
 * Not libskybroker's blocking calls: a thread per request in flight would measure the
 * threads. The frames are what libskybroker sends (proto/'s encoder, which it uses).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"
#include "harness.h"

#define LG_IN (1024 * 1024)

struct lg_conn {
	int fd;
	unsigned depth;
	struct sb_buf *frames;  /* [depth] */
	uint64_t *sent_ns;      /* [depth], 0 when not in flight */
	uint8_t *in;            /* LG_IN bytes */
	size_t in_len;
	struct sb_buf out;      /* queued, not yet written */
	unsigned inflight;
};

/* The id and ok flag of a reply (or an echoed request): map header, "id", uint, then for a
 * reply "ok" and a bool. -1 when the head is not that shape. */
static int head_id(const uint8_t *p, size_t n, uint64_t *id, bool *ok)
{
	size_t i;

	if (n < 5)
		return -1;
	i = (p[0] & 0xf0) == 0x80 ? 1 : p[0] == 0xde ? 3 : p[0] == 0xdf ? 5 : 0;
	if (!i || n < i + 4 || memcmp(p + i, "\xa2id", 3) != 0)
		return -1;
	i += 3;
	if (p[i] < 0x80) {
		*id = p[i++];
	} else if (p[i] >= 0xcc && p[i] <= 0xcf) {
		size_t w = (size_t)1 << (p[i] - 0xcc);

		if (n < i + 1 + w)
			return -1;
		*id = 0;
		for (size_t k = 0; k < w; k++)
			*id = *id << 8 | p[i + 1 + k];
		i += 1 + w;
	} else {
		return -1;
	}
	*ok = !(n >= i + 4 && memcmp(p + i, "\xa2ok\xc2", 4) == 0);
	return 0;
}

static int lg_conn_open(const struct lg_params *p, unsigned ci, struct lg_conn *c)
{
	struct sbt_client *sc = sbt_connect(p->path);

	if (!sc || (p->hello && sbt_hello(sc, NULL) != 0)) {
		sbt_client_free(sc);
		return -EIO;
	}
	c->fd = sc->fd;
	sc->fd = -1;
	sbt_client_free(sc);
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
	c->depth = p->depth;
	c->frames = calloc(p->depth, sizeof(*c->frames));
	c->sent_ns = calloc(p->depth, sizeof(*c->sent_ns));
	c->in = malloc(LG_IN);
	if (!c->frames || !c->sent_ns || !c->in)
		return -ENOMEM;
	sb_buf_init(&c->out, SIZE_MAX);
	for (unsigned s = 0; s < p->depth; s++) {
		sb_buf_init(&c->frames[s], SIZE_MAX);
		if (p->encode(p->ud, ci, s, s + 1, &c->frames[s]) < 0)
			return -EINVAL;
	}
	return 0;
}

static void lg_conn_close(struct lg_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	for (unsigned s = 0; c->frames && s < c->depth; s++)
		sb_buf_free(&c->frames[s]);
	sb_buf_free(&c->out);
	free(c->frames);
	free(c->sent_ns);
	free(c->in);
}

static void lg_queue(struct lg_conn *c, unsigned s)
{
	if (sb_buf_append(&c->out, sb_buf_ptr(&c->frames[s]), sb_buf_len(&c->frames[s])) < 0)
		abort();
	c->sent_ns[s] = 1; /* stamped when written */
	c->inflight++;
}

/* Writes what is queued; stamps the slots written with the write's time. */
static int lg_flush(struct lg_conn *c)
{
	uint64_t t = bench_now_ns();

	while (sb_buf_len(&c->out)) {
		ssize_t w = send(c->fd, sb_buf_ptr(&c->out), sb_buf_len(&c->out), MSG_NOSIGNAL);

		if (w < 0 && errno == EAGAIN)
			break; /* retried on the next reply; the server has plenty queued */
		if (w < 0)
			return -errno;
		sb_buf_consume(&c->out, (size_t)w);
	}
	for (unsigned s = 0; s < c->depth; s++)
		if (c->sent_ns[s] == 1)
			c->sent_ns[s] = t;
	return 0;
}

struct lg_run {
	const struct lg_params *p;
	struct lg_result *acc;
	uint64_t t_measure, t_end;
	bool stop, measuring;
	struct procstat s0, s1;
};

/* One complete frame from c: its latency counted when in the window, its slot sent again. */
static int lg_reply(struct lg_run *run, struct lg_conn *c, const uint8_t *body, size_t n,
		    uint64_t now)
{
	uint64_t id;
	bool ok;

	if (head_id(body, n, &id, &ok) < 0 || id == 0 || id > c->depth || !c->sent_ns[id - 1])
		return -EBADMSG;
	if (now >= run->t_measure && c->sent_ns[id - 1] >= run->t_measure) {
		run->acc->n++;
		run->acc->errors += !ok;
		samples_add(&run->acc->lat, now - c->sent_ns[id - 1]);
	}
	c->sent_ns[id - 1] = 0;
	c->inflight--;
	if (!run->p->once && !run->stop)
		lg_queue(c, (unsigned)(id - 1));
	return 0;
}

static int lg_read(struct lg_run *run, struct lg_conn *c)
{
	uint64_t now;
	size_t off = 0;
	ssize_t k = recv(c->fd, c->in + c->in_len, LG_IN - c->in_len, 0);

	if (k < 0 && errno == EAGAIN)
		return 0;
	if (k <= 0)
		return -EPIPE;
	now = bench_now_ns();
	c->in_len += (size_t)k;
	while (c->in_len - off >= 4) {
		uint32_t len = sb_be32_get(c->in + off);
		int r;

		if (len > LG_IN - 4)
			return -EMSGSIZE;
		if (c->in_len - off < 4 + (size_t)len)
			break;
		r = lg_reply(run, c, c->in + off + 4, len, now);
		if (r < 0)
			return r;
		off += 4 + (size_t)len;
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
	return lg_flush(c);
}

static int lg_loop(struct lg_run *run, int ep)
{
	const struct lg_params *p = run->p;
	struct epoll_event evs[256];
	unsigned busy = p->conns;

	while (busy) {
		int n = epoll_wait(ep, evs, 256, 1000);
		uint64_t now = bench_now_ns();

		if (n < 0 && errno != EINTR)
			return -errno;
		if (!run->measuring && now >= run->t_measure) {
			run->measuring = true;
			if (p->server)
				procstat_read(p->server, &run->s0);
		}
		if (!p->once && now >= run->t_end && !run->stop) {
			run->stop = true;
			if (p->server)
				procstat_read(p->server, &run->s1);
		}
		if (run->p->once && n == 0 && now > run->t_end)
			return -ETIMEDOUT;
		for (int i = 0; i < n; i++) {
			struct lg_conn *c = evs[i].data.ptr;
			unsigned before = c->inflight;
			int r = lg_read(run, c);

			if (r < 0)
				return r;
			if (before && !c->inflight && (run->stop || p->once))
				busy--;
		}
	}
	return 0;
}

int lg_run(const struct lg_params *p, struct lg_result *acc)
{
	struct lg_conn *cs = calloc(p->conns, sizeof(*cs));
	int ep = epoll_create1(EPOLL_CLOEXEC), r = 0;
	struct lg_run run = {.p = p, .acc = acc};
	uint64_t t0;

	if (!cs || ep < 0)
		return -ENOMEM;
	for (unsigned i = 0; i < p->conns; i++)
		cs[i].fd = -1;
	for (unsigned i = 0; i < p->conns && r >= 0; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};

		r = lg_conn_open(p, i, &cs[i]);
		if (r >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev) < 0)
			r = -errno;
	}
	t0 = bench_now_ns();
	run.t_measure = p->once ? t0 : t0 + (uint64_t)(p->warmup_s * 1e9);
	run.t_end = p->once ? t0 + 60000000000ull : run.t_measure + (uint64_t)(p->duration_s * 1e9);
	if (p->once && p->server)
		procstat_read(p->server, &run.s0);
	run.measuring = p->once;
	for (unsigned i = 0; i < p->conns && r >= 0; i++) {
		for (unsigned s = 0; s < p->depth; s++)
			lg_queue(&cs[i], s);
		r = lg_flush(&cs[i]);
	}
	if (r >= 0)
		r = lg_loop(&run, ep);
	if (p->once && p->server)
		procstat_read(p->server, &run.s1);
	if (p->server) {
		acc->cpu_s += run.s1.cpu_s - run.s0.cpu_s;
		acc->rss_kib = run.s1.rss_kib;
	}
	acc->seconds += p->once ? (double)(bench_now_ns() - t0) / 1e9 : p->duration_s;
	for (unsigned i = 0; i < p->conns; i++)
		lg_conn_close(&cs[i]);
	free(cs);
	close(ep);
	return r;
}

void lg_result_free(struct lg_result *r)
{
	samples_free(&r->lat);
}
