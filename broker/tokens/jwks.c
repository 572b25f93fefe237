/* SPDX-License-Identifier: MIT */
/* jwks: JSON Web Key Sets parsed into OpenSSL keys, JWS signature checks, per-tenant fetching. */
#include "tokens/jwks.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/param_build.h>

#include "tokens/libcleanup.h"
#include "util/b64.h"
#include "util/clock.h"
#include "util/jsonbound.h"
#include "util/log.h"
#include "util/ref.h"
#include "util/list.h"

const char *jwk_alg_name(enum jwk_alg alg)
{
	return alg == JWK_ALG_ES256 ? "ES256" : "RS256";
}

/* Drains OpenSSL's error queue into one log line (the library's own text). */
static void log_openssl(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "unknown error";

	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	log_printf(LOG_DEBUG, "jwks: %s: %s", what, buf);
}

/* Decodes member `name` of k (base64url) into a new buffer; NULL if absent or invalid. */
static uint8_t *member_b64(json_t *k, const char *name, size_t max, size_t *len)
{
	json_t *v = json_object_get(k, name);
	_cleanup_free_ uint8_t *out = NULL;
	const char *s;
	size_t n;

	if (!json_is_string(v))
		return NULL;
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0 || b64url_decoded_max(n) > max + 2)
		return NULL;
	if (b64url_decode_alloc(s, n, &out, len) < 0)
		return NULL;
	if (*len == 0 || *len > max)
		return NULL;
	return TAKE_PTR(out);
}

/* A checked public key of type ("RSA", "EC") from the parameters in bld, or NULL (logged). */
static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM_BLD *bld)
{
	_cleanup_(OSSL_PARAM_freep) OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	_cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = NULL, *check = NULL;
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;

	if (!params)
		return NULL;
	ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
		log_openssl("EVP_PKEY_fromdata");
		return NULL;
	}
	check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (!check || EVP_PKEY_public_check(check) <= 0) {
		log_openssl("EVP_PKEY_public_check");
		return NULL;
	}
	return TAKE_PTR(pkey);
}

/* The RSA public key of JWK k (n, e; at least 2048 bits), or NULL. */
static EVP_PKEY *rsa_from_jwk(json_t *k)
{
	size_t n_len = 0, e_len = 0;
	_cleanup_free_ uint8_t *n = member_b64(k, "n", 1024, &n_len); /* up to 8192 bits */
	_cleanup_free_ uint8_t *e = member_b64(k, "e", 8, &e_len);
	_cleanup_(BN_freep) BIGNUM *bn_n = NULL, *bn_e = NULL;
	_cleanup_(OSSL_PARAM_BLD_freep) OSSL_PARAM_BLD *bld = NULL;

	if (!n || !e)
		return NULL;
	bn_n = BN_bin2bn(n, (int)n_len, NULL);
	bn_e = BN_bin2bn(e, (int)e_len, NULL);
	if (!bn_n || !bn_e)
		return NULL;
	/* RFC 7518 §3.3: at least 2048 bits; e odd and > 1. */
	if (BN_num_bits(bn_n) < 2048 || !BN_is_odd(bn_e) || BN_is_one(bn_e))
		return NULL;
	bld = OSSL_PARAM_BLD_new();
	if (!bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e))
		return NULL;
	return pkey_from_params("RSA", bld);
}

/* The P-256 public key of JWK k (x, y: 32 bytes each, the point checked), or NULL. */
static EVP_PKEY *ec_from_jwk(json_t *k)
{
	size_t x_len = 0, y_len = 0;
	_cleanup_free_ uint8_t *x = member_b64(k, "x", 32, &x_len);
	_cleanup_free_ uint8_t *y = member_b64(k, "y", 32, &y_len);
	_cleanup_(OSSL_PARAM_BLD_freep) OSSL_PARAM_BLD *bld = NULL;
	uint8_t point[65];

	if (!x || !y || x_len != 32 || y_len != 32)
		return NULL;
	point[0] = 0x04; /* uncompressed */
	memcpy(point + 1, x, 32);
	memcpy(point + 33, y, 32);
	bld = OSSL_PARAM_BLD_new();
	if (!bld ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)))
		return NULL;
	return pkey_from_params("EC", bld);
}

static bool kid_ok(const char *kid, size_t len)
{
	if (len == 0 || len > JWKS_MAX_KID || strlen(kid) != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)kid[i] < 0x20 || kid[i] == 0x7f)
			return false;
	return true;
}

/* Fills *out from key object k; returns 1 (usable), 0 (skipped), -ENOMEM. */
static int jwk_parse_one(json_t *k, struct jwk *out, size_t idx)
{
	json_t *kty = json_object_get(k, "kty"), *use = json_object_get(k, "use");
	json_t *alg = json_object_get(k, "alg"), *kid = json_object_get(k, "kid");
	json_t *crv = json_object_get(k, "crv");
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
	const char *t;
	enum jwk_alg a;

	if (!json_is_object(k) || !json_is_string(kty) || !json_is_string(kid) ||
	    !kid_ok(json_string_value(kid), json_string_length(kid))) {
		log_printf(LOG_DEBUG, "jwks: key #%zu skipped: missing kty or kid", idx);
		return 0;
	}
	if (use && (!json_is_string(use) || strcmp(json_string_value(use), "sig") != 0)) {
		log_printf(LOG_DEBUG, "jwks: key #%zu skipped: use is not \"sig\"", idx);
		return 0;
	}
	t = json_string_value(kty);
	if (strcmp(t, "RSA") == 0) {
		a = JWK_ALG_RS256;
	} else if (strcmp(t, "EC") == 0) {
		if (!json_is_string(crv) || strcmp(json_string_value(crv), "P-256") != 0) {
			log_printf(LOG_DEBUG, "jwks: key #%zu skipped: curve is not P-256", idx);
			return 0;
		}
		a = JWK_ALG_ES256;
	} else {
		log_printf(LOG_DEBUG, "jwks: key #%zu skipped: unsupported kty", idx);
		return 0;
	}
	if (alg && (!json_is_string(alg) || strcmp(json_string_value(alg), jwk_alg_name(a)) != 0)) {
		log_printf(LOG_DEBUG, "jwks: key #%zu skipped: alg does not fit kty", idx);
		return 0;
	}
	pkey = a == JWK_ALG_RS256 ? rsa_from_jwk(k) : ec_from_jwk(k);
	if (!pkey) {
		log_printf(LOG_DEBUG, "jwks: key #%zu skipped: invalid key material", idx);
		return 0;
	}
	out->kid = strdup(json_string_value(kid));
	if (!out->kid)
		return -ENOMEM;
	out->alg = a;
	out->pkey = TAKE_PTR(pkey);
	return 1;
}

/* Parses every key of the array keys into s (allocated for all of them), skipping and counting
 * unusable ones. Returns 0, -EBADMSG (a duplicate kid), -ENOMEM. */
static int parse_keys(json_t *keys, struct jwks *s, struct error_detail *err)
{
	for (size_t i = 0; i < json_array_size(keys); i++) {
		int r = jwk_parse_one(json_array_get(keys, i), &s->keys[s->n_keys], i);

		if (r < 0)
			return r;
		if (r == 0) {
			s->n_skipped++;
			continue;
		}
		if (jwks_find(s, s->keys[s->n_keys].kid)) {
			(void)error_detail_set(err, -EBADMSG, "JWKS has two keys with kid '%.64s'",
					       s->keys[s->n_keys].kid);
			s->n_keys++; /* so that it is freed */
			return -EBADMSG;
		}
		s->n_keys++;
	}
	return 0;
}

int jwks_parse(const void *text, size_t len, struct jwks **ret, struct error_detail *err)
{
	static const struct jsonbound_limits lim = { .max_size = JWKS_MAX_TEXT, .max_depth = 8 };
	_cleanup_(json_decrefp) json_t *root = NULL;
	_cleanup_(jwks_unrefp) struct jwks *s = NULL;
	json_t *keys;
	size_t n;
	int r;

	*ret = NULL;
	r = jsonbound_parse(text, len, &lim, &root, NULL);
	if (r < 0)
		return error_detail_set(err, r, "JWKS is %s",
					r == -EMSGSIZE ? "too large or too deep" : "not valid JSON");
	keys = json_object_get(root, "keys");
	if (!json_is_object(root) || !json_is_array(keys))
		return error_detail_set(err, -EBADMSG, "JWKS has no \"keys\" array");
	n = json_array_size(keys);
	if (n > JWKS_MAX_KEYS)
		return error_detail_set(err, -EMSGSIZE, "JWKS has %zu keys, more than %u", n,
					JWKS_MAX_KEYS);
	s = calloc(1, sizeof(*s) + n * sizeof(struct jwk));
	if (!s)
		return -ENOMEM;
	s->n_ref = 1;
	r = parse_keys(keys, s, err);
	if (r < 0)
		return r;
	if (s->n_keys == 0)
		return error_detail_set(err, -EBADMSG,
					"JWKS has no usable signature key (%zu skipped)",
					s->n_skipped);
	*ret = TAKE_PTR(s);
	return 0;
}

static void jwks_free(struct jwks *s)
{
	for (size_t i = 0; i < s->n_keys; i++) {
		free(s->keys[i].kid);
		EVP_PKEY_free(s->keys[i].pkey);
	}
	free(s);
}

DEFINE_REF_UNREF(struct jwks, jwks, jwks_free)

const struct jwk *jwks_find(const struct jwks *s, const char *kid)
{
	if (!s || !kid)
		return NULL;
	for (size_t i = 0; i < s->n_keys; i++)
		if (s->keys[i].kid && strcmp(s->keys[i].kid, kid) == 0)
			return &s->keys[i];
	return NULL;
}

/* ---- signatures ---- */

/* JWS ES256 signatures are the raw 32-byte r and s (RFC 7518 §3.4); OpenSSL verifies DER.
 * *ret (OPENSSL_free) gets the DER form. Returns 0, -EKEYREJECTED (not 64 bytes), -ENOMEM. */
static int es256_to_der(const uint8_t *sig, size_t sig_len, unsigned char **ret, size_t *ret_len)
{
	_cleanup_(ECDSA_SIG_freep) ECDSA_SIG *es = NULL;
	_cleanup_(BN_freep) BIGNUM *br = NULL, *bs = NULL;
	unsigned char *der = NULL;
	int der_len;

	if (sig_len != 64)
		return -EKEYREJECTED;
	es = ECDSA_SIG_new();
	br = BN_bin2bn(sig, 32, NULL);
	bs = BN_bin2bn(sig + 32, 32, NULL);
	if (!es || !br || !bs || !ECDSA_SIG_set0(es, br, bs))
		return -ENOMEM;
	/* es owns both numbers now. */
	br = NULL;
	bs = NULL;
	der_len = i2d_ECDSA_SIG(es, &der);
	if (der_len <= 0)
		return -ENOMEM;
	*ret = der;
	*ret_len = (size_t)der_len;
	return 0;
}

/* EVP_DigestVerify with SHA-256: 0 when sig verifies input with pkey, else -EKEYREJECTED
 * (or -ENOMEM). */
static int digest_verify(EVP_PKEY *pkey, const void *input, size_t input_len,
			 const unsigned char *sig, size_t sig_len)
{
	_cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();

	if (!md)
		return -ENOMEM;
	if (EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) != 1) {
		log_printf(LOG_ERR, "identity: EVP_DigestVerifyInit: %s",
			   ERR_reason_error_string(ERR_peek_last_error()) ?: "unknown error");
		return -EKEYREJECTED;
	}
	return EVP_DigestVerify(md, sig, sig_len, input, input_len) == 1 ?
		0 : -EKEYREJECTED;
}

int jwk_verify(const struct jwk *key, const void *input, size_t input_len, const uint8_t *sig,
	       size_t sig_len)
{
	_cleanup_(openssl_freep) unsigned char *der = NULL;
	int r;

	if (key->alg == JWK_ALG_ES256) {
		r = es256_to_der(sig, sig_len, &der, &sig_len);
		if (r < 0)
			return r;
		sig = der;
	}
	r = digest_verify(key->pkey, input, input_len, sig, sig_len);
	ERR_clear_error();
	return r;
}

/* ---- fetching ---- */

struct jwks_wait {
	struct jwks_source *src;
	struct jwks_wait *next, *prev;
	char kid[JWKS_MAX_KID + 1];
	jwks_wait_done_t done;
	void *userdata;
};

struct jwks_source {
	sd_event *event;
	struct upstream *upstream;
	char *url, *name, *ca_file, *log_tag;
	struct upstream_opts http;
	uint32_t refresh_sec, min_refetch_sec, retry_sec;
	struct jwks *keys;
	struct upstream_request *fetch;
	sd_event_source *timer;
	uint64_t last_kid_refetch_usec; /* 0: never */
	uint64_t fetches;
	uint32_t failures; /* consecutive failed fetches, for the back-off and quieter logs */
	struct jwks_wait *waiters;
	jwks_source_changed_t changed;
	void *userdata;
	char status[256];
	/* While on_fetch_done runs callbacks, jwks_source_free only marks the source: a waiter's
	 * callback may drop the last reference to whatever owns it (review finding 2). */
	bool in_callbacks, free_pending;
};

/* An attacker-chosen kid, when it is a short plain word that is safe to echo in a log line
 * (no control characters, quotes or spaces to forge log fields with); otherwise a marker. */
static const char *kid_loggable(const char *kid)
{
	size_t n = kid ? strlen(kid) : 0;

	if (n == 0 || n > 64)
		return "(not shown)";
	for (size_t i = 0; i < n; i++) {
		char c = kid[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '-' || c == '_' || c == '.' || c == '/' || c == '='))
			return "(not shown)";
	}
	return kid;
}

int jwks_source_new(sd_event *e, struct upstream *u, const struct jwks_source_config *cfg,
		    jwks_source_changed_t changed, void *userdata, struct jwks_source **ret)
{
	_cleanup_(jwks_source_freep) struct jwks_source *src = NULL;
	char tag[160];

	if (!e || !u || !cfg || !cfg->url || !ret)
		return -EINVAL;
	src = calloc(1, sizeof(*src));
	if (!src)
		return -ENOMEM;
	src->event = e;
	src->upstream = u;
	src->url = strdup(cfg->url);
	src->name = strdup(cfg->name ? cfg->name : "-");
	(void)snprintf(tag, sizeof(tag), "tenant=%s jwks", cfg->name ? cfg->name : "-");
	src->log_tag = strdup(tag);
	src->http = cfg->http;
	if (cfg->http.ca_file)
		src->ca_file = strdup(cfg->http.ca_file);
	if (!src->url || !src->name || !src->log_tag || (cfg->http.ca_file && !src->ca_file))
		return -ENOMEM;
	src->http.ca_file = src->ca_file;
	src->http.log_tag = src->log_tag;
	src->http.tenant = src->name;
	src->http.kind = "jwks";
	src->refresh_sec = cfg->refresh_sec ? cfg->refresh_sec : JWKS_DEFAULT_REFRESH_SEC;
	src->min_refetch_sec = cfg->min_refetch_sec ? cfg->min_refetch_sec :
		JWKS_DEFAULT_MIN_REFETCH_SEC;
	src->retry_sec = cfg->retry_sec ? cfg->retry_sec : JWKS_DEFAULT_RETRY_SEC;
	src->changed = changed;
	src->userdata = userdata;
	(void)snprintf(src->status, sizeof(src->status), "JWKS not loaded yet");
	*ret = TAKE_PTR(src);
	return 0;
}

static void waiter_unlink(struct jwks_wait *w)
{
	LIST_REMOVE(w->src->waiters, w);
}

void jwks_wait_cancel(struct jwks_wait *w)
{
	if (!w)
		return;
	waiter_unlink(w);
	free(w);
}

/* Frees what jwks_source_free left: the held set, strings and src. */
static void source_release(struct jwks_source *src)
{
	jwks_unref(src->keys);
	free(src->url);
	free(src->name);
	free(src->ca_file);
	free(src->log_tag);
	free(src);
}

struct jwks_source *jwks_source_free(struct jwks_source *src)
{
	if (!src)
		return NULL;
	while (src->waiters)
		jwks_wait_cancel(src->waiters);
	upstream_request_cancel(src->fetch);
	src->fetch = NULL;
	src->timer = sd_event_source_disable_unref(src->timer);
	src->changed = NULL;
	if (src->in_callbacks) {
		/* on_fetch_done finishes the job once its callbacks have returned. */
		src->free_pending = true;
		return NULL;
	}
	source_release(src);
	return NULL;
}

static int source_fetch(struct jwks_source *src);

static int on_source_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct jwks_source *src = userdata;

	(void)source_fetch(src);
	return 0;
}

/* (Re)arms the one refresh timer sec seconds from now; a failure is logged. */
static void source_schedule(struct jwks_source *src, uint32_t sec)
{
	uint64_t when = clock_now_usec(src->event) + (uint64_t)sec * 1000000u;
	int r;

	if (!src->timer) {
		r = sd_event_add_time(src->event, &src->timer, CLOCK_MONOTONIC, when,
				      CLOCK_ACCURACY_COARSE_USEC, on_source_timer, src);
		if (r >= 0)
			(void)sd_event_source_set_description(src->timer, "jwks-refresh");
	} else {
		r = sd_event_source_set_time(src->timer, when);
		if (r >= 0)
			r = sd_event_source_set_enabled(src->timer, SD_EVENT_ONESHOT);
	}
	if (r < 0)
		log_printf(LOG_ERR, "tenant=%s: cannot schedule JWKS refresh: %s", src->name,
		      strerror(-r));
}

/* The key set a finished fetch brought (*set, one reference), or why it brought none. */
static int fetch_result(const struct upstream_response *resp, struct jwks **set,
			struct error_detail *err)
{
	if (resp->r < 0)
		return error_detail_set(err, resp->r, "fetch failed: %s", resp->error);
	if (resp->status != 200)
		return error_detail_set(err, -EIO, "fetch failed: HTTP status %ld", resp->status);
	return jwks_parse(resp->body, resp->body_len, set, err);
}

/* A new set replaces the held one (set's reference moves to src); the next refresh is due. */
static void source_loaded(struct jwks_source *src, struct jwks *set)
{
	jwks_unref(src->keys);
	set->loaded_usec = clock_now_usec(NULL); /* before anyone else sees the set */
	src->keys = set;
	src->failures = 0;
	(void)snprintf(src->status, sizeof(src->status), "ok");
	log_printf(LOG_INFO, "tenant=%s: JWKS loaded: %zu key(s), %zu skipped", src->name,
		   set->n_keys, set->n_skipped);
	source_schedule(src, src->refresh_sec);
}

/* A fetch failed: retry sooner than the refresh period, backing off exponentially to a minute;
 * the first failure of a run is logged loudly, the repeats quietly. */
static void source_failed(struct jwks_source *src, const char *why)
{
	uint32_t delay = src->retry_sec << (src->failures < 4 ? src->failures : 4);
	int prio = src->failures == 0 ? LOG_ERR : LOG_DEBUG;

	if (delay > 60)
		delay = 60;
	if (delay > src->refresh_sec)
		delay = src->refresh_sec;
	src->failures++;
	if (src->keys) {
		log_printf(prio == LOG_ERR ? LOG_WARNING : prio,
			   "tenant=%s: JWKS refresh failed, keeping the last good set: %s",
			   src->name, why);
	} else {
		/* cut to the status line on purpose */
		(void)snprintf(src->status, sizeof(src->status), "JWKS %.*s",
			       (int)sizeof(src->status) - 6, why);
		log_printf(prio, "tenant=%s: JWKS not loaded: %s", src->name, why);
	}
	source_schedule(src, delay);
}

/* A fetch finished: the set is replaced or the failure noted, then waiters and the changed
 * callback are told. The source may be freed by a callback: it then goes at the end. */
static void on_fetch_done(struct upstream_request *req, const struct upstream_response *resp,
			  void *userdata)
{
	struct jwks_source *src = userdata;
	struct jwks *set = NULL;
	struct error_detail why = {0};

	src->fetch = NULL;
	if (fetch_result(resp, &set, &why) >= 0)
		source_loaded(src, set);
	else
		source_failed(src, why.message);

	/* Waiters get their answer; each callback may cancel other waiters, or free the source
	 * (then the loop ends, the waiters being cancelled, and the source goes below). */
	src->in_callbacks = true;
	while (src->waiters) {
		struct jwks_wait *w = src->waiters;
		bool found = jwks_find(src->keys, w->kid) != NULL;

		waiter_unlink(w);
		w->done(w, found, w->userdata);
		free(w);
	}
	if (src->changed)
		src->changed(src, src->keys != NULL, src->userdata);
	src->in_callbacks = false;
	if (src->free_pending)
		source_release(src);
}

/* Starts a fetch unless one is running. Returns 0 or -errno (status set). */
static int source_fetch(struct jwks_source *src)
{
	int r;

	if (src->fetch)
		return 0;
	r = upstream_request_start(src->upstream, &src->http, "GET", src->url, NULL, 0, true,
				   on_fetch_done, src, &src->fetch);
	if (r < 0) {
		(void)snprintf(src->status, sizeof(src->status), "JWKS fetch cannot start: %s",
			       strerror(-r));
		return r;
	}
	src->fetches++;
	return 0;
}

void jwks_source_seed(struct jwks_source *src, struct jwks *set)
{
	if (!set || src->keys)
		return;
	src->keys = jwks_ref(set);
	(void)snprintf(src->status, sizeof(src->status), "ok");
}

const char *jwks_source_url(const struct jwks_source *src)
{
	return src->url;
}

int jwks_source_start(struct jwks_source *src)
{
	return source_fetch(src);
}

struct jwks *jwks_source_keys(const struct jwks_source *src)
{
	return src->keys;
}

bool jwks_source_ready(const struct jwks_source *src)
{
	return src->keys != NULL;
}

const char *jwks_source_status(const struct jwks_source *src)
{
	return src->status;
}

uint64_t jwks_source_fetches(const struct jwks_source *src)
{
	return src->fetches;
}

int jwks_source_refetch_for_kid(struct jwks_source *src, const char *kid, jwks_wait_done_t done,
				void *userdata, struct jwks_wait **ret)
{
	struct jwks_wait *w;
	uint64_t now = clock_now_usec(src->event);
	int r;

	*ret = NULL;
	if (!src->fetch) {
		if (src->last_kid_refetch_usec &&
		    now - src->last_kid_refetch_usec < (uint64_t)src->min_refetch_sec * 1000000u)
			return -EAGAIN;
		src->last_kid_refetch_usec = now;
		log_printf(LOG_INFO, "tenant=%s: unknown kid '%s', refetching the JWKS", src->name,
		      kid_loggable(kid));
		r = source_fetch(src);
		if (r < 0)
			return r;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->src = src;
	(void)snprintf(w->kid, sizeof(w->kid), "%s", kid ? kid : "");
	w->done = done;
	w->userdata = userdata;
	LIST_PREPEND(src->waiters, w);
	*ret = w;
	return 1;
}
