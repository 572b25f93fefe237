/* SPDX-License-Identifier: MIT */
/* config: the loader of skybroker.conf: INI reading through inih, sections and keys, load/free. */
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tenancy/config_internal.h"
#include "util/ref.h"

/* ---------------------------------------------------------------- the config object */

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
	config_strv_done(&t->audience);
	free(t->jwks_url);
	free(t->sts_url);
	free(t->service_account_id);
	free(t->credentials_file);
	config_strv_done(&t->context_claims);
	free(t->vault_url);
	free(t->vault_id);
	config_strv_done(&t->allow_tables);
	free(t->ca_file);
}

static void config_destroy(struct broker_config *c)
{
	for (size_t i = 0; i < c->n_tenants; i++)
		tenant_config_clear(&c->tenants[i]);
	free(c->tenants);
	free(c->source);
	free(c->socket);
	free(c->socket_name);
	free(c->admin_socket);
	free(c->admin_socket_name);
	free(c->metrics_listen);
	free(c);
}

DEFINE_REF_UNREF(struct broker_config, config, config_destroy)

struct broker_config *config_free(struct broker_config *c)
{
	return config_unref(c);
}

/* A config with the [broker] defaults and no tenant, named source; NULL on -ENOMEM. */
static struct broker_config *config_new(const char *source)
{
	_cleanup_(config_unrefp) struct broker_config *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->n_ref = 1;
	config_broker_defaults(c);
	c->source = strdup(source);
	c->socket = strdup(CONFIG_DEFAULT_SOCKET);
	c->admin_socket = strdup(CONFIG_DEFAULT_ADMIN_SOCKET);
	if (!c->source || !c->socket || !c->admin_socket)
		return NULL;
	return TAKE_PTR(c);
}

const struct tenant_config *config_find_tenant(const struct broker_config *c, const char *name)
{
	for (size_t i = 0; c && i < c->n_tenants; i++)
		if (strcmp(c->tenants[i].name, name) == 0)
			return &c->tenants[i];
	return NULL;
}

/* ---------------------------------------------------------------- the parser */

int config_parser_init(struct config_parser *p, const char *source, FILE *err)
{
	*p = (struct config_parser){.file = source, .err = err};
	p->c = config_new(source);
	return p->c ? 0 : -ENOMEM;
}

void config_parser_done(struct config_parser *p)
{
	free(p->tenants);
	p->tenants = NULL;
	p->c = config_unref(p->c);
}

int config_parser_finish(struct config_parser *p, struct broker_config **ret)
{
	int r = config_validate(p);

	if (r < 0 && p->errors == 0)
		config_error_at(p, NULL, "%s", strerror(-r));
	if (r < 0)
		return r;
	if (p->errors > 0)
		return -EINVAL;
	*ret = TAKE_PTR(p->c);
	return 0;
}

/* Writes "where: [key: ]message" to p->err and counts the error. */
static void config_verror_at(struct config_parser *p, const struct config_keyloc *at,
			     const char *key, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));

static void config_verror_at(struct config_parser *p, const struct config_keyloc *at,
			     const char *key, const char *fmt, va_list ap)
{
	p->errors++;
	if (!p->err)
		return;
	if (at && at->var)
		fprintf(p->err, "%s: %s: ", p->file, at->var);
	else if (at && at->line)
		fprintf(p->err, "%s:%u: ", p->file, at->line);
	else
		fprintf(p->err, "%s: ", p->file);
	if (key)
		fprintf(p->err, "%s: ", key);
	vfprintf(p->err, fmt, ap);
	fputc('\n', p->err);
}

void config_error_at(struct config_parser *p, const struct config_keyloc *at, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	config_verror_at(p, at, NULL, fmt, ap);
	va_end(ap);
}

int config_key_error(struct config_parser *p, const struct config_key *k, int r, const char *fmt,
		     ...)
{
	struct config_keyloc at = config_here(p);
	va_list ap;

	va_start(ap, fmt);
	config_verror_at(p, &at, k->name, fmt, ap);
	va_end(ap);
	return r;
}

struct config_keyloc config_here(const struct config_parser *p)
{
	return (struct config_keyloc){.line = p->cur_var ? 0 : p->line, .var = p->cur_var};
}

/* ---------------------------------------------------------------- sections */

/* Whether name may name a tenant (it also names a socket, a log field, a metric label). */
static bool is_tenant_name(const char *name)
{
	return *name && strlen(name) <= CONFIG_TENANT_NAME_MAX && config_is_name_token(name) &&
	       !strchr(name, ':') && !strchr(name, '@');
}

/* Grows c->tenants and p->tenants by one zeroed entry each. */
static int tenant_grow(struct config_parser *p)
{
	struct broker_config *c = p->c;
	struct tenant_config *nt;
	struct config_section_state *ns;

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
	return 0;
}

int config_tenant_begin(struct config_parser *p, const char *name, const struct config_keyloc *at)
{
	struct broker_config *c = p->c;
	_cleanup_free_ char *dup = NULL;
	struct tenant_config *t;
	int r;

	if (!is_tenant_name(name)) {
		config_error_at(p, at,
				"bad tenant name '%s' (letters, digits, '_', '-', '.'; at most %u)",
				name, CONFIG_TENANT_NAME_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < c->n_tenants; i++)
		if (strcmp(c->tenants[i].name, name) == 0) {
			config_error_at(p, at, "tenant '%s' is defined twice (first at line %u)",
					name, c->tenants[i].line);
			return -EEXIST;
		}
	if (c->n_tenants >= CONFIG_MAX_TENANTS) {
		config_error_at(p, at, "too many tenants (at most %u)", CONFIG_MAX_TENANTS);
		return -E2BIG;
	}
	dup = strdup(name);
	if (!dup)
		return -ENOMEM;
	r = tenant_grow(p);
	if (r < 0)
		return r;
	t = &c->tenants[c->n_tenants];
	config_tenant_defaults(t);
	t->line = at->line;
	t->name = TAKE_PTR(dup);
	p->cur_tenant = c->n_tenants++;
	return 0;
}

/* Called for each section header the reader sees. */
static void section_begin(struct config_parser *p, const char *name, const struct config_keyloc *at)
{
	if (strcmp(name, "broker") == 0) {
		if (p->broker_seen)
			config_error_at(p, at, "section [broker] appears twice");
		p->broker_seen = true;
		p->kind = CONFIG_SECTION_BROKER;
	} else if (strncmp(name, "tenant.", 7) == 0) {
		int errors = p->errors, r = config_tenant_begin(p, name + 7, at);
		if (r < 0 && p->errors == errors) /* -ENOMEM: never lose a tenant silently */
			config_error_at(p, at, "%s", strerror(-r));
		p->kind = r < 0 ? CONFIG_SECTION_SKIP : CONFIG_SECTION_TENANT;
	} else {
		config_error_at(p, at, "unknown section [%s] (expected [broker] or [tenant.NAME])",
				name);
		p->kind = CONFIG_SECTION_SKIP; /* swallow its keys without more noise */
	}
}

/* ---------------------------------------------------------------- keys */

/* Reports a key the current section does not have. */
static int unknown_key(struct config_parser *p, const char *name)
{
	struct config_keyloc at = config_here(p);

	if (p->kind == CONFIG_SECTION_BROKER)
		config_error_at(p, &at, "unknown key '%s' in [broker]", name);
	else
		config_error_at(p, &at, "unknown key '%s' in [tenant.%s]", name,
				p->c->tenants[p->cur_tenant].name);
	return -EINVAL;
}

/* Runs k's parser on its field (and aux field) of the section struct at base. A failure
 * the parser did not report (-ENOMEM) is reported here: no failure may pass silently. */
static int apply_key(struct config_parser *p, const struct config_key *k, void *base,
		     const char *value, bool append)
{
	int errors = p->errors, r;
	char *b = base;

	r = k->parse(p, k, value, b + k->offset, k->aux_offset ? b + k->aux_offset : NULL,
		     append);
	if (r < 0 && p->errors == errors)
		config_key_error(p, k, r, "%s", strerror(-r));
	return r;
}

int config_handle_key(struct config_parser *p, const char *name, const char *value)
{
	struct config_keyloc at = config_here(p);
	const struct config_key_table *table;
	struct config_section_state *ss;
	const struct config_key *k;
	void *base;
	int i;

	if (p->kind == CONFIG_SECTION_NONE) {
		config_error_at(p, &at, "key '%s' outside of any section", name);
		return -EINVAL;
	}
	if (p->kind == CONFIG_SECTION_SKIP)
		return 0; /* already reported */
	if (p->kind == CONFIG_SECTION_BROKER) {
		table = &config_broker_keys;
		ss = &p->broker;
		base = p->c;
	} else {
		table = &config_tenant_keys;
		ss = &p->tenants[p->cur_tenant];
		base = &p->c->tenants[p->cur_tenant];
	}
	i = config_key_index(table, name);
	if (i < 0)
		return unknown_key(p, name);
	k = &table->keys[i];
	if (ss->seen & (1ull << i)) {
		if ((k->flags & CONFIG_KEY_LIST) && !p->cur_var) /* lists accumulate */
			return apply_key(p, k, base, value, true);
		if (ss->loc[i].var)
			config_error_at(p, &at, "key '%s' is set twice (also by %s)", name,
					ss->loc[i].var);
		else
			config_error_at(p, &at, "key '%s' is set twice (first at line %u)", name,
					ss->loc[i].line);
		return -EEXIST;
	}
	ss->seen |= 1ull << i;
	ss->loc[i] = at;
	return apply_key(p, k, base, value, false);
}

/* ---------------------------------------------------------------- inih glue */

/* If line is a section header "[name]" (blanks, a BOM allowed), begins that section. */
static void note_section(struct config_parser *p, const char *line)
{
	struct config_keyloc at = {.line = p->line};
	const char *q = line, *b, *e;
	char name[256];

	while (*q == ' ' || *q == '\t')
		q++;
	if (q[0] == '\xef' && q[1] == '\xbb' && q[2] == '\xbf')
		q += 3;
	if (*q != '[')
		return;
	e = strchr(q, ']');
	if (!e)
		return;
	b = q + 1;
	while (b < e && (*b == ' ' || *b == '\t'))
		b++;
	while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if ((size_t)(e - b) >= sizeof(name)) {
		config_error_at(p, &at, "section name too long");
		p->kind = CONFIG_SECTION_SKIP;
		return;
	}
	memcpy(name, b, (size_t)(e - b));
	name[e - b] = '\0';
	section_begin(p, name, &at);
}

/* Makes str (at least 2 bytes) an empty line and returns it. */
static char *blank_line(char *str)
{
	str[0] = '\n';
	str[1] = '\0';
	return str;
}

/* inih's fgets: the next line of p->text into str (num bytes). A line inih could not hold
 * (it would split it silently) and a line with a NUL byte become empty lines, reported. */
static char *reader(char *str, int num, void *stream)
{
	struct config_parser *p = stream;
	const char *s = p->text + p->pos;
	size_t n = 0;

	if (p->pos >= p->len || num < 2)
		return NULL;
	p->line++;
	p->max_line = num - 3; /* inih needs room for "\r\n\0" */
	while (p->pos + n < p->len && s[n] != '\n')
		n++;
	if (p->pos + n < p->len)
		n++; /* include the newline */
	p->pos += n;
	if (n > (size_t)num - 1) {
		if (!p->long_line)
			p->long_line = p->line;
		return blank_line(str);
	}
	memcpy(str, s, n);
	str[n] = '\0';
	if (memchr(str, '\0', n)) {
		struct config_keyloc at = {.line = p->line};
		config_error_at(p, &at, "NUL byte in line");
		return blank_line(str);
	}
	/* Section headers are noted here, where the line number is known (this inih build does
	 * not pass line numbers to the handler). */
	note_section(p, str);
	return str;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct config_parser *p = user;

	(void)section;
	config_handle_key(p, name, value ? value : "");
	return 1; /* keep going: report every error in one run */
}

int config_load_buffer(const char *name, const char *text, size_t len, FILE *err,
		       struct broker_config **ret)
{
	_cleanup_(config_parser_done) struct config_parser p = {0};
	int r;

	*ret = NULL;
	r = config_parser_init(&p, name, err);
	if (r < 0)
		return r;
	p.text = text;
	p.len = len;

	/* Debian's libinih is built with a fixed line buffer (INI_MAX_LINE, 200 bytes) and
	 * multi-line values on; its runtime knobs are not honoured. The reader turns a longer
	 * line into an error naming it (instead of inih's silent split), and list keys may be
	 * repeated (or continued on indented lines) to add entries. */
	r = ini_parse_stream(reader, &p, handler, &p);
	if (p.long_line) {
		struct config_keyloc at = {.line = p.long_line};
		config_error_at(&p, &at, "line longer than %d bytes; split a list over several '%s' lines",
				p.max_line, "key =");
	}
	if (r > 0 && (unsigned)r != p.long_line) {
		struct config_keyloc at = {.line = (unsigned)r};
		config_error_at(&p, &at, "syntax error (expected [section] or key = value)");
	} else if (r < 0) {
		config_error_at(&p, NULL, "parser failed (%d)", r);
	}
	return config_parser_finish(&p, ret);
}

int config_load_string(const char *name, const char *text, FILE *err, struct broker_config **ret)
{
	return config_load_buffer(name, text, strlen(text), err, ret);
}

/* Reads the regular file path (at most CONFIG_MAX_FILE_SIZE bytes) into *ret (NUL-terminated,
 * *ret_len bytes before the terminator). Reports to err (may be NULL). */
static int read_config_file(const char *path, FILE *err, char **ret, size_t *ret_len)
{
	_cleanup_(closep) int fd = -EBADF;
	_cleanup_free_ char *text = NULL;
	struct stat st;
	size_t got = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		int r = -errno;
		if (err)
			fprintf(err, "%s: %s\n", path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > CONFIG_MAX_FILE_SIZE) {
		if (err)
			fprintf(err, "%s: not a regular file of at most %u bytes\n", path,
				CONFIG_MAX_FILE_SIZE);
		return -EINVAL;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text)
		return -ENOMEM;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, text + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	text[got] = '\0';
	*ret = TAKE_PTR(text);
	*ret_len = got;
	return 0;
}

int config_load_file(const char *path, FILE *err, struct broker_config **ret)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r;

	*ret = NULL;
	r = read_config_file(path, err, &text, &len);
	if (r < 0)
		return r;
	return config_load_buffer(path, text, len, err, ret); /* a NUL byte is an error */
}
