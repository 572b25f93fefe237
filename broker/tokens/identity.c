/* SPDX-License-Identifier: MIT */
#include "tokens/identity.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "util/b64.h"
#include "util/log.h"
#include "util/jsonbound.h"
#include "util/shamap.h"

#define HEADER_MAX_DECODED 2048u

struct identity {
	char *project_id;
	char *base_url;
	char *issuer; /* exact issuer, or NULL for the family */
	char **audiences;
	size_t n_audiences;
	char **context_claims;
	size_t n_context_claims;
	size_t max_token_len;
	int64_t leeway;
	bool allow_at_jwt;
	struct shamap *verified; /* hash -> struct identity_claims (one reference) */
	uint64_t hits;
};

static int fail(struct identity_error *err, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct identity_error *err, int r, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		err->r = r;
		va_start(ap, fmt);
		(void)vsnprintf(err->message, sizeof(err->message), fmt, ap);
		va_end(ap);
	}
	return r;
}

/* s when it is a short, plain word that is safe to echo in a log line; otherwise a marker. */
static const char *loggable(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 32)
		return "(not shown)";
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '-' || c == '_' || c == '.'))
			return "(not shown)";
	}
	return s;
}

/* Strict UTF-8 (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF). */
static bool utf8_valid(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = p[i];
		size_t len;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (n - i < len)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

/* Like loggable, for issuer values: URL characters allowed, up to 96 characters. */
static const char *loggable_url(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 96)
		return "(not shown)";
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("+-_.:/~", c)))
			return "(not shown)";
	}
	return s;
}

struct identity_claims *identity_claims_ref(struct identity_claims *c)
{
	if (c)
		c->n_ref++;
	return c;
}

struct identity_claims *identity_claims_unref(struct identity_claims *c)
{
	if (!c || --c->n_ref > 0)
		return NULL;
	free(c->sub);
	json_decref(c->context);
	explicit_bzero(c, sizeof(*c));
	free(c);
	return NULL;
}

static void claims_free_cb(void *v)
{
	identity_claims_unref(v);
}

static char **strv_dup(const char *const *v, size_t n)
{
	char **out = calloc(n + 1, sizeof(char *));

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		out[i] = strdup(v[i] ? v[i] : "");
		if (!out[i]) {
			for (size_t j = 0; j < i; j++)
				free(out[j]);
			free(out);
			return NULL;
		}
	}
	return out;
}

static void strv_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

struct identity *identity_free(struct identity *id)
{
	if (!id)
		return NULL;
	shamap_free(id->verified);
	free(id->project_id);
	free(id->base_url);
	free(id->issuer);
	strv_free(id->audiences, id->n_audiences);
	strv_free(id->context_claims, id->n_context_claims);
	free(id);
	return NULL;
}

int identity_new(const struct identity_config *cfg, struct identity **ret)
{
	struct identity *id;
	const char *base;
	size_t bl;
	int r;

	if (!cfg || !cfg->project_id || !*cfg->project_id || strchr(cfg->project_id, '/') ||
	    cfg->n_context_claims > IDENTITY_MAX_CLAIMS)
		return -EINVAL;
	/* Context claims become Skyflow ctx keys, which must match ^[a-zA-Z0-9_]+$ (CEL names). */
	for (size_t i = 0; i < cfg->n_context_claims; i++) {
		const char *n = cfg->context_claims[i];

		if (!n || !*n || strlen(n) > 64 || strspn(n, "abcdefghijklmnopqrstuvwxyz"
						      "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != strlen(n))
			return -EINVAL;
	}
	id = calloc(1, sizeof(*id));
	if (!id)
		return -ENOMEM;
	base = cfg->base_url && *cfg->base_url ? cfg->base_url : IDENTITY_DEFAULT_BASE_URL;
	bl = strlen(base);
	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	id->project_id = strdup(cfg->project_id);
	id->base_url = strndup(base, bl);
	if (cfg->issuer && *cfg->issuer) {
		id->issuer = strdup(cfg->issuer);
		if (!id->issuer) {
			identity_free(id);
			return -ENOMEM;
		}
	}
	id->n_audiences = cfg->n_audiences;
	id->audiences = strv_dup(cfg->audiences, cfg->n_audiences);
	id->n_context_claims = cfg->n_context_claims;
	id->context_claims = strv_dup(cfg->context_claims, cfg->n_context_claims);
	id->max_token_len = cfg->max_token_len ? cfg->max_token_len : IDENTITY_DEFAULT_MAX_TOKEN;
	id->leeway = cfg->leeway_sec ? cfg->leeway_sec : IDENTITY_DEFAULT_LEEWAY;
	id->allow_at_jwt = cfg->allow_at_jwt;
	if (!id->project_id || !id->base_url || !id->audiences || !id->context_claims) {
		identity_free(id);
		return -ENOMEM;
	}
	r = shamap_new(cfg->cache_size ? cfg->cache_size : IDENTITY_DEFAULT_CACHE, claims_free_cb,
		       &id->verified);
	if (r < 0) {
		identity_free(id);
		return r;
	}
	*ret = id;
	return 0;
}

void identity_token_hash(const char *token, size_t len, uint8_t out[static 32])
{
	SHA256((const unsigned char *)token, len, out);
}

size_t identity_cache_size(const struct identity *id)
{
	return shamap_size(id->verified);
}

uint64_t identity_cache_hits(const struct identity *id)
{
	return id->hits;
}

/* One path segment of an agentic issuer (the MCP server id). */
static bool segment_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return true;
}

/* Exact match against the issuer family of the project; see the header. */
static bool issuer_ok(const struct identity *id, const char *iss)
{
	const char *p = id->project_id, *rest;
	size_t pl = strlen(p), bl = strlen(id->base_url);

	if (id->issuer)
		return strcmp(iss, id->issuer) == 0;
	if (strcmp(iss, p) == 0)
		return true;
	if (strncmp(iss, id->base_url, bl) != 0 || iss[bl] != '/')
		return false;
	rest = iss + bl + 1;
	if (strcmp(rest, p) == 0)
		return true;
	if (strncmp(rest, "v1/apps/", 8) != 0)
		return false;
	rest += 8;
	if (strcmp(rest, p) == 0)
		return true;
	if (strncmp(rest, "agentic/", 8) != 0)
		return false;
	rest += 8;
	if (strncmp(rest, p, pl) != 0 || rest[pl] != '/')
		return false;
	return segment_ok(rest + pl + 1);
}

static bool audience_ok(const struct identity *id, json_t *aud)
{
	if (json_is_string(aud)) {
		for (size_t i = 0; i < id->n_audiences; i++)
			if (strcmp(json_string_value(aud), id->audiences[i]) == 0)
				return true;
		return false;
	}
	if (json_is_array(aud)) {
		size_t i;
		json_t *v;

		json_array_foreach(aud, i, v)
			if (json_is_string(v) && audience_ok(id, v))
				return true;
	}
	return false;
}

/* A NumericDate claim as seconds; -ENOENT absent, -EBADMSG not a finite number. */
static int numeric_date(json_t *payload, const char *name, int64_t *ret)
{
	json_t *v = json_object_get(payload, name);

	if (!v)
		return -ENOENT;
	if (json_is_integer(v)) {
		/* bounded like reals, so that date arithmetic with the leeway cannot overflow */
		json_int_t i = json_integer_value(v);

		if (i > 9000000000000000LL || i < -9000000000000000LL)
			return -EBADMSG;
		*ret = i;
		return 0;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);

		if (!isfinite(d) || d > 9.0e15 || d < -9.0e15)
			return -EBADMSG;
		*ret = (int64_t)d;
		if (d < 0 && (double)*ret != d)
			(*ret)--; /* floor without libm */
		return 0;
	}
	return -EBADMSG;
}

static int verify_signature(const struct jwk *key, const char *signing_input, size_t input_len,
			    const uint8_t *sig, size_t sig_len)
{
	EVP_MD_CTX *md = NULL;
	unsigned char *der = NULL;
	const unsigned char *check_sig = sig;
	size_t check_len = sig_len;
	int r = -EKEYREJECTED, ok;

	if (key->alg == JWK_ALG_ES256) {
		ECDSA_SIG *es;
		BIGNUM *br, *bs;
		int der_len;

		/* JWS ES256 signatures are the raw 32-byte r and s (RFC 7518 §3.4). */
		if (sig_len != 64)
			return -EKEYREJECTED;
		es = ECDSA_SIG_new();
		br = BN_bin2bn(sig, 32, NULL);
		bs = BN_bin2bn(sig + 32, 32, NULL);
		if (!es || !br || !bs || !ECDSA_SIG_set0(es, br, bs)) {
			ECDSA_SIG_free(es);
			BN_free(br);
			BN_free(bs);
			return -ENOMEM;
		}
		der_len = i2d_ECDSA_SIG(es, &der);
		ECDSA_SIG_free(es);
		if (der_len <= 0)
			return -ENOMEM;
		check_sig = der;
		check_len = (size_t)der_len;
	}

	md = EVP_MD_CTX_new();
	if (!md) {
		r = -ENOMEM;
		goto out;
	}
	if (EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key->pkey) != 1) {
		log_printf(LOG_ERR, "identity: EVP_DigestVerifyInit: %s",
		      ERR_reason_error_string(ERR_peek_last_error()) ?: "unknown error");
		r = -EKEYREJECTED;
		goto out;
	}
	ok = EVP_DigestVerify(md, check_sig, check_len, (const unsigned char *)signing_input,
			      input_len);
	r = ok == 1 ? 0 : -EKEYREJECTED;
out:
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	return r;
}

static int validate_uncached(struct identity *id, const struct jwks *keys, const char *token,
			     size_t len, const char *dot1, const char *dot2, int64_t now,
			     const uint8_t hash[32], struct identity_claims **ret,
			     struct identity_error *err)
{
	static const struct jsonbound_limits header_lim = { .max_size = HEADER_MAX_DECODED,
							    .max_depth = 2 };
	struct jsonbound_limits payload_lim = { .max_size = len, .max_depth = 8 };
	const char *h64 = token, *p64 = dot1 + 1, *s64 = dot2 + 1;
	size_t hl = (size_t)(dot1 - token), pl = (size_t)(dot2 - p64), sl = len - (size_t)(s64 - token);
	uint8_t *hbuf = NULL, *pbuf = NULL, *sbuf = NULL;
	size_t hbuf_len = 0, pbuf_len = 0, sbuf_len = 0;
	json_t *header = NULL, *payload = NULL, *v;
	struct identity_claims *c = NULL;
	const struct jwk *key;
	const char *alg, *kid, *iss;
	int64_t exp, nbf, iat;
	int r;

	/* 2. Header, before any key or library is involved. */
	if (b64url_decoded_max(hl) > HEADER_MAX_DECODED + 2) {
		r = fail(err, -EKEYREJECTED, "token header is too large");
		goto out;
	}
	if (b64url_decode_alloc(h64, hl, &hbuf, &hbuf_len) < 0) {
		r = fail(err, -EKEYREJECTED, "token header is not canonical base64url");
		goto out;
	}
	/* Garbage is told apart from a JSON header with bad bytes inside. */
	if (hbuf_len == 0 || hbuf[0] != '{') {
		r = fail(err, -EKEYREJECTED, "token header is not a JSON object");
		goto out;
	}
	if (!utf8_valid(hbuf, hbuf_len)) {
		r = fail(err, -EKEYREJECTED, "token header is not valid UTF-8");
		goto out;
	}
	r = jsonbound_parse(hbuf, hbuf_len, &header_lim, &header, NULL);
	if (r < 0 || !json_is_object(header)) {
		r = fail(err, -EKEYREJECTED, r == -EMSGSIZE ? "token header is nested too deep" :
			 r < 0 ? "token header is not JSON (or has a duplicate member)" :
			 "token header is not a JSON object");
		goto out;
	}
	v = json_object_get(header, "alg");
	if (!json_is_string(v)) {
		r = fail(err, -EKEYREJECTED, "token header has no alg");
		goto out;
	}
	alg = json_string_value(v);
	if (strcmp(alg, "RS256") != 0 && strcmp(alg, "ES256") != 0) {
		r = fail(err, -EKEYREJECTED, "token alg '%s' is not allowed (RS256, ES256)",
			 loggable(alg));
		goto out;
	}
	v = json_object_get(header, "typ");
	if (v) {
		const char *typ = json_is_string(v) ? json_string_value(v) : "";

		if (strcasecmp(typ, "JWT") != 0 &&
		    !(id->allow_at_jwt && (strcasecmp(typ, "at+jwt") == 0 ||
					   strcasecmp(typ, "application/at+jwt") == 0))) {
			r = fail(err, -EKEYREJECTED, "token typ '%s' is not accepted", loggable(typ));
			goto out;
		}
	}
	if (json_object_get(header, "crit")) {
		r = fail(err, -EKEYREJECTED, "token header has crit extensions we do not support");
		goto out;
	}
	v = json_object_get(header, "kid");
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > JWKS_MAX_KID || strlen(json_string_value(v)) != json_string_length(v)) {
		r = fail(err, -EKEYREJECTED, "token header has no usable kid");
		goto out;
	}
	kid = json_string_value(v);

	/* 3. Key. */
	if (!keys) {
		r = fail(err, -EAGAIN, "no key set loaded yet");
		goto out;
	}
	key = jwks_find(keys, kid);
	if (!key) {
		if (err)
			(void)snprintf(err->kid, sizeof(err->kid), "%s", kid);
		r = fail(err, -ENOKEY, "token kid '%.64s' is not in the key set", loggable(kid));
		goto out;
	}
	if (strcmp(jwk_alg_name(key->alg), alg) != 0) {
		r = fail(err, -EKEYREJECTED, "token alg %s does not match key '%.64s' (%s)", alg,
			 loggable(kid), jwk_alg_name(key->alg));
		goto out;
	}

	/* 4. Signature over the first two segments as they were sent. */
	if (b64url_decode_alloc(s64, sl, &sbuf, &sbuf_len) < 0) {
		r = fail(err, -EKEYREJECTED, "token signature is not canonical base64url");
		goto out;
	}
	r = verify_signature(key, token, (size_t)(dot2 - token), sbuf, sbuf_len);
	if (r == -ENOMEM)
		goto out;
	if (r < 0) {
		r = fail(err, -EKEYREJECTED, "token signature does not verify with key '%.64s'",
			 loggable(kid));
		goto out;
	}

	/* 5. Payload. */
	if (b64url_decode_alloc(p64, pl, &pbuf, &pbuf_len) < 0) {
		r = fail(err, -EKEYREJECTED, "token payload is not canonical base64url");
		goto out;
	}
	if (!utf8_valid(pbuf, pbuf_len)) {
		r = fail(err, -EKEYREJECTED, "token payload is not valid UTF-8");
		goto out;
	}
	r = jsonbound_parse(pbuf, pbuf_len, &payload_lim, &payload, NULL);
	if (r < 0 || !json_is_object(payload)) {
		r = fail(err, -EKEYREJECTED, r == -EMSGSIZE ? "token payload is nested too deep" :
			 r < 0 ? "token payload is not JSON (or has a duplicate claim)" :
			 "token payload is not a JSON object");
		goto out;
	}

	/* 6. Issuer. */
	v = json_object_get(payload, "iss");
	if (!json_is_string(v)) {
		r = fail(err, -EKEYREJECTED, "token has no iss");
		goto out;
	}
	iss = json_string_value(v);
	if (strlen(iss) != json_string_length(v) || !issuer_ok(id, iss)) {
		r = fail(err, -EKEYREJECTED, "token iss '%s' is not the configured project's issuer",
			 loggable_url(iss));
		goto out;
	}

	/* 7. Audience. */
	if (id->n_audiences > 0) {
		v = json_object_get(payload, "aud");
		if (!v) {
			r = fail(err, -EKEYREJECTED, "token has no aud, and an audience is required");
			goto out;
		}
		if (!audience_ok(id, v)) {
			r = fail(err, -EKEYREJECTED, "token aud does not name this service");
			goto out;
		}
	}

	/* 8. Time. */
	r = numeric_date(payload, "exp", &exp);
	if (r < 0) {
		r = fail(err, -EKEYREJECTED, r == -ENOENT ? "token has no exp" :
			 "token exp is not a number");
		goto out;
	}
	if (now >= exp + id->leeway) {
		r = fail(err, -EKEYEXPIRED, "token expired %lld s ago", (long long)(now - exp));
		goto out;
	}
	r = numeric_date(payload, "nbf", &nbf);
	if (r == -EBADMSG) {
		r = fail(err, -EKEYREJECTED, "token nbf is not a number");
		goto out;
	}
	if (r == 0 && nbf > now + id->leeway) {
		r = fail(err, -EKEYEXPIRED, "token is not valid yet (nbf in %lld s)",
			 (long long)(nbf - now));
		goto out;
	}
	r = numeric_date(payload, "iat", &iat);
	if (r == -EBADMSG) {
		r = fail(err, -EKEYREJECTED, "token iat is not a number");
		goto out;
	}
	if (r == 0 && iat > now + id->leeway) {
		r = fail(err, -EKEYEXPIRED, "token was issued in the future (iat in %lld s)",
			 (long long)(iat - now));
		goto out;
	}

	/* 9. Refresh tokens share keys and issuer with session tokens: tell them apart. */
	v = json_object_get(payload, "drn");
	if (json_is_string(v) && strcmp(json_string_value(v), "DSR") == 0) {
		r = fail(err, -EKEYREJECTED, "token is a Descope refresh token (drn DSR)");
		goto out;
	}

	/* 10. Subject. */
	v = json_object_get(payload, "sub");
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > IDENTITY_MAX_SUB ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		r = fail(err, -EKEYREJECTED, "token has no usable sub");
		goto out;
	}

	c = calloc(1, sizeof(*c));
	if (!c) {
		r = -ENOMEM;
		goto out;
	}
	c->n_ref = 1;
	memcpy(c->hash, hash, 32);
	c->exp = exp;
	c->alg = key->alg;
	(void)snprintf(c->kid, sizeof(c->kid), "%s", kid);
	c->sub = strdup(json_string_value(v));
	c->context = json_object();
	if (!c->sub || !c->context) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < id->n_context_claims; i++) {
		json_t *cv = json_object_get(payload, id->context_claims[i]);

		if (cv && json_object_set_new(c->context, id->context_claims[i],
					      json_deep_copy(cv)) < 0) {
			r = -ENOMEM;
			goto out;
		}
	}
	*ret = c;
	c = NULL;
	r = 0;
out:
	identity_claims_unref(c);
	json_decref(header);
	json_decref(payload);
	if (pbuf) {
		explicit_bzero(pbuf, pbuf_len);
		free(pbuf);
	}
	free(hbuf);
	free(sbuf);
	return r;
}

int identity_validate(struct identity *id, const struct jwks *keys, const char *token,
		      size_t len, int64_t now, struct identity_claims **ret,
		      struct identity_error *err)
{
	const char *dot1, *dot2;
	struct identity_claims *c;
	uint8_t hash[32];
	int r;

	*ret = NULL;
	if (err)
		memset(err, 0, sizeof(*err));

	/* 1. Shape, before anything is decoded. */
	if (!token || len == 0)
		return fail(err, -EKEYREJECTED, "token is empty");
	if (len > id->max_token_len)
		return fail(err, -EKEYREJECTED, "token is %zu bytes, more than %zu", len,
			    id->max_token_len);
	if (memchr(token, '\0', len))
		return fail(err, -EKEYREJECTED, "token contains a NUL byte");
	dot1 = memchr(token, '.', len);
	dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
	if (!dot1 || !dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
		return fail(err, -EKEYREJECTED, "token does not have exactly three segments");
	if (dot1 == token || dot2 == dot1 + 1 || dot2 + 1 == token + len)
		return fail(err, -EKEYREJECTED, "token has an empty segment");
	if (!b64url_valid_chars(token, (size_t)(dot1 - token)) ||
	    !b64url_valid_chars(dot1 + 1, (size_t)(dot2 - dot1 - 1)) ||
	    !b64url_valid_chars(dot2 + 1, len - (size_t)(dot2 + 1 - token)))
		return fail(err, -EKEYREJECTED,
			    "token has characters outside the base64url alphabet (or padding)");

	identity_token_hash(token, len, hash);
	c = shamap_get(id->verified, hash);
	if (c) {
		if (now >= c->exp + id->leeway) {
			shamap_remove(id->verified, hash, true);
			return fail(err, -EKEYEXPIRED, "token expired");
		}
		/* A key withdrawn from the set withdraws its tokens. */
		if (keys && jwks_find(keys, c->kid)) {
			id->hits++;
			*ret = identity_claims_ref(c);
			return 0;
		}
		shamap_remove(id->verified, hash, true);
	}

	r = validate_uncached(id, keys, token, len, dot1, dot2, now, hash, &c, err);
	if (r < 0)
		return r;
	/* Remembering is an optimisation: a full cache only costs a signature check later. */
	(void)shamap_put(id->verified, hash, identity_claims_ref(c), NULL);
	*ret = c;
	return 0;
}
