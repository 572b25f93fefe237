/* SPDX-License-Identifier: MIT */
/* fuzz_config: libFuzzer harness for the configuration loader (file text and environment). */
/*
 * The input is a skybroker.conf, any bytes (NULs included), loaded with config_load_buffer.
 * An input that starts with "ENV\n" is instead lines of VAR=value for the variables
 * config_from_env reads (others, and values INI cannot hold, are ignored), set for one
 * config_from_env run.
 *
 * Invariants checked on every input: the loader returns 0 with a config or a negative errno
 * without one, having written at least one error line; and a config that loads prints (as
 * --check-config does) to a text that loads again and prints the same.
 *
 * The harness never depends on the machine: user and group names resolve through a fixed
 * table instead of NSS, and credentials files and ca_file are "stat"ed in a fixed table
 * instead of the file system (config_set_sys), so it is fast, deterministic, and touches no
 * real file.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tenancy/config_internal.h"
#include "util/cleanup.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CREDENTIALS_DIRECTORY "/fuzz/credentials"

/* ---------------------------------------------------------------- a fixed system */

struct fake_id {
	const char *name;
	uint32_t id;
};

static const struct fake_id fake_users[] = {
	{"root", 0}, {"skybroker", 990}, {"mcp-acme", 1000}, {"alice", 1001},
};
static const struct fake_id fake_groups[] = {
	{"root", 0}, {"skybroker", 990}, {"skybroker-clients", 991}, {"mcp-beta", 1002},
};

static int fake_lookup(const struct fake_id *ids, size_t n, const char *name, uint32_t *ret)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(ids[i].name, name) == 0) {
			*ret = ids[i].id;
			return 0;
		}
	return -ESRCH;
}

static int fake_lookup_user(const char *name, uid_t *ret)
{
	return fake_lookup(fake_users, sizeof(fake_users) / sizeof(fake_users[0]), name, ret);
}

static int fake_lookup_group(const char *name, gid_t *ret)
{
	return fake_lookup(fake_groups, sizeof(fake_groups) / sizeof(fake_groups[0]), name, ret);
}

/* The only files that exist: every name in the credentials directory (group-readable, which
 * is fine there), the directories above them, and one file per outcome of the credentials
 * checks elsewhere. Everything is root's but what says otherwise. */
static const struct fake_file {
	const char *path;
	mode_t mode;
	uid_t uid;
} fake_files[] = {
	{"/", S_IFDIR | 0755, 0},
	{"/fuzz", S_IFDIR | 0755, 0},
	{FUZZ_CREDENTIALS_DIRECTORY, S_IFDIR | 0500, 0},
	{"/fuzz/sa.json", S_IFREG | 0600, 0},                    /* fine */
	{"/fuzz/loose.json", S_IFREG | 0644, 0},                 /* readable by others */
	{"/fuzz/unreadable.json", S_IFREG | 0600, 0},            /* access() fails */
	{"/fuzz/other.json", S_IFREG | 0600, 1001},              /* another user's */
	{"/fuzz/dir", S_IFDIR | 0700, 0},                        /* not a regular file */
	{"/fuzz/ca.pem", S_IFREG | 0644, 0},                     /* a ca_file */
	{"/fuzz/open", S_IFDIR | 01777, 0},                      /* others may write here */
	{"/fuzz/open/sa.json", S_IFREG | 0600, 0},
	{"/fuzz/open/dir", S_IFDIR | 0700, 0},                   /* fine below a sticky one */
	{"/fuzz/open/dir/sa.json", S_IFREG | 0600, 0},
};

static int fake_stat(const char *path, struct stat *ret)
{
	const char *dir = FUZZ_CREDENTIALS_DIRECTORY "/";

	if (strncmp(path, dir, strlen(dir)) == 0 && path[strlen(dir)] &&
	    !strchr(path + strlen(dir), '/')) {
		*ret = (struct stat){.st_mode = S_IFREG | 0640};
		return 0;
	}
	for (size_t i = 0; i < sizeof(fake_files) / sizeof(fake_files[0]); i++)
		if (strcmp(fake_files[i].path, path) == 0) {
			*ret = (struct stat){.st_mode = fake_files[i].mode, .st_uid = fake_files[i].uid};
			return 0;
		}
	return -ENOENT;
}

/* Paths are taken as real: the fake file system has no symbolic links. */
static int fake_realpath(const char *path, char ret[static PATH_MAX])
{
	if (strlen(path) >= PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(ret, path, strlen(path) + 1);
	return 0;
}

static int fake_access(const char *path, int mode)
{
	(void)mode;
	return strcmp(path, "/fuzz/unreadable.json") == 0 ? -EACCES : 0;
}

static const struct config_sys fake_sys = {
	.lookup_user = fake_lookup_user,
	.lookup_group = fake_lookup_group,
	.stat = fake_stat,
	.access = fake_access,
	.realpath = fake_realpath,
};

static void fuzz_init(void)
{
	static bool done;

	if (done)
		return;
	done = true;
	log_set_max_level(LOG_SILENT);
	config_set_sys(&fake_sys);
	setenv("CREDENTIALS_DIRECTORY", FUZZ_CREDENTIALS_DIRECTORY, 1);
}

/* ---------------------------------------------------------------- the environment */

/* What config_from_env reads. */
static const char *const env_vars[] = {
	"SKYBROKER_TENANT", "SKYFLOW_VAULT_URL", "SKYFLOW_VAULT_URL_IDENTIFIER",
	"SKYBROKER_SOCKET", "SKYBROKER_SOCKET_MODE", "SKYBROKER_SOCKET_GROUP",
	"SKYBROKER_ADMIN_SOCKET", "SKYBROKER_MAX_CONNECTIONS", "SKYBROKER_MAX_CONNECTIONS_PER_UID",
	"SKYBROKER_IDLE_TIMEOUT", "SKYBROKER_LOG_LEVEL", "SKYBROKER_AUDIT", "DESCOPE_PROJECT_ID",
	"DESCOPE_BASE_URL", "SKYFLOW_VAULT_ID", "SKYFLOW_SERVICE_ACCOUNT_ID", "SKYFLOW_STS_URL",
	"SKYBROKER_ALLOW_UIDS", "SKYBROKER_ALLOW_GIDS", "SKYBROKER_CREDENTIALS_FILE",
	"SKYBROKER_EXCHANGE", "SKYBROKER_ISSUER", "SKYBROKER_AUDIENCE", "SKYBROKER_JWKS_URL",
	"SKYBROKER_CONTEXT_CLAIMS", "SKYBROKER_ALLOW_TABLES", "SKYBROKER_ALLOW_OPERATIONS",
	"SKYBROKER_MAX_REDACTION", "SKYBROKER_EXPOSE_TOKENS", "SKYBROKER_CA_FILE",
	"SKYBROKER_INSECURE_HTTP", "SKYBROKER_CACHE_SIZE", "SKYBROKER_RATE_LIMIT",
	"SKYBROKER_RATE_BURST",
};
#define N_ENV_VARS (sizeof(env_vars) / sizeof(env_vars[0]))

static void env_clear(void)
{
	for (size_t i = 0; i < N_ENV_VARS; i++)
		unsetenv(env_vars[i]);
}

/*
 * Whether an INI file can hold value as it is: inih strips blanks around a value and takes
 * a ';' after a blank for a comment, while the environment keeps values verbatim. (So
 * --check-config cannot print such a value loadably; the harness leaves them out to keep
 * checking the round trip of everything else.)
 */
static bool ini_representable(const char *value)
{
	size_t n = strlen(value);

	if (n && (isspace((unsigned char)value[0]) || isspace((unsigned char)value[n - 1])))
		return false;
	for (size_t i = 1; i < n; i++)
		if (value[i] == ';' && isspace((unsigned char)value[i - 1]))
			return false;
	return true;
}

/* Sets VAR=value if VAR is one config_from_env reads and value fits in INI. line is
 * modified. */
static void env_set_line(char *line)
{
	char *eq = strchr(line, '=');

	if (!eq || !ini_representable(eq + 1))
		return;
	*eq = '\0';
	for (size_t i = 0; i < N_ENV_VARS; i++)
		if (strcmp(line, env_vars[i]) == 0)
			setenv(line, eq + 1, 1);
}

/* Runs config_from_env with the variables of text[0..len) ("VAR=value" lines). */
static int load_env(const char *text, size_t len, FILE *err, struct broker_config **ret)
{
	_cleanup_free_ char *copy = strndup(text, len); /* up to a NUL, if any */
	char *line, *save = NULL;
	int r;

	if (!copy)
		abort();
	env_clear();
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		env_set_line(line);
	r = config_from_env(err, ret);
	env_clear();
	return r;
}

/* ---------------------------------------------------------------- invariants */

/* config_print(c) without its first line (which names the source); the caller frees. */
static char *print_body(const struct broker_config *c)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	char *nl;

	if (!f)
		abort();
	config_print(c, f);
	if (fclose(f) != 0)
		abort();
	nl = strchr(text, '\n');
	if (!nl)
		abort();
	nl = strdup(nl + 1);
	if (!nl)
		abort();
	return nl;
}

#define INI_LINE_MAX 197 /* longest line Debian's libinih takes (config.c's reader) */

static const char *const list_keys[] = {"allow_uids", "allow_gids", "audience", "context_claims",
					"allow_tables", "allow_operations"};

/* Whether every line of text fits the INI line limit. A list line that does not must hold a
 * single entry (config_print wraps lists); a scalar that does not cannot be printed loadably
 * (a value near the limit, or from the environment), which is a limit of the format. */
static bool lines_fit(const char *text)
{
	bool fit = true;

	for (const char *line = text, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			abort();
		if (nl - line <= INI_LINE_MAX)
			continue;
		fit = false;
		for (size_t i = 0; i < sizeof(list_keys) / sizeof(list_keys[0]); i++) {
			size_t k = strlen(list_keys[i]);
			/* no entry holds a ',' (it separates them) */
			const char *comma = memchr(line, ',', (size_t)(nl - line));
			if (strncmp(line, list_keys[i], k) == 0 && line[k] == ' ' && comma) {
				fprintf(stderr, "unwrapped list line: %.*s\n", (int)(nl - line), line);
				abort();
			}
		}
	}
	return fit;
}

#define SAME(cond)                                                                               \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "printed config loads differently: %s\n", #cond);      \
			abort();                                                                 \
		}                                                                                \
	} while (0)

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool strv_eq(const struct config_strv *a, const struct config_strv *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return false;
	return true;
}

static bool ids_eq(const uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
	return na == nb && (na == 0 || memcmp(a, b, na * sizeof(*a)) == 0);
}

static void check_same_broker(const struct broker_config *a, const struct broker_config *b)
{
	SAME(str_eq(a->socket, b->socket) && str_eq(a->socket_name, b->socket_name));
	SAME(a->socket_mode == b->socket_mode && a->socket_group_set == b->socket_group_set);
	SAME(!a->socket_group_set || a->socket_group == b->socket_group);
	SAME(str_eq(a->admin_socket, b->admin_socket));
	SAME(str_eq(a->admin_socket_name, b->admin_socket_name));
	SAME(a->max_connections == b->max_connections);
	SAME(a->max_connections_per_uid == b->max_connections_per_uid);
	SAME(a->max_inflight_per_connection == b->max_inflight_per_connection);
	SAME(a->max_request_frame == b->max_request_frame);
	SAME(a->max_reply_frame == b->max_reply_frame);
	SAME(a->hello_timeout_usec == b->hello_timeout_usec);
	SAME(a->idle_timeout_usec == b->idle_timeout_usec);
	SAME(a->shutdown_timeout_usec == b->shutdown_timeout_usec);
	SAME(a->log_level == b->log_level && a->audit == b->audit); /* log_level_set: printed */
	SAME(a->test_ping_delay_usec == b->test_ping_delay_usec);
	SAME(a->test_ready_delay_usec == b->test_ready_delay_usec);
	SAME(a->n_tenants == b->n_tenants);
}

static void check_same_tenant(const struct tenant_config *a, const struct tenant_config *b)
{
	SAME(str_eq(a->name, b->name) && str_eq(a->socket, b->socket));
	SAME(str_eq(a->socket_name, b->socket_name));
	SAME(ids_eq(a->allow_uids, a->n_allow_uids, b->allow_uids, b->n_allow_uids));
	SAME(ids_eq(a->allow_gids, a->n_allow_gids, b->allow_gids, b->n_allow_gids));
	SAME(str_eq(a->descope_project_id, b->descope_project_id));
	SAME(str_eq(a->descope_base_url, b->descope_base_url) && str_eq(a->issuer, b->issuer));
	SAME(strv_eq(&a->audience, &b->audience) && str_eq(a->jwks_url, b->jwks_url));
	SAME(a->jwks_refresh_usec == b->jwks_refresh_usec && a->exchange == b->exchange);
	SAME(str_eq(a->sts_url, b->sts_url));
	SAME(str_eq(a->service_account_id, b->service_account_id));
	SAME(str_eq(a->credentials_file, b->credentials_file));
	SAME(a->credentials_in_credentials_dir == b->credentials_in_credentials_dir);
	SAME(strv_eq(&a->context_claims, &b->context_claims));
	SAME(str_eq(a->vault_url, b->vault_url) && str_eq(a->vault_id, b->vault_id));
	SAME(strv_eq(&a->allow_tables, &b->allow_tables));
	SAME(a->allow_operations == b->allow_operations && a->max_redaction == b->max_redaction);
	SAME(a->expose_tokens == b->expose_tokens && a->insecure_http == b->insecure_http);
	SAME(str_eq(a->ca_file, b->ca_file) && a->cache_size == b->cache_size);
	SAME(a->rate_limit == b->rate_limit && a->rate_burst == b->rate_burst);
	SAME(a->token_max_len == b->token_max_len);
	SAME(a->http_timeout_usec == b->http_timeout_usec);
	SAME(a->connect_timeout_usec == b->connect_timeout_usec);
}

/* What --check-config prints for c loads again to the same settings (when it fits the INI
 * line limit). */
static void check_print_roundtrip(const struct broker_config *c)
{
	_cleanup_(config_unrefp) struct broker_config *again = NULL;
	_cleanup_free_ char *body = print_body(c);
	_cleanup_free_ char *errors = NULL;
	size_t errors_len = 0;
	FILE *err;

	if (!lines_fit(body))
		return;
	err = open_memstream(&errors, &errors_len);
	if (!err)
		abort();
	if (config_load_string("printed.conf", body, err, &again) < 0 || !again) {
		fclose(err);
		fprintf(stderr, "printed config does not load:\n%s\n---\n%s", errors, body);
		abort();
	}
	fclose(err);
	check_same_broker(c, again);
	for (size_t i = 0; i < c->n_tenants; i++)
		check_same_tenant(&c->tenants[i], &again->tenants[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_(config_unrefp) struct broker_config *c = NULL;
	_cleanup_free_ char *errors = NULL;
	size_t errors_len = 0;
	FILE *err;
	int r;

	fuzz_init();
	err = open_memstream(&errors, &errors_len);
	if (!err)
		abort();
	if (size >= 4 && memcmp(data, "ENV\n", 4) == 0)
		r = load_env((const char *)data + 4, size - 4, err, &c);
	else
		r = config_load_buffer("fuzz.conf", (const char *)data, size, err, &c);
	if (fclose(err) != 0)
		abort();
	if (r < 0 ? c != NULL || errors_len == 0 : r != 0 || c == NULL)
		abort(); /* a failure comes with an explanation, a success with a config */
	if (c)
		check_print_roundtrip(c);
	return 0;
}
