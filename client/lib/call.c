/* SPDX-License-Identifier: MIT */
/* call: one operation on a handle under its lock, with reconnection, retries and backoff. */
#include <poll.h>
#include <string.h>

#include "client/lib/internal.h"

/* One attempt: reconnect if the connection is gone, send, read the reply. *sent_any tells
 * whether the broker may have seen the request. 0 (with *res) or a code. */
static int attempt_once(struct skybroker *h, struct sb_request *req, int64_t deadline,
			skybroker_result **res, bool *sent_any, struct skybroker_error *err)
{
	struct sb_reply rep;
	int r;

	*sent_any = false;
	if (conn_stale(h)) {
		r = conn_open(h, deadline, err);
		if (r != 0)
			return r;
	}
	r = conn_send(h, req, deadline, sent_any, err);
	if (r == 0)
		r = conn_recv(h, deadline, &rep, err);
	if (r != 0)
		return r;
	if (!rep.ok) {
		r = client_error_reply(err, &rep.error);
		sb_reply_done(&rep);
		return r;
	}
	if (res && (r = result_from_reply(&rep, res)) != 0) {
		sb_reply_done(&rep);
		return client_error(err, r, "out of memory");
	}
	sb_reply_done(&rep);
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
		unsigned delay;
		bool sent_any;

		r = attempt_once(h, req, deadline, res, &sent_any, e);
		if (r == 0 || attempt >= h->attempts || !may_retry(r, e, sent_any, req->op))
			break;
		delay = h->backoff_ms << (attempt - 1 < 16 ? attempt - 1 : 16);
		if (delay > SKYBROKER_MAX_BACKOFF_MS)
			delay = SKYBROKER_MAX_BACKOFF_MS;
		if ((int)delay >= client_left_ms(deadline))
			break; /* no time for another attempt: report this one */
		poll(NULL, 0, (int)delay);
	}
	pthread_mutex_unlock(&h->lock);
	if (r == 0)
		memset(e, 0, sizeof(*e));
	return r;
}
