/* SPDX-License-Identifier: MIT */
/* dispatch: frame -> request -> the operation's gate and handler; hello. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/limits.h"
#include "runtime/conn.h"
#include "runtime/dispatch.h"
#include "runtime/startwait.h"
#include "tenancy/ratelimit.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/logfmt.h"
#include "util/sanitize.h"

#define SERVER_NAME "skybrokerd/" SKYBROKER_VERSION

static dispatch_handler handlers[_SB_OP_MAX];

void dispatch_register(enum sb_op op, dispatch_handler h)
{
	/* hello is dispatch's own (it changes the connection's state) */
	if (sb_op_info(op) && !(sb_op_flags(op) & SB_OPF_HANDSHAKE))
		handlers[op] = h;
}

void dispatch_reset(void)
{
	memset(handlers, 0, sizeof(handlers));
}

bool dispatch_has_handler(enum sb_op op)
{
	return (int)op >= 0 && op < _SB_OP_MAX && handlers[op] != NULL;
}

/* Whether this connection may call op after hello (the operation table's socket flags, then
 * the tenant's allow_operations, which always holds the SB_OPF_ALWAYS ones). */
static bool op_permitted(const struct conn *c, enum sb_op op)
{
	unsigned flags = sb_op_flags(op);

	if (c->admin)
		return flags & SB_OPF_ADMIN;
	if (!(flags & SB_OPF_TENANT))
		return false;
	return (flags & SB_OPF_ALWAYS) ||
	       (tenant_config(c->tenant)->allow_operations & (1u << op)) != 0;
}

/* ---------------------------------------------------------------- hello */

static int handle_hello(struct request_ctx *rc)
{
	struct conn *c = request_ctx_conn(rc);
	const struct sb_hello_args *h = &request_ctx_request(rc)->u.hello;
	const char *ops[_SB_OP_MAX];
	struct sb_reply rep = {.op = SB_OP_HELLO};
	char client[SB_MAX_CLIENT_NAME + 1], logged[LOGFMT_MAX(SB_MAX_CLIENT_NAME)];
	uint64_t version = 0;
	uint32_t n_ops = 0;

	for (uint32_t i = 0; i < h->versions.n; i++)
		if (h->versions.v[i] == SB_PROTOCOL_VERSION)
			version = SB_PROTOCOL_VERSION;
	sanitize_for_log(client, sizeof(client), h->client);
	logfmt_value(logged, sizeof(logged), h->client); /* one field, whatever the name holds */
	if (version == 0) {
		conn_log(c, LOG_NOTICE, "closing: no protocol version we know: client=%s", logged);
		request_ctx_fail_fatal(rc, SB_ERR_UNSUPPORTED_VERSION,
				       "no common protocol version (this broker speaks 1)");
		return 0;
	}
	conn_hello_done(c, version, client);

	ops[n_ops++] = sb_op_name(SB_OP_HELLO);
	for (int op = 0; op < _SB_OP_MAX; op++)
		if (handlers[op] && op_permitted(c, (enum sb_op)op))
			ops[n_ops++] = sb_op_name((enum sb_op)op);

	rep.u.hello = (struct sb_hello_result){
		.version = version,
		.tenant = c->tenant_label,
		.server = SERVER_NAME,
		.operations = {.set = true, .n = n_ops, .v = ops},
		.max_request_frame = c->max_request_frame,
		.max_reply_frame = c->max_reply_frame,
		.max_inflight = c->max_inflight,
	};
	conn_log(c, LOG_INFO, "hello: client=%s protocol=%llu", logged, (unsigned long long)version);
	return request_ctx_reply_ok(rc, &rep);
}

/* ---------------------------------------------------------------- entry */

/* A frame that does not decode: answer it (closing the connection when its id could not be
 * read or before hello), audit, count. */
static void reject_undecodable(struct conn *c, const struct sb_request *req, bool id_known, int r,
			       const struct sb_proto_error *e, uint64_t start_usec)
{
	bool fatal = c->state == CONN_HELLO || !id_known; /* anything wrong before hello closes */
	uint64_t id = id_known ? req->id : 0;
	const char *msg = e->message[0] ? e->message : "malformed request";
	enum sb_errcode code = SB_ERR_BAD_REQUEST;

	if (id_known && r == -EOPNOTSUPP)
		msg = "unknown operation";
	else if (sb_errcode_from_errno(r) != SB_ERR_INTERNAL)
		code = sb_errcode_from_errno(r); /* -EMSGSIZE: a limit of PROTOCOL.md section 3 */
	conn_log(c, fatal ? LOG_NOTICE : LOG_INFO, "%srequest id=%llu rejected: %s",
		 fatal ? "closing: " : "", (unsigned long long)id, msg);
	conn_send_error(c, id, code, msg, fatal);
	request_audit_undecoded(c, id, code, start_usec);
}

/* The tenant's budget, before the handler looks at the subject token: a client cannot make
 * the broker parse and verify tokens (or go upstream) faster than rate_limit. True when the
 * request was answered rate_limited. */
static bool over_rate_limit(struct request_ctx *rc, struct tenant *t, uint64_t now)
{
	const struct tenant_config *tc;
	char msg[160];
	struct sb_error limited = {.code = SB_ERR_RATE_LIMITED, .message = msg, .retryable = true};

	if (!(sb_op_flags(request_ctx_op(rc)) & SB_OPF_RATE_LIMITED) || ratelimit_take(t, now))
		return false;
	tc = tenant_config(t);
	snprintf(msg, sizeof(msg),
		 "tenant %s is over its rate_limit of %llu request(s) per second (burst %llu); "
		 "retry later",
		 tc->name, (unsigned long long)tc->rate_limit,
		 (unsigned long long)(tc->rate_burst ? tc->rate_burst : tc->rate_limit));
	request_ctx_reply_error_full(rc, &limited);
	return true;
}

/* The gate of a request after hello: refused, or handed to its handler. */
static void dispatch_request(struct conn *c, struct request_ctx *rc, uint64_t now)
{
	enum sb_op op = request_ctx_op(rc);

	if (sb_op_flags(op) & SB_OPF_HANDSHAKE) {
		request_ctx_reply_error(rc, -EBADMSG, "hello was already answered");
		return;
	}
	if (conn_set_draining(c->set)) {
		request_ctx_reply_error(rc, -ESHUTDOWN, "the broker is shutting down");
		return;
	}
	if (!op_permitted(c, op)) {
		conn_log(c, LOG_NOTICE, "operation %s not allowed", sb_op_name(op));
		request_ctx_reply_error(rc, -EACCES, c->admin ? "operation not available on the admin socket"
							     : "operation not allowed for this tenant");
		return;
	}
	if (!handlers[op]) {
		/* Not in the hello reply's operations, like one the tenant does not allow: the
		 * same code (PROTOCOL.md section 8), never bad_request, which says the client
		 * sent something malformed. */
		request_ctx_reply_error(rc, -EACCES, "operation not offered by this broker");
		return;
	}
	if (over_rate_limit(rc, c->tenant, now))
		return;
	startwait_run(rc, handlers[op]); /* at once, or when a starting tenant is ready */
}

void dispatch_frame(struct conn *c, const uint8_t *payload, size_t len)
{
	struct sb_proto_error e = {0};
	struct sb_request req = {0};
	struct request_ctx *rc;
	bool id_known = false;
	/* A latency is measured on the clock itself: the loop's cached time is the same at
	 * both ends of a request answered in this callback. The loop's time does for the rest. */
	uint64_t start = clock_now_usec(NULL), now = conn_set_now(c->set);
	int r;

	r = sb_request_decode(&req, payload, len, &id_known, &e);
	if (r < 0) {
		reject_undecodable(c, &req, id_known, r, &e, start);
		sb_request_done(&req);
		return;
	}
	if (conn_pending_has_id(c, req.id)) {
		/* Two requests in flight with one id: the second is refused, the first goes on. */
		char msg[64];

		snprintf(msg, sizeof(msg), "id %llu is already in flight",
			 (unsigned long long)req.id);
		conn_log(c, LOG_INFO, "request id=%llu rejected: %s", (unsigned long long)req.id,
			 msg);
		conn_send_error(c, req.id, SB_ERR_BAD_REQUEST, msg, false);
		request_audit_undecoded(c, req.id, SB_ERR_BAD_REQUEST, start);
		sb_request_done(&req);
		return;
	}
	r = request_ctx_new(c, &req, start, &rc);
	if (r < 0) {
		conn_send_error(c, 0, SB_ERR_INTERNAL, "out of memory", true);
		return;
	}
	if (c->state == CONN_HELLO) {
		if (!(sb_op_flags(request_ctx_op(rc)) & SB_OPF_HANDSHAKE)) {
			conn_log(c, LOG_NOTICE, "closing: %s before hello",
				 sb_op_name(request_ctx_op(rc)));
			request_ctx_fail_fatal(rc, SB_ERR_BAD_REQUEST, "the first request must be hello");
			return;
		}
		handle_hello(rc);
		return;
	}
	dispatch_request(c, rc, now);
}
