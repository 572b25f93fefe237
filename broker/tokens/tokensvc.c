/* SPDX-License-Identifier: MIT */
/* tokensvc: per-tenant token service (JWKS, identity, credentials, cache) and the exchange op. */
#include "tokens/tokensvc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/limits.h"
#include "runtime/dispatch.h"
#include "runtime/stats.h"
#include "tenancy/config.h"
#include "tenancy/tenant.h"
#include "tokens/credentials.h"
#include "tokens/credwatch.h"
#include "tokens/exchange.h"
#include "tokens/jwks.h"
#include "tokens/libcleanup.h"
#include "upstream/upstream.h"
#include "util/clock.h"
#include "util/hash.h"
#include "util/jsonalloc.h"
#include "util/log.h"

#define SWEEP_INTERVAL_USEC (60u * 1000000u)
#define SECURE_HEAP_SIZE (1024u * 1024u)


struct tsvc_tenant {
	struct tenant *t; /* borrowed: we live inside it */
	char name[CONFIG_TENANT_NAME_MAX + 1];
	struct identity *id;
	struct jwks_source *jwks;
	struct credentials *creds;
	struct credwatch *credwatch; /* the credentials file, for rotation without a reload */
	struct tokencache *cache;
	struct exchange_config xcfg; /* strings borrowed from the tenant's config */
	sd_event_source *sweep;
	char *jwks_url;
	bool expose_tokens;
	char ctx_missing[256]; /* ctx mode: why a token without any context claim is refused */
	uint64_t exchanges, rejected, rejected_by[_TOKENSVC_REJECT_MAX];
	struct tokencache_counters reported; /* last values added to the process stats */
	uint64_t reported_exchanges;
};

struct tokensvc_acq {
	struct tsvc_tenant *ts;
	char *token;
	size_t len;
	uint8_t hash[HASH_SHA256_LEN];
	struct identity_claims *claims;
	struct jwks_wait *jwks_wait;
	struct tokencache_waiter *waiter;
	bool kid_refetched;
	bool cache_hit; /* answered from the token cache: no upstream request of its own */
	tokensvc_done_t done;
	void *userdata;
	struct tokensvc_acq **ret_slot;
};

/* The leader's exchange of one flight. */
struct tsvc_flight {
	struct tsvc_tenant *ts;
	struct tokencache_flight *f;
	struct exchange_request *x;
};

static struct upstream *svc_upstream; /* the daemon's; borrowed between init and done */

static int svc_slot = -1;

/* Adds what changed in this tenant's cache since the last call to the process-wide stats. */
static void stats_sync(struct tsvc_tenant *ts)
{
	struct stats_cache *sc = stats_cache();
	struct tokencache_counters c;

	tokencache_get_counters(ts->cache, &c);
	sc->hits += c.hits - ts->reported.hits;
	sc->misses += c.misses - ts->reported.misses;
	sc->coalesced += c.joins - ts->reported.joins;
	sc->evictions += c.evicted - ts->reported.evicted;
	sc->entries += (uint64_t)c.entries - (uint64_t)ts->reported.entries;
	sc->upstream_exchanges += ts->exchanges - ts->reported_exchanges;
	ts->reported = c;
	ts->reported_exchanges = ts->exchanges;
}

/* ---- acquisition ---- */

/* Wipes the copy of the subject token and frees. NULL is fine. Returns NULL. */
static struct tokensvc_acq *acq_free(struct tokensvc_acq *a)
{
	if (!a)
		return NULL;
	if (a->token) {
		explicit_bzero(a->token, a->len);
		free(a->token);
	}
	identity_claims_unref(a->claims);
	free(a);
	return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct tokensvc_acq *, acq_free)

/* Answers a's caller once (tok borrowed for the call; err defaults to strerror(-r)), then
 * frees a. */
static void acq_finish(struct tokensvc_acq *a, int r, struct skyflow_token *tok,
		       const struct error_detail *err)
{
	struct error_detail generic = { 0 };

	if (r < 0 && !err) {
		(void)error_detail_set(&generic, r, "%s", strerror(-r));
		err = &generic;
	}
	if (a->ret_slot)
		*a->ret_slot = NULL;
	a->done(a, r, r == 0 ? tok : NULL, a->claims, r == 0 ? NULL : err, a->userdata);
	acq_free(a);
}

/* acq_finish with an error of our own: r and message. */
static void acq_fail(struct tokensvc_acq *a, int r, const char *message)
{
	struct error_detail err = { 0 };

	(void)error_detail_set(&err, r, "%s", message);
	acq_finish(a, r, NULL, &err);
}

void tokensvc_acquire_cancel(struct tokensvc_acq *a)
{
	if (!a)
		return;
	jwks_wait_cancel(a->jwks_wait);
	tokencache_waiter_cancel(a->waiter);
	if (a->ret_slot)
		*a->ret_slot = NULL;
	acq_free(a);
}

/* The leader's exchange finished: completes its flight, which answers every waiter. */
static void on_exchange_done(struct exchange_request *x, int r, struct skyflow_token *tok,
			     const struct error_detail *err, void *userdata)
{
	struct tsvc_flight *fl = userdata;
	struct tsvc_tenant *ts = fl->ts;
	struct tenant *t = ts->t;
	struct tokencache_flight *f = fl->f;

	free(fl);
	/* Every waiter of the flight, the leader included, is answered from here. A reply may
	 * close its connection and drop the last reference to a tenant a reload replaced: the
	 * tenant (and ts, its cache) stays alive until we are done with it. */
	tenant_ref(t);
	tokencache_complete(ts->cache, f, r, tok, err, clock_wall_sec());
	stats_sync(ts);
	tenant_unref(t); /* may free ts */
}

/* The cache is freed with the flight running (tenant gone): the exchange stops. */
static void on_flight_abort(struct tokencache_flight *f, void *userdata)
{
	struct tsvc_flight *fl = userdata;

	exchange_cancel(fl->x);
	free(fl);
}

/* The flight a waited for completed. */
static void on_cache_done(struct tokencache_waiter *w, int r, struct skyflow_token *tok,
			  const struct error_detail *err, void *userdata)
{
	struct tokensvc_acq *a = userdata;

	a->waiter = NULL;
	acq_finish(a, r, tok, err);
}

/* Leads flight f: starts the exchange for a, whose waiter the flight answers. When it cannot
 * start, the flight completes at once with the error. */
static void acq_lead(struct tokensvc_acq *a, struct tokencache_flight *f, int64_t now)
{
	struct tsvc_tenant *ts = a->ts;
	_cleanup_free_ struct tsvc_flight *fl = calloc(1, sizeof(*fl));
	struct error_detail err = { 0 };
	int r = -ENOMEM;

	if (fl) {
		fl->ts = ts;
		fl->f = f;
		r = exchange_start(svc_upstream, &ts->xcfg, a->token, a->len, a->claims, now,
				   on_exchange_done, fl, &fl->x);
		if (r >= 0) {
			ts->exchanges++;
			/* The exchange's completion or the flight's abort frees fl. */
			tokencache_flight_set_abort(f, on_flight_abort, TAKE_PTR(fl));
			return;
		}
	}
	(void)error_detail_set(&err, r == -ENOMEM ? -ENOMEM : -EIO, "exchange cannot start: %s",
			       strerror(-r));
	log_error("tenant=%s: %s", ts->name, err.message);
	tokencache_complete(ts->cache, f, err.r, NULL, &err, now);
}

/* Last step: the token from the cache, a running flight, or a new exchange. */
static void acq_token(struct tokensvc_acq *a)
{
	struct tsvc_tenant *ts = a->ts;
	struct tokencache_flight *f = NULL;
	struct error_detail neg;
	struct skyflow_token *tok = NULL;
	int64_t now = clock_wall_sec();
	int r;

	r = tokencache_acquire(ts->cache, a->hash, now, on_cache_done, a, &tok, &a->waiter, &f,
			       &neg);
	stats_sync(ts);
	if (r == TOKENCACHE_HIT) {
		a->cache_hit = true;
		acq_finish(a, 0, tok, NULL);
		skyflow_token_unref(tok);
		return;
	}
	if (r == TOKENCACHE_WAIT)
		return;
	if (r == -ENOSPC)
		acq_fail(a, -EUSERS, "too many exchanges in flight");
	else if (r == -ENOMEM)
		acq_fail(a, -ENOMEM, "out of memory");
	else if (r < 0)
		acq_finish(a, r, NULL, &neg);
	else /* TOKENCACHE_LEAD: a's waiter is answered when the flight completes. */
		acq_lead(a, f, now);
}

static void acq_validate(struct tokensvc_acq *a);

static void on_jwks_refetched(struct jwks_wait *w, bool found, void *userdata)
{
	struct tokensvc_acq *a = userdata;
	struct tenant *t = tenant_ref(a->ts->t); /* as in on_exchange_done */

	a->jwks_wait = NULL;
	a->kid_refetched = true;
	acq_validate(a); /* may free a */
	tenant_unref(t); /* may free the tenant; the JWKS source defers its own free */
}

static void count_reject(struct tsvc_tenant *ts, enum tokensvc_reject why)
{
	ts->rejected++;
	ts->rejected_by[why]++;
}

/* The negative cache, then validation (one JWKS refetch for an unknown kid), then acq_token.
 * a is answered (and freed) here or later. */
static void acq_validate(struct tokensvc_acq *a)
{
	struct tsvc_tenant *ts = a->ts;
	struct error_detail ierr, neg;
	char kid[JWKS_MAX_KID + 1];
	int64_t now = clock_wall_sec();
	int r;

	r = tokencache_rejected(ts->cache, a->hash, now, &neg);
	if (r < 0) {
		count_reject(ts, TOKENSVC_REJECT_NEGATIVE_CACHE);
		acq_finish(a, r, NULL, &neg);
		return;
	}
	r = identity_validate_hashed(ts->id, jwks_source_keys(ts->jwks), a->token, a->len, a->hash,
				     now, &a->claims, &ierr, kid);
	if (r == -ENOKEY) {
		if (!a->kid_refetched) {
			r = jwks_source_refetch_for_kid(ts->jwks, kid, on_jwks_refetched, a,
							&a->jwks_wait);
			if (r == 1)
				return;
		}
		count_reject(ts, TOKENSVC_REJECT_UNKNOWN_KID);
		/* Not remembered as a rejection: the next refetch may bring the key. */
		acq_fail(a, -EKEYREJECTED, a->kid_refetched ?
			 "token kid is not in the key set, even after a refetch" :
			 "token kid is not in the key set (refetch rate-limited)");
		return;
	}
	if (r == -EAGAIN) {
		acq_fail(a, -EIO, "the tenant's Descope keys (JWKS) are not loaded yet");
		return;
	}
	if (r < 0) {
		count_reject(ts, r == -EKEYEXPIRED ? TOKENSVC_REJECT_EXPIRED : TOKENSVC_REJECT_INVALID);
		ierr.r = r; /* also when identity left err alone (ENOMEM) */
		if (r == -EKEYREJECTED || r == -EKEYEXPIRED)
			tokencache_reject(ts->cache, a->hash, &ierr, now);
		acq_finish(a, r, NULL, &ierr);
		return;
	}
	/* ctx mode: a token without any of the configured context claims would be exchanged for
	 * a token whose Skyflow role conditions see no user attribute at all. Refused here,
	 * before the cache and without any upstream call (exchange_start refuses it too). */
	if (ts->xcfg.mode == EXCHANGE_CTX && json_object_size(a->claims->context) == 0) {
		count_reject(ts, TOKENSVC_REJECT_NO_CONTEXT);
		acq_fail(a, -EACCES, ts->ctx_missing);
		return;
	}
	acq_token(a);
}

int tokensvc_acquire(struct tenant *t, const char *subject_token, size_t len,
		     tokensvc_done_t done, void *userdata, struct tokensvc_acq **ret)
{
	_cleanup_(acq_freep) struct tokensvc_acq *a = NULL;
	struct tokensvc_acq *pending;
	struct tsvc_tenant *ts;

	if (ret)
		*ret = NULL;
	if (!t || !done || svc_slot < 0)
		return -EINVAL;
	ts = tenant_ext_get(t, (unsigned)svc_slot);
	if (!ts)
		return -ENOTCONN;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->ts = ts;
	a->done = done;
	a->userdata = userdata;
	a->len = subject_token ? len : 0;
	/* Copy at most one byte past the cap: validation refuses the size without reading more. */
	if (a->len > SB_MAX_TOKEN_LEN + 1)
		a->len = SB_MAX_TOKEN_LEN + 1;
	a->token = malloc(a->len + 1);
	if (!a->token)
		return -ENOMEM;
	if (a->len)
		memcpy(a->token, subject_token, a->len);
	a->token[a->len] = '\0';
	identity_token_hash(a->token, a->len, a->hash);
	a->ret_slot = ret;
	pending = TAKE_PTR(a); /* from here its callback owns it */
	if (ret)
		*ret = pending;
	acq_validate(pending); /* may finish (and free) it */
	return 0;
}

const char *tokensvc_acq_fingerprint(const struct tokensvc_acq *a,
				     char out[static HASH_FINGERPRINT_LEN + 1])
{
	return hash_fingerprint_of_digest(a->hash, out);
}

bool tokensvc_acq_cache_hit(const struct tokensvc_acq *a)
{
	return a->cache_hit;
}

/* ---- the exchange operation ---- */

struct xop {
	struct request_ctx *rc;
	struct tokensvc_acq *acq;
};

/* The `exchange` operation's reply: the token (without its text unless the tenant exposes
 * tokens) and the context it carries, or the error; the audit names sub and fingerprint. */
static void xop_done(struct tokensvc_acq *a, int r, struct skyflow_token *tok,
		     struct identity_claims *claims, const struct error_detail *err,
		     void *userdata)
{
	struct xop *xo = userdata;
	struct request_ctx *rc = xo->rc;
	struct tsvc_tenant *ts = a->ts;
	char hp[HASH_FINGERPRINT_LEN + 1];

	free(xo);
	hash_fingerprint_of_digest(a->hash, hp);
	request_ctx_set_cancel(rc, NULL, NULL);
	/* A cached token's upstream request belongs to the request that fetched it. */
	request_ctx_set_audit(rc, NULL, claims ? claims->sub : NULL, hp,
			      r == 0 ? (a->cache_hit || !tok->request_id[0] ? NULL : tok->request_id)
				     : (err->request_id[0] ? err->request_id : NULL));
	if (r < 0) {
		(void)request_ctx_reply_error_detail(rc, err);
		return;
	}
	r = tokensvc_result_encode(tok, ts->expose_tokens);
	if (r < 0)
		(void)request_ctx_reply_error(rc, r, NULL);
	else
		(void)request_ctx_reply_ok_raw(rc, tok->result, tok->result_len);
}

/* The request went away (its connection closed): the acquisition is dropped. */
static void xop_cancel(struct request_ctx *rc, void *userdata)
{
	struct xop *xo = userdata;

	tokensvc_acquire_cancel(xo->acq);
	free(xo);
	(void)request_ctx_reply_error(rc, -ECANCELED, NULL);
}

/* The `exchange` operation: a Skyflow token for the request's subject token. */
static int op_exchange(struct request_ctx *rc)
{
	const struct sb_request *req = request_ctx_request(rc);
	const char *token = req->u.exchange.subject_token;
	_cleanup_free_ struct xop *xo = NULL;
	int r;

	xo = calloc(1, sizeof(*xo));
	if (!xo)
		return -ENOMEM;
	xo->rc = rc;
	request_ctx_set_cancel(rc, xop_cancel, xo);
	r = tokensvc_acquire(request_ctx_tenant(rc), token, token ? strlen(token) : 0, xop_done, xo,
			     &xo->acq);
	if (r < 0) {
		request_ctx_set_cancel(rc, NULL, NULL);
		return r == -ENOTCONN ? -EIO : r;
	}
	TAKE_PTR(xo); /* xop_done or xop_cancel frees it (xop_done may have already) */
	return 0;
}

/* ---- per-tenant state ---- */

static void on_jwks_changed(struct jwks_source *src, bool ready, void *userdata)
{
	struct tsvc_tenant *ts = userdata;

	if (ready)
		tenant_set_ready(ts->t, "jwks");
	else
		(void)tenant_set_not_ready(ts->t, "jwks", jwks_source_status(src));
}

static int on_sweep(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct tsvc_tenant *ts = userdata;

	tokencache_sweep(ts->cache, clock_wall_sec());
	stats_sync(ts);
	(void)sd_event_source_set_time_relative(s, SWEEP_INTERVAL_USEC);
	(void)sd_event_source_set_enabled(s, SD_EVENT_ON);
	return 0;
}

static struct tsvc_tenant *tsvc_tenant_free(struct tsvc_tenant *ts)
{
	if (!ts)
		return NULL;
	sd_event_source_disable_unref(ts->sweep);
	if (ts->cache) {
		/* This tenant's entries leave the process-wide count with it. */
		stats_cache()->entries -= ts->reported.entries;
		ts->reported.entries = 0;
	}
	/* Flights are aborted here; no request is in flight (each holds a tenant reference). */
	tokencache_free(ts->cache);
	jwks_source_free(ts->jwks);
	identity_free(ts->id);
	credwatch_free(ts->credwatch);
	credentials_free(ts->creds);
	free(ts->jwks_url);
	free(ts);
	return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct tsvc_tenant *, tsvc_tenant_free)

static bool str_same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* Whether tokens exchanged under a would be exchanged the same way under b. */
static bool same_exchange(const struct tenant_config *a, const struct tenant_config *b)
{
	if (a->exchange != b->exchange || !str_same(a->sts_url, b->sts_url) ||
	    !str_same(a->service_account_id, b->service_account_id) ||
	    !str_same(a->credentials_file, b->credentials_file) ||
	    a->context_claims.n != b->context_claims.n)
		return false;
	for (size_t i = 0; i < a->context_claims.n; i++)
		if (!str_same(a->context_claims.v[i], b->context_claims.v[i]))
			return false;
	return true;
}

struct upstream_opts tokensvc_http_opts(const struct tenant_config *tc)
{
	/* insecure_http is warned about by the config loader at start. */
	return (struct upstream_opts){
		.ca_file = tc->ca_file,
		.insecure_http = tc->insecure_http,
		.connect_timeout_ms = (uint32_t)(tc->connect_timeout_usec / 1000u),
		.total_timeout_ms = (uint32_t)(tc->http_timeout_usec / 1000u),
	};
}

/* Identity: the validator of the tenant's subject tokens. */
static int tsvc_identity_new(struct tsvc_tenant *ts, const struct tenant_config *tc)
{
	struct identity_config icfg = {
		.project_id = tc->descope_project_id,
		.base_url = tc->descope_base_url,
		.issuer = tc->issuer,
		.audiences = (const char *const *)tc->audience.v,
		.n_audiences = tc->audience.n,
		.context_claims = (const char *const *)tc->context_claims.v,
		.n_context_claims = tc->context_claims.n,
		.max_token_len = tc->token_max_len,
	};
	int r;

	r = identity_new(&icfg, &ts->id);
	if (r < 0)
		return log_errno(LOG_ERR, r, "tenant=%s: invalid identity settings", ts->name);
	return 0;
}

/* JWKS: the source of the tenant's Descope keys (not started yet). */
static int tsvc_jwks_new(struct tsvc_tenant *ts, const struct tenant_config *tc, sd_event *event,
			 const struct upstream_opts *http)
{
	const char *base = tc->descope_base_url ? tc->descope_base_url : IDENTITY_DEFAULT_BASE_URL;
	struct jwks_source_config jcfg = { 0 };
	int r;

	if (tc->jwks_url)
		ts->jwks_url = strdup(tc->jwks_url);
	else if (asprintf(&ts->jwks_url, "%s/%s/.well-known/jwks.json", base,
			  tc->descope_project_id) < 0)
		ts->jwks_url = NULL;
	if (!ts->jwks_url)
		return log_errno(LOG_ERR, -ENOMEM, "tenant=%s: out of memory", ts->name);
	jcfg.url = ts->jwks_url;
	jcfg.name = ts->name;
	jcfg.refresh_sec = (uint32_t)(tc->jwks_refresh_usec / 1000000u);
	jcfg.http = *http;
	r = jwks_source_new(event, svc_upstream, &jcfg, on_jwks_changed, ts, &ts->jwks);
	if (r < 0)
		return log_errno(LOG_ERR, r, "tenant=%s: cannot set up the JWKS source", ts->name);
	return 0;
}

/* Credentials: needed to sign in ctx mode, optional for sts. At start, missing or bad
 * credentials make the tenant not ready ("credentials"); the tenant is still built. On a
 * reload (a previous generation exists) they fail the tenant, and with it the whole reload:
 * the previous configuration and its key stay in force. 0 or -errno (logged). */
static int tsvc_credentials_load(struct tsvc_tenant *ts, const struct tenant_config *tc)
{
	struct error_detail why = {0};
	int r;

	if (tc->credentials_file) {
		r = credentials_load(tc->credentials_file, NULL, &ts->creds, &why);
		if (r < 0) {
			log_error("tenant=%s: %s", ts->name, why.message);
			if (tenant_previous(ts->t))
				return r;
			(void)tenant_set_broken(ts->t, "credentials", why.message);
		}
	} else if (tc->exchange == CONFIG_EXCHANGE_CTX) {
		(void)tenant_set_broken(ts->t, "credentials",
					"exchange = ctx needs a credentials file");
	}
	return 0;
}

/* credwatch: another key loaded from the credentials file. The exchange reads the key only
 * while it starts a request, so the old one can go at once. Cached Skyflow tokens stay: they
 * are valid until they expire, and one revoked with the old key is dropped on its 401. */
static void on_credentials_rotated(struct credentials *fresh, void *userdata)
{
	struct tsvc_tenant *ts = userdata;

	credentials_free(ts->creds);
	ts->creds = fresh;
	ts->xcfg.creds = fresh;
	tenant_set_ready(ts->t, "credentials");
}

/* Watches the credentials file (every generation of the tenant: an open connection keeps the
 * one it was admitted with). Without the watch, a reload still re-reads the file. */
static void tsvc_credentials_watch(struct tsvc_tenant *ts, const struct tenant_config *tc,
				   sd_event *event)
{
	int r;

	if (!tc->credentials_file)
		return;
	r = credwatch_new(event, ts->name, tc->credentials_file, ts->creds,
			  on_credentials_rotated, ts, &ts->credwatch);
	if (r < 0)
		log_warning("tenant=%s: cannot watch the credentials file (%s); a new key takes "
			    "effect on reload only", ts->name, strerror(-r));
}

/* The exchange settings (strings borrowed from tc, which the tenant keeps). */
static void tsvc_exchange_config(struct tsvc_tenant *ts, const struct tenant_config *tc,
				 const struct upstream_opts *http)
{
	ts->xcfg.mode = tc->exchange == CONFIG_EXCHANGE_CTX ? EXCHANGE_CTX : EXCHANGE_STS;
	exchange_ctx_missing_message(ts->ctx_missing, sizeof(ts->ctx_missing),
				     (const char *const *)tc->context_claims.v, tc->context_claims.n);
	ts->xcfg.sts_url = tc->sts_url;
	ts->xcfg.service_account_id = tc->service_account_id;
	ts->xcfg.creds = ts->creds;
	ts->xcfg.http = *http;
	ts->xcfg.tenant = ts->name;
}

/* On a reload, what the replaced tenant's token service can hand over: its key set for the
 * same URL (stay ready while this source fetches its own), and, when the exchange settings
 * did not change, its Skyflow tokens (no burst of exchanges after SIGHUP; subject tokens are
 * still validated anew). */
static void tsvc_take_over(struct tsvc_tenant *ts, const struct tenant_config *tc)
{
	struct tenant *prev = tenant_previous(ts->t);
	struct tsvc_tenant *pts = prev ? tenant_ext_get(prev, (unsigned)svc_slot) : NULL;

	if (pts && strcmp(pts->jwks_url, ts->jwks_url) == 0 && jwks_source_keys(pts->jwks))
		jwks_source_seed(ts->jwks, jwks_source_keys(pts->jwks));
	else
		(void)tenant_set_not_ready(ts->t, "jwks", "JWKS not loaded yet");
	if (pts && same_exchange(tenant_config(prev), tc)) {
		size_t n = tokencache_adopt(ts->cache, pts->cache, clock_wall_sec());

		if (n)
			log_info("tenant=%s: %zu cached token(s) carried over the reload", ts->name,
				 n);
	}
}

/* Everything of tenant t's token service but the first JWKS fetch, into *ret (owned). */
static int tsvc_tenant_new(struct tenant *t, sd_event *event, struct tsvc_tenant **ret)
{
	const struct tenant_config *tc = tenant_config(t);
	_cleanup_(tsvc_tenant_freep) struct tsvc_tenant *ts = calloc(1, sizeof(*ts));
	struct tokencache_config ccfg = { .max_entries = tc->cache_size };
	struct upstream_opts http = tokensvc_http_opts(tc);
	int r;

	if (!ts)
		return log_errno(LOG_ERR, -ENOMEM, "tenant=%s: out of memory", tenant_name(t));
	ts->t = t;
	(void)snprintf(ts->name, sizeof(ts->name), "%s", tenant_name(t));
	ts->expose_tokens = tc->expose_tokens;
	r = tsvc_identity_new(ts, tc);
	if (r < 0)
		return r;
	r = tsvc_jwks_new(ts, tc, event, &http);
	if (r < 0)
		return r;
	r = tsvc_credentials_load(ts, tc);
	if (r < 0)
		return r;
	r = tokencache_new(&ccfg, &ts->cache);
	if (r < 0)
		return log_errno(LOG_ERR, r, "tenant=%s: cannot create the token cache", ts->name);
	tsvc_exchange_config(ts, tc, &http);
	tsvc_credentials_watch(ts, tc, event);
	r = sd_event_add_time_relative(event, &ts->sweep, CLOCK_MONOTONIC, SWEEP_INTERVAL_USEC,
				       CLOCK_ACCURACY_COARSE_USEC,
				       on_sweep, ts);
	if (r < 0)
		return log_errno(LOG_ERR, r, "tenant=%s: cannot add the cache sweep timer",
				 ts->name);
	tsvc_take_over(ts, tc);
	*ret = TAKE_PTR(ts);
	return 0;
}

/* Tenant hook: builds the tenant's token service and starts its first JWKS fetch. */
static int tsvc_attach(struct tenant *t, sd_event *event, void *userdata)
{
	struct tsvc_tenant *ts;
	int r;

	r = tsvc_tenant_new(t, event, &ts);
	if (r < 0)
		return r;
	tenant_ext_set(t, (unsigned)svc_slot, ts);
	r = jwks_source_start(ts->jwks);
	if (r < 0)
		(void)tenant_set_not_ready(t, "jwks", jwks_source_status(ts->jwks));
	return 0;
}

/* Tenant hook: the tenant goes; its flights are aborted. */
static void tsvc_detach(struct tenant *t, void *userdata)
{
	if (svc_slot < 0)
		return;
	tsvc_tenant_free(tenant_ext_get(t, (unsigned)svc_slot));
	tenant_ext_set(t, (unsigned)svc_slot, NULL);
}

int tokensvc_module_init(sd_event *event, struct upstream *upstream)
{
	static const struct tenant_hooks hooks = {
		.name = "tokensvc",
		.attach = tsvc_attach,
		.detach = tsvc_detach,
	};
	int r;

	if (svc_slot >= 0)
		return 0;
	svc_upstream = upstream;
	/* jansson's copies of credentials and tokens are wiped when it frees them. */
	jsonalloc_init();
	/* Before any credentials are read: their private numbers go to locked memory. */
	(void)credentials_secure_heap_init(SECURE_HEAP_SIZE);
	r = tenant_hooks_register(&hooks);
	if (r < 0)
		return log_errno(LOG_ERR, r, "cannot register the token service");
	svc_slot = r;
	dispatch_register(SB_OP_EXCHANGE, op_exchange);
	return 0;
}

void tokensvc_module_done(void)
{
	dispatch_register(SB_OP_EXCHANGE, NULL);
	tenant_hooks_unregister(svc_slot);
	svc_slot = -1;
	svc_upstream = NULL;
}

bool tokensvc_drop_token(struct tenant *t, const char *subject_token, size_t len,
			 const struct skyflow_token *tok)
{
	struct tsvc_tenant *ts = svc_slot >= 0 ? tenant_ext_get(t, (unsigned)svc_slot) : NULL;
	uint8_t key[HASH_SHA256_LEN];

	if (!ts || !subject_token)
		return false;
	identity_token_hash(subject_token, len, key);
	if (!tokencache_drop(ts->cache, key, tok))
		return false;
	log_printf(LOG_INFO, "tenant %s: a cached Skyflow token was refused upstream; "
		   "dropped, the next request exchanges again", ts->name);
	stats_sync(ts);
	return true;
}

void tokensvc_get_counters(const struct tenant *t, struct tokensvc_counters *ret)
{
	struct tsvc_tenant *ts = svc_slot >= 0 ? tenant_ext_get(t, (unsigned)svc_slot) : NULL;

	memset(ret, 0, sizeof(*ret));
	if (!ts)
		return;
	ret->jwks_fetches = jwks_source_fetches(ts->jwks);
	ret->exchanges = ts->exchanges;
	ret->rejected = ts->rejected;
	memcpy(ret->rejected_by, ts->rejected_by, sizeof(ret->rejected_by));
	if (jwks_source_keys(ts->jwks)) {
		ret->jwks_keys = jwks_source_keys(ts->jwks)->n_keys;
		ret->jwks_loaded_usec = jwks_source_keys(ts->jwks)->loaded_usec;
	}
	tokencache_get_counters(ts->cache, &ret->cache);
}

const char *tokensvc_reject_name(enum tokensvc_reject why)
{
	static const char *const names[_TOKENSVC_REJECT_MAX] = {
		"negative_cache", "unknown_kid", "expired", "invalid", "no_context",
	};

	return (unsigned)why < _TOKENSVC_REJECT_MAX ? names[why] : "unknown";
}
