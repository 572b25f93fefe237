/* SPDX-License-Identifier: MIT */
/* identity: Descope subject-token (JWT) validation, one function per check, and its cache. */
#include "tokens/identity.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/mpcheck.h"
#include "tokens/libcleanup.h"
#include "util/b64.h"
#include "util/jsonbound.h"
#include "util/ref.h"
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

/* The three base64url segments of a compact JWS, borrowed from the token text. */
struct jwt_segments {
	const char *header, *payload, *signature;
	size_t header_len, payload_len, signature_len;
	size_t signed_len; /* "header.payload", the signing input */
};

/* What the header says (both strings borrowed from the header object). */
struct jwt_header {
	const char *alg;
	const char *kid;
};

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

static void identity_claims_free(struct identity_claims *c)
{
	free(c->sub);
	json_decref(c->context);
	explicit_bzero(c, sizeof(*c));
	free(c);
}

DEFINE_REF_UNREF(struct identity_claims, identity_claims, identity_claims_free)

static void claims_free_cb(void *v)
{
	identity_claims_unref(v);
}

static void strv_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* A copy of the n strings of v (NULL entries become ""), or NULL on ENOMEM. */
static char **strv_dup(const char *const *v, size_t n)
{
	char **out = calloc(n + 1, sizeof(char *));

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		out[i] = strdup(v[i] ? v[i] : "");
		if (!out[i]) {
			strv_free(out, i);
			return NULL;
		}
	}
	return out;
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

/* Whether cfg can be used: a project id (no '/'), at most IDENTITY_MAX_CLAIMS context claims,
 * each a Skyflow ctx key, which must match ^[a-zA-Z0-9_]+$ (CEL names). */
static bool config_ok(const struct identity_config *cfg)
{
	if (!cfg || !cfg->project_id || !*cfg->project_id || strchr(cfg->project_id, '/') ||
	    cfg->n_context_claims > IDENTITY_MAX_CLAIMS)
		return false;
	for (size_t i = 0; i < cfg->n_context_claims; i++) {
		const char *n = cfg->context_claims[i];

		if (!n || !*n || strlen(n) > 64 ||
		    strspn(n, "abcdefghijklmnopqrstuvwxyz"
			      "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != strlen(n))
			return false;
	}
	return true;
}

int identity_new(const struct identity_config *cfg, struct identity **ret)
{
	_cleanup_(identity_freep) struct identity *id = NULL;
	const char *base;
	size_t bl;
	int r;

	if (!config_ok(cfg))
		return -EINVAL;
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
		if (!id->issuer)
			return -ENOMEM;
	}
	id->n_audiences = cfg->n_audiences;
	id->audiences = strv_dup(cfg->audiences, cfg->n_audiences);
	id->n_context_claims = cfg->n_context_claims;
	id->context_claims = strv_dup(cfg->context_claims, cfg->n_context_claims);
	id->max_token_len = cfg->max_token_len ? cfg->max_token_len : IDENTITY_DEFAULT_MAX_TOKEN;
	id->leeway = cfg->leeway_sec ? cfg->leeway_sec : IDENTITY_DEFAULT_LEEWAY;
	id->allow_at_jwt = cfg->allow_at_jwt;
	if (!id->project_id || !id->base_url || !id->audiences || !id->context_claims)
		return -ENOMEM;
	r = shamap_new(cfg->cache_size ? cfg->cache_size : IDENTITY_DEFAULT_CACHE, claims_free_cb,
		       &id->verified);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(id);
	return 0;
}

void identity_token_hash(const char *token, size_t len, uint8_t out[static HASH_SHA256_LEN])
{
	hash_sha256(token, len, out);
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

/* Whether aud (a string, or an array of them) shares a value with the configured audiences. */
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

/* ---- the checks, in the order of identity.h; each returns 0 or sets err and fails ---- */

/* 1a. Size: not empty, within the cap, no NUL byte. */
static int check_size(const struct identity *id, const char *token, size_t len,
		      struct error_detail *err)
{
	if (!token || len == 0)
		return error_detail_set(err, -EKEYREJECTED, "token is empty");
	/* too_large, not unauthenticated: the token may be valid, the cap is the broker's
	 * (PROTOCOL.md section 7) */
	if (len > id->max_token_len)
		return error_detail_set(err, -EMSGSIZE, "token is %zu bytes, more than %zu",
					len, id->max_token_len);
	if (memchr(token, '\0', len))
		return error_detail_set(err, -EKEYREJECTED, "token contains a NUL byte");
	return 0;
}

/* 1b. Exactly three non-empty segments of base64url characters (no padding) into *s. */
static int split_segments(const char *token, size_t len, struct jwt_segments *s,
			  struct error_detail *err)
{
	const char *dot1 = memchr(token, '.', len);
	const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;

	if (!dot1 || !dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
		return error_detail_set(err, -EKEYREJECTED,
					"token does not have exactly three segments");
	if (dot1 == token || dot2 == dot1 + 1 || dot2 + 1 == token + len)
		return error_detail_set(err, -EKEYREJECTED, "token has an empty segment");
	*s = (struct jwt_segments){
		.header = token,
		.header_len = (size_t)(dot1 - token),
		.payload = dot1 + 1,
		.payload_len = (size_t)(dot2 - dot1 - 1),
		.signature = dot2 + 1,
		.signature_len = len - (size_t)(dot2 + 1 - token),
		.signed_len = (size_t)(dot2 - token),
	};
	if (!b64url_valid_chars(s->header, s->header_len) ||
	    !b64url_valid_chars(s->payload, s->payload_len) ||
	    !b64url_valid_chars(s->signature, s->signature_len))
		return error_detail_set(err, -EKEYREJECTED,
					"token has characters outside the base64url alphabet (or padding)");
	return 0;
}

/* 2a. The header decoded and parsed into an object (*ret, owned), before any key or library
 * is involved. Garbage is told apart from a JSON header with bad bytes inside. */
static int header_decode(const struct jwt_segments *s, json_t **ret, struct error_detail *err)
{
	static const struct jsonbound_limits lim = { .max_size = HEADER_MAX_DECODED,
						     .max_depth = 2 };
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_(json_decrefp) json_t *header = NULL;
	size_t n = 0;
	int r;

	if (b64url_decoded_max(s->header_len) > HEADER_MAX_DECODED + 2)
		return error_detail_set(err, -EKEYREJECTED, "token header is too large");
	if (b64url_decode_alloc(s->header, s->header_len, &buf, &n) < 0)
		return error_detail_set(err, -EKEYREJECTED,
					"token header is not canonical base64url");
	if (n == 0 || buf[0] != '{')
		return error_detail_set(err, -EKEYREJECTED, "token header is not a JSON object");
	if (!sb_utf8_valid(buf, n))
		return error_detail_set(err, -EKEYREJECTED, "token header is not valid UTF-8");
	r = jsonbound_parse(buf, n, &lim, &header, NULL);
	if (r == -EMSGSIZE)
		return error_detail_set(err, -EKEYREJECTED, "token header is nested too deep");
	if (r < 0)
		return error_detail_set(err, -EKEYREJECTED,
					"token header is not JSON (or has a duplicate member)");
	if (!json_is_object(header))
		return error_detail_set(err, -EKEYREJECTED, "token header is not a JSON object");
	*ret = TAKE_PTR(header);
	return 0;
}

/* 2b. alg exactly "RS256" or "ES256" (case-sensitive), before anything else is looked at. */
static int header_alg(json_t *header, const char **ret, struct error_detail *err)
{
	json_t *v = json_object_get(header, "alg");
	const char *alg;

	if (!json_is_string(v))
		return error_detail_set(err, -EKEYREJECTED, "token header has no alg");
	alg = json_string_value(v);
	if (strcmp(alg, "RS256") != 0 && strcmp(alg, "ES256") != 0)
		return error_detail_set(err, -EKEYREJECTED,
					"token alg '%s' is not allowed (RS256, ES256)",
					loggable(alg));
	*ret = alg;
	return 0;
}

/* 2c. typ, when present, "JWT" in any case ("at+jwt" too when the configuration allows it). */
static int header_typ(const struct identity *id, json_t *header, struct error_detail *err)
{
	json_t *v = json_object_get(header, "typ");
	const char *typ;

	if (!v)
		return 0;
	typ = json_is_string(v) ? json_string_value(v) : "";
	if (strcasecmp(typ, "JWT") != 0 &&
	    !(id->allow_at_jwt && (strcasecmp(typ, "at+jwt") == 0 ||
				   strcasecmp(typ, "application/at+jwt") == 0)))
		return error_detail_set(err, -EKEYREJECTED, "token typ '%s' is not accepted",
					loggable(typ));
	return 0;
}

/* 2d. No crit: we support no extension a token could declare critical. */
static int header_crit(json_t *header, struct error_detail *err)
{
	if (json_object_get(header, "crit"))
		return error_detail_set(err, -EKEYREJECTED,
					"token header has crit extensions we do not support");
	return 0;
}

/* 2e. A kid of 1 to JWKS_MAX_KID bytes without NUL (*ret borrowed from header). */
static int header_kid(json_t *header, const char **ret, struct error_detail *err)
{
	*ret = jsonbound_string(json_object_get(header, "kid"), JWKS_MAX_KID);
	if (!*ret)
		return error_detail_set(err, -EKEYREJECTED, "token header has no usable kid");
	return 0;
}

/* 2. The header: decoded into *ret (owned), alg, typ, crit and kid checked into *h. */
static int check_header(const struct identity *id, const struct jwt_segments *s, json_t **ret,
			struct jwt_header *h, struct error_detail *err)
{
	_cleanup_(json_decrefp) json_t *header = NULL;
	int r;

	r = header_decode(s, &header, err);
	if (r < 0)
		return r;
	r = header_alg(header, &h->alg, err);
	if (r < 0)
		return r;
	r = header_typ(id, header, err);
	if (r < 0)
		return r;
	r = header_crit(header, err);
	if (r < 0)
		return r;
	r = header_kid(header, &h->kid, err);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(header);
	return 0;
}

/* 3. The key named by kid (*ret borrowed from keys), bound to alg. -EAGAIN without a key set;
 * -ENOKEY, the kid copied to unknown_kid (may be NULL), when the set does not hold it. */
static int find_key(const struct jwks *keys, const struct jwt_header *h, const struct jwk **ret,
		    struct error_detail *err, char *unknown_kid)
{
	const struct jwk *key;

	if (!keys)
		return error_detail_set(err, -EAGAIN, "no key set loaded yet");
	key = jwks_find(keys, h->kid);
	if (!key) {
		if (unknown_kid)
			(void)snprintf(unknown_kid, JWKS_MAX_KID + 1, "%s", h->kid);
		return error_detail_set(err, -ENOKEY, "token kid '%.64s' is not in the key set",
					loggable(h->kid));
	}
	if (strcmp(jwk_alg_name(key->alg), h->alg) != 0)
		return error_detail_set(err, -EKEYREJECTED,
					"token alg %s does not match key '%.64s' (%s)", h->alg,
					loggable(h->kid), jwk_alg_name(key->alg));
	*ret = key;
	return 0;
}

/* 4. The signature over the first two segments as they were sent. -ENOMEM leaves err alone. */
static int check_signature(const struct jwk *key, const char *token, const struct jwt_segments *s,
			   const char *kid, struct error_detail *err)
{
	_cleanup_free_ uint8_t *sig = NULL;
	size_t n = 0;
	int r;

	if (b64url_decode_alloc(s->signature, s->signature_len, &sig, &n) < 0)
		return error_detail_set(err, -EKEYREJECTED,
					"token signature is not canonical base64url");
	r = jwk_verify(key, token, s->signed_len, sig, n);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return error_detail_set(err, -EKEYREJECTED,
					"token signature does not verify with key '%.64s'",
					loggable(kid));
	return 0;
}

/* 5. The payload decoded (its bytes wiped after parsing) into an object *ret (owned); jansson
 * rejects invalid UTF-8 too, but the message is ours. */
static int payload_decode(const struct jwt_segments *s, size_t len, json_t **ret,
			  struct error_detail *err)
{
	struct jsonbound_limits lim = { .max_size = len, .max_depth = 8 };
	_cleanup_(wiped_buf_done) struct wiped_buf buf = { 0 };
	_cleanup_(json_decrefp) json_t *payload = NULL;
	int r;

	if (b64url_decode_alloc(s->payload, s->payload_len, &buf.p, &buf.n) < 0)
		return error_detail_set(err, -EKEYREJECTED,
					"token payload is not canonical base64url");
	if (!sb_utf8_valid(buf.p, buf.n))
		return error_detail_set(err, -EKEYREJECTED, "token payload is not valid UTF-8");
	r = jsonbound_parse(buf.p, buf.n, &lim, &payload, NULL);
	if (r == -EMSGSIZE)
		return error_detail_set(err, -EKEYREJECTED, "token payload is nested too deep");
	if (r < 0)
		return error_detail_set(err, -EKEYREJECTED,
					"token payload is not JSON (or has a duplicate claim)");
	if (!json_is_object(payload))
		return error_detail_set(err, -EKEYREJECTED, "token payload is not a JSON object");
	*ret = TAKE_PTR(payload);
	return 0;
}

/* 6. iss in the configured project's issuer family (or exactly the configured issuer). */
static int check_issuer(const struct identity *id, json_t *payload, struct error_detail *err)
{
	json_t *v = json_object_get(payload, "iss");
	const char *iss;

	if (!json_is_string(v))
		return error_detail_set(err, -EKEYREJECTED, "token has no iss");
	iss = json_string_value(v);
	if (strlen(iss) != json_string_length(v) || !issuer_ok(id, iss))
		return error_detail_set(err, -EKEYREJECTED,
					"token iss '%s' is not the configured project's issuer",
					loggable_url(iss));
	return 0;
}

/* 7. aud names this service, when audiences are configured. */
static int check_audience(const struct identity *id, json_t *payload, struct error_detail *err)
{
	json_t *v;

	if (id->n_audiences == 0)
		return 0;
	v = json_object_get(payload, "aud");
	if (!v)
		return error_detail_set(err, -EKEYREJECTED,
					"token has no aud, and an audience is required");
	if (!audience_ok(id, v))
		return error_detail_set(err, -EKEYREJECTED, "token aud does not name this service");
	return 0;
}

/* 8a. exp present, and not passed by more than the leeway; *ret gets it. */
static int check_exp(const struct identity *id, json_t *payload, int64_t now, int64_t *ret,
		     struct error_detail *err)
{
	int64_t exp;
	int r;

	r = numeric_date(payload, "exp", &exp);
	if (r < 0)
		return error_detail_set(err, -EKEYREJECTED, "%s",
					r == -ENOENT ? "token has no exp" :
					"token exp is not a number");
	if (now >= exp + id->leeway)
		return error_detail_set(err, -EKEYEXPIRED, "token expired %lld s ago",
					(long long)(now - exp));
	*ret = exp;
	return 0;
}

/* 8b, 8c. A NumericDate that, when present, must not be later than now + leeway: nbf (not
 * valid yet) and iat (issued in the future); why_future names the case in the error. */
static int check_not_future(const struct identity *id, json_t *payload, const char *claim,
			    const char *why_future, int64_t now, struct error_detail *err)
{
	int64_t when;
	int r;

	r = numeric_date(payload, claim, &when);
	if (r == -EBADMSG)
		return error_detail_set(err, -EKEYREJECTED, "token %s is not a number", claim);
	if (r == 0 && when > now + id->leeway)
		return error_detail_set(err, -EKEYEXPIRED, "token %s (%s in %lld s)", why_future,
					claim, (long long)(when - now));
	return 0;
}

/* 9. Refresh tokens share keys and issuer with session tokens: drn tells them apart. */
static int check_drn(json_t *payload, struct error_detail *err)
{
	json_t *v = json_object_get(payload, "drn");

	if (json_is_string(v) && strcmp(json_string_value(v), "DSR") == 0)
		return error_detail_set(err, -EKEYREJECTED,
					"token is a Descope refresh token (drn DSR)");
	return 0;
}

/* 10. sub a non-empty string of at most IDENTITY_MAX_SUB bytes (*ret borrowed). */
static int payload_sub(json_t *payload, const char **ret, struct error_detail *err)
{
	*ret = jsonbound_string(json_object_get(payload, "sub"), IDENTITY_MAX_SUB);
	if (!*ret)
		return error_detail_set(err, -EKEYREJECTED, "token has no usable sub");
	return 0;
}

/* 6 to 10: the claims of a verified payload; *exp and *sub (borrowed) get theirs. */
static int check_claims(const struct identity *id, json_t *payload, int64_t now, int64_t *exp,
			const char **sub, struct error_detail *err)
{
	int r;

	r = check_issuer(id, payload, err);
	if (r >= 0)
		r = check_audience(id, payload, err);
	if (r >= 0)
		r = check_exp(id, payload, now, exp, err);
	if (r >= 0)
		r = check_not_future(id, payload, "nbf", "is not valid yet", now, err);
	if (r >= 0)
		r = check_not_future(id, payload, "iat", "was issued in the future", now, err);
	if (r >= 0)
		r = check_drn(payload, err);
	if (r >= 0)
		r = payload_sub(payload, sub, err);
	return r;
}

/* The result of a validation: *ret gets new claims (one reference) holding the configured
 * context claims the payload carries. Returns 0 or -ENOMEM. */
static int claims_new(const struct identity *id, json_t *payload, const uint8_t *hash,
		      int64_t exp, const struct jwk *key, const char *kid, const char *sub,
		      struct identity_claims **ret)
{
	_cleanup_(identity_claims_unrefp) struct identity_claims *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->n_ref = 1;
	memcpy(c->hash, hash, HASH_SHA256_LEN);
	c->exp = exp;
	c->alg = key->alg;
	(void)snprintf(c->kid, sizeof(c->kid), "%s", kid);
	c->sub = strdup(sub);
	c->context = json_object();
	if (!c->sub || !c->context)
		return -ENOMEM;
	for (size_t i = 0; i < id->n_context_claims; i++) {
		json_t *cv = json_object_get(payload, id->context_claims[i]);

		if (cv && json_object_set_new(c->context, id->context_claims[i],
					      json_deep_copy(cv)) < 0)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(c);
	return 0;
}

/* Steps 2 to 10 for a token of the right shape that the cache did not answer. */
static int validate_uncached(const struct identity *id, const struct jwks *keys,
			     const char *token, size_t len, const struct jwt_segments *s,
			     int64_t now, const uint8_t *hash, struct identity_claims **ret,
			     struct error_detail *err, char *unknown_kid)
{
	_cleanup_(json_decrefp) json_t *header = NULL, *payload = NULL;
	struct jwt_header h = {0};
	const struct jwk *key = NULL;
	const char *sub = NULL;
	int64_t exp = 0;
	int r;

	r = check_header(id, s, &header, &h, err);
	if (r < 0)
		return r;
	r = find_key(keys, &h, &key, err, unknown_kid);
	if (r < 0)
		return r;
	r = check_signature(key, token, s, h.kid, err);
	if (r < 0)
		return r;
	r = payload_decode(s, len, &payload, err);
	if (r < 0)
		return r;
	r = check_claims(id, payload, now, &exp, &sub, err);
	if (r < 0)
		return r;
	return claims_new(id, payload, hash, exp, key, h.kid, sub, ret);
}

/* The verified-token cache: 1 with *ret (a new reference) on a hit, 0 on a miss, or
 * -EKEYEXPIRED for a remembered token that expired. A remembered token whose kid left keys is
 * forgotten: a miss, so that it is checked again. */
static int cache_lookup(struct identity *id, const struct jwks *keys, const uint8_t *hash,
			int64_t now, struct identity_claims **ret, struct error_detail *err)
{
	struct identity_claims *c = shamap_get(id->verified, hash);

	if (!c)
		return 0;
	if (now >= c->exp + id->leeway) {
		shamap_remove(id->verified, hash, true);
		return error_detail_set(err, -EKEYEXPIRED, "token expired");
	}
	/* A key withdrawn from the set withdraws its tokens. */
	if (keys && jwks_find(keys, c->kid)) {
		id->hits++;
		*ret = identity_claims_ref(c);
		return 1;
	}
	shamap_remove(id->verified, hash, true);
	return 0;
}

int identity_validate(struct identity *id, const struct jwks *keys, const char *token,
		      size_t len, int64_t now, struct identity_claims **ret,
		      struct error_detail *err, char *unknown_kid)
{
	uint8_t hash[HASH_SHA256_LEN];

	identity_token_hash(token, len, hash);
	return identity_validate_hashed(id, keys, token, len, hash, now, ret, err, unknown_kid);
}

int identity_validate_hashed(struct identity *id, const struct jwks *keys, const char *token,
			     size_t len, const uint8_t hash[static HASH_SHA256_LEN], int64_t now,
			     struct identity_claims **ret, struct error_detail *err,
			     char *unknown_kid)
{
	struct identity_claims *c = NULL;
	struct jwt_segments s = {0};
	int r;

	*ret = NULL;
	error_detail_clear(err);
	if (unknown_kid)
		unknown_kid[0] = '\0';

	/* 1. Shape, before anything is decoded. */
	r = check_size(id, token, len, err);
	if (r < 0)
		return r;
	/* A token whose hash is in the verified cache is byte for byte one that passed every
	 * check below: its shape is not looked at again (the alphabet scan was 6-13% of a
	 * cached exchange). */
	r = cache_lookup(id, keys, hash, now, ret, err);
	if (r != 0)
		return r < 0 ? r : 0;
	r = split_segments(token, len, &s, err);
	if (r < 0)
		return r;

	r = validate_uncached(id, keys, token, len, &s, now, hash, &c, err, unknown_kid);
	if (r < 0)
		return r;
	/* Remembering is an optimisation: a full cache only costs a signature check later. */
	(void)shamap_put(id->verified, hash, identity_claims_ref(c), NULL);
	*ret = c;
	return 0;
}
