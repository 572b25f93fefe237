/* SPDX-License-Identifier: MIT */
/* config_keys: the key tables of [broker] and [tenant.NAME], one parse function per value type. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tenancy/config_internal.h"
#include "util/log.h"
#include "proto/limits.h"
#include "proto/message.h"

/*
 * Each parse function declares the type of the field it writes and of its aux field (void:
 * none) with PARSER_TYPES; the row macros below refuse to compile a row whose field has
 * another type, so a table row cannot make a parser write past its field.
 */
#define PARSER_TYPES(parser, ftype, atype)                                                       \
	typedef ftype parser##_field_t;                                                          \
	typedef atype parser##_aux_t

#define TYPE_CHECK(expr, want) (0 * sizeof(char[__builtin_types_compatible_p(expr, want) ? 1 : -1]))
#define FIELD_OF(type, field, ftype)                                                             \
	(offsetof(type, field) + TYPE_CHECK(__typeof__(((type *)0)->field), ftype))

/* ---------------------------------------------------------------- strings */

/* Replaces *field by a copy of value. */
static int store_string(char **field, const char *value)
{
	char *dup = strdup(value);

	if (!dup)
		return -ENOMEM;
	free(*field);
	*field = dup;
	return 0;
}

/* Refuses an empty value and one over CONFIG_MAX_STRING bytes. */
static int check_string(struct config_parser *p, const struct config_key *k, const char *value)
{
	if (!*value)
		return config_key_error(p, k, -EINVAL, "empty value");
	if (strlen(value) > CONFIG_MAX_STRING)
		return config_key_error(p, k, -EINVAL, "value too long");
	return 0;
}

PARSER_TYPES(parse_string, char *, void);
/* A non-empty string of at most CONFIG_MAX_STRING bytes. */
static int parse_string(struct config_parser *p, const struct config_key *k, const char *value,
			void *field, void *aux, bool append)
{
	int r = check_string(p, k, value);

	if (r < 0)
		return r;
	return store_string(field, value);
}

PARSER_TYPES(parse_url, char *, void);
/* An http(s) URL with a host and no userinfo (config_check_url; plain http is checked against
 * insecure_http by config_validate), stored without trailing slashes since paths are
 * appended to it. */
static int parse_url(struct config_parser *p, const struct config_key *k, const char *value,
		     void *field, void *aux, bool append)
{
	char *s;
	size_t n;
	int r = check_string(p, k, value);

	if (r < 0)
		return r;
	r = config_check_url(p, k, value);
	if (r < 0)
		return r;
	r = store_string(field, value);
	if (r < 0)
		return r;
	s = *(char **)field;
	n = strlen(s);
	while (n > 8 && s[n - 1] == '/')
		s[--n] = '\0';
	return 0;
}

PARSER_TYPES(parse_file, char *, void);
/* An absolute path to a regular file we can read (ca_file): a missing one would leave every
 * tenant not ready, so --check-config says so. */
static int parse_file(struct config_parser *p, const struct config_key *k, const char *value,
		      void *field, void *aux, bool append)
{
	struct stat st;
	int r = check_string(p, k, value);

	if (r < 0)
		return r;
	r = config_check_readable_file(p, k, value, &st);
	if (r < 0)
		return r;
	return store_string(field, value);
}

PARSER_TYPES(parse_name, char *, void);
/* A short token ([A-Za-z0-9_.@:-]): an id or a name that ends up in logs and paths. */
static int parse_name(struct config_parser *p, const struct config_key *k, const char *value,
		      void *field, void *aux, bool append)
{
	if (!config_is_name_token(value))
		return config_key_error(p, k, -EINVAL, "'%s' is not a valid name", value);
	return store_string(field, value);
}

PARSER_TYPES(parse_socket, char *, void);
/* An absolute socket path that fits sun_path, or "" / "none" for no socket (NULL). */
static int parse_socket(struct config_parser *p, const struct config_key *k, const char *value,
			void *field, void *aux, bool append)
{
	char **socket = field;

	free(*socket);
	*socket = NULL;
	if (!*value || strcmp(value, "none") == 0)
		return 0;
	if (value[0] != '/')
		return config_key_error(p, k, -EINVAL, "'%s' is not an absolute path", value);
	if (strlen(value) >= sizeof(((struct sockaddr_un *)NULL)->sun_path))
		return config_key_error(p, k, -ENAMETOOLONG, "path longer than %zu bytes",
					sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1);
	return store_string(socket, value);
}

/* config_split_list, reporting a list too long. */
static int split_list(struct config_parser *p, const struct config_key *k, const char *value,
		      struct config_strv *sv)
{
	int r = config_split_list(value, sv);

	if (r == -E2BIG)
		return config_key_error(p, k, r, "more than %u entries", CONFIG_MAX_LIST);
	return r;
}

PARSER_TYPES(parse_strv, struct config_strv, void);
/*
 * A non-empty comma/space separated list of names (at most CONFIG_MAX_LIST, each
 * SB_MAX_NAME_LEN). Empty ("key =", "key = ,") is an error, as for the id lists: an unset
 * list turns a check off (audience: any aud; allow_tables: any table), so a list given
 * empty, a value lost to a typo or an unset variable, must not silently mean the same.
 */
static int parse_strv(struct config_parser *p, const struct config_key *k, const char *value,
		      void *field, void *aux, bool append)
{
	struct config_strv *sv = field;
	size_t before;
	int r;

	if (!append)
		config_strv_done(sv);
	before = sv->n;
	r = split_list(p, k, value, sv);
	if (r < 0)
		return r;
	if (sv->n == before)
		return config_key_error(p, k, -EINVAL, "empty list");
	for (size_t i = 0; i < sv->n; i++) {
		if (strlen(sv->v[i]) > SB_MAX_NAME_LEN)
			return config_key_error(p, k, -EINVAL, "entry too long");
		/* a name with a control character means nothing upstream, and could not be
		 * printed back (inih strips a leading \v or \f as blank) */
		for (const char *c = sv->v[i]; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				return config_key_error(p, k, -EINVAL,
							"entry %zu contains a control character",
							i + 1);
	}
	return 0;
}

/* ---------------------------------------------------------------- numbers and booleans */

PARSER_TYPES(parse_bool, bool, void);
static int parse_bool(struct config_parser *p, const struct config_key *k, const char *value,
		      void *field, void *aux, bool append)
{
	if (config_parse_bool(value, field) < 0)
		return config_key_error(p, k, -EINVAL, "'%s' is not a boolean (yes/no)", value);
	return 0;
}

/* How a kind of number is written and how its bounds are shown. */
struct number_kind {
	int (*parse)(const char *s, uint64_t *ret);
	const char *what;
	bool in_ms; /* microseconds, bounds shown in milliseconds */
};

/* Parses value with nk into field, within the key's bounds (if any). */
static int store_number(struct config_parser *p, const struct config_key *k, const char *value,
			uint64_t *field, const struct number_kind *nk)
{
	uint64_t u = 0;

	if (nk->parse(value, &u) < 0)
		return config_key_error(p, k, -EINVAL, "'%s' is not a valid %s", value, nk->what);
	if ((k->min || k->max) && (u < k->min || u > k->max)) {
		if (nk->in_ms)
			return config_key_error(p, k, -ERANGE, "out of range (%llu ms to %llu ms)",
						(unsigned long long)k->min / 1000,
						(unsigned long long)k->max / 1000);
		return config_key_error(p, k, -ERANGE, "out of range (%llu to %llu)",
					(unsigned long long)k->min, (unsigned long long)k->max);
	}
	*field = u;
	return 0;
}

PARSER_TYPES(parse_uint, uint64_t, void);
static int parse_uint(struct config_parser *p, const struct config_key *k, const char *value,
		      void *field, void *aux, bool append)
{
	static const struct number_kind nk = {config_parse_uint, "non-negative integer", false};

	return store_number(p, k, value, field, &nk);
}

PARSER_TYPES(parse_size, uint64_t, void);
static int parse_size(struct config_parser *p, const struct config_key *k, const char *value,
		      void *field, void *aux, bool append)
{
	static const struct number_kind nk = {config_parse_size, "size (e.g. 65536, 64K, 4M)",
					      false};

	return store_number(p, k, value, field, &nk);
}

PARSER_TYPES(parse_duration, uint64_t, void);
static int parse_duration(struct config_parser *p, const struct config_key *k, const char *value,
			  void *field, void *aux, bool append)
{
	static const struct number_kind nk = {config_parse_duration,
					      "duration (e.g. 30s, 500ms, 5m)", true};

	return store_number(p, k, value, field, &nk);
}

PARSER_TYPES(parse_socket_mode, mode_t, void);
/* An octal mode for a socket: owner-writable, nothing for others. */
static int parse_socket_mode(struct config_parser *p, const struct config_key *k,
			     const char *value, void *field, void *aux, bool append)
{
	mode_t *mode = field;

	if (config_parse_mode(value, mode) < 0)
		return config_key_error(p, k, -EINVAL,
					"'%s' is not an octal mode between 0000 and 0777", value);
	if (*mode & 0007)
		return config_key_error(p, k, -EINVAL,
					"%s gives access to others; use group access (e.g. 0660)",
					value);
	if (!(*mode & 0200))
		return config_key_error(p, k, -EINVAL, "%s leaves the owner without write access",
					value);
	return 0;
}

/* ---------------------------------------------------------------- users and groups */

PARSER_TYPES(parse_group, gid_t, bool);
/* A group name or number; aux: set when given. */
static int parse_group(struct config_parser *p, const struct config_key *k, const char *value,
		       void *field, void *aux, bool append)
{
	gid_t g;

	if (config_resolve_gid(value, &g) < 0)
		return config_key_error(p, k, -ESRCH, "unknown group '%s'", value);
	*(gid_t *)field = g;
	*(bool *)aux = true;
	return 0;
}

/* A non-empty list of user (users) or group names or numbers into *field, *count entries. */
static int parse_id_list(struct config_parser *p, const struct config_key *k, const char *value,
			 uint32_t **field, size_t *count, bool append, bool users)
{
	_cleanup_(config_strv_done) struct config_strv sv = {0};
	_cleanup_free_ uint32_t *ids = NULL;
	int r;

	r = split_list(p, k, value, &sv);
	if (r < 0)
		return r;
	if (sv.n == 0)
		return config_key_error(p, k, -EINVAL, "empty list");
	ids = calloc(sv.n, sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	for (size_t i = 0; i < sv.n; i++) {
		r = users ? config_resolve_uid(sv.v[i], &ids[i]) : config_resolve_gid(sv.v[i], &ids[i]);
		if (r < 0)
			return config_key_error(p, k, r, "unknown %s '%s'", users ? "user" : "group",
						sv.v[i]);
	}
	if (append && *count > 0) {
		uint32_t *merged = realloc(*field, (*count + sv.n) * sizeof(*ids));
		if (!merged)
			return -ENOMEM;
		memcpy(merged + *count, ids, sv.n * sizeof(*ids));
		*field = merged;
		*count += sv.n;
		return 0;
	}
	free(*field);
	*field = TAKE_PTR(ids);
	*count = sv.n;
	return 0;
}

PARSER_TYPES(parse_uids, uid_t *, size_t);
/* aux: the number of entries. */
static int parse_uids(struct config_parser *p, const struct config_key *k, const char *value,
		      void *field, void *aux, bool append)
{
	return parse_id_list(p, k, value, field, aux, append, true);
}

PARSER_TYPES(parse_gids, gid_t *, size_t);
/* aux: the number of entries. */
static int parse_gids(struct config_parser *p, const struct config_key *k, const char *value,
		      void *field, void *aux, bool append)
{
	return parse_id_list(p, k, value, field, aux, append, false);
}

/* ---------------------------------------------------------------- enumerations */

PARSER_TYPES(parse_exchange, enum config_exchange, void);
static int parse_exchange(struct config_parser *p, const struct config_key *k, const char *value,
			  void *field, void *aux, bool append)
{
	enum config_exchange *e = field;

	if (strcmp(value, "sts") == 0)
		*e = CONFIG_EXCHANGE_STS;
	else if (strcmp(value, "ctx") == 0)
		*e = CONFIG_EXCHANGE_CTX;
	else
		return config_key_error(p, k, -EINVAL, "'%s' is neither 'sts' nor 'ctx'", value);
	return 0;
}

PARSER_TYPES(parse_redaction, enum config_redaction, void);
static int parse_redaction(struct config_parser *p, const struct config_key *k, const char *value,
			   void *field, void *aux, bool append)
{
	/* DEFAULT is each column's own default, which may be plain text: not a ceiling */
	if (strcmp(value, "DEFAULT") == 0)
		return config_key_error(p, k, -EINVAL, "DEFAULT is not a ceiling (a column's "
					"default may be plain text); use REDACTED, MASKED or "
					"PLAIN_TEXT");
	for (int i = 0; sb_redaction_names[i]; i++)
		if (strcmp(value, sb_redaction_names[i]) == 0) {
			*(enum config_redaction *)field = (enum config_redaction)i;
			return 0;
		}
	return config_key_error(p, k, -EINVAL,
				"'%s' is not one of REDACTED, MASKED, PLAIN_TEXT", value);
}

PARSER_TYPES(parse_operations, uint32_t, void);
/* Whether a tenant's allow_operations may name op: what the operation table offers on a
 * tenant's socket (not hello, the handshake; not stats, the admin socket's). */
static bool op_allowable(enum sb_op op)
{
	return (sb_op_flags(op) & SB_OPF_TENANT) != 0;
}

/* The ops a tenant always has (the table's SB_OPF_ALWAYS: ping, health), or every op it may
 * be allowed. */
static uint32_t ops_mask(unsigned need_flags)
{
	uint32_t m = 0;

	for (int op = 0; op < _SB_OP_MAX; op++)
		if (op_allowable((enum sb_op)op) && (sb_op_flags((enum sb_op)op) & need_flags) == need_flags)
			m |= 1u << op;
	return m;
}

/* A list of operation names into a mask; the always-allowed ones are added. */
static int parse_operations(struct config_parser *p, const struct config_key *k,
			    const char *value, void *field, void *aux, bool append)
{
	_cleanup_(config_strv_done) struct config_strv sv = {0};
	uint32_t *mask = field, m = 0;
	int r;

	r = split_list(p, k, value, &sv);
	if (r < 0)
		return r;
	for (size_t i = 0; i < sv.n; i++) {
		enum sb_op op = sb_op_from_name(sv.v[i]);
		if (!op_allowable(op))
			return config_key_error(p, k, -EINVAL,
						"'%s' is not an operation a tenant can be allowed",
						sv.v[i]);
		m |= 1u << op;
	}
	/* ping and health are always available to an admitted client */
	*mask = (append ? *mask : 0) | m | ops_mask(SB_OPF_ALWAYS);
	return 0;
}

PARSER_TYPES(parse_log_level, int, bool);
/* aux: set when given (the command line's --log-level wins over a default, not over this). */
static int parse_log_level(struct config_parser *p, const struct config_key *k, const char *value,
			   void *field, void *aux, bool append)
{
	int r = log_level_from_name(value);

	if (r < 0)
		return config_key_error(p, k, -EINVAL,
					"'%s' is not a log level (err, warning, notice, info, debug)",
					value);
	*(int *)field = r;
	*(bool *)aux = true;
	return 0;
}

/* ---------------------------------------------------------------- credentials */

PARSER_TYPES(parse_credentials, char *, bool);
/*
 * A credentials file (config_check_credentials). Only checked here: its contents are secret
 * and read by the credentials module. field: the resolved path; aux: whether it is under
 * $CREDENTIALS_DIRECTORY.
 */
static int parse_credentials(struct config_parser *p, const struct config_key *k,
			     const char *value, void *field, void *aux, bool append)
{
	char path[PATH_MAX];
	bool in_dir;
	int r;

	r = config_check_credentials(p, k, value, path, sizeof(path), &in_dir);
	if (r < 0)
		return r;
	r = store_string(field, path);
	if (r < 0)
		return r;
	*(bool *)aux = in_dir;
	return 0;
}

PARSER_TYPES(config_parse_listen, char *, void); /* in config_listen.c */

/* ---------------------------------------------------------------- the tables */

#define KEY(type, name, parser, field, aux, flags, lo, hi)                                       \
	{name, parser, flags, FIELD_OF(type, field, parser##_field_t), aux, lo, hi}
/* A key with no aux field (its parser's aux type is void). */
#define KEY0(type, name, parser, field, flags, lo, hi)                                           \
	KEY(type, name, parser, field, TYPE_CHECK(parser##_aux_t, void), flags, lo, hi)
#define KEY_AUX(type, name, parser, field, aux, flags)                                           \
	KEY(type, name, parser, field, FIELD_OF(type, aux, parser##_aux_t), flags, 0, 0)

#define B(name, parser, field, lo, hi) KEY0(struct broker_config, name, parser, field, 0, lo, hi)
#define B_AUX(name, parser, field, aux) KEY_AUX(struct broker_config, name, parser, field, aux, 0)
#define T(name, parser, field, flags, lo, hi)                                                    \
	KEY0(struct tenant_config, name, parser, field, flags, lo, hi)
#define T_AUX(name, parser, field, aux, flags)                                                   \
	KEY_AUX(struct tenant_config, name, parser, field, aux, flags)
#define LIST CONFIG_KEY_LIST

#define SEC 1000000ull  /* durations are in microseconds */
#define MIN (60 * SEC)
#define HOUR (60 * MIN)

static const struct config_key broker_keys[] = {
	/* key                              parser             field                  min, max */
	B("socket",                      parse_socket,      socket,                      0, 0),
	B("socket_name",                 parse_name,        socket_name,                 0, 0),
	B("socket_mode",                 parse_socket_mode, socket_mode,                 0, 0),
	B_AUX("socket_group",            parse_group,       socket_group, socket_group_set),
	B("admin_socket",                parse_socket,      admin_socket,                0, 0),
	B("admin_socket_name",           parse_name,        admin_socket_name,           0, 0),
	B("max_connections",             parse_uint,        max_connections,             1, 1000000),
	B("max_connections_per_uid",     parse_uint,        max_connections_per_uid,     1, 1000000),
	B("max_inflight_per_connection", parse_uint,        max_inflight_per_connection, 1, SB_MAX_INFLIGHT_LIMIT),
	B("max_request_frame",           parse_size,        max_request_frame,
	  SB_MAX_HELLO_FRAME, SB_MAX_REQUEST_FRAME_LIMIT),
	B("max_reply_frame",             parse_size,        max_reply_frame,
	  4096, SB_MAX_REPLY_FRAME_LIMIT),
	B("hello_timeout",               parse_duration,    hello_timeout_usec,    1000, HOUR),
	B("idle_timeout",                parse_duration,    idle_timeout_usec,     1000, 24 * HOUR),
	B("shutdown_timeout",            parse_duration,    shutdown_timeout_usec, 0, HOUR),
	B("start_timeout",               parse_duration,    start_timeout_usec,    0, 10 * MIN),
	B_AUX("log_level",               parse_log_level,   log_level, log_level_set),
	B("audit",                       parse_bool,        audit,                 0, 0),
	B("test_ping_delay",             parse_duration,    test_ping_delay_usec,  0, 10 * MIN),
	B("test_ready_delay",            parse_duration,    test_ready_delay_usec, 0, 10 * MIN),
	B("upstream_max_idle",           parse_uint,        upstream_max_idle,     1, 100000),
	B("upstream_max_per_host",       parse_uint,        upstream_max_per_host, 1, 100000),
	B("max_inflight_bytes_per_connection", parse_size, max_inflight_bytes_per_connection,
	  4096, 1024ull * 1024 * 1024),
	B("max_inflight_bytes",          parse_size,        max_inflight_bytes,    4096, 65536ull * 1024 * 1024),
	B("metrics_listen",              config_parse_listen, metrics_listen,      0, 0),
};

static const struct config_key tenant_keys[] = {
	/* key                     parser             field              flags  min, max */
	T("socket",             parse_socket,      socket,             0,    0, 0),
	T("socket_name",        parse_name,        socket_name,        0,    0, 0),
	T_AUX("allow_uids",     parse_uids,        allow_uids, n_allow_uids, LIST),
	T_AUX("allow_gids",     parse_gids,        allow_gids, n_allow_gids, LIST),
	T("descope_project_id", parse_name,        descope_project_id, 0,    0, 0),
	T("descope_base_url",   parse_url,         descope_base_url,   0,    0, 0),
	T("issuer",             parse_string,      issuer,             0,    0, 0),
	T("audience",           parse_strv,        audience,           LIST, 0, 0),
	T("jwks_url",           parse_url,         jwks_url,           0,    0, 0),
	T("jwks_refresh",       parse_duration,    jwks_refresh_usec,  0,    30 * SEC, 168 * HOUR),
	T("exchange",           parse_exchange,    exchange,           0,    0, 0),
	T("sts_url",            parse_url,         sts_url,            0,    0, 0),
	T("service_account_id", parse_name,        service_account_id, 0,    0, 0),
	T_AUX("credentials_file", parse_credentials, credentials_file,
	      credentials_in_credentials_dir, 0),
	T("context_claims",     parse_strv,        context_claims,     LIST, 0, 0),
	T("vault_url",          parse_url,         vault_url,          0,    0, 0),
	T("vault_id",           parse_name,        vault_id,           0,    0, 0),
	T("allow_tables",       parse_strv,        allow_tables,       LIST, 0, 0),
	T("allow_operations",   parse_operations,  allow_operations,   LIST, 0, 0),
	T("max_redaction",      parse_redaction,   max_redaction,      0,    0, 0),
	T("expose_tokens",      parse_bool,        expose_tokens,      0,    0, 0),
	T("ca_file",            parse_file,        ca_file,            0,    0, 0),
	T("insecure_http",      parse_bool,        insecure_http,      0,    0, 0),
	T("cache_size",         parse_uint,        cache_size,         0,    1, 10000000),
	T("rate_limit",         parse_uint,        rate_limit,         0,    0, 10000000),
	T("rate_burst",         parse_uint,        rate_burst,         0,    1, 1000000000),
	T("token_max_len",      parse_size,        token_max_len,      0,    256, SB_MAX_TOKEN_LEN),
	T("http_timeout",       parse_duration,    http_timeout_usec,  0,    100000, 10 * MIN),
	T("connect_timeout",    parse_duration,    connect_timeout_usec, 0,  100000, 10 * MIN),
};

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))
_Static_assert(ELEMENTSOF(broker_keys) <= CONFIG_SECTION_KEYS_MAX, "one seen bit per key");
_Static_assert(ELEMENTSOF(tenant_keys) <= CONFIG_SECTION_KEYS_MAX, "one seen bit per key");
_Static_assert(offsetof(struct broker_config, n_ref) == 0, "aux_offset 0 means none");
_Static_assert(offsetof(struct tenant_config, name) == 0, "aux_offset 0 means none");

const struct config_key_table config_broker_keys = {broker_keys, ELEMENTSOF(broker_keys)};
const struct config_key_table config_tenant_keys = {tenant_keys, ELEMENTSOF(tenant_keys)};

int config_key_index(const struct config_key_table *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->keys[i].name, name) == 0)
			return (int)i;
	return -ENOENT;
}

/* ---------------------------------------------------------------- defaults */

void config_broker_defaults(struct broker_config *c)
{
	c->socket_mode = 0660;
	c->max_connections = 1024;
	c->max_connections_per_uid = 128;
	c->max_inflight_per_connection = SB_MAX_INFLIGHT_DEFAULT;
	c->max_request_frame = SB_MAX_REQUEST_FRAME_DEFAULT;
	c->max_reply_frame = SB_MAX_REPLY_FRAME_DEFAULT;
	c->hello_timeout_usec = 10 * SEC;
	c->idle_timeout_usec = 300 * SEC;
	c->shutdown_timeout_usec = 30 * SEC;
	c->start_timeout_usec = 10 * SEC;
	c->log_level = LOG_INFO;
	c->audit = true;
	c->upstream_max_idle = 16;     /* UPSTREAM_DEFAULT_MAX_IDLE */
	c->upstream_max_per_host = 64; /* UPSTREAM_DEFAULT_MAX_PER_HOST */
	c->max_inflight_bytes_per_connection = 1024 * 1024;
	c->max_inflight_bytes = 64 * 1024 * 1024;
}

/* Every operation a tenant may be allowed (not hello, not stats). */
static uint32_t default_operations(void)
{
	return ops_mask(0);
}

void config_tenant_defaults(struct tenant_config *t)
{
	t->jwks_refresh_usec = 600 * SEC; /* DESIGN: refreshed every 10 minutes */
	t->exchange = CONFIG_EXCHANGE_STS;
	t->allow_operations = default_operations();
	t->max_redaction = CONFIG_REDACTION_PLAIN_TEXT;
	t->cache_size = 10000;
	t->token_max_len = 16384;
	t->http_timeout_usec = 10 * SEC;
	t->connect_timeout_usec = 5 * SEC;
}

/* ---------------------------------------------------------------- validation */

/* Where key `name` of table t was set in ss, or `dflt` when it was not (for messages). */
static const struct config_keyloc *loc_of(const struct config_key_table *t,
					  const struct config_section_state *ss, const char *name,
					  const struct config_keyloc *dflt)
{
	int i = config_key_index(t, name);

	return i >= 0 && (ss->seen & (1ull << i)) ? &ss->loc[i] : dflt;
}

static int set_default_str(char **field, const char *value)
{
	if (*field)
		return 0;
	*field = strdup(value);
	return *field ? 0 : -ENOMEM;
}

/* What every tenant needs: someone to admit, an identity, a vault, a way to exchange. Keys
 * are named as the reader set them (KEY: the environment variable in env mode). */
#define KEY_NAME(key) config_key_name(p, CONFIG_SECTION_TENANT, key)
static void tenant_check_required(struct config_parser *p, const struct tenant_config *t,
				  const struct config_section_state *ss,
				  const struct config_keyloc *sec)
{
	const struct config_keyloc *exchange = loc_of(&config_tenant_keys, ss, "exchange", sec);
	const char *mode = p->env ? "SKYBROKER_EXCHANGE=" : "exchange = ";

	if (t->n_allow_uids == 0 && t->n_allow_gids == 0)
		config_error_at(p, sec, "tenant '%s' admits nobody: set %s and/or %s", t->name,
				KEY_NAME("allow_uids"), KEY_NAME("allow_gids"));
	if (!t->descope_project_id)
		config_error_at(p, sec, "tenant '%s': %s is required", t->name,
				KEY_NAME("descope_project_id"));
	if (!t->vault_url)
		config_error_at(p, sec, "tenant '%s': %s is required", t->name, KEY_NAME("vault_url"));
	if (!t->vault_id)
		config_error_at(p, sec, "tenant '%s': %s is required", t->name, KEY_NAME("vault_id"));
	if (t->exchange == CONFIG_EXCHANGE_STS) {
		if (!t->sts_url)
			config_error_at(p, exchange, "tenant '%s': %ssts needs %s", t->name, mode,
					KEY_NAME("sts_url"));
		if (!t->service_account_id)
			config_error_at(p, exchange, "tenant '%s': %ssts needs %s", t->name, mode,
					KEY_NAME("service_account_id"));
	} else if (!t->credentials_file &&
		   loc_of(&config_tenant_keys, ss, "credentials_file", NULL) == NULL) {
		config_error_at(p, exchange, "tenant '%s': %sctx needs %s", t->name, mode,
				KEY_NAME("credentials_file"));
	}
}

/* The derived defaults: ctx's context claims, the Descope URLs, the socket name. */
static int tenant_fill_defaults(struct tenant_config *t)
{
	_cleanup_free_ char *jwks = NULL;
	int r;

	if (t->exchange == CONFIG_EXCHANGE_CTX && t->context_claims.n == 0) {
		r = config_strv_push(&t->context_claims, "roles", 5);
		if (r == 0)
			r = config_strv_push(&t->context_claims, "sub", 3);
		if (r < 0)
			return r;
	}
	r = set_default_str(&t->descope_base_url, "https://api.descope.com");
	if (r < 0)
		return r;
	if (!t->jwks_url && t->descope_project_id) {
		if (asprintf(&jwks, "%s/%s/.well-known/jwks.json", t->descope_base_url,
			     t->descope_project_id) < 0)
			return -ENOMEM;
		t->jwks_url = TAKE_PTR(jwks);
	}
	return set_default_str(&t->socket_name, t->name);
}

/* Plain http only with insecure_http = yes. */
static void tenant_check_urls(struct config_parser *p, const struct tenant_config *t,
			      const struct config_section_state *ss,
			      const struct config_keyloc *sec)
{
	static const char *const url_keys[] = {"descope_base_url", "jwks_url", "sts_url",
					       "vault_url"};
	const char *const urls[] = {t->descope_base_url, t->jwks_url, t->sts_url, t->vault_url};

	if (t->insecure_http)
		return;
	for (size_t i = 0; i < ELEMENTSOF(urls); i++)
		if (urls[i] && strncmp(urls[i], "https://", 8) != 0)
			config_error_at(p, loc_of(&config_tenant_keys, ss, url_keys[i], sec),
					"tenant '%s': %s is plain http; only https is allowed "
					"unless %s%s",
					t->name, KEY_NAME(url_keys[i]), KEY_NAME("insecure_http"),
					p->env ? "=yes" : " = yes");
}

/* A tenant is reachable on its own socket or the shared one, never the admin socket. */
static void tenant_check_socket(struct config_parser *p, struct tenant_config *t,
				const struct config_section_state *ss,
				const struct config_keyloc *sec)
{
	const struct broker_config *c = p->c;

	if (!t->socket && !c->socket)
		config_error_at(p, sec, "tenant '%s' has no socket and [broker] %s is none",
				t->name, config_key_name(p, CONFIG_SECTION_BROKER, "socket"));
	if (t->socket && c->admin_socket && strcmp(t->socket, c->admin_socket) == 0)
		config_error_at(p, loc_of(&config_tenant_keys, ss, "socket", sec),
				"tenant '%s': socket is the admin socket", t->name);
	if (t->socket && c->socket && strcmp(t->socket, c->socket) == 0) {
		/* the shared socket spelled out: treat as the shared one */
		free(t->socket);
		t->socket = NULL;
	}
}

static int validate_tenant(struct config_parser *p, size_t idx)
{
	struct tenant_config *t = &p->c->tenants[idx];
	const struct config_section_state *ss = &p->tenants[idx];
	const struct config_keyloc sec = {.line = t->line}; /* 0 in env mode: "environment: " */
	int r;

	tenant_check_required(p, t, ss, &sec);
	if (t->rate_burst && !t->rate_limit)
		config_error_at(p, loc_of(&config_tenant_keys, ss, "rate_burst", &sec),
				"tenant '%s': %s needs %s (requests per second)", t->name,
				KEY_NAME("rate_burst"), KEY_NAME("rate_limit"));
	if (t->token_max_len > SB_MAX_TOKEN_LEN)
		config_error_at(p, loc_of(&config_tenant_keys, ss, "token_max_len", &sec),
				"token_max_len above %u", SB_MAX_TOKEN_LEN);
	r = tenant_fill_defaults(t);
	if (r < 0)
		return r;
	tenant_check_urls(p, t, ss, &sec);
	tenant_check_socket(p, t, ss, &sec);
	return 0;
}

int config_validate(struct config_parser *p)
{
	struct broker_config *c = p->c;
	const struct config_keyloc top = {.line = 0};
	int r;

	if (c->n_tenants == 0)
		config_error_at(p, &top, "no tenant configured (add a [tenant.NAME] section)");
	if (c->socket && c->admin_socket && strcmp(c->socket, c->admin_socket) == 0)
		config_error_at(p, loc_of(&config_broker_keys, &p->broker, "admin_socket", &top),
				"%s is the same path as %s",
				config_key_name(p, CONFIG_SECTION_BROKER, "admin_socket"),
				config_key_name(p, CONFIG_SECTION_BROKER, "socket"));
	r = set_default_str(&c->socket_name, CONFIG_DEFAULT_SOCKET_NAME);
	if (r == 0)
		r = set_default_str(&c->admin_socket_name, CONFIG_DEFAULT_ADMIN_SOCKET_NAME);
	if (r < 0)
		return r;
	if (strcmp(c->socket_name, c->admin_socket_name) == 0)
		config_error_at(p, &top, "socket_name and admin_socket_name are the same");
	for (size_t i = 0; i < c->n_tenants; i++) {
		r = validate_tenant(p, i);
		if (r < 0)
			return r;
		if (strcmp(c->tenants[i].socket_name, c->admin_socket_name) == 0)
			config_error_at(p, &top, "tenant '%s': socket_name '%s' is the admin socket's name",
					c->tenants[i].name, c->tenants[i].socket_name);
	}
	return 0;
}
