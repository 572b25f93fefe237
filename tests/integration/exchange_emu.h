/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Emulator helpers for the exchange integration tests (header-only; only test_exchange_*.c
 * include it): start skyflow-emulator over HTTPS with a throw-away CA (tests/tls/mkca.sh),
 * mint Descope tokens, read call counters, inject faults, rotate keys. Blocking libcurl is
 * fine here: this is the test process, not the daemon.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

extern char **environ;

struct xe_emu {
	pid_t pid;
	char dir[256];
	char ca[PATH_MAX];
	char state_dir[512];
	char credentials[PATH_MAX];
	char log[PATH_MAX];
	char url[128];
	char project_id[64];
	char vault_id[64];
	char sa_id[64];
};

static inline int xe_run(char *const argv[])
{
	pid_t pid;
	int st;

	if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0)
		return -1;
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static inline int xe_write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	size_t n = strlen(text);

	if (fd < 0)
		return -1;
	if (write(fd, text, n) != (ssize_t)n) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/* Starts the emulator with config_text (JSON) in a new temporary directory. 0 or -1. */
static inline int xe_emu_start(struct xe_emu *e, const char *config_text)
{
	const char *src = getenv("SKYBROKER_SOURCE_DIR"), *bin = getenv("SKYFLOW_EMULATOR");
	char mkca[PATH_MAX], tls[512], cfg[PATH_MAX], cert[PATH_MAX], key[PATH_MAX];
	char buf[8192] = "";
	size_t got = 0;
	posix_spawn_file_actions_t fa;
	int out[2];
	char *argv[16];

	memset(e, 0, sizeof(*e));
	e->pid = -1;
	if (!src || !bin) {
		fprintf(stderr, "exchange_emu: SKYBROKER_SOURCE_DIR / SKYFLOW_EMULATOR not set\n");
		return -1;
	}
	snprintf(e->dir, sizeof(e->dir), "/tmp/sb-xchg.XXXXXX");
	if (!mkdtemp(e->dir))
		return -1;
	chmod(e->dir, 0755); /* the daemon may run under another uid in some tests */
	snprintf(tls, sizeof(tls), "%s/tls", e->dir);
	snprintf(mkca, sizeof(mkca), "%s/tests/tls/mkca.sh", src);
	snprintf(e->ca, sizeof(e->ca), "%s/ca.pem", tls);
	snprintf(cert, sizeof(cert), "%s/server.pem", tls);
	snprintf(key, sizeof(key), "%s/server.key", tls);
	snprintf(e->state_dir, sizeof(e->state_dir), "%s/state", e->dir);
	snprintf(cfg, sizeof(cfg), "%s/emu.json", e->dir);
	snprintf(e->log, sizeof(e->log), "%s/emu.log", e->dir);
	argv[0] = (char *)"/bin/sh";
	argv[1] = mkca;
	argv[2] = tls;
	argv[3] = NULL;
	if (xe_run(argv) != 0 || xe_write_file(cfg, config_text, 0600) < 0)
		return -1;
	if (pipe2(out, O_CLOEXEC) < 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, e->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	argv[0] = (char *)bin;
	argv[1] = (char *)"--config";
	argv[2] = cfg;
	argv[3] = (char *)"--listen";
	argv[4] = (char *)"127.0.0.1:0";
	argv[5] = (char *)"--state-dir";
	argv[6] = e->state_dir;
	argv[7] = (char *)"--tls-cert";
	argv[8] = cert;
	argv[9] = (char *)"--tls-key";
	argv[10] = key;
	argv[11] = NULL;
	if (posix_spawn(&e->pid, bin, &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(out[1]);
	for (int waited = 0; waited < 600 && !strstr(buf, "ready ");) {
		struct pollfd p = { .fd = out[0], .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 100) <= 0) {
			waited++;
			continue;
		}
		n = read(out[0], buf + got, sizeof(buf) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		buf[got] = '\0';
	}
	close(out[0]);
	{
		char *line = strstr(buf, "ready "), *p;

		if (!line || !strchr(line, '\n')) {
			fprintf(stderr, "exchange_emu: emulator did not become ready\n");
			return -1;
		}
		if ((p = strstr(line, "url=")))
			sscanf(p, "url=%127s", e->url);
		if ((p = strstr(line, "vault_id=")))
			sscanf(p, "vault_id=%63s", e->vault_id);
		if ((p = strstr(line, "project_id=")))
			sscanf(p, "project_id=%63s", e->project_id);
		snprintf(e->credentials, sizeof(e->credentials), "%s/credentials.json",
			 e->state_dir);
	}
	{
		FILE *f = fopen(e->credentials, "re");
		json_t *j = f ? json_loadf(f, 0, NULL) : NULL;

		if (f)
			fclose(f);
		snprintf(e->sa_id, sizeof(e->sa_id), "%s",
			 j ? json_string_value(json_object_get(j, "clientID")) : "");
		json_decref(j);
	}
	return 0;
}

static inline void xe_emu_stop(struct xe_emu *e)
{
	char *argv[4];

	if (e->pid > 0) {
		kill(e->pid, SIGTERM);
		waitpid(e->pid, NULL, 0);
		e->pid = -1;
	}
	if (e->dir[0]) {
		argv[0] = (char *)"/bin/rm";
		argv[1] = (char *)"-rf";
		argv[2] = e->dir;
		argv[3] = NULL;
		xe_run(argv);
	}
}

struct xe_buf {
	char *p;
	size_t n;
};

static inline size_t xe_write_cb(char *d, size_t s, size_t n, void *ud)
{
	struct xe_buf *b = ud;
	char *np = realloc(b->p, b->n + s * n + 1);

	if (!np)
		return 0;
	b->p = np;
	memcpy(b->p + b->n, d, s * n);
	b->n += s * n;
	b->p[b->n] = '\0';
	return s * n;
}

/* One request to the emulator; body may be NULL. Returns the parsed JSON reply (or NULL). */
static inline json_t *xe_http(struct xe_emu *e, const char *method, const char *path,
			      json_t *body, long *status)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	struct xe_buf b = { 0 };
	char url[512], *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_t *j = NULL;
	long st = 0;

	snprintf(url, sizeof(url), "%s%s", e->url, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, e->ca);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, xe_write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	if (text)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
	else if (strcmp(method, "POST") == 0)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{}");
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
	if (status)
		*status = st;
	if (b.p)
		j = json_loads(b.p, 0, NULL);
	free(b.p);
	free(text);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return j;
}

/* Mints a Descope token from spec (borrowed). malloc'd, or NULL. */
static inline char *xe_mint(struct xe_emu *e, json_t *spec)
{
	long st = 0;
	json_t *j = xe_http(e, "POST", "/emulator/descope/token", spec, &st);
	char *t = NULL;

	if (st == 200 && json_is_string(json_object_get(j, "token")))
		t = strdup(json_string_value(json_object_get(j, "token")));
	json_decref(j);
	return t;
}

/* Calls of one endpoint ("POST /v1/auth/sts/token") since start or reset. */
static inline long xe_count(struct xe_emu *e, const char *endpoint)
{
	json_t *j = xe_http(e, "GET", "/emulator/stats", NULL, NULL);
	long n = (long)json_integer_value(json_object_get(json_object_get(j, "endpoints"), endpoint));

	json_decref(j);
	return n;
}

static inline long xe_total(struct xe_emu *e)
{
	json_t *j = xe_http(e, "GET", "/emulator/stats", NULL, NULL);
	long n = (long)json_integer_value(json_object_get(j, "total"));

	json_decref(j);
	return n;
}

static inline void xe_reset(struct xe_emu *e)
{
	json_decref(xe_http(e, "POST", "/emulator/stats/reset", NULL, NULL));
	json_decref(xe_http(e, "DELETE", "/emulator/faults", NULL, NULL));
}

/* Adds a fault (spec stolen). */
static inline void xe_fault(struct xe_emu *e, json_t *spec)
{
	json_decref(xe_http(e, "POST", "/emulator/faults", spec, NULL));
	json_decref(spec);
}

/* Rotates the Descope signing key; returns the new kid (malloc'd). */
static inline char *xe_rotate(struct xe_emu *e, bool drop_old)
{
	json_t *spec = json_pack("{s:b}", "drop_old", drop_old);
	json_t *j = xe_http(e, "POST", "/emulator/descope/rotate", spec, NULL);
	char *kid = j ? strdup(json_string_value(json_object_get(j, "kid"))) : NULL;

	json_decref(spec);
	json_decref(j);
	return kid;
}

/* Whether a file contains needle (to search the daemon's output for secrets). */
static inline bool xe_file_contains(const char *path, const char *needle)
{
	FILE *f = fopen(path, "re");
	char *data;
	long n;
	bool found;

	if (!f)
		return false;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	data = calloc(1, (size_t)n + 1);
	if (fread(data, 1, (size_t)n, f) != (size_t)n) {
		/* a short read only weakens the search */
	}
	fclose(f);
	found = memmem(data, (size_t)n, needle, strlen(needle)) != NULL;
	free(data);
	return found;
}

/* The emulator configuration of these tests: Viewer -> marketing through STS and ctx. */
#define XE_PROJECT "P2XchgTestProj00000000000000"
#define XE_SA_ID "5a1b2c3d4e5f60718293a4b5c6d7e8f9"
static inline char *xe_config(const char *audience)
{
	json_t *c = json_pack(
		"{s:{s:s}, s:{s:s}, s:{s:s, s:[{s:s, s:[{s:s, s:s, s:s}], s:[{s:s}]}]},"
		" s:[{s:s, s:s, s:[s]}, {s:s, s:s, s:[s]}],"
		" s:[{s:s, s:s}, {s:s, s:s}],"
		" s:[{s:s, s:[s, s], s:[s]}]}",
		"descope", "project_id", XE_PROJECT, "service_account", "clientID", XE_SA_ID,
		"vault", "id", "x1e2s3t4v5a6u7l8t9000000000000aa", "tables", "name", "persons",
		"columns", "name", "name", "type", "STRING", "default_redaction", "PLAIN_TEXT",
		"records", "name", "Ada",
		"roles", "id", "marketing", "name", "marketing", "policies",
		"ALLOW READ ON persons.name WITH REDACTION = REDACTED", "id", "admin", "name", "admin",
		"policies", "ALLOW READ ON persons.name WITH REDACTION = PLAIN_TEXT",
		"role_assignments", "role", "marketing", "condition", "'Viewer' in request.context.roles",
		"role", "admin", "condition", "'Admin' in request.context.roles",
		"sts_configs", "name", "descope", "contextClaims", "roles", "sub",
		"serviceAccountIDs", XE_SA_ID);
	char *s;

	if (audience)
		json_object_set_new(json_array_get(json_object_get(c, "sts_configs"), 0), "audience",
				    json_string(audience));
	s = json_dumps(c, JSON_INDENT(1));
	json_decref(c);
	return s;
}

/* ---- forging tokens in the test (what the emulator will not mint) ---- */

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

static inline char *xe_b64url(const void *data, size_t n)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *p = data;
	char *out = malloc(n / 3 * 4 + 5), *o = out;
	size_t i = 0;

	for (; i + 3 <= n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];

		*o++ = a[v >> 18];
		*o++ = a[(v >> 12) & 63];
		*o++ = a[(v >> 6) & 63];
		*o++ = a[v & 63];
	}
	if (n - i == 1) {
		*o++ = a[p[i] >> 2];
		*o++ = a[(p[i] & 3) << 4];
	} else if (n - i == 2) {
		unsigned v = (unsigned)p[i] << 8 | p[i + 1];

		*o++ = a[v >> 10];
		*o++ = a[(v >> 4) & 63];
		*o++ = a[(v & 15) << 2];
	}
	*o = '\0';
	return out;
}

static inline size_t xe_b64url_decode(const char *s, size_t n, unsigned char *out)
{
	unsigned acc = 0, bits = 0;
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
		const char *q = strchr(a, s[i]);

		if (!q || !s[i])
			break;
		acc = (acc << 6) | (unsigned)(q - a);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	return o;
}

/* header.payload + "." + signature; k NULL: HS256 with secret. */
static inline char *xe_forge(EVP_PKEY *k, const void *secret, size_t sl, const char *header,
			     const char *payload)
{
	char *h = xe_b64url(header, strlen(header)), *p = xe_b64url(payload, strlen(payload));
	size_t n = strlen(h) + 1 + strlen(p);
	char *out = malloc(n + 1024), *s;
	unsigned char sig[512];
	size_t sig_len = sizeof(sig);

	snprintf(out, n + 1, "%s.%s", h, p);
	if (k) {
		EVP_MD_CTX *md = EVP_MD_CTX_new();

		EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k);
		EVP_DigestSign(md, sig, &sig_len, (unsigned char *)out, n);
		EVP_MD_CTX_free(md);
	} else {
		unsigned int ml = 0;

		HMAC(EVP_sha256(), secret, (int)sl, (unsigned char *)out, n, sig, &ml);
		sig_len = ml;
	}
	s = xe_b64url(sig, sig_len);
	snprintf(out + n, 1024, ".%s", s);
	free(h);
	free(p);
	free(s);
	return out;
}

/* The emulator's current JWKS key 0 as a SubjectPublicKeyInfo PEM (malloc'd) and its kid. */
static inline char *xe_jwks_pem(struct xe_emu *e, char *kid, size_t kid_size, size_t *pem_len)
{
	char path[160];
	json_t *j, *k;
	unsigned char n[1024], ex[16];
	size_t nl, el;
	BIGNUM *bn = NULL, *be = NULL;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	EVP_PKEY *pkey = NULL;
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out;
	long len;

	snprintf(path, sizeof(path), "/%s/.well-known/jwks.json", e->project_id);
	j = xe_http(e, "GET", path, NULL, NULL);
	k = json_array_get(json_object_get(j, "keys"), 0);
	snprintf(kid, kid_size, "%s", json_string_value(json_object_get(k, "kid")));
	nl = xe_b64url_decode(json_string_value(json_object_get(k, "n")),
			      strlen(json_string_value(json_object_get(k, "n"))), n);
	el = xe_b64url_decode(json_string_value(json_object_get(k, "e")),
			      strlen(json_string_value(json_object_get(k, "e"))), ex);
	bn = BN_bin2bn(n, (int)nl, NULL);
	be = BN_bin2bn(ex, (int)el, NULL);
	OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn);
	OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be);
	params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_fromdata_init(ctx);
	EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
	PEM_write_bio_PUBKEY(b, pkey);
	len = BIO_get_mem_data(b, &data);
	out = malloc((size_t)len + 1);
	memcpy(out, data, (size_t)len);
	out[len] = '\0';
	*pem_len = (size_t)len;
	BIO_free(b);
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	json_decref(j);
	return out;
}

/* Decodes a JWT payload without verifying (new reference or NULL). */
static inline json_t *xe_jwt_payload(const char *jwt)
{
	const char *d1 = strchr(jwt, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	unsigned char *buf;
	size_t n;
	json_t *j;

	if (!d2)
		return NULL;
	buf = malloc((size_t)(d2 - d1));
	n = xe_b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), buf);
	j = json_loadb((char *)buf, n, 0, NULL);
	free(buf);
	return j;
}
