/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "util/cleanup.h"

/*
 * skybrokerd configuration: /etc/skybroker/skybroker.conf (INI, parsed with inih) with a
 * [broker] section and one [tenant.NAME] section per tenant, or, with no file, one tenant built
 * from the environment (config_from_env). Every key is validated here; an unknown key, an
 * unknown section or a repeated key is an error, so a typo can never silently weaken policy.
 * Errors name "file:line: message" (or "environment: VAR: message"). List-valued keys
 * (allow_uids, allow_gids, audience, context_claims, allow_tables, allow_operations) may be
 * given several times in a section; the entries add up. Lines are limited to what libinih
 * accepts (about 200 bytes in Debian's build).
 *
 * A struct broker_config is immutable once built: a reload builds a new one and swaps it in
 * only when it is valid. Everything it points to is owned by it and freed by config_free.
 * Nothing here holds a secret: credentials files are checked (existence, type, permissions)
 * but their contents are read by the credentials module.
 */

#define CONFIG_DEFAULT_PATH "/etc/skybroker/skybroker.conf"
#define CONFIG_DEFAULT_SOCKET "/run/skybroker/skybroker.sock"
#define CONFIG_DEFAULT_ADMIN_SOCKET "/run/skybroker/admin.sock"
#define CONFIG_DEFAULT_SOCKET_NAME "skybroker"   /* FileDescriptorName= of the shared socket */
#define CONFIG_DEFAULT_ADMIN_SOCKET_NAME "admin" /* FileDescriptorName= of the admin socket */
#define CONFIG_MAX_FILE_SIZE (1024u * 1024u)
#define CONFIG_MAX_TENANTS 256u
#define CONFIG_MAX_LIST 1024u
#define CONFIG_TENANT_NAME_MAX 64u

/* A list of owned strings. */
struct config_strv {
	char **v;
	size_t n;
};

enum config_exchange {
	CONFIG_EXCHANGE_STS,
	CONFIG_EXCHANGE_CTX,
};

/* Redaction ceiling, ordered from least to most revealing. Indexes sb_redaction_names. */
enum config_redaction {
	CONFIG_REDACTION_DEFAULT,
	CONFIG_REDACTION_REDACTED,
	CONFIG_REDACTION_MASKED,
	CONFIG_REDACTION_PLAIN_TEXT,
};

struct tenant_config {
	char *name;
	unsigned line; /* line of the [tenant.NAME] header, for messages */

	/* Where its clients connect. socket == NULL: the shared [broker] socket. socket_name:
	 * the FileDescriptorName= that binds an activated socket to this tenant (default: the
	 * tenant name). */
	char *socket;
	char *socket_name;
	uid_t *allow_uids;
	size_t n_allow_uids;
	gid_t *allow_gids;
	size_t n_allow_gids;

	/* Descope (identity module) */
	char *descope_project_id;
	char *descope_base_url; /* default https://api.descope.com, no trailing slash */
	char *issuer;           /* NULL: the project's issuer family under descope_base_url */
	struct config_strv audience;
	char *jwks_url; /* default {descope_base_url}/{project}/.well-known/jwks.json */
	uint64_t jwks_refresh_usec;

	/* Exchange */
	enum config_exchange exchange;
	char *sts_url;
	char *service_account_id;
	char *credentials_file; /* resolved absolute path, or NULL */
	bool credentials_in_credentials_dir;
	struct config_strv context_claims;

	/* Vault and policy */
	char *vault_url; /* no trailing slash */
	char *vault_id;
	struct config_strv allow_tables; /* empty: any table */
	uint32_t allow_operations;       /* bit (1u << enum sb_op); hello/ping/health always */
	enum config_redaction max_redaction;
	bool expose_tokens;

	/* Upstream HTTP */
	char *ca_file;
	bool insecure_http;
	uint64_t cache_size;
	uint64_t rate_limit; /* requests per second for the tenant; 0 = unlimited */
	uint64_t rate_burst; /* bucket size, requests; 0 = rate_limit (one second's worth) */
	uint64_t token_max_len;
	uint64_t http_timeout_usec;
	uint64_t connect_timeout_usec;
};

struct broker_config {
	unsigned n_ref; /* config_ref / config_free; tenants of a reloaded config keep it alive */
	char *source;   /* the file path, or "environment" */

	char *socket;      /* NULL: no shared socket; every tenant has its own */
	char *socket_name; /* FileDescriptorName= of the shared socket */
	mode_t socket_mode;
	bool socket_group_set;
	gid_t socket_group;
	char *admin_socket; /* NULL: no admin socket */
	char *admin_socket_name;
	char *metrics_listen; /* NULL: no metrics HTTP listener; else a numeric HOST:PORT */

	uint64_t max_connections;
	uint64_t max_connections_per_uid;
	uint64_t max_inflight_per_connection;
	uint64_t max_request_frame;
	uint64_t max_reply_frame;
	uint64_t hello_timeout_usec;
	uint64_t idle_timeout_usec;
	uint64_t shutdown_timeout_usec;
	uint64_t start_timeout_usec; /* how long requests wait for a tenant that is starting */
	int log_level;
	bool log_level_set;
	bool audit;
	uint64_t upstream_max_idle;     /* upstream connections kept open for reuse */
	uint64_t upstream_max_per_host; /* upstream connections to one host at once */

	/* TEST ONLY (hidden, documented as such): delay every ping reply by this much, to have
	 * an in-flight request to wait for. 0 (the default) answers at once. */
	uint64_t test_ping_delay_usec;
	/* TEST ONLY (hidden): every tenant reports "not ready" for this long after it is created,
	 * standing in for a JWKS fetch, to test READY=1 and health. 0 (the default) is off. */
	uint64_t test_ready_delay_usec;

	/* Bytes the requests in flight may hold (decoded arguments and bookkeeping), per
	 * connection and over all of them; past either, frames wait in the socket. */
	uint64_t max_inflight_bytes_per_connection;
	uint64_t max_inflight_bytes;

	struct tenant_config *tenants;
	size_t n_tenants;
};

/*
 * Parses and validates a config file. On success returns 0 and *ret (caller frees with
 * config_free). On failure returns a negative errno and writes one "file:line: message" line
 * per problem to err (which may be NULL); nothing is logged.
 */
int config_load_file(const char *path, FILE *err, struct broker_config **ret);

/* Same, from an in-memory text (tests, fuzzing); `name` is used in messages. */
int config_load_string(const char *name, const char *text, FILE *err, struct broker_config **ret);

/*
 * Builds a config with one tenant from the environment (DESCOPE_PROJECT_ID,
 * SKYFLOW_VAULT_URL_IDENTIFIER, SKYFLOW_VAULT_ID, SKYFLOW_SERVICE_ACCOUNT_ID, SKYFLOW_STS_URL
 * and the SKYBROKER_* extras listed in skybroker.conf(5)). Same contract as config_load_file.
 */
int config_from_env(FILE *err, struct broker_config **ret);

/* Drops a reference, freeing everything with the last one; NULL is fine; returns NULL. */
struct broker_config *config_free(struct broker_config *c);
/* Takes a reference (each runtime tenant holds one on the config it was built from). */
struct broker_config *config_ref(struct broker_config *c);
/* The same as config_free (util/ref.h's name for it). */
struct broker_config *config_unref(struct broker_config *c);
/* _cleanup_(config_unrefp) struct broker_config *c = NULL; */
DEFINE_TRIVIAL_CLEANUP_FUNC(struct broker_config *, config_unref)

/* Writes the effective configuration as an INI file (secrets are never in it). */
void config_print(const struct broker_config *c, FILE *out);

/* Finds a tenant by name; borrowed from c. */
const struct tenant_config *config_find_tenant(const struct broker_config *c, const char *name);

/* Helpers shared with other modules (exposed for the unit tests too). */
int config_parse_bool(const char *s, bool *ret);
int config_parse_duration(const char *s, uint64_t *ret_usec); /* "30", "30s", "500ms", "5m", "1h" */
int config_parse_size(const char *s, uint64_t *ret);          /* "65536", "64K", "4M" */
int config_parse_mode(const char *s, mode_t *ret);            /* octal, 0..0777 */
int config_parse_uint(const char *s, uint64_t *ret);
