/* SPDX-License-Identifier: MIT */
/* pipe: requests in flight on a shared connection, and the reader that hands out replies. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "client/lib/internal.h"
#include "proto/frame.h"

struct pending *pipe_add(struct skybroker *h, enum sb_op op)
{
	struct pending *p = calloc(1, sizeof(*p));
	pthread_condattr_t attr;

	if (!p)
		return NULL;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* deadlines are monotonic */
	if (pthread_cond_init(&p->cond, &attr) != 0) {
		pthread_condattr_destroy(&attr);
		free(p);
		return NULL;
	}
	pthread_condattr_destroy(&attr);
	if (++h->next_id == 0)
		h->next_id = 1;
	p->id = h->next_id;
	p->op = op;
	p->state = P_WAITING;
	p->rep.op = SB_OP_INVALID;
	p->next = h->pending;
	h->pending = p;
	return p;
}

void pipe_drop(struct skybroker *h, struct pending *p)
{
	for (struct pending **pp = &h->pending; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	result_reply_done(&p->rep); /* wiped, numbers too */
	pthread_cond_destroy(&p->cond);
	explicit_bzero(p, sizeof(*p));
	free(p);
}

static struct pending *pipe_find(struct skybroker *h, uint64_t id)
{
	for (struct pending *p = h->pending; p; p = p->next)
		if (p->id == id)
			return p;
	return NULL;
}

/* op_of_id for sb_reply_decode: the ops of the requests awaited. */
static enum sb_op op_of_id(uint64_t id, void *userdata)
{
	struct pending *p = id ? pipe_find(userdata, id) : NULL;

	return p && p->state == P_WAITING ? p->op : SB_OP_INVALID;
}

/* Wakes every waiter: one of them may have to become the reader. */
static void wake_all(struct skybroker *h)
{
	for (struct pending *p = h->pending; p; p = p->next)
		pthread_cond_signal(&p->cond);
	pthread_cond_broadcast(&h->idle);
}

void pipe_mark_dead(struct skybroker *h, const struct skybroker_error *why)
{
	if (!h->dead) {
		h->dead = true;
		h->dead_err = *why;
	}
	if (h->fd >= 0)
		shutdown(h->fd, SHUT_RDWR); /* the reader's poll returns; the fd stays ours */
	wake_all(h);
}

void pipe_fail_all(struct skybroker *h, const struct skybroker_error *why)
{
	struct pending **pp = &h->pending;

	while (*pp) {
		struct pending *p = *pp;

		if (p->abandoned) {
			pipe_drop(h, p); /* unlinks *pp */
			continue;
		}
		if (p->state == P_WAITING) {
			p->state = P_FAILED;
			p->err = *why;
			pthread_cond_signal(&p->cond);
		}
		pp = &p->next;
	}
}

/* Marks the connection dead with a local code and message. */
static void dead_because(struct skybroker *h, int code, const char *message, const char *detail)
{
	struct skybroker_error e;

	client_error(&e, code, "%s%s", message, detail);
	pipe_mark_dead(h, &e);
}

/* Gives one decoded reply to its request. */
static void deliver(struct skybroker *h, struct sb_reply *rep)
{
	struct pending *p = pipe_find(h, rep->id);

	if (rep->id == 0 && !rep->ok) { /* the broker's word about the whole connection */
		struct skybroker_error e;

		client_error_reply(&e, &rep->error);
		sb_reply_done(rep);
		pipe_mark_dead(h, &e);
		return;
	}
	if (!p || p->state != P_WAITING) {
		result_reply_done(rep);
		dead_because(h, SKYBROKER_E_PROTOCOL,
			     "the broker answered a request this client did not send", "");
		return;
	}
	if (p->abandoned) { /* its caller gave up: nobody wants it */
		result_reply_done(rep);
		pipe_drop(h, p);
		return;
	}
	p->rep = *rep;
	p->state = P_DONE;
	pthread_cond_signal(&p->cond);
}

/* Hands out every whole frame in h->in. Returns the bytes the next frame needs in all; on
 * anything this side cannot trust the connection is marked dead. */
static size_t dispatch(struct skybroker *h)
{
	for (;;) {
		const uint8_t *payload;
		size_t len, need;
		struct sb_proto_error pe = {0};
		struct sb_reply rep;
		int r = sb_frame_next(&h->in, h->max_reply, &payload, &len, &need);
		char cap[48];

		if (r == SB_FRAME_MORE)
			return need;
		if (r < 0) {
			snprintf(cap, sizeof(cap), "%zu-byte cap (max_reply_frame)", h->max_reply);
			dead_because(h, SKYBROKER_E_PROTOCOL,
				     r == -EMSGSIZE ? "the broker sent a reply over the "
						    : "the broker sent an empty frame",
				     r == -EMSGSIZE ? cap : "");
			return 0;
		}
		r = sb_reply_decode(&rep, payload, len, op_of_id, h, &pe);
		sb_frame_consume(&h->in, len);
		if (r < 0) {
			dead_because(h, r == -ENOMEM ? SKYBROKER_E_NO_MEMORY : SKYBROKER_E_PROTOCOL,
				     "the broker's reply could not be decoded: ", pe.message);
			return 0;
		}
		deliver(h, &rep);
		if (h->dead)
			return 0;
	}
}

/* Reads replies for everyone until p has its own, the deadline passes or the connection
 * dies. With lock held on entry and exit (released while waiting for bytes). Returns
 * false when the deadline passed. */
static bool lead(struct skybroker *h, struct pending *p, int64_t deadline)
{
	int fd = h->fd, r = 1;

	h->reading = true;
	for (;;) {
		size_t need = dispatch(h);

		if (p->state != P_WAITING || h->dead)
			break;
		pthread_mutex_unlock(&h->lock);
		r = conn_read(fd, &h->in, need - sb_buf_len(&h->in), deadline);
		pthread_mutex_lock(&h->lock);
		if (r == 0)
			break;
		if (r < 0)
			dead_because(h, SKYBROKER_E_DISCONNECTED,
				     "the broker closed the connection before answering", "");
	}
	h->reading = false;
	if (h->dead)
		conn_close(h);
	wake_all(h);
	return r != 0;
}

int pipe_await(struct skybroker *h, struct pending *p, int64_t deadline,
	       struct skybroker_error *err)
{
	int code;

	while (p->state == P_WAITING) {
		if (!h->reading && h->fd >= 0) {
			if (!lead(h, p, deadline) && p->state == P_WAITING)
				break;
			continue;
		}
		if (!h->reading) { /* closed under us: pipe_fail_all has run */
			client_error(&p->err, SKYBROKER_E_DISCONNECTED,
				     "the connection to the broker was closed before the answer");
			p->state = P_FAILED;
			break;
		}
		if (!client_cond_wait(&p->cond, &h->lock, deadline) && p->state == P_WAITING)
			break;
	}
	if (p->state == P_WAITING) {
		p->abandoned = true; /* its reply, if it comes, is dropped by the reader */
		return client_error(err, SKYBROKER_E_TIMEOUT, "no answer from the broker in time");
	}
	if (p->state == P_FAILED) {
		code = p->err.code;
		if (err)
			*err = p->err;
		pipe_drop(h, p);
		return code;
	}
	return 0;
}
