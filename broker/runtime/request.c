/* SPDX-License-Identifier: MIT */
/* request: one request in flight, its accessors, and finishing it (reply, audit, stats). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/limits.h"
#include "runtime/audit.h"
#include "runtime/conn.h"
#include "runtime/request.h"
#include "runtime/stats.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

struct request_ctx {
	struct conn_pending pending; /* in the connection's in-flight list */
	struct conn *conn;           /* reference (taken by conn_pending_attach) */
	struct tenant *tenant;       /* reference, NULL on the admin socket */
	uint64_t id;
	enum sb_op op;
	struct sb_request req; /* owned: the block everything borrowed lives in */
	uint64_t start_usec;
	void (*cancel)(struct request_ctx *rc, void *ud);
	void *cancel_ud;
	char table[SB_MAX_NAME_LEN + 1];
	char sub[SB_MAX_NAME_LEN + 1];
	char token_hash[72];
	char upstream_request_id[SB_MAX_REQUEST_ID + 1];
	int64_t records;        /* records in the result, -1 when not a record operation */
	long upstream_status;   /* the HTTP status of the operation's upstream call, 0 if none */
};

static struct request_ctx *of_pending(struct conn_pending *p)
{
	return (struct request_ctx *)((char *)p - offsetof(struct request_ctx, pending));
}

/* The connection closed or the shutdown deadline passed. */
static void request_ctx_cancel(struct conn_pending *p)
{
	struct request_ctx *rc = of_pending(p);

	if (rc->cancel)
		rc->cancel(rc, rc->cancel_ud); /* may finish (free) rc */
}

int request_ctx_new(struct conn *c, struct sb_request *req, uint64_t start_usec,
		    struct request_ctx **ret)
{
	struct request_ctx *rc = calloc(1, sizeof(*rc));

	if (!rc) {
		sb_request_done(req);
		return -ENOMEM;
	}
	rc->req = *req;
	*req = (struct sb_request){0}; /* transferred */
	rc->tenant = tenant_ref(c->tenant);
	rc->id = rc->req.id;
	rc->op = rc->req.op;
	rc->start_usec = start_usec;
	rc->records = -1;
	rc->conn = c;
	rc->pending.cancel = request_ctx_cancel;
	rc->pending.bytes = sizeof(*rc) + sb_request_held(&rc->req);
	rc->pending.id = rc->req.id;
	conn_pending_attach(c, &rc->pending);
	*ret = rc;
	return 0;
}

/* ---------------------------------------------------------------- accessors */

struct conn *request_ctx_conn(const struct request_ctx *rc)
{
	return rc->conn;
}

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
	return rc->pending.cancel_started || !conn_is_open(rc->conn);
}

void request_ctx_set_cancel(struct request_ctx *rc, void (*cancel)(struct request_ctx *rc, void *ud),
			    void *ud)
{
	rc->cancel = cancel;
	rc->cancel_ud = ud;
}

static void copy_field(char *dst, size_t n, const char *src)
{
	if (src)
		snprintf(dst, n, "%s", src);
}

void request_ctx_set_audit_result(struct request_ctx *rc, int64_t records, long upstream_status)
{
	rc->records = records;
	rc->upstream_status = upstream_status;
}

size_t request_ctx_max_reply(const struct request_ctx *rc)
{
	return rc->conn->max_reply_frame;
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

static request_observer_t request_observer;

void request_set_observer(request_observer_t fn)
{
	request_observer = fn;
}

static const char *nonempty(const char *s)
{
	return s && s[0] ? s : NULL;
}

/* The audit line and the counters of one answered request; rc may be NULL (undecodable). */
static void audit_and_count(const struct conn *c, uint64_t id, enum sb_op op, bool ok,
			    enum sb_errcode code, uint64_t start_usec, const struct request_ctx *rc)
{
	uint64_t now = clock_now_usec(NULL); /* as the start: not the loop's cached time */
	uint64_t latency = now > start_usec ? now - start_usec : 0;
	const char *op_name = (int)op >= 0 ? sb_op_name(op) : NULL;
	struct audit_record a = {
		.conn_id = c->id,
		.peer = &c->peer,
		.tenant = c->tenant_label,
		.op = op_name ? op_name : "-",
		.id = id,
		.table = rc ? nonempty(rc->table) : NULL,
		.sub = rc ? nonempty(rc->sub) : NULL,
		.token_hash = rc ? nonempty(rc->token_hash) : NULL,
		.outcome = ok ? "ok" : sb_errcode_name(code),
		.upstream_request_id = rc ? nonempty(rc->upstream_request_id) : NULL,
		.records = rc ? rc->records : -1,
		.upstream_status = rc ? rc->upstream_status : 0,
		.latency_usec = latency,
		/* while the socket is open its process (or an heir of the descriptor) is there;
		 * only a late completion needs the pidfd check, a syscall */
		.peer_gone = !conn_is_open(c),
	};

	audit_request(&a);
	stats_request(op, ok, code, latency);
	if (request_observer)
		request_observer(&(struct request_outcome){
			.tenant = c->tenant_label, .op = op, .ok = ok, .code = code,
			.latency_usec = latency});
}

void request_audit_undecoded(const struct conn *c, uint64_t id, enum sb_errcode code,
			     uint64_t start_usec)
{
	audit_and_count(c, id, SB_OP_INVALID, false, code, start_usec, NULL);
}

/* Takes rc out of its connection's in-flight list and frees it (which may drop the last
 * reference of the connection). */
static void request_ctx_free(struct request_ctx *rc)
{
	struct conn *c = rc->conn;

	sb_request_done(&rc->req);
	tenant_unref(rc->tenant);
	conn_pending_detach(c, &rc->pending);
	free(rc);
}

/* Finishing rc: from here on nobody may cancel it (a connection closing while the reply is
 * written must not finish it a second time). */
static void request_ctx_disarm(struct request_ctx *rc)
{
	rc->cancel = NULL;
	rc->cancel_ud = NULL;
	rc->pending.cancel_started = true;
}

void request_ctx_fail_fatal(struct request_ctx *rc, enum sb_errcode code, const char *message)
{
	struct conn *c = rc->conn;

	request_ctx_disarm(rc);
	conn_send_error(c, rc->id, code, message, true);
	audit_and_count(c, rc->id, rc->op, false, code, rc->start_usec, rc);
	request_ctx_free(rc);
}

/* Encodes rep into c's output; a reply over max_reply_frame (or one that cannot be encoded)
 * becomes an error reply, and *code says which (it is left alone on success). */
static int encode_ok(struct request_ctx *rc, struct sb_reply *rep, enum sb_errcode *code)
{
	struct conn *c = rc->conn;
	int r;

	r = sb_reply_encode(rep, &c->out, c->max_reply_frame);
	if (r == -EMSGSIZE) {
		conn_log(c, LOG_NOTICE, "reply to %s id=%llu exceeds max_reply_frame (%zu)",
			 sb_op_name(rc->op), (unsigned long long)rc->id, c->max_reply_frame);
		*code = SB_ERR_TOO_LARGE;
		return sb_reply_encode_error(rc->id, *code, "reply larger than max_reply_frame",
					     &c->out, c->max_reply_frame);
	}
	if (r < 0) {
		conn_log(c, LOG_ERR, "cannot encode the reply to %s: %s", sb_op_name(rc->op),
			 strerror(-r));
		*code = SB_ERR_INTERNAL;
		return sb_reply_encode_error(rc->id, *code, "internal error", &c->out,
					     c->max_reply_frame);
	}
	return r;
}

int request_ctx_reply_ok(struct request_ctx *rc, struct sb_reply *rep)
{
	struct conn *c = rc->conn;
	enum sb_errcode code = _SB_ERR_MAX; /* stays: the reply went out as ok */
	int r = 0;

	request_ctx_disarm(rc);
	rep->id = rc->id;
	rep->ok = true;
	rep->op = rc->op;
	if (conn_is_open(c)) {
		r = encode_ok(rc, rep, &code);
		conn_output_added(c);
	}
	audit_and_count(c, rc->id, rc->op, code == _SB_ERR_MAX, code, rc->start_usec, rc);
	request_ctx_free(rc);
	return r;
}

static enum sb_errcode code_of(int r)
{
	if (r == -ECANCELED)
		return SB_ERR_SHUTTING_DOWN;
	if (r == -EOPNOTSUPP)
		return SB_ERR_BAD_REQUEST;
	return sb_errcode_from_errno(r);
}

int request_ctx_reply_ok_raw(struct request_ctx *rc, const uint8_t *result, size_t n)
{
	struct conn *c = rc->conn;
	enum sb_errcode code = _SB_ERR_MAX;
	int r = 0;

	request_ctx_disarm(rc);
	if (conn_is_open(c)) {
		r = sb_reply_encode_ok_raw(rc->id, result, n, &c->out, c->max_reply_frame);
		if (r < 0) {
			code = r == -EMSGSIZE ? SB_ERR_TOO_LARGE : SB_ERR_INTERNAL;
			r = sb_reply_encode_error(rc->id, code, code == SB_ERR_TOO_LARGE ?
						  "reply larger than max_reply_frame" :
						  "internal error", &c->out, c->max_reply_frame);
		}
		conn_output_added(c);
	}
	audit_and_count(c, rc->id, rc->op, code == _SB_ERR_MAX, code, rc->start_usec, rc);
	request_ctx_free(rc);
	return r;
}

int request_ctx_reply_error_detail(struct request_ctx *rc, const struct error_detail *err)
{
	enum sb_errcode code = code_of(err->r < 0 ? err->r : -EIO);
	struct sb_error e = {
		.code = code,
		.message = err->message[0] ? err->message : NULL,
		.retryable = sb_errcode_retryable(code),
		.upstream_status = { .set = err->upstream_status > 0,
				     .v = (uint64_t)(err->upstream_status > 0 ?
						     err->upstream_status : 0) },
		.request_id = err->request_id[0] ? err->request_id : NULL,
	};

	return request_ctx_reply_error_full(rc, &e);
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


int request_ctx_reply_error(struct request_ctx *rc, int r, const char *message)
{
	enum sb_errcode code = code_of(r);
	struct sb_error e = {
		.code = code,
		.message = message ? message : sb_errcode_name(code),
		.retryable = sb_errcode_retryable(code),
	};

	return request_ctx_reply_error_full(rc, &e);
}
