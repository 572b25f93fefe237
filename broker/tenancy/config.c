/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <ini.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tenancy/config.h"
#include "util/log.h"
#include "proto/limits.h"
#include "proto/message.h"

/* ---------------------------------------------------------------- value parsers */

int config_parse_uint(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (end == s || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}

struct unit {
	const char *suffix;
	uint64_t mult;
};

static int parse_scaled(const char *s, const struct unit *units, size_t n_units,
			uint64_t default_mult, uint64_t *ret)
{
	char num[32];
	size_t i = 0;
	uint64_t v, mult = default_mult;
	int r;

	if (!s)
		return -EINVAL;
	while (s[i] >= '0' && s[i] <= '9')
		i++;
	if (i == 0 || i >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, i);
	num[i] = '\0';
	r = config_parse_uint(num, &v);
	if (r < 0)
		return r;
	if (s[i]) {
		size_t k;
		for (k = 0; k < n_units; k++)
			if (strcmp(s + i, units[k].suffix) == 0)
				break;
		if (k == n_units)
			return -EINVAL;
		mult = units[k].mult;
	}
	if (mult && v > UINT64_MAX / mult)
		return -ERANGE;
	*ret = v * mult;
	return 0;
}

int config_parse_duration(const char *s, uint64_t *ret_usec)
{
	static const struct unit units[] = {{"us", 1}, {"ms", 1000}, {"s", 1000000}, {"m", 60000000}, {"h", 3600000000ull}};
	return parse_scaled(s, units, sizeof(units) / sizeof(units[0]), 1000000, ret_usec);
}

int config_parse_size(const char *s, uint64_t *ret)
{
	static const struct unit units[] = {{"K", 1024}, {"M", 1024 * 1024}, {"KiB", 1024}, {"MiB", 1024 * 1024}};
	return parse_scaled(s, units, sizeof(units) / sizeof(units[0]), 1, ret);
}

int config_parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

int config_parse_mode(const char *s, mode_t *ret)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	for (const char *p = s; *p; p++)
		if (*p < '0' || *p > '7')
			return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 8);
	if (errno || *end || v > 0777)
		return -EINVAL;
	*ret = (mode_t)v;
	return 0;
}

/* ---------------------------------------------------------------- parser state */

enum key_type {
	KT_STR,       /* non-empty string */
	KT_URL,       /* http(s) URL, checked against insecure_http after parsing */
	KT_STRV,      /* comma/space separated list */
	KT_BOOL,
	KT_DURATION,
	KT_SIZE,
	KT_UINT,
	KT_MODE,
	KT_GROUP,
	KT_UIDS,
	KT_GIDS,
	KT_EXCHANGE,
	KT_REDACTION,
	KT_OPS,
	KT_LOGLEVEL,
	KT_SOCKET,      /* absolute path, or empty for "none" */
	KT_CREDENTIALS, /* absolute path or a name under $CREDENTIALS_DIRECTORY */
	KT_NAME,        /* short token: [A-Za-z0-9_.@-] */
};

struct key {
	const char *name;
	enum key_type type;
	size_t off;    /* offset in struct broker_config / tenant_config */
	size_t off2;   /* second field: count for uid/gid arrays, flag for group */
	uint64_t min, max; /* numeric bounds (0, 0 = none) */
};

#define BK(n, t) {#n, t, offsetof(struct broker_config, n), 0, 0, 0}
#define BKN(n, t, lo, hi) {#n, t, offsetof(struct broker_config, n), 0, lo, hi}
#define TK(n, t) {#n, t, offsetof(struct tenant_config, n), 0, 0, 0}
#define TKN(n, t, lo, hi) {#n, t, offsetof(struct tenant_config, n), 0, lo, hi}
#define BKU(n, lo, hi) {#n, KT_DURATION, offsetof(struct broker_config, n##_usec), 0, lo, hi}
#define TKU(n, lo, hi) {#n, KT_DURATION, offsetof(struct tenant_config, n##_usec), 0, lo, hi}

static const struct key broker_keys[] = {
	BK(socket, KT_SOCKET),
	BK(socket_name, KT_NAME),
	BK(socket_mode, KT_MODE),
	{"socket_group", KT_GROUP, offsetof(struct broker_config, socket_group),
	 offsetof(struct broker_config, socket_group_set), 0, 0},
	BK(admin_socket, KT_SOCKET),
	BK(admin_socket_name, KT_NAME),
	BKN(max_connections, KT_UINT, 1, 1000000),
	BKN(max_connections_per_uid, KT_UINT, 1, 1000000),
	BKN(max_inflight_per_connection, KT_UINT, 1, 1024),
	BKN(max_request_frame, KT_SIZE, SB_MAX_HELLO_FRAME, SB_MAX_REQUEST_FRAME_LIMIT),
	BKN(max_reply_frame, KT_SIZE, 4096, SB_MAX_REPLY_FRAME_LIMIT),
	BKU(hello_timeout, 1000, 3600000000ull),
	BKU(idle_timeout, 1000, 86400000000ull),
	BKU(shutdown_timeout, 0, 3600000000ull),
	BK(log_level, KT_LOGLEVEL),
	BK(audit, KT_BOOL),
	BKU(test_ping_delay, 0, 600000000ull),
	BKU(test_ready_delay, 0, 600000000ull),
};

static const struct key tenant_keys[] = {
	TK(socket, KT_SOCKET),
	TK(socket_name, KT_NAME),
	{"allow_uids", KT_UIDS, offsetof(struct tenant_config, allow_uids),
	 offsetof(struct tenant_config, n_allow_uids), 0, 0},
	{"allow_gids", KT_GIDS, offsetof(struct tenant_config, allow_gids),
	 offsetof(struct tenant_config, n_allow_gids), 0, 0},
	TK(descope_project_id, KT_NAME),
	TK(descope_base_url, KT_URL),
	TK(issuer, KT_STR),
	TK(audience, KT_STRV),
	TK(jwks_url, KT_URL),
	TKU(jwks_refresh, 30000000ull, 604800000000ull),
	TK(exchange, KT_EXCHANGE),
	TK(sts_url, KT_URL),
	TK(service_account_id, KT_NAME),
	TK(credentials_file, KT_CREDENTIALS),
	TK(context_claims, KT_STRV),
	TK(vault_url, KT_URL),
	TK(vault_id, KT_NAME),
	TK(allow_tables, KT_STRV),
	TK(allow_operations, KT_OPS),
	TK(max_redaction, KT_REDACTION),
	TK(expose_tokens, KT_BOOL),
	TK(ca_file, KT_STR),
	TK(insecure_http, KT_BOOL),
	TKN(cache_size, KT_UINT, 1, 10000000),
	TKN(rate_limit, KT_UINT, 0, 10000000),
	TKN(rate_burst, KT_UINT, 1, 1000000000),
	TKN(token_max_len, KT_SIZE, 256, SB_MAX_TOKEN_LEN),
	TKU(http_timeout, 100000, 600000000ull),
	TKU(connect_timeout, 100000, 600000000ull),
};

#define N_BROKER_KEYS (sizeof(broker_keys) / sizeof(broker_keys[0]))
#define N_TENANT_KEYS (sizeof(tenant_keys) / sizeof(tenant_keys[0]))

/* Where a key was set, for messages: a file line, or an environment variable. */
struct keyloc {
	unsigned line;
	const char *var;
};

struct section_state {
	struct keyloc loc[64];
	uint64_t seen;
};

struct parser {
	const char *file; /* for messages; "environment" in env mode */
	FILE *err;
	int errors;
	struct broker_config *c;

	/* reader */
	const char *text;
	size_t pos, len;
	unsigned line;       /* line the reader returned last */
	unsigned long_line;  /* first too-long line, 0 if none */
	int max_line;        /* longest line inih accepts */

	/* current section: 0 = none yet, 1 = broker, 2 = tenant (cur_tenant) */
	int kind;
	size_t cur_tenant;
	bool broker_seen;
	const char *cur_var; /* env mode: the variable being applied */

	struct section_state broker;
	struct section_state *tenants; /* parallel to c->tenants */
};

static void perr_at(struct parser *p, const struct keyloc *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void perr_at(struct parser *p, const struct keyloc *at, const char *fmt, ...)
{
	va_list ap;

	p->errors++;
	if (!p->err)
		return;
	if (at && at->var)
		fprintf(p->err, "%s: %s: ", p->file, at->var);
	else if (at && at->line)
		fprintf(p->err, "%s:%u: ", p->file, at->line);
	else
		fprintf(p->err, "%s: ", p->file);
	va_start(ap, fmt);
	vfprintf(p->err, fmt, ap);
	va_end(ap);
	fputc('\n', p->err);
}

static struct keyloc here(const struct parser *p)
{
	return (struct keyloc){.line = p->cur_var ? 0 : p->line, .var = p->cur_var};
}

/* ---------------------------------------------------------------- lists */

static void strv_free(struct config_strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

static int strv_push(struct config_strv *s, const char *str, size_t n)
{
	char **v;
	char *dup;

	if (s->n >= CONFIG_MAX_LIST)
		return -E2BIG;
	dup = strndup(str, n);
	if (!dup)
		return -ENOMEM;
	v = realloc(s->v, (s->n + 1) * sizeof(*v));
	if (!v) {
		free(dup);
		return -ENOMEM;
	}
	v[s->n++] = dup;
	s->v = v;
	return 0;
}

static bool is_list_sep(char ch)
{
	return ch == ',' || ch == ' ' || ch == '\t';
}

/* Splits a comma/whitespace separated value into out (appended). */
static int split_list(const char *value, struct config_strv *out)
{
	const char *s = value;
	int r;

	while (*s) {
		const char *e;
		while (*s && is_list_sep(*s))
			s++;
		if (!*s)
			break;
		e = s;
		while (*e && !is_list_sep(*e))
			e++;
		r = strv_push(out, s, (size_t)(e - s));
		if (r < 0)
			return r;
		s = e;
	}
	return 0;
}

static bool is_name_token(const char *s)
{
	if (!*s || strlen(s) > SB_MAX_NAME_LEN)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || *s == '-' || *s == '.' || *s == '@' || *s == ':'))
			return false;
	return true;
}

static int resolve_uid(const char *s, uid_t *ret)
{
	uint64_t v;
	struct passwd pw, *res = NULL;
	char buf[4096];

	if (config_parse_uint(s, &v) == 0) {
		if (v >= (uint64_t)UINT32_MAX)
			return -ERANGE;
		*ret = (uid_t)v;
		return 0;
	}
	/* NSS lookup: may block on a remote directory; happens only at start and reload. */
	if (getpwnam_r(s, &pw, buf, sizeof(buf), &res) != 0 || !res)
		return -ESRCH;
	*ret = res->pw_uid;
	return 0;
}

static int resolve_gid(const char *s, gid_t *ret)
{
	uint64_t v;
	struct group gr, *res = NULL;
	char buf[16384];

	if (config_parse_uint(s, &v) == 0) {
		if (v >= (uint64_t)UINT32_MAX)
			return -ERANGE;
		*ret = (gid_t)v;
		return 0;
	}
	if (getgrnam_r(s, &gr, buf, sizeof(buf), &res) != 0 || !res)
		return -ESRCH;
	*ret = res->gr_gid;
	return 0;
}

/* Checks a credentials file and stores its resolved path. */
static int check_credentials(struct parser *p, const char *value, struct tenant_config *t)
{
	struct keyloc at = here(p);
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	char path[PATH_MAX];
	struct stat st;
	bool in_dir = false;

	if (value[0] == '/') {
		if (strlen(value) >= sizeof(path)) {
			perr_at(p, &at, "credentials_file: path too long");
			return -ENAMETOOLONG;
		}
		snprintf(path, sizeof(path), "%s", value);
		if (dir && *dir) {
			size_t dl = strlen(dir);
			in_dir = strncmp(value, dir, dl) == 0 && value[dl] == '/';
		}
	} else {
		if (strchr(value, '/') || strcmp(value, ".") == 0 || strcmp(value, "..") == 0) {
			perr_at(p, &at,
				"credentials_file: '%s' is neither an absolute path nor a credential name",
				value);
			return -EINVAL;
		}
		if (!dir || !*dir) {
			perr_at(p, &at,
				"credentials_file: '%s' is a credential name but $CREDENTIALS_DIRECTORY is not set",
				value);
			return -ENOENT;
		}
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, value) >= sizeof(path)) {
			perr_at(p, &at, "credentials_file: path too long");
			return -ENAMETOOLONG;
		}
		in_dir = true;
	}
	if (stat(path, &st) < 0) {
		int r = -errno;
		perr_at(p, &at, "credentials_file: %s: %s", path, strerror(-r));
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		perr_at(p, &at, "credentials_file: %s is not a regular file", path);
		return -EINVAL;
	}
	if (!in_dir && (st.st_mode & 0077)) {
		perr_at(p, &at,
			"credentials_file: %s is accessible by group or others (mode %04o); "
			"chmod 0600 it or pass it as a systemd credential",
			path, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	if (access(path, R_OK) < 0) {
		int r = -errno;
		perr_at(p, &at, "credentials_file: %s: %s", path, strerror(-r));
		return r;
	}
	free(t->credentials_file);
	t->credentials_file = strdup(path);
	t->credentials_in_credentials_dir = in_dir;
	return t->credentials_file ? 0 : -ENOMEM;
}

/* ---------------------------------------------------------------- defaults */

static void broker_defaults(struct broker_config *c)
{
	c->socket_mode = 0660;
	c->max_connections = 1024;
	c->max_connections_per_uid = 128;
	c->max_inflight_per_connection = 32;
	c->max_request_frame = SB_MAX_REQUEST_FRAME_DEFAULT;
	c->max_reply_frame = SB_MAX_REPLY_FRAME_DEFAULT;
	c->hello_timeout_usec = 10 * 1000000ull;
	c->idle_timeout_usec = 300 * 1000000ull;
	c->shutdown_timeout_usec = 30 * 1000000ull;
	c->log_level = LOG_INFO;
	c->audit = true;
}

static uint32_t default_operations(void)
{
	uint32_t m = 0;
	for (int op = 0; op < _SB_OP_MAX; op++)
		if (op != SB_OP_HELLO && op != SB_OP_STATS)
			m |= 1u << op;
	return m;
}

static void tenant_defaults(struct tenant_config *t)
{
	t->jwks_refresh_usec = 600 * 1000000ull; /* DESIGN: refreshed every 10 minutes */
	t->exchange = CONFIG_EXCHANGE_STS;
	t->allow_operations = default_operations();
	t->max_redaction = CONFIG_REDACTION_PLAIN_TEXT;
	t->cache_size = 10000;
	t->token_max_len = 16384;
	t->http_timeout_usec = 10 * 1000000ull;
	t->connect_timeout_usec = 5 * 1000000ull;
}

static void tenant_config_clear(struct tenant_config *t)
{
	free(t->name);
	free(t->socket);
	free(t->socket_name);
	free(t->allow_uids);
	free(t->allow_gids);
	free(t->descope_project_id);
	free(t->descope_base_url);
	free(t->issuer);
	strv_free(&t->audience);
	free(t->jwks_url);
	free(t->sts_url);
	free(t->service_account_id);
	free(t->credentials_file);
	strv_free(&t->context_claims);
	free(t->vault_url);
	free(t->vault_id);
	strv_free(&t->allow_tables);
	free(t->ca_file);
}

struct broker_config *config_ref(struct broker_config *c)
{
	if (c)
		c->n_ref++;
	return c;
}

struct broker_config *config_free(struct broker_config *c)
{
	if (!c)
		return NULL;
	if (c->n_ref > 1) {
		c->n_ref--;
		return NULL;
	}
	for (size_t i = 0; i < c->n_tenants; i++)
		tenant_config_clear(&c->tenants[i]);
	free(c->tenants);
	free(c->source);
	free(c->socket);
	free(c->socket_name);
	free(c->admin_socket);
	free(c->admin_socket_name);
	free(c);
	return NULL;
}

/* ---------------------------------------------------------------- sections and keys */

static int tenant_begin(struct parser *p, const char *name, const struct keyloc *at)
{
	struct broker_config *c = p->c;
	struct tenant_config *nt;
	struct section_state *ns;

	if (!*name || strlen(name) > CONFIG_TENANT_NAME_MAX || !is_name_token(name) ||
	    strchr(name, ':') || strchr(name, '@')) {
		perr_at(p, at, "bad tenant name '%s' (letters, digits, '_', '-', '.'; at most %u)",
			name, CONFIG_TENANT_NAME_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < c->n_tenants; i++)
		if (strcmp(c->tenants[i].name, name) == 0) {
			perr_at(p, at, "tenant '%s' is defined twice (first at line %u)", name,
				c->tenants[i].line);
			return -EEXIST;
		}
	if (c->n_tenants >= CONFIG_MAX_TENANTS) {
		perr_at(p, at, "too many tenants (at most %u)", CONFIG_MAX_TENANTS);
		return -E2BIG;
	}
	nt = realloc(c->tenants, (c->n_tenants + 1) * sizeof(*nt));
	if (!nt)
		return -ENOMEM;
	c->tenants = nt;
	ns = realloc(p->tenants, (c->n_tenants + 1) * sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	p->tenants = ns;
	memset(&nt[c->n_tenants], 0, sizeof(*nt));
	memset(&ns[c->n_tenants], 0, sizeof(*ns));
	tenant_defaults(&nt[c->n_tenants]);
	nt[c->n_tenants].line = at->line;
	nt[c->n_tenants].name = strdup(name);
	if (!nt[c->n_tenants].name)
		return -ENOMEM;
	p->cur_tenant = c->n_tenants++;
	return 0;
}

/* Called for each section header the reader sees (and by the env loader). */
static void section_begin(struct parser *p, const char *name, const struct keyloc *at)
{
	if (strcmp(name, "broker") == 0) {
		if (p->broker_seen)
			perr_at(p, at, "section [broker] appears twice");
		p->broker_seen = true;
		p->kind = 1;
	} else if (strncmp(name, "tenant.", 7) == 0) {
		p->kind = tenant_begin(p, name + 7, at) < 0 ? -1 : 2;
	} else {
		perr_at(p, at, "unknown section [%s] (expected [broker] or [tenant.NAME])", name);
		p->kind = -1; /* swallow its keys without more noise */
	}
}

static bool is_list_type(enum key_type t)
{
	return t == KT_STRV || t == KT_UIDS || t == KT_GIDS || t == KT_OPS;
}

/* append: the key was set before in this section and is a list: add to it. */
static int apply_key(struct parser *p, const struct key *k, void *base, const char *value,
		     bool append)
{
	struct keyloc at = here(p);
	void *field = (char *)base + k->off;
	uint64_t u = 0;
	int r = 0;

	switch (k->type) {
	case KT_STR:
	case KT_URL:
		if (!*value) {
			perr_at(p, &at, "%s: empty value", k->name);
			return -EINVAL;
		}
		if (strlen(value) > 4096) {
			perr_at(p, &at, "%s: value too long", k->name);
			return -EINVAL;
		}
		if (k->type == KT_URL && strncmp(value, "https://", 8) != 0 &&
		    strncmp(value, "http://", 7) != 0) {
			perr_at(p, &at, "%s: '%s' is not an http(s) URL", k->name, value);
			return -EINVAL;
		}
		free(*(char **)field);
		*(char **)field = strdup(value);
		if (!*(char **)field)
			return -ENOMEM;
		if (k->type == KT_URL) { /* no trailing slash: we append paths */
			char *s = *(char **)field;
			size_t n = strlen(s);
			while (n > 8 && s[n - 1] == '/')
				s[--n] = '\0';
		}
		return 0;
	case KT_NAME:
		if (!is_name_token(value)) {
			perr_at(p, &at, "%s: '%s' is not a valid name", k->name, value);
			return -EINVAL;
		}
		free(*(char **)field);
		*(char **)field = strdup(value);
		return *(char **)field ? 0 : -ENOMEM;
	case KT_SOCKET:
		free(*(char **)field);
		*(char **)field = NULL;
		if (!*value || strcmp(value, "none") == 0)
			return 0;
		if (value[0] != '/') {
			perr_at(p, &at, "%s: '%s' is not an absolute path", k->name, value);
			return -EINVAL;
		}
		if (strlen(value) >= sizeof(((struct sockaddr_un *)NULL)->sun_path)) {
			perr_at(p, &at, "%s: path longer than %zu bytes", k->name,
				sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1);
			return -ENAMETOOLONG;
		}
		*(char **)field = strdup(value);
		return *(char **)field ? 0 : -ENOMEM;
	case KT_STRV: {
		struct config_strv *sv = field;
		if (!append)
			strv_free(sv);
		r = split_list(value, sv);
		if (r == -E2BIG)
			perr_at(p, &at, "%s: more than %u entries", k->name, CONFIG_MAX_LIST);
		for (size_t i = 0; r == 0 && i < sv->n; i++)
			if (strlen(sv->v[i]) > SB_MAX_NAME_LEN) {
				perr_at(p, &at, "%s: entry too long", k->name);
				r = -EINVAL;
			}
		return r;
	}
	case KT_BOOL:
		if (config_parse_bool(value, field) < 0) {
			perr_at(p, &at, "%s: '%s' is not a boolean (yes/no)", k->name, value);
			return -EINVAL;
		}
		return 0;
	case KT_DURATION:
	case KT_SIZE:
	case KT_UINT:
		if (k->type == KT_DURATION)
			r = config_parse_duration(value, &u);
		else if (k->type == KT_SIZE)
			r = config_parse_size(value, &u);
		else
			r = config_parse_uint(value, &u);
		if (r < 0) {
			perr_at(p, &at, "%s: '%s' is not a valid %s", k->name, value,
				k->type == KT_DURATION ? "duration (e.g. 30s, 500ms, 5m)"
				: k->type == KT_SIZE ? "size (e.g. 65536, 64K, 4M)"
				: "non-negative integer");
			return -EINVAL;
		}
		if ((k->min || k->max) && (u < k->min || u > k->max)) {
			if (k->type == KT_DURATION)
				perr_at(p, &at, "%s: out of range (%llu ms to %llu ms)", k->name,
					(unsigned long long)k->min / 1000, (unsigned long long)k->max / 1000);
			else
				perr_at(p, &at, "%s: out of range (%llu to %llu)", k->name,
					(unsigned long long)k->min, (unsigned long long)k->max);
			return -ERANGE;
		}
		*(uint64_t *)field = u;
		return 0;
	case KT_MODE:
		if (config_parse_mode(value, field) < 0) {
			perr_at(p, &at, "%s: '%s' is not an octal mode between 0000 and 0777", k->name,
				value);
			return -EINVAL;
		}
		if (*(mode_t *)field & 0007) {
			perr_at(p, &at, "%s: %s gives access to others; use group access (e.g. 0660)",
				k->name, value);
			return -EINVAL;
		}
		if (!(*(mode_t *)field & 0200)) {
			perr_at(p, &at, "%s: %s leaves the owner without write access", k->name, value);
			return -EINVAL;
		}
		return 0;
	case KT_GROUP: {
		gid_t g;
		if (resolve_gid(value, &g) < 0) {
			perr_at(p, &at, "%s: unknown group '%s'", k->name, value);
			return -ESRCH;
		}
		*(gid_t *)field = g;
		*(bool *)((char *)base + k->off2) = true;
		return 0;
	}
	case KT_UIDS:
	case KT_GIDS: {
		struct config_strv sv = {0};
		uint32_t *ids = NULL;
		size_t n_ids;
		size_t *count = (size_t *)((char *)base + k->off2);
		r = split_list(value, &sv);
		if (r == 0 && sv.n == 0) {
			perr_at(p, &at, "%s: empty list", k->name);
			r = -EINVAL;
		}
		if (r == 0) {
			ids = calloc(sv.n, sizeof(*ids));
			if (!ids)
				r = -ENOMEM;
		}
		for (size_t i = 0; r == 0 && i < sv.n; i++) {
			if (k->type == KT_UIDS)
				r = resolve_uid(sv.v[i], &ids[i]);
			else
				r = resolve_gid(sv.v[i], &ids[i]);
			if (r < 0)
				perr_at(p, &at, "%s: unknown %s '%s'", k->name,
					k->type == KT_UIDS ? "user" : "group", sv.v[i]);
		}
		n_ids = sv.n;
		strv_free(&sv);
		if (r < 0) {
			free(ids);
			return r;
		}
		if (append && *count > 0) {
			uint32_t *merged = realloc(*(uint32_t **)field, (*count + n_ids) * sizeof(*ids));
			if (!merged) {
				free(ids);
				return -ENOMEM;
			}
			memcpy(merged + *count, ids, n_ids * sizeof(*ids));
			free(ids);
			*(uint32_t **)field = merged;
			*count += n_ids;
			return 0;
		}
		free(*(uint32_t **)field);
		*(uint32_t **)field = ids;
		*count = n_ids;
		return 0;
	}
	case KT_EXCHANGE:
		if (strcmp(value, "sts") == 0)
			*(enum config_exchange *)field = CONFIG_EXCHANGE_STS;
		else if (strcmp(value, "ctx") == 0)
			*(enum config_exchange *)field = CONFIG_EXCHANGE_CTX;
		else {
			perr_at(p, &at, "%s: '%s' is neither 'sts' nor 'ctx'", k->name, value);
			return -EINVAL;
		}
		return 0;
	case KT_REDACTION:
		for (int i = 0; sb_redaction_names[i]; i++)
			if (strcmp(value, sb_redaction_names[i]) == 0) {
				*(enum config_redaction *)field = (enum config_redaction)i;
				return 0;
			}
		perr_at(p, &at, "%s: '%s' is not one of DEFAULT, REDACTED, MASKED, PLAIN_TEXT", k->name,
			value);
		return -EINVAL;
	case KT_OPS: {
		struct config_strv sv = {0};
		uint32_t m = 0;
		r = split_list(value, &sv);
		for (size_t i = 0; r == 0 && i < sv.n; i++) {
			enum sb_op op = sb_op_from_name(sv.v[i]);
			if (op == SB_OP_INVALID || op == SB_OP_HELLO || op == SB_OP_STATS) {
				perr_at(p, &at, "%s: '%s' is not an operation a tenant can be allowed",
					k->name, sv.v[i]);
				r = -EINVAL;
			} else
				m |= 1u << op;
		}
		strv_free(&sv);
		if (r < 0)
			return r;
		/* ping and health are always available to an admitted client */
		*(uint32_t *)field = (append ? *(uint32_t *)field : 0) | m | 1u << SB_OP_PING |
				     1u << SB_OP_HEALTH;
		return 0;
	}
	case KT_LOGLEVEL:
		r = log_level_from_name(value);
		if (r < 0) {
			perr_at(p, &at, "%s: '%s' is not a log level (err, warning, notice, info, debug)",
				k->name, value);
			return -EINVAL;
		}
		*(int *)field = r;
		p->c->log_level_set = true;
		return 0;
	case KT_CREDENTIALS:
		return check_credentials(p, value, base);
	}
	return -EINVAL;
}

static int handle_key(struct parser *p, const char *name, const char *value)
{
	const struct key *keys;
	size_t n;
	struct section_state *ss;
	void *base;
	struct keyloc at = here(p);

	if (p->kind == 0) {
		perr_at(p, &at, "key '%s' outside of any section", name);
		return -EINVAL;
	}
	if (p->kind < 0)
		return 0; /* already reported */
	if (p->kind == 1) {
		keys = broker_keys;
		n = N_BROKER_KEYS;
		ss = &p->broker;
		base = p->c;
	} else {
		keys = tenant_keys;
		n = N_TENANT_KEYS;
		ss = &p->tenants[p->cur_tenant];
		base = &p->c->tenants[p->cur_tenant];
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(keys[i].name, name) != 0)
			continue;
		if ((ss->seen & (1ull << i)) && is_list_type(keys[i].type) && !p->cur_var)
			return apply_key(p, &keys[i], base, value, true); /* lists accumulate */
		if (ss->seen & (1ull << i)) {
			if (ss->loc[i].var)
				perr_at(p, &at, "key '%s' is set twice (also by %s)", name, ss->loc[i].var);
			else
				perr_at(p, &at, "key '%s' is set twice (first at line %u)", name,
					ss->loc[i].line);
			return -EEXIST;
		}
		ss->seen |= 1ull << i;
		ss->loc[i] = at;
		return apply_key(p, &keys[i], base, value, false);
	}
	if (p->kind == 1)
		perr_at(p, &at, "unknown key '%s' in [broker]", name);
	else
		perr_at(p, &at, "unknown key '%s' in [tenant.%s]", name,
			p->c->tenants[p->cur_tenant].name);
	return -EINVAL;
}

/* Whether the key `name` was set in ss, and where (for messages). */
static const struct keyloc *keyloc_of(const struct key *keys, size_t n,
				      const struct section_state *ss, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(keys[i].name, name) == 0 && (ss->seen & (1ull << i)))
			return &ss->loc[i];
	return NULL;
}

/* ---------------------------------------------------------------- validation */

static int set_default_str(char **field, const char *value)
{
	if (*field)
		return 0;
	*field = strdup(value);
	return *field ? 0 : -ENOMEM;
}

static int validate_tenant(struct parser *p, size_t idx)
{
	struct tenant_config *t = &p->c->tenants[idx];
	struct section_state *ss = &p->tenants[idx];
	struct keyloc sec = {.line = t->line}; /* line 0 in env mode: just "environment: " */
	const struct keyloc *at;
	char buf[4096];
	int r;

#define LOC(key) (keyloc_of(tenant_keys, N_TENANT_KEYS, ss, key) ?: &sec)
	if (t->n_allow_uids == 0 && t->n_allow_gids == 0)
		perr_at(p, &sec, "tenant '%s' admits nobody: set allow_uids and/or allow_gids",
			t->name);
	if (!t->descope_project_id)
		perr_at(p, &sec, "tenant '%s': descope_project_id is required", t->name);
	if (!t->vault_url)
		perr_at(p, &sec, "tenant '%s': vault_url is required", t->name);
	if (!t->vault_id)
		perr_at(p, &sec, "tenant '%s': vault_id is required", t->name);
	if (t->exchange == CONFIG_EXCHANGE_STS) {
		if (!t->sts_url)
			perr_at(p, LOC("exchange"), "tenant '%s': exchange = sts needs sts_url",
				t->name);
		if (!t->service_account_id)
			perr_at(p, LOC("exchange"),
				"tenant '%s': exchange = sts needs service_account_id", t->name);
	} else if (!t->credentials_file && !keyloc_of(tenant_keys, N_TENANT_KEYS, ss,
						     "credentials_file")) {
		perr_at(p, LOC("exchange"), "tenant '%s': exchange = ctx needs credentials_file",
			t->name);
	}
	if (t->exchange == CONFIG_EXCHANGE_CTX && t->context_claims.n == 0) {
		r = strv_push(&t->context_claims, "roles", 5);
		if (r == 0)
			r = strv_push(&t->context_claims, "sub", 3);
		if (r < 0)
			return r;
	}
	if (t->rate_burst && !t->rate_limit)
		perr_at(p, LOC("rate_burst"),
			"tenant '%s': rate_burst needs rate_limit (requests per second)", t->name);
	if (t->token_max_len > SB_MAX_TOKEN_LEN)
		perr_at(p, LOC("token_max_len"), "token_max_len above %u", SB_MAX_TOKEN_LEN);

	r = set_default_str(&t->descope_base_url, "https://api.descope.com");
	if (r < 0)
		return r;
	if (!t->jwks_url && t->descope_project_id) {
		snprintf(buf, sizeof(buf), "%s/%s/.well-known/jwks.json", t->descope_base_url,
			 t->descope_project_id);
		r = set_default_str(&t->jwks_url, buf);
		if (r < 0)
			return r;
	}
	if (!t->socket_name) {
		r = set_default_str(&t->socket_name, t->name);
		if (r < 0)
			return r;
	}
	if (!t->insecure_http) {
		static const char *const url_keys[] = {"descope_base_url", "jwks_url", "sts_url",
						       "vault_url"};
		const char *urls[] = {t->descope_base_url, t->jwks_url, t->sts_url, t->vault_url};
		for (size_t i = 0; i < 4; i++) {
			if (urls[i] && strncmp(urls[i], "https://", 8) != 0) {
				at = LOC(url_keys[i]);
				perr_at(p, at,
					"tenant '%s': %s is plain http; only https is allowed unless "
					"insecure_http = yes",
					t->name, url_keys[i]);
			}
		}
	}
	if (!t->socket && !p->c->socket)
		perr_at(p, &sec,
			"tenant '%s' has no socket and [broker] socket is disabled", t->name);
	if (t->socket && p->c->admin_socket && strcmp(t->socket, p->c->admin_socket) == 0)
		perr_at(p, LOC("socket"), "tenant '%s': socket is the admin socket", t->name);
	if (t->socket && p->c->socket && strcmp(t->socket, p->c->socket) == 0) {
		/* the shared socket spelled out: treat as the shared one */
		free(t->socket);
		t->socket = NULL;
	}
#undef LOC
	return 0;
}

static int validate(struct parser *p)
{
	struct broker_config *c = p->c;
	struct keyloc top = {.line = 0};
	int r;

	if (c->n_tenants == 0)
		perr_at(p, &top, "no tenant configured (add a [tenant.NAME] section)");
	if (c->socket && c->admin_socket && strcmp(c->socket, c->admin_socket) == 0)
		perr_at(p, keyloc_of(broker_keys, N_BROKER_KEYS, &p->broker, "admin_socket") ?: &top,
			"admin_socket is the same path as socket");
	r = set_default_str(&c->socket_name, CONFIG_DEFAULT_SOCKET_NAME);
	if (r == 0)
		r = set_default_str(&c->admin_socket_name, CONFIG_DEFAULT_ADMIN_SOCKET_NAME);
	if (r < 0)
		return r;
	if (strcmp(c->socket_name, c->admin_socket_name) == 0)
		perr_at(p, &top, "socket_name and admin_socket_name are the same");
	for (size_t i = 0; i < c->n_tenants; i++) {
		r = validate_tenant(p, i);
		if (r < 0)
			return r;
		if (strcmp(c->tenants[i].socket_name, c->admin_socket_name) == 0)
			perr_at(p, &top, "tenant '%s': socket_name '%s' is the admin socket's name",
				c->tenants[i].name, c->tenants[i].socket_name);
	}
	return 0;
}

/* ---------------------------------------------------------------- inih glue */

static char *reader(char *str, int num, void *stream)
{
	struct parser *p = stream;
	size_t n = 0, room;
	const char *s;

	if (p->pos >= p->len || num < 2)
		return NULL;
	p->line++;
	room = (size_t)num - 1;
	p->max_line = num - 3; /* inih needs room for "\r\n\0" */
	s = p->text + p->pos;
	while (p->pos + n < p->len && s[n] != '\n')
		n++;
	if (p->pos + n < p->len)
		n++; /* include the newline */
	if (n > room) {
		if (!p->long_line)
			p->long_line = p->line;
		p->pos += n;
		str[0] = '\n';
		str[1] = '\0';
		return str;
	}
	memcpy(str, s, n);
	str[n] = '\0';
	p->pos += n;
	if (memchr(str, '\0', n)) {
		struct keyloc at = {.line = p->line};
		perr_at(p, &at, "NUL byte in line");
		str[0] = '\n';
		str[1] = '\0';
		return str;
	}

	/* Section headers: note them here, where the line number is known (this inih build
	 * does not pass line numbers to the handler). */
	{
		const char *q = str;
		while (*q == ' ' || *q == '\t')
			q++;
		if (q[0] == '\xef' && q[1] == '\xbb' && q[2] == '\xbf')
			q += 3;
		if (*q == '[') {
			const char *e = strchr(q, ']');
			if (e) {
				char name[256];
				const char *b = q + 1;
				while (b < e && (*b == ' ' || *b == '\t'))
					b++;
				while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
					e--;
				if ((size_t)(e - b) < sizeof(name)) {
					struct keyloc at = {.line = p->line};
					memcpy(name, b, (size_t)(e - b));
					name[e - b] = '\0';
					section_begin(p, name, &at);
				} else {
					struct keyloc at = {.line = p->line};
					perr_at(p, &at, "section name too long");
					p->kind = -1;
				}
			}
		}
	}
	return str;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parser *p = user;
	(void)section;
	handle_key(p, name, value ? value : "");
	return 1; /* keep going: report every error in one run */
}

static struct broker_config *config_new(const char *source)
{
	struct broker_config *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	broker_defaults(c);
	c->n_ref = 1;
	c->source = strdup(source);
	c->socket = strdup(CONFIG_DEFAULT_SOCKET);
	c->admin_socket = strdup(CONFIG_DEFAULT_ADMIN_SOCKET);
	if (!c->source || !c->socket || !c->admin_socket)
		return config_free(c);
	return c;
}

static int finish(struct parser *p, struct broker_config **ret)
{
	int r = 0;

	/* Validate even after key errors, so one run reports every problem. */
	r = validate(p);
	if (r < 0 && p->errors == 0)
		perr_at(p, NULL, "%s", strerror(-r));
	free(p->tenants);
	p->tenants = NULL;
	if (p->errors > 0 || r < 0) {
		config_free(p->c);
		return r < 0 ? r : -EINVAL;
	}
	*ret = p->c;
	return 0;
}

int config_load_string(const char *name, const char *text, FILE *err, struct broker_config **ret)
{
	struct parser p = {.file = name, .err = err, .text = text, .len = strlen(text)};
	int r;

	*ret = NULL;
	p.c = config_new(name);
	if (!p.c)
		return -ENOMEM;

	/* Debian's libinih is built with a fixed line buffer (INI_MAX_LINE, 200 bytes) and
	 * multi-line values on; its runtime knobs are not honoured. The reader turns a longer
	 * line into an error naming it (instead of inih's silent split), and list keys may be
	 * repeated (or continued on indented lines) to add entries. */
	r = ini_parse_stream(reader, &p, handler, &p);
	if (p.long_line) {
		struct keyloc at = {.line = p.long_line};
		perr_at(&p, &at, "line longer than %d bytes; split a list over several '%s' lines",
			p.max_line, "key =");
	}
	if (r > 0 && (unsigned)r != p.long_line) {
		struct keyloc at = {.line = (unsigned)r};
		perr_at(&p, &at, "syntax error (expected [section] or key = value)");
	} else if (r < 0) {
		perr_at(&p, NULL, "parser failed (%d)", r);
	}
	return finish(&p, ret);
}

int config_load_file(const char *path, FILE *err, struct broker_config **ret)
{
	char *text = NULL;
	struct stat st;
	size_t got = 0;
	int fd, r;

	*ret = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		if (err)
			fprintf(err, "%s: %s\n", path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > CONFIG_MAX_FILE_SIZE) {
		if (err)
			fprintf(err, "%s: not a regular file of at most %u bytes\n", path,
				CONFIG_MAX_FILE_SIZE);
		close(fd);
		return -EINVAL;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, text + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	text[got] = '\0';
	r = config_load_string(path, text, err, ret);
	free(text);
	return r;
}

/* ---------------------------------------------------------------- environment */

int config_from_env(FILE *err, struct broker_config **ret)
{
	/* variable -> (section, key) */
	static const struct {
		const char *var;
		int kind; /* 1 broker, 2 tenant */
		const char *key;
	} map[] = {
		{"SKYBROKER_SOCKET", 1, "socket"},
		{"SKYBROKER_SOCKET_MODE", 1, "socket_mode"},
		{"SKYBROKER_SOCKET_GROUP", 1, "socket_group"},
		{"SKYBROKER_ADMIN_SOCKET", 1, "admin_socket"},
		{"SKYBROKER_MAX_CONNECTIONS", 1, "max_connections"},
		{"SKYBROKER_MAX_CONNECTIONS_PER_UID", 1, "max_connections_per_uid"},
		{"SKYBROKER_IDLE_TIMEOUT", 1, "idle_timeout"},
		{"SKYBROKER_LOG_LEVEL", 1, "log_level"},
		{"SKYBROKER_AUDIT", 1, "audit"},
		{"DESCOPE_PROJECT_ID", 2, "descope_project_id"},
		{"DESCOPE_BASE_URL", 2, "descope_base_url"},
		{"SKYFLOW_VAULT_ID", 2, "vault_id"},
		{"SKYFLOW_SERVICE_ACCOUNT_ID", 2, "service_account_id"},
		{"SKYFLOW_STS_URL", 2, "sts_url"},
		{"SKYBROKER_ALLOW_UIDS", 2, "allow_uids"},
		{"SKYBROKER_ALLOW_GIDS", 2, "allow_gids"},
		{"SKYBROKER_CREDENTIALS_FILE", 2, "credentials_file"},
		{"SKYBROKER_EXCHANGE", 2, "exchange"},
		{"SKYBROKER_ISSUER", 2, "issuer"},
		{"SKYBROKER_AUDIENCE", 2, "audience"},
		{"SKYBROKER_JWKS_URL", 2, "jwks_url"},
		{"SKYBROKER_CONTEXT_CLAIMS", 2, "context_claims"},
		{"SKYBROKER_ALLOW_TABLES", 2, "allow_tables"},
		{"SKYBROKER_ALLOW_OPERATIONS", 2, "allow_operations"},
		{"SKYBROKER_MAX_REDACTION", 2, "max_redaction"},
		{"SKYBROKER_EXPOSE_TOKENS", 2, "expose_tokens"},
		{"SKYBROKER_CA_FILE", 2, "ca_file"},
		{"SKYBROKER_INSECURE_HTTP", 2, "insecure_http"},
		{"SKYBROKER_CACHE_SIZE", 2, "cache_size"},
		{"SKYBROKER_RATE_LIMIT", 2, "rate_limit"},
		{"SKYBROKER_RATE_BURST", 2, "rate_burst"},
	};
	struct parser p = {.file = "environment", .err = err};
	const char *tenant = getenv("SKYBROKER_TENANT");
	const char *vault_url = getenv("SKYFLOW_VAULT_URL");
	const char *vault_ident = getenv("SKYFLOW_VAULT_URL_IDENTIFIER");
	struct keyloc at = {.var = "SKYBROKER_TENANT"};
	char buf[512];

	*ret = NULL;
	p.c = config_new("environment");
	if (!p.c)
		return -ENOMEM;
	p.cur_var = "SKYBROKER_TENANT";
	p.broker_seen = true;
	if (tenant_begin(&p, tenant && *tenant ? tenant : "default", &at) < 0)
		return finish(&p, ret);

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		const char *v = getenv(map[i].var);
		if (!v)
			continue;
		p.cur_var = map[i].var;
		p.kind = map[i].kind;
		handle_key(&p, map[i].key, v);
	}
	p.kind = 2;
	if (vault_url && *vault_url) {
		p.cur_var = "SKYFLOW_VAULT_URL";
		handle_key(&p, "vault_url", vault_url);
	} else if (vault_ident && *vault_ident) {
		p.cur_var = "SKYFLOW_VAULT_URL_IDENTIFIER";
		if (!is_name_token(vault_ident) || strchr(vault_ident, ':') ||
		    strchr(vault_ident, '@') || strchr(vault_ident, '.')) {
			struct keyloc a = here(&p);
			perr_at(&p, &a, "'%s' is not a vault URL identifier", vault_ident);
		} else {
			snprintf(buf, sizeof(buf), "https://%s.vault.skyflowapis.com", vault_ident);
			handle_key(&p, "vault_url", buf);
		}
	}
	p.cur_var = "environment";
	return finish(&p, ret);
}

/* ---------------------------------------------------------------- printing */

const struct tenant_config *config_find_tenant(const struct broker_config *c, const char *name)
{
	for (size_t i = 0; c && i < c->n_tenants; i++)
		if (strcmp(c->tenants[i].name, name) == 0)
			return &c->tenants[i];
	return NULL;
}

static void print_strv(FILE *out, const char *key, const struct config_strv *s)
{
	fprintf(out, "%s =", key);
	for (size_t i = 0; i < s->n; i++)
		fprintf(out, "%s%s", i ? ", " : " ", s->v[i]);
	fputc('\n', out);
}

static void print_usec(FILE *out, const char *key, uint64_t usec)
{
	if (usec % 1000000 == 0)
		fprintf(out, "%s = %llus\n", key, (unsigned long long)(usec / 1000000));
	else
		fprintf(out, "%s = %llums\n", key, (unsigned long long)(usec / 1000));
}

void config_print(const struct broker_config *c, FILE *out)
{
	fprintf(out, "# effective configuration from %s\n[broker]\n", c->source);
	fprintf(out, "socket = %s\n", c->socket ? c->socket : "none");
	fprintf(out, "socket_name = %s\n", c->socket_name);
	fprintf(out, "socket_mode = %04o\n", (unsigned)c->socket_mode);
	if (c->socket_group_set)
		fprintf(out, "socket_group = %u\n", (unsigned)c->socket_group);
	fprintf(out, "admin_socket = %s\n", c->admin_socket ? c->admin_socket : "none");
	fprintf(out, "admin_socket_name = %s\n", c->admin_socket_name);
	fprintf(out, "max_connections = %llu\n", (unsigned long long)c->max_connections);
	fprintf(out, "max_connections_per_uid = %llu\n",
		(unsigned long long)c->max_connections_per_uid);
	fprintf(out, "max_inflight_per_connection = %llu\n",
		(unsigned long long)c->max_inflight_per_connection);
	fprintf(out, "max_request_frame = %llu\n", (unsigned long long)c->max_request_frame);
	fprintf(out, "max_reply_frame = %llu\n", (unsigned long long)c->max_reply_frame);
	print_usec(out, "hello_timeout", c->hello_timeout_usec);
	print_usec(out, "idle_timeout", c->idle_timeout_usec);
	print_usec(out, "shutdown_timeout", c->shutdown_timeout_usec);
	fprintf(out, "log_level = %s\n", log_level_name(c->log_level));
	fprintf(out, "audit = %s\n", c->audit ? "yes" : "no");
	if (c->test_ping_delay_usec)
		print_usec(out, "test_ping_delay", c->test_ping_delay_usec);
	if (c->test_ready_delay_usec)
		print_usec(out, "test_ready_delay", c->test_ready_delay_usec);

	for (size_t i = 0; i < c->n_tenants; i++) {
		const struct tenant_config *t = &c->tenants[i];
		fprintf(out, "\n[tenant.%s]\n", t->name);
		if (t->socket)
			fprintf(out, "socket = %s\n", t->socket);
		else
			fprintf(out, "# socket: the shared [broker] socket\n");
		fprintf(out, "socket_name = %s\n", t->socket_name);
		if (t->n_allow_uids) {
			fprintf(out, "allow_uids =");
			for (size_t k = 0; k < t->n_allow_uids; k++)
				fprintf(out, "%s%u", k ? ", " : " ", (unsigned)t->allow_uids[k]);
			fputc('\n', out);
		}
		if (t->n_allow_gids) {
			fprintf(out, "allow_gids =");
			for (size_t k = 0; k < t->n_allow_gids; k++)
				fprintf(out, "%s%u", k ? ", " : " ", (unsigned)t->allow_gids[k]);
			fputc('\n', out);
		}
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
		fprintf(out, "expose_tokens = %s\n", t->expose_tokens ? "yes" : "no");
		if (t->ca_file)
			fprintf(out, "ca_file = %s\n", t->ca_file);
		fprintf(out, "insecure_http = %s\n", t->insecure_http ? "yes" : "no");
		fprintf(out, "cache_size = %llu\n", (unsigned long long)t->cache_size);
		fprintf(out, "rate_limit = %llu\n", (unsigned long long)t->rate_limit);
		if (t->rate_burst)
			fprintf(out, "rate_burst = %llu\n", (unsigned long long)t->rate_burst);
		fprintf(out, "token_max_len = %llu\n", (unsigned long long)t->token_max_len);
		print_usec(out, "http_timeout", t->http_timeout_usec);
		print_usec(out, "connect_timeout", t->connect_timeout_usec);
	}
}
