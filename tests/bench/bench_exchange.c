/* SPDX-License-Identifier: MIT */
/*
 * bench_exchange: a cold exchange through skybrokerd against one direct STS call, measured in
 * the same run against the same emulator (DESIGN: a cold exchange at most 1.2x a direct STS
 * call on a kept-alive connection). Also the cached exchange, for scale.
 *
 * Each cold exchange carries a new Descope token (minted before timing), so the broker
 * validates it (signature included) and exchanges it at STS; the direct calls post the same
 * kind of body over one kept-alive connection, as the guide's MCP server would. Prints the p50
 * and p90 of each, and the ratio. Not a test: no threshold is asserted here.
 *
 * Usage: bench_exchange [N]   (run by scripts/bench; needs the environment ctest sets)
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "exchange_daemon.h"
#include "exchange_emu.h"
#include "harness.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The q-quantile (0..1) of n samples, sorted in place. */
static double quantile_us(uint64_t *v, size_t n, double q)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return (double)v[(size_t)(q * (double)(n - 1))] / 1000.0;
}

/* One direct STS call on c (kept alive between calls); returns the HTTP status. */
static long direct_sts(CURL *c, struct xe_emu *e, const char *token)
{
	json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "grant_type",
				 "urn:ietf:params:oauth:grant-type:token-exchange", "subject_token",
				 token, "subject_token_type", "urn:ietf:params:oauth:token-type:jwt",
				 "service_account_id", e->sa_id);
	char *text = json_dumps(body, JSON_COMPACT), url[256];
	struct xe_buf b = {0};
	long status = 0;

	snprintf(url, sizeof(url), "%s/v1/auth/sts/token", e->url);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	free(b.p);
	free(text);
	json_decref(body);
	return status;
}

static CURL *direct_handle(struct xe_emu *e, struct curl_slist **headers)
{
	CURL *c = curl_easy_init();

	*headers = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_CAINFO, e->ca);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, *headers);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, xe_write_cb);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	return c;
}

/* Mints n tokens for distinct subjects (each one a cold exchange for the broker). */
static char **mint_tokens(struct xe_emu *e, size_t n, const char *prefix)
{
	char **v = calloc(n, sizeof(*v)), sub[64];

	for (size_t i = 0; i < n; i++) {
		snprintf(sub, sizeof(sub), "U%s%zu", prefix, i);
		v[i] = xd_mint(e, sub, "Viewer", 3600, NULL);
	}
	return v;
}

/* The round trip of one exchange through the broker; 0 when it failed. */
static uint64_t broker_exchange_ns(struct sbt_client *c, const char *token)
{
	struct sb_reply rep;
	uint64_t t0 = now_ns(), t1;

	xd_send(c, token);
	if (sbt_recv(c, &rep) < 0)
		return 0;
	t1 = now_ns();
	if (!rep.ok)
		t1 = t0;
	sb_reply_done(&rep);
	return t1 - t0;
}

static void report(const char *what, uint64_t *v, size_t n, double *p50)
{
	*p50 = quantile_us(v, n, 0.5);
	printf("%-36s p50 %8.1f us   p90 %8.1f us   (n=%zu)\n", what, *p50, quantile_us(v, n, 0.9),
	       n);
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 200;
	struct xe_emu e;
	struct sbt_daemon d;
	struct curl_slist *headers = NULL;
	char conf[16384], *cfg = xe_config(NULL);
	uint64_t *direct = calloc(n, sizeof(uint64_t)), *cold = calloc(n, sizeof(uint64_t));
	uint64_t *cached = calloc(n, sizeof(uint64_t));
	double p_direct, p_cold, p_cached;
	char **direct_tokens, **cold_tokens;
	struct sbt_client *c;
	CURL *h;
	size_t len;

	if (n < 10 || !direct || !cold || !cached || xe_emu_start(&e, cfg) < 0)
		return 1;
	sbt_daemon_init(&d);
	len = xd_broker(conf, sizeof(conf), &d, "audit = no\n");
	xd_tenant(conf, sizeof(conf), len, &e, "acme", "sts", NULL, NULL);
	if (sbt_daemon_start(&d, conf, NULL) < 0)
		return 1;
	direct_tokens = mint_tokens(&e, n + 1, "d");
	cold_tokens = mint_tokens(&e, n + 1, "b");
	c = xd_client(d.socket);
	h = direct_handle(&e, &headers);

	/* warm-up: both keep their upstream connection from here on */
	if (direct_sts(h, &e, direct_tokens[n]) != 200 || !broker_exchange_ns(c, cold_tokens[n]))
		return 1;
	for (size_t i = 0; i < n; i++) {
		uint64_t t0 = now_ns();

		if (direct_sts(h, &e, direct_tokens[i]) != 200)
			return 1;
		direct[i] = now_ns() - t0;
		cold[i] = broker_exchange_ns(c, cold_tokens[i]);
		if (!cold[i])
			return 1;
	}
	for (size_t i = 0; i < n; i++)
		if (!(cached[i] = broker_exchange_ns(c, cold_tokens[i % 8])))
			return 1;

	report("direct STS call (kept alive)", direct, n, &p_direct);
	report("cold exchange through skybrokerd", cold, n, &p_cold);
	report("cached exchange through skybrokerd", cached, n, &p_cached);
	printf("cold exchange / direct STS call: %.2fx (target: at most 1.2x)\n", p_cold / p_direct);

	sbt_client_free(c);
	curl_easy_cleanup(h);
	curl_slist_free_all(headers);
	xd_stop_clean(&d);
	xe_emu_stop(&e);
	return 0;
}
