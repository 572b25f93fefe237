/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Shared set-up of the exchange integration tests (header-only): an emulator over HTTPS and a
 * skybrokerd whose tenants point at it, plus request helpers on the runtime's harness client.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "exchange_emu.h"
#include "harness.h"

/*
 * Appends a [tenant.NAME] section pointing at emulator e: mode "sts" or "ctx"; socket may be
 * NULL (the shared one); extra raw lines (may be NULL). Returns the new length.
 */
static inline size_t xd_tenant(char *buf, size_t size, size_t len, struct xe_emu *e,
			       const char *name, const char *mode, const char *socket,
			       const char *extra)
{
	int k = snprintf(buf + len, size - len,
			 "[tenant.%s]\n"
			 "%s%s%s"
			 "allow_uids = 0\n"
			 "descope_project_id = %s\n"
			 "jwks_url = %s/%s/.well-known/jwks.json\n"
			 "exchange = %s\n"
			 "sts_url = %s/v1/auth/sts/token\n"
			 "service_account_id = %s\n"
			 "credentials_file = %s\n"
			 "context_claims = roles, sub\n"
			 "vault_url = %s\n"
			 "vault_id = %s\n"
			 "ca_file = %s\n"
			 "http_timeout = 2s\n"
			 /* generous: 64 TLS handshakes at once under ASan on a loaded
			  * machine take seconds; no test here times a connect */
			 "connect_timeout = 20s\n"
			 "%s\n",
			 name, socket ? "socket = " : "", socket ? socket : "", socket ? "\n" : "",
			 e->project_id, e->url, e->project_id, mode, e->url, e->sa_id,
			 e->credentials, e->url, e->vault_id, e->ca, extra ? extra : "");

	if (k < 0 || (size_t)k >= size - len)
		abort();
	return len + (size_t)k;
}

/* Raises every tenant's http_timeout in conf from the 2 s above to 60 s, for tests that send
 * bursts (hundreds of requests queue for upstream connections) and must not fail on a loaded
 * machine; the tests that time a timeout keep 2 s. */
static inline void xd_long_http_timeout(char *conf)
{
	for (char *t = strstr(conf, "http_timeout = 2s\n"); t;
	     t = strstr(t, "http_timeout = 2s\n"))
		memcpy(t, "http_timeout = 60", 17);
}

static inline size_t xd_broker(char *buf, size_t size, const struct sbt_daemon *d,
			       const char *extra)
{
	int k = snprintf(buf, size,
			 "[broker]\nsocket = %s\nadmin_socket = %s\nlog_level = debug\n%s\n",
			 d->socket, d->admin, extra ? extra : "");

	if (k < 0 || (size_t)k >= size)
		abort();
	return (size_t)k;
}

/* A hello'd client on path. */
static inline struct sbt_client *xd_client(const char *path)
{
	struct sbt_client *c = sbt_connect(path);

	assert_non_null(c);
	assert_int_equal(sbt_hello(c, NULL), 0);
	return c;
}

/* Sends one exchange (does not wait). Returns the id. */
static inline int64_t xd_send(struct sbt_client *c, const char *token)
{
	struct sb_request req = { .op = SB_OP_EXCHANGE };
	int64_t id;

	req.u.exchange.subject_token = token;
	id = sbt_send(c, &req);
	assert_true(id > 0);
	return id;
}

/* One exchange round trip; rep must be released with sb_reply_done. */
static inline void xd_exchange(struct sbt_client *c, const char *token, struct sb_reply *rep)
{
	xd_send(c, token);
	assert_int_equal(sbt_recv(c, rep), 0);
}

/* Mints a Descope token at the emulator for sub with roles (comma-separated, may be NULL),
 * lifetime exp_in seconds, and extra spec fields (JSON object text, may be NULL). */
static inline char *xd_mint(struct xe_emu *e, const char *sub, const char *roles, long exp_in,
			    const char *extra)
{
	json_t *spec = extra ? json_loads(extra, 0, NULL) : json_object();
	json_t *r = json_array();
	char *t;

	json_object_set_new(spec, "sub", json_string(sub));
	json_object_set_new(spec, "exp_in", json_integer(exp_in));
	if (roles) {
		char *copy = strdup(roles), *save = NULL;

		for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save))
			json_array_append_new(r, json_string(p));
		free(copy);
	}
	json_object_set_new(spec, "roles", r);
	t = xe_mint(e, spec);
	json_decref(spec);
	assert_non_null(t);
	return t;
}

/* Whether a msgpack map has key k whose value is an array containing string v. */
static inline bool xd_map_array_has(const msgpack_object *map, const char *k, const char *v)
{
	if (!map || map->type != MSGPACK_OBJECT_MAP)
		return false;
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];

		if (kv->key.type != MSGPACK_OBJECT_STR || kv->key.via.str.size != strlen(k) ||
		    memcmp(kv->key.via.str.ptr, k, strlen(k)) != 0 ||
		    kv->val.type != MSGPACK_OBJECT_ARRAY)
			continue;
		for (uint32_t j = 0; j < kv->val.via.array.size; j++) {
			const msgpack_object *s = &kv->val.via.array.ptr[j];

			if (s->type == MSGPACK_OBJECT_STR && s->via.str.size == strlen(v) &&
			    memcmp(s->via.str.ptr, v, strlen(v)) == 0)
				return true;
		}
	}
	return false;
}

/* health of the connection's tenant: 1 ready, 0 not ready (first reason copied), -1 error. */
static inline int xd_health(struct sbt_client *c, char *reason, size_t size)
{
	struct sb_reply rep;
	int r;

	if (sbt_call(c, SB_OP_HEALTH, &rep) < 0)
		return -1;
	r = rep.ok ? (rep.u.health.ready ? 1 : 0) : -1;
	if (reason && size)
		snprintf(reason, size, "%s",
			 rep.ok && rep.u.health.reasons.n ? rep.u.health.reasons.v[0] : "");
	sb_reply_done(&rep);
	return r;
}

/* Value of an unsigned counter k in a msgpack map (0 if absent). */
static inline uint64_t xd_map_u64(const msgpack_object *map, const char *k)
{
	if (!map || map->type != MSGPACK_OBJECT_MAP)
		return 0;
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];

		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(k) &&
		    memcmp(kv->key.via.str.ptr, k, strlen(k)) == 0 &&
		    kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
			return kv->val.via.u64;
	}
	return 0;
}

/* Stops d with SIGTERM and checks a clean exit: status 0 and no sanitizer report in its log
 * (under the asan preset a leak or an error makes the exit non-zero), and that the log holds
 * no token and no key. Then removes it. */
static inline void xd_stop_clean(struct sbt_daemon *d)
{
	int st;

	sbt_daemon_kill(d, SIGTERM);
	st = sbt_daemon_wait_exit(d, SBT_TIMEOUT_MS);
	if (st != 0 || sbt_log_contains(d, "Sanitizer"))
		sbt_log_dump(d);
	assert_int_equal(st, 0);
	assert_false(sbt_log_contains(d, "Sanitizer"));
	/* No token (every JWT here starts with a base64url '{"') and no key in the output. */
	assert_false(sbt_log_contains(d, "eyJ"));
	assert_false(sbt_log_contains(d, "PRIVATE KEY"));
	sbt_daemon_stop(d);
}
