/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/audit.h"
#include "runtime/conn.h"
#include "runtime/daemon.h"
#include "runtime/dispatch.h"
#include "util/log.h"
#include "util/sanitize.h"
#include "proto/limits.h"
#include "tenancy/ratelimit.h"
#include "runtime/stats.h"

#define SERVER_NAME "skybrokerd/" SKYBROKER_VERSION

struct request_ctx {
	struct conn *conn;     /* reference */
	struct tenant *tenant; /* reference, NULL on the admin socket */
	uint64_t id;
	enum sb_op op;
	struct sb_request req; /* owned: the zone everything borrowed lives in */
	uint64_t start_usec;
	void (*cancel)(struct request_ctx *rc, void *ud);
	void *cancel_ud;
	bool cancel_started;
	char table[SB_MAX_NAME_LEN + 1];
	char sub[SB_MAX_NAME_LEN + 1];
	char token_hash[72];
	char upstream_request_id[SB_MAX_REQUEST_ID + 1];
	struct request_ctx *prev, *next; /* the connection's in-flight list */
};

static dispatch_handler handlers[_SB_OP_MAX];

void dispatch_register(enum sb_op op, dispatch_handler h)
{
	if ((int)op >= 0 && op < _SB_OP_MAX && op != SB_OP_HELLO)
		handlers[op] = h;
}

bool dispatch_has_handler(enum sb_op op)
{
	return (int)op >= 0 && op < _SB_OP_MAX && handlers[op] != NULL;
}

/* Operations this connection may call after hello. */
static bool op_permitted(const struct conn *c, enum sb_op op)
{
	if (c->admin)
		return op == SB_OP_PING || op == SB_OP_STATS;
	if (op == SB_OP_STATS || op == SB_OP_HELLO)
		return false;
	return (tenant_config(c->tenant)->allow_operations & (1u << op)) != 0;
}

/* ---------------------------------------------------------------- accessors */

const struct sb_request *request_ctx_request(const struct request_ctx *rc)
{
	return &rc->req;
}

uint64_t request_ctx_id(const struct request_ctx *rc)
{
	return rc->id;
}

enum sb_op request_ctx_op(const struct request_ctx *rc)
{
	return rc->op;
}

struct tenant *request_ctx_tenant(const struct request_ctx *rc)
{
	return rc->tenant;
}

const struct peer *request_ctx_peer(const struct request_ctx *rc)
{
	return &rc->conn->peer;
}

uint64_t request_ctx_conn_id(const struct request_ctx *rc)
{
	return rc->conn->id;
}

bool request_ctx_cancelled(const struct request_ctx *rc)
{
	return rc->cancel_started || !conn_is_open(rc->conn);
}

void request_ctx_set_cancel(struct request_ctx *rc, void (*cancel)(struct request_ctx *rc, void *ud),
			    void *ud)
{
	rc->cancel = cancel;
	rc->cancel_ud = ud;
}

bool request_ctx_cancel_started(const struct request_ctx *rc)
{
	return rc->cancel_started;
}

struct request_ctx *request_ctx_next(const struct request_ctx *rc)
{
	return rc->next;
}

void request_ctx_cancel(struct request_ctx *rc)
{
	if (rc->cancel_started)
		return;
	rc->cancel_started = true;
	if (rc->cancel)
		rc->cancel(rc, rc->cancel_ud); /* may finish (free) rc */
}

static void copy_field(char *dst, size_t n, const char *src)
{
	if (src)
		snprintf(dst, n, "%s", src);
}

void request_ctx_set_audit(struct request_ctx *rc, const char *table, const char *sub,
			   const char *token_hash, const char *upstream_request_id)
{
	copy_field(rc->table, sizeof(rc->table), table);
	copy_field(rc->sub, sizeof(rc->sub), sub);
	copy_field(rc->token_hash, sizeof(rc->token_hash), token_hash);
	copy_field(rc->upstream_request_id, sizeof(rc->upstream_request_id), upstream_request_id);
}

/* ---------------------------------------------------------------- finishing */

static void audit_and_count(const struct conn *c, uint64_t id, enum sb_op op, bool ok,
			    enum sb_errcode code, uint64_t start_usec, const struct request_ctx *rc)
{
	uint64_t now = daemon_now(c->d);
	uint64_t latency = now > start_usec ? now - start_usec : 0;
	struct audit_record a = {
		.conn_id = c->id,
		.peer = &c->peer,
		.tenant = c->tenant_label,
		.op = (int)op >= 0 ? sb_op_name(op) : "-",
		.id = id,
		.table = rc && rc->table[0] ? rc->table : NULL,
		.sub = rc && rc->sub[0] ? rc->sub : NULL,
		.token_hash = rc && rc->token_hash[0] ? rc->token_hash : NULL,
		.outcome = ok ? "ok" : sb_errcode_name(code),
		.upstream_request_id = rc && rc->upstream_request_id[0] ? rc->upstream_request_id : NULL,
		.latency_usec = latency,
		/* while the socket is open its process (or an heir of the descriptor) is there;
		 * only a late completion needs the pidfd check, a syscall */
		.peer_gone = !conn_is_open(c),
	};

	if (!a.op)
		a.op = "-";
	audit_request(&a);
	stats_request(op, ok, code, latency);
}

static void request_ctx_free(struct request_ctx *rc)
{
	struct conn *c = rc->conn;

	if (rc->prev)
		rc->prev->next = rc->next;
	else
		c->requests = rc->next;
	if (rc->next)
		rc->next->prev = rc->prev;
	if (c->inflight)
		c->inflight--;
	sb_request_done(&rc->req);
	tenant_unref(rc->tenant);
	free(rc);
	conn_request_finished(c);
	if (c->d->state == DAEMON_STOPPING)
		daemon_maybe_finish_shutdown(c->d);
	conn_unref(c);
}

/* Finishing rc: from here on nobody may cancel it (a connection closing while the reply is
 * written must not finish it a second time). */
static void request_ctx_disarm(struct request_ctx *rc)
{
	rc->cancel = NULL;
	rc->cancel_ud = NULL;
	rc->cancel_started = true;
}

int request_ctx_reply_ok(struct request_ctx *rc, struct sb_reply *rep)
{
	struct conn *c = rc->conn;
	bool ok = true;
	enum sb_errcode code = SB_ERR_INTERNAL;
	int r = 0;

	request_ctx_disarm(rc);
	rep->id = rc->id;
	rep->ok = true;
	rep->op = rc->op;
	if (conn_is_open(c)) {
		r = sb_reply_encode(rep, &c->out, c->max_reply_frame);
		if (r == -EMSGSIZE) {
			conn_log(c, LOG_NOTICE, "reply to %s id=%llu exceeds max_reply_frame (%zu)",
				 sb_op_name(rc->op), (unsigned long long)rc->id, c->max_reply_frame);
			ok = false;
			code = SB_ERR_TOO_LARGE;
			r = sb_reply_encode_error(rc->id, code, "reply larger than max_reply_frame",
						  &c->out, c->max_reply_frame);
		} else if (r < 0) {
			conn_log(c, LOG_ERR, "cannot encode the reply to %s: %s", sb_op_name(rc->op),
				 strerror(-r));
			ok = false;
			r = sb_reply_encode_error(rc->id, code, "internal error", &c->out,
						  c->max_reply_frame);
		}
		conn_output_added(c);
	}
	audit_and_count(c, rc->id, rc->op, ok, code, rc->start_usec, rc);
	request_ctx_free(rc);
	return r;
}

int request_ctx_reply_error_full(struct request_ctx *rc, const struct sb_error *e)
{
	struct conn *c = rc->conn;
	struct sb_reply rep = {.id = rc->id, .ok = false, .op = rc->op, .error = *e};
	int r = 0;

	request_ctx_disarm(rc);
	if (!rep.error.message)
		rep.error.message = sb_errcode_name(e->code);
	if (conn_is_open(c)) {
		r = sb_reply_encode(&rep, &c->out, c->max_reply_frame);
		if (r < 0)
			r = sb_reply_encode_error(rc->id, e->code, sb_errcode_name(e->code), &c->out,
						  c->max_reply_frame);
		conn_output_added(c);
	}
	audit_and_count(c, rc->id, rc->op, false, e->code, rc->start_usec, rc);
	request_ctx_free(rc);
	return r;
}

static enum sb_errcode code_of(const struct conn *c, int r)
{
	if (r == -ECANCELED)
		return SB_ERR_SHUTTING_DOWN;
	if (r == -EOPNOTSUPP)
		return SB_ERR_BAD_REQUEST;
	(void)c;
	return sb_errcode_from_errno(r);
}

int request_ctx_reply_error(struct request_ctx *rc, int r, const char *message)
{
	enum sb_errcode code = code_of(rc->conn, r);
	struct sb_error e = {
		.code = code,
		.message = message ? message : sb_errcode_name(code),
		.retryable = sb_errcode_retryable(code),
	};
	return request_ctx_reply_error_full(rc, &e);
}

/* ---------------------------------------------------------------- hello */

static int handle_hello(struct request_ctx *rc)
{
	struct conn *c = rc->conn;
	const struct sb_hello_args *h = &rc->req.u.hello;
	const char *ops[_SB_OP_MAX];
	struct sb_reply rep = {.op = SB_OP_HELLO};
	char client[SB_MAX_CLIENT_NAME + 1];
	uint64_t version = 0;
	uint32_t n_ops = 0;

	for (uint32_t i = 0; i < h->versions.n; i++)
		if (h->versions.v[i] == SB_PROTOCOL_VERSION)
			version = SB_PROTOCOL_VERSION;
	sanitize_for_log(client, sizeof(client), h->client);
	if (version == 0) {
		conn_log(c, LOG_NOTICE, "closing: client '%s' speaks no protocol version we know",
			 client);
		/* fatal: reply, then close */
		conn_send_error(c, rc->id, SB_ERR_UNSUPPORTED_VERSION,
				"no common protocol version (this broker speaks 1)", true);
		audit_and_count(c, rc->id, rc->op, false, SB_ERR_UNSUPPORTED_VERSION, rc->start_usec,
				rc);
		request_ctx_free(rc);
		return 0;
	}
	memcpy(c->client, client, sizeof(client));
	c->version = version;

	ops[n_ops++] = sb_op_name(SB_OP_HELLO);
	for (int op = 0; op < _SB_OP_MAX; op++)
		if (op != SB_OP_HELLO && handlers[op] && op_permitted(c, (enum sb_op)op))
			ops[n_ops++] = sb_op_name((enum sb_op)op);

	rep.u.hello = (struct sb_hello_result){
		.version = version,
		.tenant = c->tenant_label,
		.server = SERVER_NAME,
		.operations = {.set = true, .n = n_ops, .v = ops},
		.max_request_frame = c->max_request_frame,
		.max_reply_frame = c->max_reply_frame,
	};
	/* After hello the larger frame cap applies. */
	c->state = CONN_READY;
	c->in.max = c->max_request_frame + SB_FRAME_HEADER_SIZE;
	conn_log(c, LOG_INFO, "hello from '%s', protocol %llu", c->client,
		 (unsigned long long)version);
	return request_ctx_reply_ok(rc, &rep);
}

/* ---------------------------------------------------------------- entry */

void dispatch_frame(struct conn *c, const uint8_t *payload, size_t len)
{
	struct sb_proto_error e = {0};
	struct request_ctx *rc;
	bool id_known = false;
	bool fatal = c->state == CONN_HELLO; /* anything wrong before hello closes */
	uint64_t now = daemon_now(c->d);
	int r;

	rc = calloc(1, sizeof(*rc));
	if (!rc) {
		conn_send_error(c, 0, SB_ERR_INTERNAL, "out of memory", true);
		return;
	}
	r = sb_request_decode(&rc->req, payload, len, &id_known, &e);
	if (r < 0) {
		enum sb_errcode code;
		uint64_t id = id_known ? rc->req.id : 0;
		const char *msg = e.message[0] ? e.message : "malformed request";

		if (!id_known) {
			fatal = true;
			code = SB_ERR_BAD_REQUEST;
		} else if (r == -EOPNOTSUPP) {
			code = SB_ERR_BAD_REQUEST;
			msg = "unknown operation";
		} else {
			code = sb_errcode_from_errno(r);
			if (code == SB_ERR_INTERNAL)
				code = SB_ERR_BAD_REQUEST;
		}
		conn_log(c, fatal ? LOG_NOTICE : LOG_INFO, "%srequest id=%llu rejected: %s",
			 fatal ? "closing: " : "", (unsigned long long)id, msg);
		conn_send_error(c, id, code, msg, fatal);
		audit_and_count(c, id, SB_OP_INVALID, false, code, now, NULL);
		free(rc);
		return;
	}

	rc->conn = conn_ref(c);
	rc->tenant = tenant_ref(c->tenant);
	rc->id = rc->req.id;
	rc->op = rc->req.op;
	rc->start_usec = now;
	rc->next = c->requests;
	if (c->requests)
		c->requests->prev = rc;
	c->requests = rc;
	c->inflight++;

	if (c->state == CONN_HELLO) {
		if (rc->op != SB_OP_HELLO) {
			conn_log(c, LOG_NOTICE, "closing: %s before hello", sb_op_name(rc->op));
			conn_send_error(c, rc->id, SB_ERR_BAD_REQUEST, "the first request must be hello",
					true);
			audit_and_count(c, rc->id, rc->op, false, SB_ERR_BAD_REQUEST, now, rc);
			request_ctx_free(rc);
			return;
		}
		handle_hello(rc);
		return;
	}
	if (rc->op == SB_OP_HELLO) {
		request_ctx_reply_error(rc, -EBADMSG, "hello was already answered");
		return;
	}
	if (c->d->state == DAEMON_STOPPING) {
		request_ctx_reply_error(rc, -ESHUTDOWN, "the broker is shutting down");
		return;
	}
	if (!op_permitted(c, rc->op)) {
		conn_log(c, LOG_NOTICE, "operation %s not allowed", sb_op_name(rc->op));
		request_ctx_reply_error(rc, -EACCES, c->admin ? "operation not available on the admin socket"
							     : "operation not allowed for this tenant");
		return;
	}
	if (!handlers[rc->op]) {
		request_ctx_reply_error(rc, -EOPNOTSUPP, "operation not available in this broker");
		return;
	}
	/* The tenant's budget, before the handler looks at the subject token: a client cannot
	 * make the broker parse and verify tokens (or go upstream) faster than rate_limit. */
	if (sb_op_needs_subject(rc->op) && !ratelimit_take(c->tenant, now)) {
		const struct tenant_config *tc = tenant_config(c->tenant);
		char msg[160];
		struct sb_error limited = {
			.code = SB_ERR_RATE_LIMITED, .message = msg, .retryable = true};

		snprintf(msg, sizeof(msg),
			 "tenant %s is over its rate_limit of %llu request(s) per second (burst %llu); "
			 "retry later",
			 tc->name, (unsigned long long)tc->rate_limit,
			 (unsigned long long)(tc->rate_burst ? tc->rate_burst : tc->rate_limit));
		request_ctx_reply_error_full(rc, &limited);
		return;
	}
	r = handlers[rc->op](rc);
	if (r < 0)
		request_ctx_reply_error(rc, r, NULL);
}
