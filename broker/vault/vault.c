/* SPDX-License-Identifier: MIT */
/* vault: the vault operations, from a request through the token service to Skyflow and back. */
#include "vault/vault.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/limits.h"
#include "runtime/dispatch.h"
#include "runtime/request.h"
#include "tenancy/config.h"
#include "tenancy/tenant.h"
#include "tokens/exchange.h"
#include "tokens/tokensvc.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/jsonbound.h"
#include "vault/http.h"
#include "vault/policy.h"
#include "vault/result.h"

/* Room the reply frame needs around the result: {"id": u64, "ok": true, "result": ...}. */
#define ENVELOPE_OVERHEAD 32u
/* A JSON answer is larger than its msgpack: accept up to twice the reply cap, at least 1 MiB
 * (the upstream default), at most 32 MiB. */
#define ANSWER_MIN (1024u * 1024u)
#define ANSWER_MAX (32u * 1024u * 1024u)
/* Values in one answer, counted before it is parsed: a small text of tiny values ("[{},{},
 * ...]") would otherwise cost jansson ~60 bytes each. 1,000 detokenized tokens are ~8,000. */
#define ANSWER_MAX_VALUES (128u * 1024u)

static struct upstream *vault_upstream; /* the daemon's; borrowed between init and done */

/* One vault request on its way. */
struct vcall {
	struct request_ctx *rc;
	struct tenant *t; /* borrowed: rc holds a reference */
	struct vault_plan plan;
	struct vault_http http;
	struct tokensvc_acq *acq;     /* while a token is being acquired */
	struct upstream_request *up;  /* while the call is running */
	struct skyflow_token *tok;    /* a reference while the call runs */
	bool cached;                  /* tok came from the cache (not a fresh exchange) */
	bool retried;                 /* the one retry after a 401 was made */
};

static void vcall_free(struct vcall *vc)
{
	if (!vc)
		return;
	tokensvc_acquire_cancel(vc->acq);
	upstream_request_cancel(vc->up);
	skyflow_token_unref(vc->tok);
	vault_http_done(&vc->http);
	free(vc);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct vcall *, vcall_free)

/* The subject token of a vault request. */
static const char *subject_of(const struct sb_request *req)
{
	switch (req->op) {
	case SB_OP_GET_RECORDS:
		return req->u.get_records.subject_token;
	case SB_OP_GET_RECORD:
		return req->u.get_record.subject_token;
	case SB_OP_INSERT_RECORDS:
		return req->u.insert_records.subject_token;
	case SB_OP_UPDATE_RECORD:
		return req->u.update_record.subject_token;
	case SB_OP_DELETE_RECORDS:
		return req->u.delete_records.subject_token;
	case SB_OP_DETOKENIZE:
		return req->u.detokenize.subject_token;
	case SB_OP_TOKENIZE:
		return req->u.tokenize.subject_token;
	case SB_OP_QUERY:
		return req->u.query.subject_token;
	default:
		return NULL;
	}
}

/* Finishes the request with err and frees vc. */
static void vcall_fail(struct vcall *vc, const struct error_detail *err)
{
	struct request_ctx *rc = vc->rc;

	request_ctx_set_cancel(rc, NULL, NULL);
	vcall_free(vc);
	(void)request_ctx_reply_error_detail(rc, err);
}

/* Maps a Skyflow Data API status to the errno of its wire code (PROTOCOL.md section 9). */
static int errno_of_status(long status)
{
	if (status == 404)
		return -ENOENT;
	if (status == 429)
		return -EUSERS;
	if (status >= 400 && status < 500)
		return -EPERM; /* 401, 403 and every other refusal of the request */
	return -EIO;     /* 5xx, and what a Data API never answers (1xx, 3xx) */
}

/* The error of a non-2xx answer: Skyflow's own message (sanitised, never logged), its status
 * and X-Request-ID. */
static void fail_status(struct vcall *vc, const struct upstream_response *resp)
{
	struct error_detail err = {0};
	char msg[200];

	exchange_error_message(resp->body, resp->body_len, msg, sizeof(msg));
	(void)error_detail_set(&err, errno_of_status(resp->status), "Skyflow answered HTTP %ld%s%s",
			       resp->status, msg[0] ? ": " : "", msg);
	error_detail_set_upstream(&err, resp->status, resp->request_id);
	vcall_fail(vc, &err);
}

static void fail_transport(struct vcall *vc, const struct upstream_response *resp)
{
	struct error_detail err = {0};

	if (resp->r == -EMSGSIZE)
		(void)error_detail_set(&err, -EMSGSIZE, "Skyflow's answer is larger than this "
				       "broker accepts for a reply of max_reply_frame (%zu bytes); "
				       "ask for fewer records or fields",
				       request_ctx_max_reply(vc->rc));
	else if (resp->r == -ETIMEDOUT)
		(void)error_detail_set(&err, -ETIMEDOUT, "Skyflow did not answer in time");
	else
		(void)error_detail_set(&err, -EIO, "cannot reach the Skyflow vault (%s)",
				       resp->error && resp->error[0] ? "transport error" : "no answer");
	vcall_fail(vc, &err);
}

/* A 2xx answer: its JSON packed into the reply. */
static void finish_answer(struct vcall *vc, const struct upstream_response *resp)
{
	size_t cap = request_ctx_max_reply(vc->rc);
	struct jsonbound_limits lim = {.max_size = resp->body_len + 1, .max_depth = SB_MAX_DEPTH,
				       .max_values = ANSWER_MAX_VALUES};
	_cleanup_(json_decrefp) json_t *answer = NULL;
	struct sb_buf out;
	struct error_detail err = {0};
	const char *why = NULL;
	int64_t records = 0;
	struct request_ctx *rc = vc->rc;
	int r;

	r = upstream_response_json(resp, &lim, &answer);
	if (r == -EMSGSIZE) {
		(void)error_detail_set(&err, r, "Skyflow's answer holds more values than this broker "
				       "takes at once; ask for fewer records or fields");
		vcall_fail(vc, &err);
		return;
	}
	if (r < 0) {
		error_detail_set_upstream(&err, resp->status, resp->request_id);
		(void)error_detail_set(&err, -EIO, "Skyflow answered HTTP %ld with a body that is "
				       "not JSON", resp->status);
		vcall_fail(vc, &err);
		return;
	}
	sb_buf_init(&out, cap > ENVELOPE_OVERHEAD ? cap - ENVELOPE_OVERHEAD : 0);
	r = vault_result_pack(request_ctx_op(rc), answer, &vc->plan, &out, &records, &why);
	if (r < 0) {
		sb_buf_free(&out);
		if (r == -EMSGSIZE)
			(void)error_detail_set(&err, r, "the result is larger than max_reply_frame "
					       "(%zu bytes) or a protocol limit; ask for fewer records "
					       "or fields", cap);
		else {
			error_detail_set_upstream(&err, resp->status, resp->request_id);
			(void)error_detail_set(&err, r == -ENOMEM ? r : -EIO, "Skyflow's answer "
					       "cannot be used: %s", why ? why : "unexpected content");
		}
		vcall_fail(vc, &err);
		return;
	}
	request_ctx_set_audit_result(rc, records, resp->status);
	request_ctx_set_cancel(rc, NULL, NULL);
	vcall_free(vc);
	(void)request_ctx_reply_ok_raw(rc, sb_buf_ptr(&out), sb_buf_len(&out));
	sb_buf_free(&out); /* wipes the record values */
}

static void acquire(struct vcall *vc);

static void on_answer(struct upstream_request *req, const struct upstream_response *resp,
		      void *userdata)
{
	struct vcall *vc = userdata;
	const char *subject;

	vc->up = NULL;
	request_ctx_set_audit(vc->rc, NULL, NULL, NULL, resp->request_id);
	request_ctx_set_audit_result(vc->rc, -1, resp->status);
	if (resp->r < 0) {
		fail_transport(vc, resp);
		return;
	}
	if (resp->status == 401 && vc->cached && !vc->retried) {
		/* A cached token, refused before its expiry (revoked, rotated): exchange again,
		 * once. A token just exchanged is not retried: a second exchange would be too. */
		vc->retried = true;
		subject = subject_of(request_ctx_request(vc->rc));
		(void)tokensvc_drop_token(vc->t, subject, strlen(subject), vc->tok);
		vc->tok = skyflow_token_unref(vc->tok);
		acquire(vc);
		return;
	}
	if (resp->status < 200 || resp->status > 299) {
		fail_status(vc, resp);
		return;
	}
	finish_answer(vc, resp);
}

/* The token is there: the call goes out with it. */
static void call_upstream(struct vcall *vc)
{
	const struct tenant_config *tc = tenant_config(vc->t);
	struct upstream_opts opts = tokensvc_http_opts(tc);
	size_t cap = 2 * request_ctx_max_reply(vc->rc);
	struct error_detail err = {0};
	char tag[128];
	int r;

	(void)snprintf(tag, sizeof(tag), "tenant=%s op=%s", tc->name,
		       sb_op_name(request_ctx_op(vc->rc)));
	opts.log_tag = tag;
	opts.tenant = tc->name;
	opts.kind = "vault";
	opts.bearer = vc->tok->access_token;
	opts.max_response = cap < ANSWER_MIN ? ANSWER_MIN : cap > ANSWER_MAX ? ANSWER_MAX : cap;
	r = upstream_request_start(vault_upstream, &opts, vc->http.method, vc->http.url,
				   vc->http.body, vc->http.body_len, vc->http.idempotent, on_answer,
				   vc, &vc->up);
	if (r < 0) {
		(void)error_detail_set(&err, r == -ENOMEM ? r : -EIO,
				       "cannot start the vault request (%s)", strerror(-r));
		vcall_fail(vc, &err);
	}
}

static void on_token(struct tokensvc_acq *a, int r, struct skyflow_token *tok,
		     struct identity_claims *claims, const struct error_detail *err,
		     void *userdata)
{
	struct vcall *vc = userdata;
	char fp[HASH_FINGERPRINT_LEN + 1];

	vc->acq = NULL;
	request_ctx_set_audit(vc->rc, NULL, claims ? claims->sub : NULL,
			      tokensvc_acq_fingerprint(a, fp), NULL);
	if (r < 0) {
		vcall_fail(vc, err);
		return;
	}
	vc->tok = skyflow_token_ref(tok);
	vc->cached = tokensvc_acq_cache_hit(a);
	call_upstream(vc);
}

/* Gets a Skyflow token for the request's subject (now, from the cache, or later). */
static void acquire(struct vcall *vc)
{
	const char *subject = subject_of(request_ctx_request(vc->rc));
	struct error_detail err = {0};
	int r;

	r = tokensvc_acquire(vc->t, subject, strlen(subject), on_token, vc, &vc->acq);
	if (r < 0) {
		(void)error_detail_set(&err, r == -ENOTCONN ? -EIO : r,
				       "the tenant's token service is not available");
		vcall_fail(vc, &err);
	}
}

/* The connection closed or the daemon is stopping: drop whatever runs. */
static void vcall_cancel(struct request_ctx *rc, void *userdata)
{
	vcall_free(userdata);
	(void)request_ctx_reply_error(rc, -ECANCELED, NULL);
}

/* Every vault operation: policy, call, token, upstream, answer. */
static int op_vault(struct request_ctx *rc)
{
	const struct sb_request *req = request_ctx_request(rc);
	_cleanup_(vcall_freep) struct vcall *vc = NULL;
	struct error_detail err = {0};
	const struct tenant_config *tc;
	int r;

	if (!request_ctx_tenant(rc))
		return -EACCES;
	tc = tenant_config(request_ctx_tenant(rc));
	vc = calloc(1, sizeof(*vc));
	if (!vc)
		return -ENOMEM;
	vc->rc = rc;
	vc->t = request_ctx_tenant(rc);
	r = vault_policy_apply(tc, req, &vc->plan, &err);
	if (r >= 0)
		r = vault_http_build(tc, req, &vc->plan, &vc->http, &err);
	request_ctx_set_audit(rc, vc->plan.table, NULL, NULL, NULL);
	if (r < 0) {
		if (!err.r)
			return r;
		vcall_fail(TAKE_PTR(vc), &err);
		return 0;
	}
	request_ctx_set_cancel(rc, vcall_cancel, vc);
	acquire(TAKE_PTR(vc)); /* on_token, on_answer or vcall_cancel frees it */
	return 0;
}

static const enum sb_op vault_ops[] = {
	SB_OP_GET_RECORDS, SB_OP_GET_RECORD, SB_OP_INSERT_RECORDS, SB_OP_UPDATE_RECORD,
	SB_OP_DELETE_RECORDS, SB_OP_DETOKENIZE, SB_OP_TOKENIZE, SB_OP_QUERY,
};

int vault_module_init(sd_event *event, struct upstream *upstream)
{
	(void)event;
	vault_upstream = upstream;
	for (size_t i = 0; i < sizeof(vault_ops) / sizeof(vault_ops[0]); i++)
		dispatch_register(vault_ops[i], op_vault);
	return 0;
}

void vault_module_done(void)
{
	for (size_t i = 0; i < sizeof(vault_ops) / sizeof(vault_ops[0]); i++)
		dispatch_register(vault_ops[i], NULL);
	vault_upstream = NULL;
}
