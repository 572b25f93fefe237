/* SPDX-License-Identifier: MIT */
/* config_env: one tenant from the environment (DESCOPE_*, SKYFLOW_*, SKYBROKER_*), no file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tenancy/config_internal.h"

/* An environment variable and the key it sets. */
struct env_key {
	const char *var;
	enum config_section_kind section;
	const char *key;
};

#define BROKER CONFIG_SECTION_BROKER
#define TENANT CONFIG_SECTION_TENANT

/* Applied in this order; errors name the variable. */
static const struct env_key env_keys[] = {
	{"SKYBROKER_SOCKET", BROKER, "socket"},
	{"SKYBROKER_SOCKET_MODE", BROKER, "socket_mode"},
	{"SKYBROKER_SOCKET_GROUP", BROKER, "socket_group"},
	{"SKYBROKER_ADMIN_SOCKET", BROKER, "admin_socket"},
	{"SKYBROKER_MAX_CONNECTIONS", BROKER, "max_connections"},
	{"SKYBROKER_MAX_CONNECTIONS_PER_UID", BROKER, "max_connections_per_uid"},
	{"SKYBROKER_IDLE_TIMEOUT", BROKER, "idle_timeout"},
	{"SKYBROKER_START_TIMEOUT", BROKER, "start_timeout"},
	{"SKYBROKER_LOG_LEVEL", BROKER, "log_level"},
	{"SKYBROKER_AUDIT", BROKER, "audit"},
	{"DESCOPE_PROJECT_ID", TENANT, "descope_project_id"},
	{"DESCOPE_BASE_URL", TENANT, "descope_base_url"},
	{"SKYFLOW_VAULT_ID", TENANT, "vault_id"},
	{"SKYFLOW_SERVICE_ACCOUNT_ID", TENANT, "service_account_id"},
	{"SKYFLOW_STS_URL", TENANT, "sts_url"},
	{"SKYBROKER_ALLOW_UIDS", TENANT, "allow_uids"},
	{"SKYBROKER_ALLOW_GIDS", TENANT, "allow_gids"},
	{"SKYBROKER_CREDENTIALS_FILE", TENANT, "credentials_file"},
	{"SKYBROKER_EXCHANGE", TENANT, "exchange"},
	{"SKYBROKER_ISSUER", TENANT, "issuer"},
	{"SKYBROKER_AUDIENCE", TENANT, "audience"},
	{"SKYBROKER_JWKS_URL", TENANT, "jwks_url"},
	{"SKYBROKER_CONTEXT_CLAIMS", TENANT, "context_claims"},
	{"SKYBROKER_ALLOW_TABLES", TENANT, "allow_tables"},
	{"SKYBROKER_ALLOW_OPERATIONS", TENANT, "allow_operations"},
	{"SKYBROKER_MAX_REDACTION", TENANT, "max_redaction"},
	{"SKYBROKER_EXPOSE_TOKENS", TENANT, "expose_tokens"},
	{"SKYBROKER_CA_FILE", TENANT, "ca_file"},
	{"SKYBROKER_INSECURE_HTTP", TENANT, "insecure_http"},
	{"SKYBROKER_CACHE_SIZE", TENANT, "cache_size"},
	{"SKYBROKER_RATE_LIMIT", TENANT, "rate_limit"},
	{"SKYBROKER_RATE_BURST", TENANT, "rate_burst"},
};

const char *config_key_name(const struct config_parser *p, enum config_section_kind kind,
			    const char *key)
{
	if (!p->env)
		return key;
	if (kind == TENANT && strcmp(key, "vault_url") == 0)
		return "SKYFLOW_VAULT_URL_IDENTIFIER (or SKYFLOW_VAULT_URL)";
	for (size_t i = 0; i < sizeof(env_keys) / sizeof(env_keys[0]); i++)
		if (env_keys[i].section == kind && strcmp(env_keys[i].key, key) == 0)
			return env_keys[i].var;
	return key;
}

/* Whether s can be the first label of https://S.vault.skyflowapis.com. */
static bool is_vault_identifier(const char *s)
{
	return config_is_name_token(s) && !strchr(s, ':') && !strchr(s, '@') && !strchr(s, '.');
}

/* vault_url from SKYFLOW_VAULT_URL, or else built from SKYFLOW_VAULT_URL_IDENTIFIER. */
static int env_vault_url(struct config_parser *p)
{
	const char *url = getenv("SKYFLOW_VAULT_URL");
	const char *ident = getenv("SKYFLOW_VAULT_URL_IDENTIFIER");
	_cleanup_free_ char *built = NULL;

	p->kind = CONFIG_SECTION_TENANT;
	if (url && *url) {
		p->cur_var = "SKYFLOW_VAULT_URL";
		return config_handle_key(p, "vault_url", url);
	}
	if (!ident || !*ident)
		return 0;
	p->cur_var = "SKYFLOW_VAULT_URL_IDENTIFIER";
	if (!is_vault_identifier(ident)) {
		struct config_keyloc at = config_here(p);
		config_error_at(p, &at, "'%s' is not a vault URL identifier", ident);
		return -EINVAL;
	}
	if (asprintf(&built, "https://%s.vault.skyflowapis.com", ident) < 0)
		return -ENOMEM;
	return config_handle_key(p, "vault_url", built);
}

int config_from_env(FILE *err, struct broker_config **ret)
{
	_cleanup_(config_parser_done) struct config_parser p = {0};
	const char *tenant = getenv("SKYBROKER_TENANT");
	const struct config_keyloc at = {.var = "SKYBROKER_TENANT"};
	int r;

	*ret = NULL;
	r = config_parser_init(&p, "environment", err);
	if (r < 0)
		return r;
	p.env = true;
	p.cur_var = "SKYBROKER_TENANT";
	p.broker_seen = true;
	if (config_tenant_begin(&p, tenant && *tenant ? tenant : "default", &at) < 0)
		return config_parser_finish(&p, ret);

	for (size_t i = 0; i < sizeof(env_keys) / sizeof(env_keys[0]); i++) {
		const char *v = getenv(env_keys[i].var);
		if (!v)
			continue;
		p.cur_var = env_keys[i].var;
		p.kind = env_keys[i].section;
		(void)config_handle_key(&p, env_keys[i].key, v);
	}
	(void)env_vault_url(&p);
	p.cur_var = "environment";
	return config_parser_finish(&p, ret);
}
