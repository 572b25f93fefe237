/* SPDX-License-Identifier: MIT */
/* config_print: the effective configuration as an INI file, for --check-config (no secrets). */
#include <stdio.h>
#include <string.h>

#include "tenancy/config_internal.h"
#include "util/log.h"
#include "proto/message.h"

/*
 * inih takes a ';' after a blank for the start of a comment, so a value (or a list entry)
 * that begins with ';' (legal: "issuer =;x" gives ";x") is printed with no blank before it.
 */
static const char *blank_before(const char *value)
{
	return value[0] == ';' ? "" : " ";
}

/* key = value */
static void print_str(FILE *out, const char *key, const char *value)
{
	fprintf(out, "%s =%s%s\n", key, blank_before(value), value);
}

/*
 * A list is printed on as many "key = a, b, c" lines as it takes to keep each line within
 * PRINT_LIST_WIDTH bytes (an entry longer than that gets a line of its own): a line longer
 * than inih's limit (197 bytes in Debian's build) would not load again, and repeated list
 * keys add up. An empty list is not printed (the loader refuses "key =").
 */
#define PRINT_LIST_WIDTH 160u

struct list_printer {
	FILE *out;
	const char *key;
	size_t width; /* of the current line, 0 before the first */
};

static void list_add(struct list_printer *lp, const char *entry)
{
	size_t n = strlen(entry);

	if (lp->width == 0 || lp->width + 2 + n > PRINT_LIST_WIDTH) {
		if (lp->width)
			fputc('\n', lp->out);
		fprintf(lp->out, "%s =%s%s", lp->key, blank_before(entry), entry);
		lp->width = strlen(lp->key) + 3 + n;
		return;
	}
	fprintf(lp->out, ",%s%s", blank_before(entry), entry);
	lp->width += 2 + n;
}

static void list_end(struct list_printer *lp)
{
	if (lp->width) /* nothing for an empty list */
		fputc('\n', lp->out);
}

static void print_strv(FILE *out, const char *key, const struct config_strv *s)
{
	struct list_printer lp = {out, key, 0};

	for (size_t i = 0; i < s->n; i++)
		list_add(&lp, s->v[i]);
	list_end(&lp);
}

static void print_ids(FILE *out, const char *key, const uint32_t *ids, size_t n)
{
	struct list_printer lp = {out, key, 0};
	char num[16];

	if (n == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		snprintf(num, sizeof(num), "%u", (unsigned)ids[i]);
		list_add(&lp, num);
	}
	list_end(&lp);
}

static void print_u64(FILE *out, const char *key, uint64_t v)
{
	fprintf(out, "%s = %llu\n", key, (unsigned long long)v);
}

/* In the largest of s, ms, us that is exact. */
static void print_usec(FILE *out, const char *key, uint64_t usec)
{
	if (usec % 1000000 == 0)
		fprintf(out, "%s = %llus\n", key, (unsigned long long)(usec / 1000000));
	else if (usec % 1000 == 0)
		fprintf(out, "%s = %llums\n", key, (unsigned long long)(usec / 1000));
	else
		fprintf(out, "%s = %lluus\n", key, (unsigned long long)usec);
}

static void print_bool(FILE *out, const char *key, bool b)
{
	fprintf(out, "%s = %s\n", key, b ? "yes" : "no");
}

static void print_broker(const struct broker_config *c, FILE *out)
{
	fprintf(out, "# effective configuration from %s\n[broker]\n", c->source);
	print_str(out, "socket", c->socket ? c->socket : "none");
	print_str(out, "socket_name", c->socket_name);
	fprintf(out, "socket_mode = %04o\n", (unsigned)c->socket_mode);
	if (c->socket_group_set)
		fprintf(out, "socket_group = %u\n", (unsigned)c->socket_group);
	print_str(out, "admin_socket", c->admin_socket ? c->admin_socket : "none");
	print_str(out, "admin_socket_name", c->admin_socket_name);
	print_str(out, "metrics_listen", c->metrics_listen ? c->metrics_listen : "none");
	print_u64(out, "max_connections", c->max_connections);
	print_u64(out, "max_connections_per_uid", c->max_connections_per_uid);
	print_u64(out, "max_inflight_per_connection", c->max_inflight_per_connection);
	print_u64(out, "max_request_frame", c->max_request_frame);
	print_u64(out, "max_reply_frame", c->max_reply_frame);
	print_u64(out, "max_inflight_bytes_per_connection", c->max_inflight_bytes_per_connection);
	print_u64(out, "max_inflight_bytes", c->max_inflight_bytes);
	print_usec(out, "hello_timeout", c->hello_timeout_usec);
	print_usec(out, "idle_timeout", c->idle_timeout_usec);
	print_usec(out, "shutdown_timeout", c->shutdown_timeout_usec);
	print_usec(out, "start_timeout", c->start_timeout_usec);
	fprintf(out, "log_level = %s\n", log_level_name(c->log_level));
	print_bool(out, "audit", c->audit);
	print_u64(out, "upstream_max_idle", c->upstream_max_idle);
	print_u64(out, "upstream_max_per_host", c->upstream_max_per_host);
	if (c->test_ping_delay_usec)
		print_usec(out, "test_ping_delay", c->test_ping_delay_usec);
	if (c->test_ready_delay_usec)
		print_usec(out, "test_ready_delay", c->test_ready_delay_usec);
}

/* Where its clients connect, and who they may be. */
static void print_tenant_access(const struct tenant_config *t, FILE *out)
{
	if (t->socket)
		print_str(out, "socket", t->socket);
	else
		fprintf(out, "# socket: the shared [broker] socket\n");
	print_str(out, "socket_name", t->socket_name);
	print_ids(out, "allow_uids", t->allow_uids, t->n_allow_uids);
	print_ids(out, "allow_gids", t->allow_gids, t->n_allow_gids);
}

/* Descope and the exchange. */
static void print_tenant_identity(const struct tenant_config *t, FILE *out)
{
	print_str(out, "descope_project_id", t->descope_project_id);
	print_str(out, "descope_base_url", t->descope_base_url);
	if (t->issuer)
		print_str(out, "issuer", t->issuer);
	else
		fprintf(out, "# issuer: the project's issuer family under descope_base_url\n");
	if (t->audience.n)
		print_strv(out, "audience", &t->audience);
	else
		fprintf(out, "# audience: not set, aud is not checked\n");
	print_str(out, "jwks_url", t->jwks_url);
	print_usec(out, "jwks_refresh", t->jwks_refresh_usec);
	fprintf(out, "exchange = %s\n", t->exchange == CONFIG_EXCHANGE_STS ? "sts" : "ctx");
	if (t->sts_url)
		print_str(out, "sts_url", t->sts_url);
	if (t->service_account_id)
		print_str(out, "service_account_id", t->service_account_id);
	/* the path only: the file's contents are secret and never read here */
	if (t->credentials_file) {
		fprintf(out, "# credentials_file: contents are secret and not shown\n");
		print_str(out, "credentials_file", t->credentials_file);
	}
	if (t->context_claims.n) /* always, with exchange = ctx (its default) */
		print_strv(out, "context_claims", &t->context_claims);
}

static void print_operations(FILE *out, uint32_t mask)
{
	struct list_printer lp = {out, "allow_operations", 0};

	for (int op = 0; op < _SB_OP_MAX; op++)
		if (mask & (1u << op))
			list_add(&lp, sb_op_name((enum sb_op)op));
	list_end(&lp);
}

/* The vault and what the tenant may do with it. */
static void print_tenant_policy(const struct tenant_config *t, FILE *out)
{
	print_str(out, "vault_url", t->vault_url);
	print_str(out, "vault_id", t->vault_id);
	if (t->allow_tables.n)
		print_strv(out, "allow_tables", &t->allow_tables);
	else
		fprintf(out, "# allow_tables: any table\n");
	print_operations(out, t->allow_operations);
	fprintf(out, "max_redaction = %s\n", sb_redaction_names[t->max_redaction]);
	print_bool(out, "expose_tokens", t->expose_tokens);
}

/* Upstream HTTP, the token cache, limits. */
static void print_tenant_upstream(const struct tenant_config *t, FILE *out)
{
	if (t->ca_file)
		print_str(out, "ca_file", t->ca_file);
	print_bool(out, "insecure_http", t->insecure_http);
	print_u64(out, "cache_size", t->cache_size);
	print_u64(out, "rate_limit", t->rate_limit);
	if (t->rate_burst)
		print_u64(out, "rate_burst", t->rate_burst);
	print_u64(out, "token_max_len", t->token_max_len);
	print_usec(out, "http_timeout", t->http_timeout_usec);
	print_usec(out, "connect_timeout", t->connect_timeout_usec);
}

void config_print(const struct broker_config *c, FILE *out)
{
	print_broker(c, out);
	for (size_t i = 0; i < c->n_tenants; i++) {
		const struct tenant_config *t = &c->tenants[i];
		fprintf(out, "\n[tenant.%s]\n", t->name);
		print_tenant_access(t, out);
		print_tenant_identity(t, out);
		print_tenant_policy(t, out);
		print_tenant_upstream(t, out);
	}
}
