/* SPDX-License-Identifier: MIT */
/* exchange: a validated subject token exchanged upstream (sts or ctx) for a Skyflow token. */
#include "tokens/exchange.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "tokens/libcleanup.h"
#include "util/b64.h"
#include "util/jsonbound.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/logfmt.h"
#include "util/sanitize.h"

struct exchange_request {
	struct upstream_request *http;
	enum exchange_mode mode;
	struct identity_claims *claims;
	int64_t now;
	char tenant[64];
	exchange_done_t done;
	void *userdata;
};

int exchange_errno_from_status(long status)
{
	if (status == 200 || status == 201)
		return 0;
	if (status == 429)
		return -EUSERS;
	if (status == 408)
		return -ETIMEDOUT;
	if (status >= 400 && status <= 499)
		return -EPERM;
	return -EIO;
}

/* Replaces runs of 40 or more token-like characters so no token is ever echoed. */
static void redact_tokens(char *s)
{
	size_t i = 0, n = strlen(s);

	while (i < n) {
		size_t j = i;

		while (j < n && ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z') ||
				 (s[j] >= '0' && s[j] <= '9') || s[j] == '-' || s[j] == '_' ||
				 s[j] == '.' || s[j] == '=' || s[j] == '+' || s[j] == '/'))
			j++;
		if (j - i >= 40) {
			static const char mark[] = "[redacted]";

			memcpy(s + i, mark, sizeof(mark) - 1);
			memmove(s + i + sizeof(mark) - 1, s + j, n - j + 1);
			n = n - (j - i) + sizeof(mark) - 1;
			i += sizeof(mark) - 1;
		} else {
			i = j + 1;
		}
	}
}

/* When s was cut short, its last word may be the start of a token (or of a redaction mark):
 * the text ends at the last space before it. */
static void cut_at_word(char *s, bool cut)
{
	char *sp;

	if (!cut)
		return;
	sp = strrchr(s, ' ');
	if (sp)
		sp[1] = '\0';
	else
		s[0] = '\0';
}

/* The human message of a Skyflow error body in any of its shapes (borrowed from j), or NULL. */
static const char *json_message(json_t *j)
{
	json_t *e, *m;

	if (!json_is_object(j))
		return NULL;
	e = json_object_get(j, "error");
	if (json_is_object(e)) {
		m = json_object_get(e, "message");
		if (json_is_string(m))
			return json_string_value(m);
	}
	m = json_object_get(j, "error_description");
	if (json_is_string(m))
		return json_string_value(m);
	if (json_is_string(e))
		return json_string_value(e);
	m = json_object_get(j, "message");
	if (json_is_string(m))
		return json_string_value(m);
	return NULL;
}

void exchange_error_message(const char *body, size_t len, char *out, size_t out_len)
{
	static const struct jsonbound_limits lim = { .max_size = 64u * 1024u, .max_depth = 8 };
	_cleanup_(json_decrefp) json_t *j = NULL;
	_cleanup_(wiped_buf_done) struct wiped_buf tmp = { 0 };
	const char *m = NULL;
	char *text;
	size_t n;

	if (!out_len)
		return;
	out[0] = '\0';
	if (!body || !len)
		return;
	/* Only a message field of a JSON body (also when served as text/plain) reaches a client;
	 * a body that is not JSON (a proxy's or load balancer's page) is never echoed. */
	if (jsonbound_parse(body, len, &lim, &j, NULL) >= 0)
		m = json_message(j);
	if (!m)
		return;
	/* Redact before bounding, so a token cut at the bound is still recognised. */
	n = strlen(m);
	tmp.p = malloc(n + 1);
	if (!tmp.p)
		return;
	tmp.n = n + 1;
	text = (char *)tmp.p;
	/* ' ', not sanitize_for_log's '?', which would glue words together for redact_tokens
	 * and cut_at_word and change the messages clients see */
	(void)sanitize_bytes_replacing(text, tmp.n, m, n, ' ');
	redact_tokens(text);
	(void)snprintf(out, out_len, "%s", text);
	/* A word cut by the bound is dropped. */
	cut_at_word(out, strlen(text) > strlen(out));
}

int exchange_peek_jwt(const char *jwt, size_t len, int64_t *exp, json_t **ctx)
{
	static const struct jsonbound_limits lim = { .max_size = EXCHANGE_MAX_TOKEN,
						     .max_depth = 8 };
	_cleanup_(wiped_buf_done) struct wiped_buf p = { 0 };
	_cleanup_(json_decrefp) json_t *payload = NULL;
	const char *d1, *d2;
	json_t *v;
	int r;

	if (ctx)
		*ctx = NULL;
	d1 = memchr(jwt, '.', len);
	d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - jwt)) : NULL;
	if (!d1 || !d2)
		return -EBADMSG;
	if (b64url_decode_alloc(d1 + 1, (size_t)(d2 - d1 - 1), &p.p, &p.n) < 0)
		return -EBADMSG;
	r = jsonbound_parse(p.p, p.n, &lim, &payload, NULL);
	if (r < 0 || !json_is_object(payload))
		return -EBADMSG;
	v = json_object_get(payload, "exp");
	if (json_is_integer(v)) {
		*exp = json_integer_value(v);
		r = 0;
	} else {
		r = -ENOENT;
	}
	if (ctx) {
		v = json_object_get(payload, "ctx");
		if (v)
			*ctx = json_deep_copy(v);
	}
	return r;
}

/* Wipes the string value of obj[key] in place (jansson owns it; we own its secrecy). */
static void wipe_member(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (json_is_string(v))
		explicit_bzero((char *)json_string_value(v), json_string_length(v));
}

/* The compact JSON of the assertion's claims (iss = sub = clientID, key, aud, exp, and ctx
 * unless empty, as the SDKs do), or NULL on ENOMEM. Caller frees. */
static char *assertion_payload(const struct credentials *creds, const char *audience,
			       json_t *ctx, int64_t now)
{
	_cleanup_(json_decrefp) json_t *claims = NULL;

	claims = json_pack("{s:s, s:s, s:s, s:s, s:I}", "iss", creds->client_id, "key",
			   creds->key_id, "aud", audience, "sub", creds->client_id, "exp",
			   (json_int_t)(now + EXCHANGE_ASSERTION_TTL));
	if (!claims)
		return NULL;
	if (ctx && !(json_is_object(ctx) && json_object_size(ctx) == 0) &&
	    json_object_set(claims, "ctx", ctx) < 0)
		return NULL;
	return json_dumps(claims, JSON_COMPACT | JSON_SORT_KEYS);
}

/* base64url of n bytes of data in a new NUL-terminated string, or NULL. */
static char *b64url_alloc(const void *data, size_t n)
{
	char *s = malloc(b64url_encoded_len(n) + 1);

	if (s)
		b64url_encode(data, n, s);
	return s;
}

/* "b64(header).b64(payload)" in a buffer with room for ".b64(signature)" of up to 1024 bytes,
 * or NULL on ENOMEM. Caller wipes and frees. */
static char *signing_input(const char *header, const char *payload)
{
	_cleanup_free_ char *h64 = b64url_alloc(header, strlen(header));
	_cleanup_free_ char *p64 = b64url_alloc(payload, strlen(payload));
	size_t hl, pl;
	char *out;

	if (!h64 || !p64)
		return NULL;
	hl = strlen(h64);
	pl = strlen(p64);
	out = malloc(hl + 1 + pl + 1 + b64url_encoded_len(1024) + 1);
	if (!out)
		return NULL;
	memcpy(out, h64, hl);
	out[hl] = '.';
	memcpy(out + hl + 1, p64, pl);
	out[hl + 1 + pl] = '\0';
	return out;
}

/* RS256 (EVP_DigestSign, SHA-256) of in[0..in_len) with key; *ret (OPENSSL_free) gets at most
 * 1024 bytes. Returns 0, -ENOMEM, -EIO (logged with OpenSSL's reason). */
static int rs256_sign(EVP_PKEY *key, const char *in, size_t in_len, unsigned char **ret,
		      size_t *ret_len)
{
	_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
	_cleanup_(openssl_freep) unsigned char *sig = NULL;
	size_t sig_len = 0;

	if (!md)
		return -ENOMEM;
	if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, NULL, &sig_len, (const unsigned char *)in, in_len) != 1 ||
	    sig_len > 1024 || !(sig = OPENSSL_malloc(sig_len)) ||
	    EVP_DigestSign(md, sig, &sig_len, (const unsigned char *)in, in_len) != 1) {
		char e[256] = "unknown error";

		if (ERR_peek_last_error())
			ERR_error_string_n(ERR_get_error(), e, sizeof(e));
		ERR_clear_error();
		log_printf(LOG_ERR, "exchange: signing the service-account assertion failed: %s",
			   e);
		return -EIO;
	}
	*ret = TAKE_PTR(sig);
	*ret_len = sig_len;
	return 0;
}

int exchange_sign_assertion(const struct credentials *creds, const char *audience, json_t *ctx,
			    int64_t now, char **ret)
{
	static const char header[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
	_cleanup_free_ char *payload = NULL, *s64 = NULL;
	_cleanup_(erase_and_freep) char *out = NULL;
	_cleanup_(openssl_freep) unsigned char *sig = NULL;
	size_t sig_len = 0, in_len;
	int r;

	*ret = NULL;
	if (!creds || !creds->key || !audience)
		return -EINVAL;
	payload = assertion_payload(creds, audience, ctx, now);
	if (!payload)
		return -ENOMEM;
	out = signing_input(header, payload);
	if (!out)
		return -ENOMEM;
	in_len = strlen(out);
	r = rs256_sign(creds->key, out, in_len, &sig, &sig_len);
	if (r < 0)
		return r;
	s64 = b64url_alloc(sig, sig_len);
	if (!s64)
		return -ENOMEM;
	out[in_len] = '.';
	memcpy(out + in_len + 1, s64, strlen(s64) + 1);
	*ret = TAKE_PTR(out);
	return 0;
}

/* Drops the claims reference and frees x (the HTTP request is gone or cancelled). Returns
 * NULL. */
static struct exchange_request *x_free(struct exchange_request *x)
{
	if (!x)
		return NULL;
	identity_claims_unref(x->claims);
	free(x);
	return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct exchange_request *, x_free)

void exchange_cancel(struct exchange_request *x)
{
	if (!x)
		return;
	upstream_request_cancel(x->http);
	x_free(x);
}

static const char *x_mode_name(const struct exchange_request *x)
{
	return x->mode == EXCHANGE_STS ? "sts" : "ctx";
}

/* Completes x with error r: message prefix + detail, and what upstream said (resp). */
static void finish_error(struct exchange_request *x, int r, const struct upstream_response *resp,
			 const char *prefix, const char *detail)
{
	struct error_detail err = { 0 };
	char fp[HASH_FINGERPRINT_LEN + 1], reqid[LOGFMT_MAX(ERROR_DETAIL_REQUEST_ID_MAX)];
	char message[LOGFMT_MAX(ERROR_DETAIL_MESSAGE_MAX)];

	if (resp)
		error_detail_set_upstream(&err, resp->status, resp->request_id);
	(void)error_detail_set(&err, r, "%s%s", prefix, detail ? detail : "");
	logfmt_value(reqid, sizeof(reqid), err.request_id);
	/* upstream's words are one quoted value: they cannot add a key (request_id=...) */
	logfmt_value(message, sizeof(message), err.message);
	/* the same fingerprint as the audit line's token=..., so the two can be joined */
	log_printf(LOG_WARNING, "tenant=%s exchange (%s) for token=%s failed: message=%s%s%s",
		   x->tenant, x_mode_name(x), hash_fingerprint_of_digest(x->claims->hash, fp),
		   message, err.request_id[0] ? " request_id=" : "",
		   err.request_id[0] ? reqid : "");
	x->done(x, r, NULL, &err, x->userdata);
}

/* Completes x with the error of a non-2xx status, Skyflow's message included. */
static void finish_refused(struct exchange_request *x, int r, const struct upstream_response *resp)
{
	char msg[200], status_msg[300];

	exchange_error_message(resp->body, resp->body_len, msg, sizeof(msg));
	(void)snprintf(status_msg, sizeof(status_msg), "HTTP %ld%s%s", resp->status,
		       msg[0] ? ": " : "", msg);
	finish_error(x, r, resp, "token endpoint refused: ", status_msg);
}

/* Frees a token endpoint's reply after wiping the access token jansson copied. */
static void token_reply_freep(json_t **p)
{
	if (!*p)
		return;
	wipe_member(*p, "accessToken");
	wipe_member(*p, "access_token");
	json_decref(*p);
}

/* The members of a token endpoint's reply, camelCase or snake_case (borrowed from it). */
struct token_reply {
	json_t *access_token, *token_type, *issued_token_type;
};

static json_t *member_either(json_t *body, const char *camel, const char *snake)
{
	json_t *v = json_object_get(body, camel);

	return v ? v : json_object_get(body, snake);
}

/* Whether body holds a usable accessToken (a string without NUL of 1 to EXCHANGE_MAX_TOKEN
 * bytes) and string type members when present; *tr gets them. */
static bool token_reply_get(json_t *body, struct token_reply *tr)
{
	json_t *at = member_either(body, "accessToken", "access_token");

	tr->access_token = at;
	tr->token_type = member_either(body, "tokenType", "token_type");
	tr->issued_token_type = member_either(body, "issuedTokenType", "issued_token_type");
	return json_is_string(at) && json_string_length(at) > 0 &&
	       json_string_length(at) <= EXCHANGE_MAX_TOKEN &&
	       strlen(json_string_value(at)) == json_string_length(at) &&
	       (!tr->token_type || json_is_string(tr->token_type)) &&
	       (!tr->issued_token_type || json_is_string(tr->issued_token_type));
}

/*
 * The token of a usable reply (*ret, one reference): its expiry is its own exp, else the
 * mode's fallback, capped by the subject token's; its context is the one it carries, else the
 * subject's claims. Returns 0, -EIO (already expired: message set), -ENOMEM.
 */
static int token_from_reply(const struct exchange_request *x, const struct upstream_response *resp,
			    const struct token_reply *tr, struct skyflow_token **ret)
{
	_cleanup_(skyflow_token_unrefp) struct skyflow_token *tok = NULL;
	_cleanup_(json_decrefp) json_t *ctx = NULL;
	const char *at = json_string_value(tr->access_token);
	int64_t exp = 0;
	int r;

	r = exchange_peek_jwt(at, json_string_length(tr->access_token), &exp, &ctx);
	if (r < 0)
		exp = x->now + (x->mode == EXCHANGE_STS ? EXCHANGE_STS_FALLBACK_TTL :
				EXCHANGE_ASSERTION_TTL);
	if (exp > x->claims->exp)
		exp = x->claims->exp;
	if (exp <= x->now)
		return -EIO;
	/* Every reply names the issued type; the ctx endpoint does not, its tokens are JWTs. */
	tok = skyflow_token_new(at, tr->token_type ? json_string_value(tr->token_type) : "Bearer",
				tr->issued_token_type ? json_string_value(tr->issued_token_type) :
				(r >= 0 || r == -ENOENT) ? EXCHANGE_TOKEN_TYPE_JWT :
				EXCHANGE_TOKEN_TYPE_ACCESS, exp);
	if (!tok)
		return -ENOMEM;
	(void)snprintf(tok->request_id, sizeof(tok->request_id), "%s", resp->request_id);
	tok->context_json = json_dumps(ctx ? ctx : x->claims->context,
				       JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	*ret = TAKE_PTR(tok);
	return 0;
}

/* Completes x from a 2xx reply: its token, or the reason it has none. */
static void finish_reply(struct exchange_request *x, const struct upstream_response *resp)
{
	_cleanup_(token_reply_freep) json_t *body = NULL;
	_cleanup_(skyflow_token_unrefp) struct skyflow_token *tok = NULL;
	char reqid[LOGFMT_MAX(UPSTREAM_MAX_REQUEST_ID)];
	struct token_reply tr;
	int r;

	r = upstream_response_json(resp, NULL, &body);
	if (r < 0 || !json_is_object(body)) {
		finish_error(x, -EIO, resp, "token endpoint answered with malformed JSON", NULL);
		return;
	}
	if (!token_reply_get(body, &tr)) {
		finish_error(x, -EIO, resp, "token endpoint answer has no usable accessToken",
			     NULL);
		return;
	}
	r = token_from_reply(x, resp, &tr, &tok);
	if (r < 0) {
		finish_error(x, r, resp, r == -ENOMEM ? "out of memory" :
			     "token endpoint issued an already expired token", NULL);
		return;
	}
	logfmt_value(reqid, sizeof(reqid), resp->request_id);
	log_printf(LOG_INFO, "tenant=%s exchange (%s) ok: expires in %lld s%s%s", x->tenant,
		   x_mode_name(x), (long long)(tok->expires_at - x->now),
		   resp->request_id[0] ? ", request_id=" : "", resp->request_id[0] ? reqid : "");
	x->done(x, 0, tok, NULL, x->userdata);
}

static void on_http_done(struct upstream_request *req, const struct upstream_response *resp,
			 void *userdata)
{
	_cleanup_(x_freep) struct exchange_request *x = userdata;
	int r;

	x->http = NULL;
	if (resp->r < 0) {
		finish_error(x, resp->r == -ETIMEDOUT ? -ETIMEDOUT : -EIO, resp,
			     "token endpoint unreachable: ", resp->error);
		return;
	}
	r = exchange_errno_from_status(resp->status);
	if (r < 0) {
		finish_refused(x, r, resp);
		return;
	}
	finish_reply(x, resp);
}

/* Frees a request body after wiping the secrets jansson copied into it. */
static void request_body_freep(json_t **p)
{
	if (!*p)
		return;
	wipe_member(*p, "subject_token");
	wipe_member(*p, "assertion");
	json_decref(*p);
}

/* sts: the token-exchange request for the subject token (*ret, owned). */
static int sts_body(const struct exchange_config *cfg, const char *subject_token,
		    size_t subject_len, json_t **ret)
{
	_cleanup_(request_body_freep) json_t *body = NULL;
	_cleanup_(erase_and_freep) char *subject = NULL;

	if (!cfg->sts_url || !subject_token || subject_len == 0)
		return -EINVAL;
	subject = strndup(subject_token, subject_len);
	if (!subject)
		return -ENOMEM;
	body = json_pack("{s:s, s:s, s:s}", "grant_type", EXCHANGE_GRANT_TOKEN_EXCHANGE,
			 "subject_token", subject, "subject_token_type", EXCHANGE_TOKEN_TYPE_JWT);
	if (!body)
		return -ENOMEM;
	if (cfg->service_account_id && *cfg->service_account_id &&
	    json_object_set_new(body, "service_account_id",
				json_string(cfg->service_account_id)) < 0)
		return -ENOMEM;
	*ret = TAKE_PTR(body);
	return 0;
}

/* ctx: the jwt-bearer request with an assertion carrying the user's context (*ret, owned).
 * Never an assertion without user context on behalf of a user: that would mint a pure
 * service-account token. The validated sub always goes into ctx. */
static int ctx_body(const struct exchange_config *cfg, const struct identity_claims *claims,
		    int64_t now, json_t **ret)
{
	_cleanup_(request_body_freep) json_t *body = NULL;
	_cleanup_(json_decrefp) json_t *ctx = NULL;
	_cleanup_(erase_and_freep) char *assertion = NULL;
	int r;

	if (!cfg->creds)
		return -EINVAL;
	if (!claims->sub || !json_is_object(claims->context) ||
	    json_object_size(claims->context) == 0)
		return -EACCES;
	ctx = json_deep_copy(claims->context);
	if (!ctx || json_object_set_new(ctx, "sub", json_string(claims->sub)) < 0)
		return -ENOMEM;
	r = exchange_sign_assertion(cfg->creds, cfg->creds->token_uri, ctx, now, &assertion);
	if (r < 0)
		return r;
	body = json_pack("{s:s, s:s}", "grant_type", EXCHANGE_GRANT_JWT_BEARER, "assertion",
			 assertion);
	if (!body)
		return -ENOMEM;
	*ret = TAKE_PTR(body);
	return 0;
}

/* POSTs body to url for x (x->http set); the text is wiped once upstream has its copy. */
static int x_post(struct upstream *u, const struct exchange_config *cfg,
		  struct exchange_request *x, const char *url, json_t *body)
{
	_cleanup_(erase_and_freep) char *text = json_dumps(body, JSON_COMPACT);
	struct upstream_opts http = cfg->http;
	char tag[128];

	if (!text)
		return -ENOMEM;
	(void)snprintf(tag, sizeof(tag), "tenant=%s %s", x->tenant, x_mode_name(x));
	http.log_tag = tag;
	http.tenant = x->tenant;
	http.kind = x->mode == EXCHANGE_STS ? "sts" : "sa_token"; /* ctx: the token URI */
	return upstream_request_start(u, &http, "POST", url, text, strlen(text), true, on_http_done,
				      x, &x->http);
}

int exchange_start(struct upstream *u, const struct exchange_config *cfg,
		   const char *subject_token, size_t subject_len,
		   struct identity_claims *claims, int64_t now, exchange_done_t done,
		   void *userdata, struct exchange_request **ret)
{
	_cleanup_(x_freep) struct exchange_request *x = NULL;
	_cleanup_(request_body_freep) json_t *body = NULL;
	struct exchange_request *started;
	const char *url;
	int r;

	if (ret)
		*ret = NULL;
	if (!u || !cfg || !claims || !done)
		return -EINVAL;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->mode = cfg->mode;
	x->claims = identity_claims_ref(claims);
	x->now = now;
	x->done = done;
	x->userdata = userdata;
	(void)snprintf(x->tenant, sizeof(x->tenant), "%s", cfg->tenant ? cfg->tenant : "-");

	if (cfg->mode == EXCHANGE_STS) {
		url = cfg->sts_url;
		r = sts_body(cfg, subject_token, subject_len, &body);
	} else {
		url = cfg->token_url ? cfg->token_url : cfg->creds ? cfg->creds->token_uri : NULL;
		r = ctx_body(cfg, claims, now, &body);
	}
	if (r < 0)
		return r;
	r = x_post(u, cfg, x, url, body);
	if (r < 0)
		return r;
	started = TAKE_PTR(x); /* upstream's callback owns it now */
	if (ret)
		*ret = started;
	return 0;
}
