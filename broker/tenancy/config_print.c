/* SPDX-License-Identifier: MIT */
/* config_print: the effective configuration as an INI file, for --check-config (no secrets). */
#include <stdio.h>

#include "tenancy/config_internal.h"
#include "util/log.h"
#include "proto/message.h"

static void print_strv(FILE *out, const char *key, const struct config_strv *s)
{
	fprintf(out, "%s =", key);
	for (size_t i = 0; i < s->n; i++)
		fprintf(out, "%s%s", i ? ", " : " ", s->v[i]);
	fputc('\n', out);
}

static void print_ids(FILE *out, const char *key, const uint32_t *ids, size_t n)
{
	if (n == 0)
		return;
	fprintf(out, "%s =", key);
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%s%u", i ? ", " : " ", (unsigned)ids[i]);
	fputc('\n', out);
}

static void print_u64(FILE *out, const char *key, uint64_t v)
{
	fprintf(out, "%s = %llu\n", key, (unsigned long long)v);
}

/* In whole seconds when exact, else in milliseconds. */
static void print_usec(FILE *out, const char *key, uint64_t usec)
{
	if (usec % 1000000 == 0)
		fprintf(out, "%s = %llus\n", key, (unsigned long long)(usec / 1000000));
	else
		fprintf(out, "%s = %llums\n", key, (unsigned long long)(usec / 1000));
}

static void print_bool(FILE *out, const char *key, bool b)
{
	fprintf(out, "%s = %s\n", key, b ? "yes" : "no");
}

static void print_broker(const struct broker_config *c, FILE *out)
{
	fprintf(out, "# effective configuration from %s\n[broker]\n", c->source);
	fprintf(out, "socket = %s\n", c->socket ? c->socket : "none");
	fprintf(out, "socket_name = %s\n", c->socket_name);
	fprintf(out, "socket_mode = %04o\n", (unsigned)c->socket_mode);
	if (c->socket_group_set)
		fprintf(out, "socket_group = %u\n", (unsigned)c->socket_group);
	fprintf(out, "admin_socket = %s\n", c->admin_socket ? c->admin_socket : "none");
	fprintf(out, "admin_socket_name = %s\n", c->admin_socket_name);
	print_u64(out, "max_connections", c->max_connections);
	print_u64(out, "max_connections_per_uid", c->max_connections_per_uid);
	print_u64(out, "max_inflight_per_connection", c->max_inflight_per_connection);
	print_u64(out, "max_request_frame", c->max_request_frame);
	print_u64(out, "max_reply_frame", c->max_reply_frame);
	print_usec(out, "hello_timeout", c->hello_timeout_usec);
	print_usec(out, "idle_timeout", c->idle_timeout_usec);
	print_usec(out, "shutdown_timeout", c->shutdown_timeout_usec);
	fprintf(out, "log_level = %s\n", log_level_name(c->log_level));
	print_bool(out, "audit", c->audit);
	if (c->test_ping_delay_usec)
		print_usec(out, "test_ping_delay", c->test_ping_delay_usec);
	if (c->test_ready_delay_usec)
		print_usec(out, "test_ready_delay", c->test_ready_delay_usec);
}

/* Where its clients connect, and who they may be. */
static void print_tenant_access(const struct tenant_config *t, FILE *out)
{
	if (t->socket)
		fprintf(out, "socket = %s\n", t->socket);
	else
		fprintf(out, "# socket: the shared [broker] socket\n");
	fprintf(out, "socket_name = %s\n", t->socket_name);
	print_ids(out, "allow_uids", t->allow_uids, t->n_allow_uids);
	print_ids(out, "allow_gids", t->allow_gids, t->n_allow_gids);
}

/* Descope and the exchange. */
static void print_tenant_identity(const struct tenant_config *t, FILE *out)
{
	fprintf(out, "descope_project_id = %s\n", t->descope_project_id);
	fprintf(out, "descope_base_url = %s\n", t->descope_base_url);
	if (t->issuer)
		fprintf(out, "issuer = %s\n", t->issuer);
	else
		fprintf(out, "# issuer: the project's issuer family under descope_base_url\n");
	print_strv(out, "audience", &t->audience);
	fprintf(out, "jwks_url = %s\n", t->jwks_url);
	print_usec(out, "jwks_refresh", t->jwks_refresh_usec);
	fprintf(out, "exchange = %s\n", t->exchange == CONFIG_EXCHANGE_STS ? "sts" : "ctx");
	if (t->sts_url)
		fprintf(out, "sts_url = %s\n", t->sts_url);
	if (t->service_account_id)
		fprintf(out, "service_account_id = %s\n", t->service_account_id);
	/* the path only: the file's contents are secret and never read here */
	if (t->credentials_file)
		fprintf(out, "# credentials_file: contents are secret and not shown\n"
			     "credentials_file = %s\n",
			t->credentials_file);
	print_strv(out, "context_claims", &t->context_claims);
}

/* The vault and what the tenant may do with it. */
static void print_tenant_policy(const struct tenant_config *t, FILE *out)
{
	fprintf(out, "vault_url = %s\n", t->vault_url);
	fprintf(out, "vault_id = %s\n", t->vault_id);
	if (t->allow_tables.n)
		print_strv(out, "allow_tables", &t->allow_tables);
	else
		fprintf(out, "# allow_tables: any table\n");
	fprintf(out, "allow_operations =");
	for (int op = 0, first = 1; op < _SB_OP_MAX; op++)
		if (t->allow_operations & (1u << op)) {
			fprintf(out, "%s%s", first ? " " : ", ", sb_op_name((enum sb_op)op));
			first = 0;
		}
	fputc('\n', out);
	fprintf(out, "max_redaction = %s\n", sb_redaction_names[t->max_redaction]);
	print_bool(out, "expose_tokens", t->expose_tokens);
}

/* Upstream HTTP, the token cache, limits. */
static void print_tenant_upstream(const struct tenant_config *t, FILE *out)
{
	if (t->ca_file)
		fprintf(out, "ca_file = %s\n", t->ca_file);
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
