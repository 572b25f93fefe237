#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define CONFIG_MAX_BYTES (8 * 1024 * 1024)

static char *dup_str(json_t *j)
{
	return json_is_string(j) ? strdup(json_string_value(j)) : NULL;
}

static int cerr(char *err, size_t err_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int cerr(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static void column_clear(struct column_def *col)
{
	free(col->name);
	free(col->value_type);
	free(col->replace);
	free(col->column_group);
	if (col->has_mask)
		regfree(&col->find);
}

void config_free(struct emu_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->ntables; i++) {
		struct table_def *t = &c->tables[i];
		for (size_t j = 0; j < t->ncols; j++)
			column_clear(&t->cols[j]);
		free(t->cols);
		free(t->name);
		json_decref(t->seed);
	}
	free(c->tables);
	for (size_t i = 0; i < c->nroles; i++) {
		for (size_t j = 0; j < c->roles[i].npolicies; j++)
			policy_clear(&c->roles[i].policies[j]);
		free(c->roles[i].policies);
		free(c->roles[i].id);
		free(c->roles[i].name);
	}
	free(c->roles);
	for (size_t i = 0; i < c->nassignments; i++) {
		cel_free(c->assignments[i].cond);
		free(c->assignments[i].cond_text);
		free(c->assignments[i].sa_id);
	}
	free(c->assignments);
	for (size_t i = 0; i < c->nsts; i++) {
		free(c->sts[i].name);
		free(c->sts[i].issuer);
		free(c->sts[i].audience);
		json_decref(c->sts[i].context_claims);
		json_decref(c->sts[i].sa_ids);
	}
	free(c->sts);
	free(c->project_id);
	free(c->descope_issuer);
	free(c->sa_id);
	free(c->sa_name);
	free(c->vault_id);
	free(c);
}

static int parse_column(json_t *jc, struct column_def *col, char *err, size_t err_len)
{
	json_t *mask;
	const char *def;

	col->name = dup_str(json_object_get(jc, "name"));
	if (!col->name || !*col->name || !strcmp(col->name, "skyflow_id") ||
	    strlen(col->name) >= POLICY_NAME_MAX)
		return cerr(err, err_len, "column without a valid name");
	col->value_type = dup_str(json_object_get(jc, "type"));
	if (!col->value_type)
		col->value_type = strdup("STRING");
	def = json_string_value(json_object_get(jc, "default_redaction"));
	if (!def)
		def = "PLAIN_TEXT";
	if (redaction_from_string(def, &col->def) < 0 || col->def == RED_DEFAULT)
		return cerr(err, err_len, "column %s: bad default_redaction", col->name);
	col->unique = json_is_true(json_object_get(jc, "unique"));
	col->tokenized = json_is_true(json_object_get(jc, "tokenization"));
	if (json_object_get(jc, "token_policy")) {
		/* Skyflow's skyflow.options.default_token_policy; the format-preserving and
		 * transient kinds are not emulated, so they stop start-up instead of behaving
		 * like UUIDs. */
		const char *tp = json_string_value(json_object_get(jc, "token_policy"));
		if (tp && !strcmp(tp, "DETERMINISTIC_UUID"))
			col->deterministic = true;
		else if (!tp || strcmp(tp, "NON_DETERMINISTIC_UUID") != 0)
			return cerr(err, err_len,
				    "column %s: token_policy must be DETERMINISTIC_UUID or "
				    "NON_DETERMINISTIC_UUID (others are not emulated)",
				    col->name);
		if (!col->tokenized)
			return cerr(err, err_len, "column %s: token_policy needs tokenization",
				    col->name);
	}
	col->column_group = dup_str(json_object_get(jc, "column_group"));
	mask = json_object_get(jc, "mask");
	if (mask) {
		const char *find = json_string_value(json_object_get(mask, "find"));
		col->replace = dup_str(json_object_get(mask, "replace"));
		if (!find || !col->replace)
			return cerr(err, err_len, "column %s: mask needs find and replace", col->name);
		if (regcomp(&col->find, find, REG_EXTENDED) != 0)
			return cerr(err, err_len, "column %s: mask find is not a POSIX ERE",
				    col->name);
		col->has_mask = true;
	}
	return 0;
}

static int parse_tables(struct emu_config *c, json_t *jtables, char *err, size_t err_len)
{
	size_t i;
	json_t *jt;

	if (!json_is_array(jtables) || json_array_size(jtables) == 0)
		return cerr(err, err_len, "vault.tables must be a non-empty array");
	c->tables = calloc(json_array_size(jtables), sizeof(*c->tables));
	if (!c->tables)
		return -ENOMEM;
	json_array_foreach(jtables, i, jt) {
		struct table_def *t = &c->tables[c->ntables++];
		json_t *jcols = json_object_get(jt, "columns"), *jc;
		size_t k;
		int r;

		t->name = dup_str(json_object_get(jt, "name"));
		if (!t->name || !*t->name || strlen(t->name) >= POLICY_NAME_MAX ||
		    strchr(t->name, '/'))
			return cerr(err, err_len, "table without a valid name");
		if (!json_is_array(jcols))
			return cerr(err, err_len, "table %s: columns must be an array", t->name);
		t->cols = calloc(json_array_size(jcols) + 1, sizeof(*t->cols));
		if (!t->cols)
			return -ENOMEM;
		json_array_foreach(jcols, k, jc) {
			r = parse_column(jc, &t->cols[t->ncols++], err, err_len);
			if (r < 0)
				return r;
		}
		t->seed = json_object_get(jt, "records");
		if (t->seed && !json_is_array(t->seed))
			return cerr(err, err_len, "table %s: records must be an array", t->name);
		t->seed = t->seed ? json_incref(t->seed) : json_array();
	}
	return 0;
}

/* Every table and column a policy names must exist: a policy over nothing would silently
 * grant or deny nothing (a nested column path such as persons.name.last_name reads as
 * vault.table.column here, so it lands here too). */
static int check_policy_names(const struct emu_config *c, const struct policy *p, char *msg,
			      size_t msg_len)
{
	for (size_t i = 0; i < p->nres; i++) {
		const struct table_def *t = config_table(c, p->res[i].table);
		if (!t) {
			snprintf(msg, msg_len,
				 "no table %s (nested column paths such as persons.name.last_name "
				 "are not supported by the emulator)",
				 p->res[i].table);
			return -EINVAL;
		}
		if (strcmp(p->res[i].column, "*") != 0 && !config_column(t, p->res[i].column)) {
			snprintf(msg, msg_len, "no column %s in table %s", p->res[i].column, t->name);
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < p->nwhere; i++) {
		bool found = false;
		if (p->where[i].kind == W_AND || p->where[i].kind == W_OR)
			continue;
		for (size_t k = 0; k < p->nres && !found; k++) {
			const struct table_def *t = config_table(c, p->res[k].table);
			found = !strcmp(p->where[i].column, "skyflow_id") ||
				config_column(t, p->where[i].column);
		}
		if (!found) {
			snprintf(msg, msg_len, "WHERE names no column %s of the policy's tables",
				 p->where[i].column);
			return -EINVAL;
		}
	}
	return 0;
}

static int parse_roles(struct emu_config *c, json_t *jroles, char *err, size_t err_len)
{
	size_t i;
	json_t *jr;

	if (!jroles)
		return 0;
	if (!json_is_array(jroles))
		return cerr(err, err_len, "roles must be an array");
	c->roles = calloc(json_array_size(jroles) + 1, sizeof(*c->roles));
	if (!c->roles)
		return -ENOMEM;
	json_array_foreach(jroles, i, jr) {
		struct role_def *role = &c->roles[c->nroles++];
		json_t *jp = json_object_get(jr, "policies"), *pol;
		size_t k;

		role->name = dup_str(json_object_get(jr, "name"));
		role->id = dup_str(json_object_get(jr, "id"));
		if (!role->name)
			return cerr(err, err_len, "role without a name");
		if (!role->id)
			role->id = strdup(role->name);
		if (!json_is_array(jp))
			return cerr(err, err_len, "role %s: policies must be an array", role->name);
		role->policies = calloc(json_array_size(jp) + 1, sizeof(*role->policies));
		if (!role->policies)
			return -ENOMEM;
		json_array_foreach(jp, k, pol) {
			char perr[160];
			int r = policy_parse(json_string_value(pol), &role->policies[role->npolicies],
					     perr, sizeof(perr));
			if (r == 0) {
				role->npolicies++; /* owned by the role from here on */
				r = check_policy_names(c, &role->policies[role->npolicies - 1], perr,
						       sizeof(perr));
			}
			if (r < 0) {
				if (err)
					snprintf(err, err_len, "role %s, policy %zu: %s", role->name, k,
						 perr);
				return -EINVAL;
			}
		}
	}
	return 0;
}

static int parse_assignments(struct emu_config *c, json_t *ja, char *err, size_t err_len)
{
	size_t i;
	json_t *jx;

	if (!ja)
		return 0;
	if (!json_is_array(ja))
		return cerr(err, err_len, "role_assignments must be an array");
	c->assignments = calloc(json_array_size(ja) + 1, sizeof(*c->assignments));
	if (!c->assignments)
		return -ENOMEM;
	json_array_foreach(ja, i, jx) {
		struct assignment *a = &c->assignments[c->nassignments++];
		const char *role = json_string_value(json_object_get(jx, "role"));
		const char *cond = json_string_value(json_object_get(jx, "condition"));
		char cerrbuf[160];
		int idx = role ? config_role_index(c, role) : -1;

		if (idx < 0)
			return cerr(err, err_len, "role assignment names unknown role '%s'",
				    role ? role : "(none)");
		a->role = (size_t)idx;
		a->sa_id = dup_str(json_object_get(jx, "service_account"));
		if (!a->sa_id)
			a->sa_id = strdup(c->sa_id);
		a->cond_text = strdup(cond ? cond : "");
		if (cel_parse(cond, &a->cond, cerrbuf, sizeof(cerrbuf)) < 0) {
			if (err)
				snprintf(err, err_len, "role assignment %zu: condition: %s", i, cerrbuf);
			return -EINVAL;
		}
	}
	return 0;
}

static int parse_sts(struct emu_config *c, json_t *js, char *err, size_t err_len)
{
	size_t i;
	json_t *jx;

	if (!js)
		return 0;
	if (!json_is_array(js))
		return cerr(err, err_len, "sts_configs must be an array");
	c->sts = calloc(json_array_size(js) + 1, sizeof(*c->sts));
	if (!c->sts)
		return -ENOMEM;
	json_array_foreach(js, i, jx) {
		struct sts_config *s = &c->sts[c->nsts++];
		s->name = dup_str(json_object_get(jx, "name"));
		s->issuer = dup_str(json_object_get(jx, "issuer"));
		if (!s->issuer)
			s->issuer = strdup(c->descope_issuer);
		s->audience = dup_str(json_object_get(jx, "audience"));
		s->context_claims = json_object_get(jx, "contextClaims");
		s->context_claims = s->context_claims ? json_incref(s->context_claims) : json_array();
		s->sa_ids = json_object_get(jx, "serviceAccountIDs");
		s->sa_ids = s->sa_ids ? json_incref(s->sa_ids) : json_array();
		if (!json_is_array(s->context_claims) || !json_is_array(s->sa_ids))
			return cerr(err, err_len,
				    "sts config %s: contextClaims and serviceAccountIDs are arrays",
				    s->name ? s->name : "(unnamed)");
	}
	return 0;
}

int config_from_json(json_t *root, struct emu_config **ret, char *err, size_t err_len)
{
	struct emu_config *c;
	json_t *descope, *sa, *vault;
	int r;

	*ret = NULL;
	if (!json_is_object(root))
		return cerr(err, err_len, "config must be a JSON object");
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	descope = json_object_get(root, "descope");
	sa = json_object_get(root, "service_account");
	vault = json_object_get(root, "vault");
	c->project_id = dup_str(json_object_get(descope, "project_id"));
	if (!c->project_id || !*c->project_id || strchr(c->project_id, '/')) {
		r = cerr(err, err_len, "descope.project_id is required");
		goto fail;
	}
	c->descope_issuer = dup_str(json_object_get(descope, "issuer"));
	if (!c->descope_issuer)
		c->descope_issuer = strdup(c->project_id);
	c->sa_id = dup_str(json_object_get(sa, "clientID"));
	c->sa_name = dup_str(json_object_get(sa, "clientName"));
	if (!c->sa_name)
		c->sa_name = strdup("Service Account");
	if (!c->sa_id) {
		char hex[33];
		emu_random_hex(hex, 32);
		c->sa_id = strdup(hex);
	}
	c->vault_id = dup_str(json_object_get(vault, "id"));
	if (!c->vault_id || !*c->vault_id || strchr(c->vault_id, '/')) {
		r = cerr(err, err_len, "vault.id is required");
		goto fail;
	}
	r = parse_tables(c, json_object_get(vault, "tables"), err, err_len);
	if (r < 0)
		goto fail;
	r = parse_roles(c, json_object_get(root, "roles"), err, err_len);
	if (r < 0)
		goto fail;
	r = parse_assignments(c, json_object_get(root, "role_assignments"), err, err_len);
	if (r < 0)
		goto fail;
	r = parse_sts(c, json_object_get(root, "sts_configs"), err, err_len);
	if (r < 0)
		goto fail;
	*ret = c;
	return 0;
fail:
	config_free(c);
	return r;
}

int config_load(const char *path, struct emu_config **ret)
{
	char *text = NULL, err[256];
	json_error_t jerr;
	json_t *root;
	int r;

	*ret = NULL;
	r = emu_read_file(path, CONFIG_MAX_BYTES, &text, NULL);
	if (r < 0) {
		log_err("cannot read config %s: %s", path, strerror(-r));
		return r;
	}
	root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (!root) {
		log_err("config %s: line %d: %s", path, jerr.line, jerr.text);
		return -EINVAL;
	}
	r = config_from_json(root, ret, err, sizeof(err));
	json_decref(root);
	if (r < 0)
		log_err("config %s: %s", path, r == -ENOMEM ? "out of memory" : err);
	return r;
}

const struct table_def *config_table(const struct emu_config *c, const char *name)
{
	for (size_t i = 0; i < c->ntables; i++)
		if (!strcmp(c->tables[i].name, name))
			return &c->tables[i];
	return NULL;
}

const struct column_def *config_column(const struct table_def *t, const char *name)
{
	for (size_t i = 0; i < t->ncols; i++)
		if (!strcmp(t->cols[i].name, name))
			return &t->cols[i];
	return NULL;
}

int config_role_index(const struct emu_config *c, const char *id)
{
	for (size_t i = 0; i < c->nroles; i++)
		if (!strcmp(c->roles[i].id, id) || !strcmp(c->roles[i].name, id))
			return (int)i;
	return -1;
}

/* Appends the replacement for one match, expanding $N and ${N}. */
static int expand_replacement(struct sbuf *b, const char *repl, const char *subject,
			      const regmatch_t *m)
{
	for (const char *p = repl; *p;) {
		if (p[0] == '$' && (p[1] == '{' || (p[1] >= '0' && p[1] <= '9'))) {
			const char *q = p + 1;
			int braced = *q == '{', n = 0;
			if (braced)
				q++;
			if (!(*q >= '0' && *q <= '9')) {
				sbuf_append(b, p, 1);
				p++;
				continue;
			}
			n = *q - '0';
			q++;
			if (braced) {
				if (*q != '}') {
					sbuf_append(b, p, 1);
					p++;
					continue;
				}
				q++;
			}
			if (m[n].rm_so >= 0 &&
			    sbuf_append(b, subject + m[n].rm_so, (size_t)(m[n].rm_eo - m[n].rm_so)) < 0)
				return -EMSGSIZE;
			p = q;
			continue;
		}
		if (sbuf_append(b, p, 1) < 0)
			return -EMSGSIZE;
		p++;
	}
	return 0;
}

int column_mask(const struct column_def *col, const char *value, char **ret)
{
	struct sbuf b;
	size_t pos = 0, len = strlen(value);
	int r = 0;

	*ret = NULL;
	if (!col->has_mask) {
		*ret = strdup("*REDACTED*");
		return *ret ? 0 : -ENOMEM;
	}
	sbuf_init(&b, EMU_MAX_FIELD_LEN * 4);
	while (pos <= len) {
		regmatch_t m[10];
		int flags = pos > 0 ? REG_NOTBOL : 0;
		if (regexec(&col->find, value + pos, 10, m, flags) != 0)
			break;
		/* offsets are relative to value + pos */
		r = sbuf_append(&b, value + pos, (size_t)m[0].rm_so);
		if (r < 0)
			break;
		r = expand_replacement(&b, col->replace, value + pos, m);
		if (r < 0)
			break;
		if (m[0].rm_eo == m[0].rm_so) {
			/* empty match: copy one character and move on */
			if (pos + (size_t)m[0].rm_eo < len)
				r = sbuf_append(&b, value + pos + m[0].rm_eo, 1);
			pos += (size_t)m[0].rm_eo + 1;
		} else {
			pos += (size_t)m[0].rm_eo;
		}
		if (r < 0)
			break;
	}
	if (r == 0 && pos < len)
		r = sbuf_append(&b, value + pos, len - pos);
	if (r < 0) {
		sbuf_free(&b);
		return r;
	}
	*ret = sbuf_steal(&b);
	return *ret ? 0 : -ENOMEM;
}
