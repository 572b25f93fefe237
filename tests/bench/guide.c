/* SPDX-License-Identifier: MIT */
/*
 * guide: what the Descope + Skyflow guide's MCP server does per request, done directly
 * against the emulator: validate the Descope token locally (RS256 with the JWKS key fetched
 * once, exp checked), exchange it at Skyflow STS, GET the records with the bearer. One
 * kept-alive HTTPS connection (blocking libcurl), as a long-running server would keep.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "bench.h"

struct guide {
	struct xe_emu *e;
	CURL *c;
	struct curl_slist *json_headers;
	EVP_PKEY *key;
};

struct guide *guide_new(struct xe_emu *e)
{
	struct guide *g = calloc(1, sizeof(*g));
	char kid[128];
	size_t pem_len;
	char *pem = xe_jwks_pem(e, kid, sizeof(kid), &pem_len);
	BIO *b = BIO_new_mem_buf(pem, (int)pem_len);

	g->e = e;
	g->key = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
	BIO_free(b);
	free(pem);
	g->c = curl_easy_init();
	g->json_headers = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(g->c, CURLOPT_CAINFO, e->ca);
	curl_easy_setopt(g->c, CURLOPT_WRITEFUNCTION, xe_write_cb);
	curl_easy_setopt(g->c, CURLOPT_TIMEOUT, 30L);
	if (!g->key || !g->c) {
		guide_free(g);
		return NULL;
	}
	return g;
}

void guide_free(struct guide *g)
{
	if (!g)
		return;
	curl_easy_cleanup(g->c);
	curl_slist_free_all(g->json_headers);
	EVP_PKEY_free(g->key);
	free(g);
}

int guide_validate(struct guide *g, const char *token)
{
	const char *d1 = strchr(token, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	unsigned char sig[1024], payload[4096];
	size_t sig_len, pl;
	EVP_MD_CTX *md;
	json_t *claims;
	int ok;

	if (!d2 || strlen(d2 + 1) > 1300 || (size_t)(d2 - d1) > 5000)
		return -1;
	sig_len = xe_b64url_decode(d2 + 1, strlen(d2 + 1), sig);
	md = EVP_MD_CTX_new();
	ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, g->key) == 1 &&
	     EVP_DigestVerify(md, sig, sig_len, (const unsigned char *)token,
			      (size_t)(d2 - token)) == 1;
	EVP_MD_CTX_free(md);
	if (!ok)
		return -1;
	pl = xe_b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), payload);
	claims = json_loadb((const char *)payload, pl, 0, NULL);
	ok = json_integer_value(json_object_get(claims, "exp")) > (json_int_t)time(NULL);
	json_decref(claims);
	return ok ? 0 : -1;
}

static long guide_perform(struct guide *g, const char *url, struct xe_buf *b)
{
	long status = 0;

	curl_easy_setopt(g->c, CURLOPT_URL, url);
	curl_easy_setopt(g->c, CURLOPT_WRITEDATA, b);
	if (curl_easy_perform(g->c) == CURLE_OK)
		curl_easy_getinfo(g->c, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

int guide_sts(struct guide *g, const char *token, char **access)
{
	json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "grant_type",
				 "urn:ietf:params:oauth:grant-type:token-exchange", "subject_token",
				 token, "subject_token_type", "urn:ietf:params:oauth:token-type:jwt",
				 "service_account_id", g->e->sa_id);
	char *text = json_dumps(body, JSON_COMPACT), url[256];
	struct xe_buf b = {0};
	json_t *j;
	long st;

	snprintf(url, sizeof(url), "%s/v1/auth/sts/token", g->e->url);
	curl_easy_setopt(g->c, CURLOPT_HTTPGET, 0L);
	curl_easy_setopt(g->c, CURLOPT_HTTPHEADER, g->json_headers);
	curl_easy_setopt(g->c, CURLOPT_POSTFIELDS, text);
	st = guide_perform(g, url, &b);
	j = st == 200 && b.p ? json_loads(b.p, 0, NULL) : NULL;
	*access = json_is_string(json_object_get(j, "accessToken"))
			  ? strdup(json_string_value(json_object_get(j, "accessToken")))
			  : NULL;
	json_decref(j);
	free(b.p);
	free(text);
	json_decref(body);
	return *access ? 0 : -1;
}

int guide_get(struct guide *g, const char *bearer, const char *table)
{
	char url[512], auth[4096];
	struct curl_slist *h;
	struct xe_buf b = {0};
	json_t *j;
	long st;

	snprintf(url, sizeof(url), "%s/v1/vaults/%s/%s?redaction=DEFAULT", g->e->url,
		 g->e->vault_id, table);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", bearer);
	h = curl_slist_append(NULL, auth);
	curl_easy_setopt(g->c, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(g->c, CURLOPT_HTTPHEADER, h);
	st = guide_perform(g, url, &b);
	/* the server parses the answer too, as the SDK does */
	j = st == 200 && b.p ? json_loads(b.p, 0, NULL) : NULL;
	curl_easy_setopt(g->c, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(h);
	free(b.p);
	st = j && json_is_array(json_object_get(j, "records")) ? 0 : -1;
	json_decref(j);
	return (int)st;
}

char *guide_mint(struct guide *g, const char *sub, const char *role)
{
	json_t *spec = json_pack("{s:s, s:i, s:[s]}", "sub", sub, "exp_in", 3600, "roles", role);
	char *text = json_dumps(spec, JSON_COMPACT), url[256], *t = NULL;
	struct xe_buf b = {0};
	json_t *j;

	snprintf(url, sizeof(url), "%s/emulator/descope/token", g->e->url);
	curl_easy_setopt(g->c, CURLOPT_HTTPGET, 0L);
	curl_easy_setopt(g->c, CURLOPT_HTTPHEADER, g->json_headers);
	curl_easy_setopt(g->c, CURLOPT_POSTFIELDS, text);
	j = guide_perform(g, url, &b) == 200 && b.p ? json_loads(b.p, 0, NULL) : NULL;
	if (json_is_string(json_object_get(j, "token")))
		t = strdup(json_string_value(json_object_get(j, "token")));
	json_decref(j);
	json_decref(spec);
	free(b.p);
	free(text);
	return t;
}
