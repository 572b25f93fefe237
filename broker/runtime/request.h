/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "proto/message.h"
#include "runtime/admission.h"
#include "tenancy/tenant.h"

/*
 * One request in flight, from its decoded frame to its reply: the seam every operation
 * handler sees (docs/internals.md, "The operation seam"). Handlers never see a connection.
 *
 * A handler owns rc from the call on. It finishes it exactly once, now or from a later
 * callback (an HTTP completion), with request_ctx_reply_ok() or request_ctx_reply_error(),
 * which send the reply (if the client is still there), write the audit line, update stats
 * and free rc. Or it returns a negative errno without having finished it, and dispatch
 * replies with the matching error code (proto/errors.h). Returning 0 means "finished or
 * will finish".
 *
 * rc stays valid until it is finished, even if the client disconnects: it holds a reference
 * on its connection and a reply to a closed connection is dropped. request_ctx_cancelled()
 * says whether anyone is still waiting. A handler that starts asynchronous work sets a
 * cancel callback: it is called once when the connection closes or the daemon's shutdown
 * deadline passes, and must abort the work and finish rc (typically
 * request_ctx_reply_error(rc, -ECANCELED, NULL)) before it returns. At exit the connection
 * set is freed right after the cancellations, so a request that outlived its cancellation
 * would touch freed memory; conn.c asserts that none does.
 */

struct request_ctx;
struct conn;

/* ---- for dispatch: creating and failing requests ---- */

/*
 * A decoded request on c (req is transferred: its block moves into rc) becomes in flight on c,
 * its size and that of its block charged to c's budgets of bytes in flight until it finishes.
 * start_usec: when its frame was taken, from clock_now_usec(NULL) (the latency origin; the
 * end is read from the same clock, never the loop's cached time). 0 or -ENOMEM (req
 * released).
 */
int request_ctx_new(struct conn *c, struct sb_request *req /* transferred */,
		    uint64_t start_usec, struct request_ctx **ret);

/* The request broke the protocol badly enough to close the connection (before hello): one
 * error reply, then close once it is flushed. Audits and frees rc. */
void request_ctx_fail_fatal(struct request_ctx *rc, enum sb_errcode code, const char *message);

/* A frame that could not be decoded into a request: only the audit line and the counters
 * (the caller has replied). id: the request's id when it could be read, else 0; start_usec
 * as for request_ctx_new. */
void request_audit_undecoded(const struct conn *c, uint64_t id, enum sb_errcode code,
			     uint64_t start_usec);

/* The connection rc came on (borrowed until rc is finished): for dispatch and hello only. */
struct conn *request_ctx_conn(const struct request_ctx *rc);

/* ---- accessors (all borrowed until rc is finished) ---- */

const struct sb_request *request_ctx_request(const struct request_ctx *rc);
uint64_t request_ctx_id(const struct request_ctx *rc);
enum sb_op request_ctx_op(const struct request_ctx *rc);
/* The tenant (NULL on the admin socket); holds a reference for rc's lifetime. */
struct tenant *request_ctx_tenant(const struct request_ctx *rc);
const struct peer *request_ctx_peer(const struct request_ctx *rc);
uint64_t request_ctx_conn_id(const struct request_ctx *rc);
bool request_ctx_cancelled(const struct request_ctx *rc);

/* Registers the cancel callback (replacing a previous one); see above. */
void request_ctx_set_cancel(struct request_ctx *rc, void (*cancel)(struct request_ctx *rc, void *ud),
			    void *ud);

/*
 * Extra fields for the audit line (copied; NULL leaves a field unset). sub: the subject's
 * `sub` claim; token_hash: a short hex SHA-256 prefix of the subject token (never the token);
 * upstream_request_id: Skyflow's X-Request-ID.
 */
void request_ctx_set_audit(struct request_ctx *rc, const char *table, const char *sub,
			   const char *token_hash, const char *upstream_request_id);

/* The outcome fields of the audit line: how many records the result holds (-1: not a record
 * operation) and the HTTP status of the operation's upstream call (0: none). */
void request_ctx_set_audit_result(struct request_ctx *rc, int64_t records, long upstream_status);

/* The largest reply frame rc's connection accepts (what a streamed result must fit in). */
size_t request_ctx_max_reply(const struct request_ctx *rc);

/* ---- observing ---- */

/* What a finished request reports to the observer: its tenant's name (borrowed for the call;
 * "@admin" on the admin socket), its operation (SB_OP_INVALID when undecodable), its outcome
 * and its latency (the audit line's). */
struct request_outcome {
	const char *tenant;
	enum sb_op op;
	bool ok;
	enum sb_errcode code; /* when !ok */
	uint64_t latency_usec;
};

/* Registers the one observer of finished requests (metrics/; NULL removes it). It runs
 * synchronously as each request is finished and must not block or finish other requests. */
typedef void (*request_observer_t)(const struct request_outcome *o);
void request_set_observer(request_observer_t fn);

/* ---- finishing ---- */

/*
 * Finishes rc with a result. rep->op must be rc's op; rep->id and rep->ok are set here; rep
 * and what it points to are borrowed for the call (encode copies). A reply larger than
 * max_reply_frame is replaced by a too_large error. Frees rc. Returns 0 or -errno (rc is
 * freed regardless).
 */
int request_ctx_reply_ok(struct request_ctx *rc, struct sb_reply *rep);

/* Finishes rc with an error from a negative errno (mapped by sb_errcode_from_errno, -ECANCELED
 * maps to shutting_down) and an optional message (NULL: a generic one). Frees rc. */
int request_ctx_reply_error(struct request_ctx *rc, int r, const char *message);

/*
 * Finishes rc with a result already encoded as one msgpack map (n bytes, borrowed; e.g.
 * streamed from an upstream document by the vault operations; it must respect PROTOCOL.md's
 * limits). A frame over max_reply_frame becomes a too_large error. Frees rc.
 */
int request_ctx_reply_ok_raw(struct request_ctx *rc, const uint8_t *result, size_t n);

/* Finishes rc with the error err carries (util/error.h: errno, message, upstream status and
 * request id). Frees rc. */
struct error_detail;
int request_ctx_reply_error_detail(struct request_ctx *rc, const struct error_detail *err);

/* Finishes rc with a full error (upstream status, request id). e is borrowed. Frees rc. */
int request_ctx_reply_error_full(struct request_ctx *rc, const struct sb_error *e);
