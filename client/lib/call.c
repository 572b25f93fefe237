/* SPDX-License-Identifier: MIT */
/* call: one operation on a handle, pipelined with the other threads' calls, with
 * reconnection, retries and backoff. */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "client/lib/internal.h"
#include "proto/frame.h"

/* Encodes req for p into frame. 0 or a code. */
static int encode(struct skybroker *h, struct sb_request *req, struct sb_buf *frame,
		  struct skybroker_error *err)
{
	int r;

	sb_buf_init(frame, h->max_request + SB_FRAME_HEADER_SIZE);
	r = sb_request_encode(req, frame, h->max_request);
	if (r == -EMSGSIZE)
		return client_error(err, SKYBROKER_E_TOO_LARGE,
				    "the request is larger than the broker's %zu-byte frame cap; "
				    "send fewer or smaller values per call", h->max_request);
	if (r == -ENOMEM)
		return client_error(err, SKYBROKER_E_NO_MEMORY, "out of memory");
	if (r < 0)
		return client_error(err, SKYBROKER_E_INVALID_ARGUMENT,
				    "a required argument of %s is missing", sb_op_name(req->op));
	return 0;
}

/* Sends the request of p (lock released meanwhile). On failure the connection is given up:
 * a frame cut short leaves a stream nobody can read. 0 or a code. */
static int send_request(struct skybroker *h, struct pending *p, struct sb_request *req,
			int64_t deadline, bool *sent_any, struct skybroker_error *err)
{
	uint64_t gen = h->generation;
	struct sb_buf frame;
	int r;

	req->id = p->id;
	r = encode(h, req, &frame, err);
	if (r == 0) {
		pthread_mutex_unlock(&h->lock);
		r = conn_send(h, gen, &frame, deadline, sent_any, err);
		pthread_mutex_lock(&h->lock);
	}
	sb_buf_free(&frame); /* wipes the token and the values */
	if (r != 0) {
		pipe_drop(h, p);
		if ((*sent_any || r == SKYBROKER_E_DISCONNECTED) && h->generation == gen)
			pipe_mark_dead(h, err);
	}
	return r;
}

/* One attempt, with lock held: a usable connection, the request out, its reply in. *sent_any
 * tells whether the broker may have seen the request. 0 (with *res) or a code. */
static int attempt_once(struct skybroker *h, struct sb_request *req, int64_t deadline,
			skybroker_result **res, bool *sent_any, struct skybroker_error *err)
{
	struct sb_reply rep;
	struct pending *p;
	int r;

	*sent_any = false;
	r = conn_usable(h, deadline, err);
	if (r != 0)
		return r;
	p = pipe_add(h, req->op);
	if (!p)
		return client_error(err, SKYBROKER_E_NO_MEMORY, "out of memory");
	r = send_request(h, p, req, deadline, sent_any, err);
	if (r == 0)
		r = pipe_await(h, p, deadline, err);
	if (r != 0)
		return r;
	rep = p->rep;
	p->rep = (struct sb_reply){.op = SB_OP_INVALID};
	pipe_drop(h, p);
	if (!rep.ok) {
		r = client_error_reply(err, &rep.error);
		sb_reply_done(&rep);
		return r;
	}
	if (res && (r = result_from_reply(&rep, res)) != 0) {
		result_reply_done(&rep);
		return client_error(err, r, "out of memory");
	}
	result_reply_done(&rep); /* empty when the result took it */
	return 0;
}

/* Whether a failed attempt may be made again: when nothing reached the broker, always; after
 * that, only an idempotent operation, for a broken connection or a retryable error. */
static bool may_retry(int code, const struct skybroker_error *e, bool sent_any, enum sb_op op)
{
	bool idempotent = sb_op_flags(op) & SB_OPF_IDEMPOTENT;

	switch (code) {
	case SKYBROKER_E_UNREACHABLE:
		return true;
	case SKYBROKER_E_DISCONNECTED:
		return !sent_any || idempotent;
	case SKYBROKER_E_TIMEOUT:
	case SKYBROKER_E_PROTOCOL:
	case SKYBROKER_E_INVALID_ARGUMENT:
	case SKYBROKER_E_NO_MEMORY:
		return false;
	default:
		return e->retryable && (idempotent || !sent_any);
	}
}

int client_call(struct skybroker *h, struct sb_request *req, int timeout_ms,
		skybroker_result **res, struct skybroker_error *err)
{
	struct skybroker_error local;
	struct skybroker_error *e = err ? err : &local;
	int64_t deadline;
	int r;

	if (res)
		*res = NULL;
	pthread_mutex_lock(&h->lock);
	deadline = client_now_ms() + (timeout_ms > 0 ? timeout_ms : h->timeout_ms);
	for (unsigned attempt = 1;; attempt++) {
		uint64_t delay;
		bool sent_any;

		r = attempt_once(h, req, deadline, res, &sent_any, e);
		if (r == 0 || attempt >= h->attempts || !may_retry(r, e, sent_any, req->op))
			break;
		delay = (uint64_t)h->backoff_ms << (attempt - 1 < 16 ? attempt - 1 : 16);
		if (delay > SKYBROKER_MAX_BACKOFF_MS)
			delay = SKYBROKER_MAX_BACKOFF_MS;
		if (delay >= (uint64_t)client_left_ms(deadline))
			break; /* no time for another attempt: report this one */
		pthread_mutex_unlock(&h->lock); /* the others go on meanwhile */
		poll(NULL, 0, (int)delay);
		pthread_mutex_lock(&h->lock);
	}
	pthread_mutex_unlock(&h->lock);
	if (r == 0)
		memset(e, 0, sizeof(*e));
	return r;
}
