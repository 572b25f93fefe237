/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "runtime/admission.h"
#include "proto/message.h"
#include "tenancy/tenant.h"

/*
 * Dispatch: turns a decoded request into a call of its operation handler, in the connection's
 * state (before hello only `hello`; after it the tenant's allowed operations; on the admin
 * socket `ping` and `stats`), and routes the reply back.
 *
 * The seam for operation modules (identity, exchange, vault):
 *
 *   static int op_get_records(struct request_ctx *rc) { ... }
 *   dispatch_register(SB_OP_GET_RECORDS, op_get_records);
 *
 * A handler owns rc from the call on. It finishes it exactly once, now or from a later
 * callback (an HTTP completion), with request_ctx_reply_ok() or request_ctx_reply_error(),
 * which send the reply (if the client is still there), write the audit line, update stats
 * and free rc. Or it returns a negative errno without having finished it, and dispatch
 * replies with the matching error code (proto/errors.h). Returning 0 means "finished or
 * will finish".
 *
 * rc stays valid until it is finished, even if the client disconnects: the connection is
 * reference-counted and a reply to a closed connection is dropped. request_ctx_cancelled()
 * says whether anyone is still waiting. A handler that starts asynchronous work should set
 * a cancel callback: it is called once when the connection closes or the daemon's shutdown
 * deadline passes, and must abort the work and finish rc (typically
 * request_ctx_reply_error(rc, -ECANCELED, NULL)) promptly; it may do so synchronously.
 */

struct request_ctx;
struct conn;

typedef int (*dispatch_handler)(struct request_ctx *rc);

/* Registers the handler of op (replacing a previous one). Call before the daemon runs. */
void dispatch_register(enum sb_op op, dispatch_handler h);
bool dispatch_has_handler(enum sb_op op);

/* Entry point from conn: one frame payload (borrowed). */
void dispatch_frame(struct conn *c, const uint8_t *payload, size_t len);

/* ---- request context accessors (all borrowed until rc is finished) ---- */

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

/*
 * Finishes rc with a result. rep->op must be rc's op; rep->id and rep->ok are set here; rep
 * and what it points to are borrowed for the call (encode copies). A reply larger than
 * max_reply_frame is replaced by a too_large error. Frees rc. Returns 0 or -errno (rc is
 * freed regardless).
 */
int request_ctx_reply_ok(struct request_ctx *rc, struct sb_reply *rep);

/* Finishes rc with an error from a negative errno (mapped by sb_errcode_from_errno, -ECANCELED
 * maps to shutting_down when the daemon stops) and an optional message (NULL: a generic one).
 * Frees rc. */
int request_ctx_reply_error(struct request_ctx *rc, int r, const char *message);

/* Finishes rc with a full error (upstream status, request id). e is borrowed. Frees rc. */
int request_ctx_reply_error_full(struct request_ctx *rc, const struct sb_error *e);

/* Internal to conn: run rc's cancel callback once (connection closed, shutdown deadline). */
void request_ctx_cancel(struct request_ctx *rc);
bool request_ctx_cancel_started(const struct request_ctx *rc);
struct request_ctx *request_ctx_next(const struct request_ctx *rc);
