/* SPDX-License-Identifier: MIT */
#include "tokens/exchange.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "util/b64.h"
#include "util/log.h"
#include "util/jsonbound.h"

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

static void copy_printable(char *out, size_t out_len, const char *s, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < out_len; i++) {
		unsigned char c = (unsigned char)s[i];

		out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : ' ';
	}
	out[o] = '\0';
}

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
	json_t *j = NULL;
	const char *m = NULL;
	char *tmp;
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
	if (m) {
		/* Redact before bounding, so a token cut at the bound is still recognised. */
		n = strlen(m);
		tmp = malloc(n + 1);
		if (tmp) {
			copy_printable(tmp, n + 1, m, n);
			redact_tokens(tmp);
			(void)snprintf(out, out_len, "%s", tmp);
			/* A word cut by the bound is dropped. */
			cut_at_word(out, strlen(tmp) > strlen(out));
			explicit_bzero(tmp, n + 1);
			free(tmp);
		}
	}
	json_decref(j);
}

int exchange_peek_jwt(const char *jwt, size_t len, int64_t *exp, json_t **ctx)
{
	static const struct jsonbound_limits lim = { .max_size = EXCHANGE_MAX_TOKEN,
						     .max_depth = 8 };
	const char *d1, *d2;
	uint8_t *p = NULL;
	size_t pl = 0;
	json_t *payload = NULL, *v;
	int r;

	if (ctx)
		*ctx = NULL;
	d1 = memchr(jwt, '.', len);
	d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - jwt)) : NULL;
	if (!d1 || !d2)
		return -EBADMSG;
	r = b64url_decode_alloc(d1 + 1, (size_t)(d2 - d1 - 1), &p, &pl);
	if (r < 0)
		return -EBADMSG;
	r = jsonbound_parse(p, pl, &lim, &payload, NULL);
	explicit_bzero(p, pl);
	free(p);
	if (r < 0 || !json_is_object(payload)) {
		json_decref(payload);
		return -EBADMSG;
	}
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
	json_decref(payload);
	return r;
}

/* Wipes the string value of obj[key] in place (jansson owns it; we own its secrecy). */
static void wipe_member(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (json_is_string(v))
		explicit_bzero((char *)json_string_value(v), json_string_length(v));
}

static char *b64url_alloc(const void *data, size_t n)
{
	char *s = malloc(b64url_encoded_len(n) + 1);

	if (s)
		b64url_encode(data, n, s);
	return s;
}

int exchange_sign_assertion(const struct credentials *creds, const char *audience, json_t *ctx,
			    int64_t now, char **ret)
{
	static const char header[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
	json_t *claims = NULL;
	char *payload = NULL, *h64 = NULL, *p64 = NULL, *s64 = NULL, *out = NULL;
	unsigned char *sig = NULL;
	size_t sig_len = 0, hl, pl, sl, in_len;
	EVP_MD_CTX *md = NULL;
	int r = -ENOMEM;

	*ret = NULL;
	if (!creds || !creds->key || !audience)
		return -EINVAL;
	claims = json_pack("{s:s, s:s, s:s, s:s, s:I}", "iss", creds->client_id, "key",
			   creds->key_id, "aud", audience, "sub", creds->client_id, "exp",
			   (json_int_t)(now + EXCHANGE_ASSERTION_TTL));
	if (!claims)
		goto out;
	/* An empty context is omitted, as the SDKs do. */
	if (ctx && !(json_is_object(ctx) && json_object_size(ctx) == 0) &&
	    json_object_set(claims, "ctx", ctx) < 0)
		goto out;
	payload = json_dumps(claims, JSON_COMPACT | JSON_SORT_KEYS);
	if (!payload)
		goto out;
	h64 = b64url_alloc(header, sizeof(header) - 1);
	p64 = b64url_alloc(payload, strlen(payload));
	if (!h64 || !p64)
		goto out;
	hl = strlen(h64);
	pl = strlen(p64);
	in_len = hl + 1 + pl;
	out = malloc(in_len + 1 + b64url_encoded_len(1024) + 1);
	if (!out)
		goto out;
	memcpy(out, h64, hl);
	out[hl] = '.';
	memcpy(out + hl + 1, p64, pl);
	out[in_len] = '\0';

	md = EVP_MD_CTX_new();
	if (!md)
		goto out;
	if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, creds->key) != 1 ||
	    EVP_DigestSign(md, NULL, &sig_len, (unsigned char *)out, in_len) != 1 ||
	    sig_len > 1024 || !(sig = OPENSSL_malloc(sig_len)) ||
	    EVP_DigestSign(md, sig, &sig_len, (unsigned char *)out, in_len) != 1) {
		char e[256] = "unknown error";

		if (ERR_peek_last_error())
			ERR_error_string_n(ERR_get_error(), e, sizeof(e));
		ERR_clear_error();
		log_printf(LOG_ERR, "exchange: signing the service-account assertion failed: %s", e);
		r = -EIO;
		goto out;
	}
	s64 = b64url_alloc(sig, sig_len);
	if (!s64)
		goto out;
	sl = strlen(s64);
	out[in_len] = '.';
	memcpy(out + in_len + 1, s64, sl + 1);
	*ret = out;
	out = NULL;
	r = 0;
out:
	EVP_MD_CTX_free(md);
	OPENSSL_free(sig);
	if (out) {
		explicit_bzero(out, strlen(out));
		free(out);
	}
	free(h64);
	free(p64);
	free(s64);
	free(payload);
	json_decref(claims);
	return r;
}

static void x_free(struct exchange_request *x)
{
	if (!x)
		return;
	identity_claims_unref(x->claims);
	free(x);
}

void exchange_cancel(struct exchange_request *x)
{
	if (!x)
		return;
	upstream_request_cancel(x->http);
	x_free(x);
}

static void finish_error(struct exchange_request *x, int r, const struct upstream_response *resp,
			 const char *prefix, const char *detail)
{
	struct tokencache_error err = { .r = r };

	if (resp) {
		err.upstream_status = resp->status;
		(void)snprintf(err.request_id, sizeof(err.request_id), "%s", resp->request_id);
	}
	(void)snprintf(err.message, sizeof(err.message), "%s%s", prefix, detail ? detail : "");
	log_printf(LOG_WARNING, "tenant=%s exchange (%s) for sub-hash %02x%02x%02x%02x failed: %s%s%s",
	      x->tenant, x->mode == EXCHANGE_STS ? "sts" : "ctx", x->claims->hash[0],
	      x->claims->hash[1], x->claims->hash[2], x->claims->hash[3], err.message,
	      err.request_id[0] ? " request_id=" : "", err.request_id);
	x->done(x, r, NULL, &err, x->userdata);
}

static void on_http_done(struct upstream_request *req, const struct upstream_response *resp,
			 void *userdata)
{
	struct exchange_request *x = userdata;
	json_t *body = NULL, *at, *tt, *itt, *ctx = NULL;
	char msg[200];
	struct sb_token *tok = NULL;
	int64_t exp = 0;
	int r;

	x->http = NULL;
	if (resp->r < 0) {
		r = resp->r == -ETIMEDOUT ? -ETIMEDOUT : -EIO;
		finish_error(x, r, resp, "token endpoint unreachable: ", resp->error);
		goto out;
	}
	r = exchange_errno_from_status(resp->status);
	if (r < 0) {
		char status_msg[300];

		exchange_error_message(resp->body, resp->body_len, msg, sizeof(msg));
		(void)snprintf(status_msg, sizeof(status_msg), "HTTP %ld%s%s", resp->status,
			       msg[0] ? ": " : "", msg);
		finish_error(x, r, resp, "token endpoint refused: ", status_msg);
		goto out;
	}
	r = upstream_response_json(resp, NULL, &body);
	if (r < 0 || !json_is_object(body)) {
		finish_error(x, -EIO, resp, "token endpoint answered with malformed JSON", NULL);
		goto out;
	}
	at = json_object_get(body, "accessToken");
	if (!at)
		at = json_object_get(body, "access_token");
	tt = json_object_get(body, "tokenType");
	if (!tt)
		tt = json_object_get(body, "token_type");
	itt = json_object_get(body, "issuedTokenType");
	if (!itt)
		itt = json_object_get(body, "issued_token_type");
	if (!json_is_string(at) || json_string_length(at) == 0 ||
	    json_string_length(at) > EXCHANGE_MAX_TOKEN ||
	    strlen(json_string_value(at)) != json_string_length(at) ||
	    (tt && !json_is_string(tt)) || (itt && !json_is_string(itt))) {
		finish_error(x, -EIO, resp, "token endpoint answer has no usable accessToken", NULL);
		goto out;
	}
	r = exchange_peek_jwt(json_string_value(at), json_string_length(at), &exp, &ctx);
	if (r < 0)
		exp = x->now + (x->mode == EXCHANGE_STS ? EXCHANGE_STS_FALLBACK_TTL :
				EXCHANGE_ASSERTION_TTL);
	if (exp > x->claims->exp)
		exp = x->claims->exp;
	if (exp <= x->now) {
		finish_error(x, -EIO, resp, "token endpoint issued an already expired token", NULL);
		goto out;
	}
	/* Every reply names the issued type; the ctx endpoint does not, its tokens are JWTs. */
	tok = sb_token_new(json_string_value(at), tt ? json_string_value(tt) : "Bearer",
			   itt ? json_string_value(itt) :
			   (r >= 0 || r == -ENOENT) ? EXCHANGE_TOKEN_TYPE_JWT :
			   EXCHANGE_TOKEN_TYPE_ACCESS, exp);
	if (!tok) {
		finish_error(x, -ENOMEM, resp, "out of memory", NULL);
		goto out;
	}
	(void)snprintf(tok->request_id, sizeof(tok->request_id), "%s", resp->request_id);
	tok->context_json = json_dumps(ctx ? ctx : x->claims->context,
				       JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	log_printf(LOG_INFO, "tenant=%s exchange (%s) ok: expires in %lld s%s%s", x->tenant,
	      x->mode == EXCHANGE_STS ? "sts" : "ctx", (long long)(exp - x->now),
	      resp->request_id[0] ? ", request_id=" : "", resp->request_id);
	x->done(x, 0, tok, NULL, x->userdata);
out:
	sb_token_unref(tok);
	json_decref(ctx);
	if (body) {
		wipe_member(body, "accessToken");
		wipe_member(body, "access_token");
	}
	json_decref(body);
	x_free(x);
}

int exchange_start(struct upstream *u, const struct exchange_config *cfg,
		   const char *subject_token, size_t subject_len,
		   struct identity_claims *claims, int64_t now, exchange_done_t done,
		   void *userdata, struct exchange_request **ret)
{
	struct exchange_request *x;
	json_t *body = NULL;
	char *text = NULL, *assertion = NULL, *subject = NULL;
	json_t *ctx = NULL;
	const char *url;
	struct upstream_opts http;
	char tag[128];
	int r = -ENOMEM;

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
		if (!url || !subject_token || subject_len == 0) {
			r = -EINVAL;
			goto out;
		}
		subject = strndup(subject_token, subject_len);
		if (!subject)
			goto out;
		body = json_pack("{s:s, s:s, s:s}", "grant_type", EXCHANGE_GRANT_TOKEN_EXCHANGE,
				 "subject_token", subject, "subject_token_type",
				 EXCHANGE_TOKEN_TYPE_JWT);
		if (body && cfg->service_account_id && *cfg->service_account_id &&
		    json_object_set_new(body, "service_account_id",
					json_string(cfg->service_account_id)) < 0)
			goto out;
	} else {
		if (!cfg->creds) {
			r = -EINVAL;
			goto out;
		}
		url = cfg->token_url ? cfg->token_url : cfg->creds->token_uri;
		/* Never an assertion without user context on behalf of a user: that would mint a
		 * pure service-account token. The validated sub always goes into ctx. */
		if (!claims->sub || !json_is_object(claims->context) ||
		    json_object_size(claims->context) == 0) {
			r = -EACCES;
			goto out;
		}
		ctx = json_deep_copy(claims->context);
		if (!ctx || json_object_set_new(ctx, "sub", json_string(claims->sub)) < 0)
			goto out;
		r = exchange_sign_assertion(cfg->creds, cfg->creds->token_uri, ctx, now,
					    &assertion);
		if (r < 0)
			goto out;
		r = -ENOMEM;
		body = json_pack("{s:s, s:s}", "grant_type", EXCHANGE_GRANT_JWT_BEARER, "assertion",
				 assertion);
	}
	if (!body)
		goto out;
	text = json_dumps(body, JSON_COMPACT);
	if (!text)
		goto out;

	http = cfg->http;
	(void)snprintf(tag, sizeof(tag), "tenant=%s %s", x->tenant,
		       cfg->mode == EXCHANGE_STS ? "sts" : "ctx");
	http.log_tag = tag;
	r = upstream_request_start(u, &http, "POST", url, text, strlen(text), true, on_http_done,
				   x, &x->http);
out:
	if (text) {
		explicit_bzero(text, strlen(text));
		free(text);
	}
	if (body) {
		wipe_member(body, "subject_token");
		wipe_member(body, "assertion");
		json_decref(body);
	}
	if (subject) {
		explicit_bzero(subject, subject_len);
		free(subject);
	}
	if (assertion) {
		explicit_bzero(assertion, strlen(assertion));
		free(assertion);
	}
	json_decref(ctx);
	if (r < 0) {
		x_free(x);
		return r;
	}
	if (ret)
		*ret = x;
	return 0;
}
