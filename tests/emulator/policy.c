#include "policy.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

int redaction_from_string(const char *s, enum redaction *ret)
{
	if (!s)
		return -EINVAL;
	if (!strcmp(s, "PLAIN_TEXT"))
		*ret = RED_PLAIN;
	else if (!strcmp(s, "MASKED") || !strcmp(s, "MASK"))
		*ret = RED_MASKED;
	else if (!strcmp(s, "REDACTED") || !strcmp(s, "REDACT"))
		*ret = RED_REDACTED;
	else if (!strcmp(s, "DEFAULT"))
		*ret = RED_DEFAULT;
	else
		return -EINVAL;
	return 0;
}

const char *redaction_to_string(enum redaction r)
{
	switch (r) {
	case RED_PLAIN:
		return "PLAIN_TEXT";
	case RED_MASKED:
		return "MASKED";
	case RED_REDACTED:
		return "REDACTED";
	case RED_DEFAULT:
		return "DEFAULT";
	default:
		return "NONE";
	}
}

/* Tokens: WORD (letters, digits, _ . * -), STRING ('...' with '' for a quote), one of , = ( ),
 * NE (!= or <>), or CMP (< > <= >=, recognised only to be refused clearly). */
enum tok_kind { T_END, T_WORD, T_STRING, T_COMMA, T_EQ, T_LPAREN, T_RPAREN, T_NE, T_CMP, T_BAD };

struct lexer {
	const char *s;
	size_t pos, len;
	enum tok_kind kind;
	char word[256];
	char *str; /* T_STRING, malloc'd */
};

static void lex_next(struct lexer *lx)
{
	free(lx->str);
	lx->str = NULL;
	while (lx->pos < lx->len && isspace((unsigned char)lx->s[lx->pos]))
		lx->pos++;
	if (lx->pos >= lx->len) {
		lx->kind = T_END;
		return;
	}
	char c = lx->s[lx->pos];
	if (c == ',') {
		lx->pos++;
		lx->kind = T_COMMA;
		return;
	}
	if (c == '=' || c == '(' || c == ')') {
		lx->pos++;
		lx->kind = c == '=' ? T_EQ : c == '(' ? T_LPAREN : T_RPAREN;
		return;
	}
	if (c == '!' || c == '<' || c == '>') {
		char d = lx->pos + 1 < lx->len ? lx->s[lx->pos + 1] : '\0';
		lx->pos++;
		if ((c == '!' && d == '=') || (c == '<' && d == '>')) {
			lx->pos++;
			lx->kind = T_NE;
		} else if (c == '!') {
			lx->kind = T_BAD;
		} else {
			if (d == '=')
				lx->pos++;
			lx->kind = T_CMP;
		}
		return;
	}
	if (c == '\'') {
		struct sbuf b;
		sbuf_init(&b, EMU_MAX_POLICY_LEN);
		lx->pos++;
		for (;;) {
			if (lx->pos >= lx->len) {
				sbuf_free(&b);
				lx->kind = T_BAD;
				return;
			}
			c = lx->s[lx->pos++];
			if (c == '\'') {
				if (lx->pos < lx->len && lx->s[lx->pos] == '\'') {
					lx->pos++;
				} else {
					break;
				}
			}
			if (sbuf_append(&b, &c, 1) < 0) {
				sbuf_free(&b);
				lx->kind = T_BAD;
				return;
			}
		}
		lx->str = sbuf_steal(&b);
		lx->kind = lx->str ? T_STRING : T_BAD;
		return;
	}
	size_t start = lx->pos;
	while (lx->pos < lx->len) {
		c = lx->s[lx->pos];
		if (!(isalnum((unsigned char)c) || c == '_' || c == '.' || c == '*' || c == '-'))
			break;
		lx->pos++;
	}
	if (lx->pos == start || lx->pos - start >= sizeof(lx->word)) {
		lx->kind = T_BAD;
		return;
	}
	memcpy(lx->word, lx->s + start, lx->pos - start);
	lx->word[lx->pos - start] = '\0';
	lx->kind = T_WORD;
}

static bool is_kw(const struct lexer *lx, const char *kw)
{
	return lx->kind == T_WORD && strcasecmp(lx->word, kw) == 0;
}

static int perr(char *err, size_t err_len, const struct lexer *lx, const char *what)
{
	if (err)
		snprintf(err, err_len, "%s at offset %zu", what, lx->pos);
	return -EBADMSG;
}

static bool valid_name(const char *s, bool star_ok)
{
	if (star_ok && !strcmp(s, "*"))
		return true;
	if (!*s)
		return false;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '-'))
			return false;
	return true;
}

/* Splits "a.b[.c]" into table and column (the vault prefix, if any, is dropped). */
static int split_resource(const char *w, char *table, char *column, bool star_ok)
{
	char buf[256];
	char *parts[4];
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", w);
	char *s = buf;
	for (;;) {
		char *dot = strchr(s, '.');
		if (n >= 3)
			return -1;
		parts[n++] = s;
		if (!dot)
			break;
		*dot = '\0';
		s = dot + 1;
	}
	if (n < 2)
		return -1;
	const char *t = parts[n - 2], *c = parts[n - 1];
	if (!valid_name(t, false) || !valid_name(c, star_ok) || strlen(t) >= POLICY_NAME_MAX ||
	    strlen(c) >= POLICY_NAME_MAX)
		return -1;
	snprintf(table, POLICY_NAME_MAX, "%s", t);
	snprintf(column, POLICY_NAME_MAX, "%s", c);
	return 0;
}

void policy_clear(struct policy *p)
{
	for (size_t i = 0; i < p->nwhere; i++)
		free(p->where[i].value);
	free(p->text);
	memset(p, 0, sizeof(*p));
	p->where_root = -1;
}

/* ---- WHERE filters: recursive descent, AND over OR, at most POLICY_MAX_WHERE nodes and
 * POLICY_MAX_PARENS levels of parentheses ---- */

static int where_node(struct policy *p, const struct lexer *lx, char *err, size_t err_len)
{
	if (p->nwhere >= POLICY_MAX_WHERE)
		return perr(err, err_len, lx, "WHERE filter too long");
	memset(&p->where[p->nwhere], 0, sizeof(p->where[0]));
	p->where[p->nwhere].left = p->where[p->nwhere].right = -1;
	return (int)p->nwhere++;
}

static int where_or(struct lexer *lx, struct policy *p, unsigned depth, int *ret, char *err,
		    size_t err_len);

/* The column of a predicate: "t.c" (t must be a table the policy names) or "c". */
static int where_column(struct lexer *lx, struct policy *p, char *c, char *err, size_t err_len)
{
	char t[POLICY_NAME_MAX];

	if (lx->kind != T_WORD)
		return perr(err, err_len, lx, "expected table.column in WHERE");
	if (strchr(lx->word, '.')) {
		if (split_resource(lx->word, t, c, false) < 0)
			return perr(err, err_len, lx, "bad column in WHERE");
		if (p->nres && !policy_covers_table(p, t))
			return perr(err, err_len, lx, "WHERE names another table");
	} else if (valid_name(lx->word, false) && strlen(lx->word) < POLICY_NAME_MAX) {
		memcpy(c, lx->word, strlen(lx->word) + 1);
	} else {
		return perr(err, err_len, lx, "bad column in WHERE");
	}
	lex_next(lx);
	return 0;
}

/* column op 'value', the operator one of = != <> LIKE NOT LIKE */
static int where_predicate(struct lexer *lx, struct policy *p, int *ret, char *err,
			   size_t err_len)
{
	char c[POLICY_NAME_MAX];
	enum where_kind kind;
	int r, n;

	r = where_column(lx, p, c, err, err_len);
	if (r < 0)
		return r;
	if (lx->kind == T_EQ)
		kind = W_EQ;
	else if (lx->kind == T_NE)
		kind = W_NE;
	else if (is_kw(lx, "LIKE"))
		kind = W_LIKE;
	else if (is_kw(lx, "NOT")) {
		lex_next(lx);
		if (!is_kw(lx, "LIKE"))
			return perr(err, err_len, lx, "expected LIKE after NOT");
		kind = W_NOT_LIKE;
	} else if (lx->kind == T_CMP || is_kw(lx, "IN") || is_kw(lx, "IS") ||
		   is_kw(lx, "ILIKE") || is_kw(lx, "BETWEEN"))
		return perr(err, err_len, lx,
			    "this operator in WHERE is not supported by the emulator "
			    "(=, !=, <>, LIKE and NOT LIKE are)");
	else
		return perr(err, err_len, lx, "expected =, !=, <>, LIKE or NOT LIKE in WHERE");
	lex_next(lx);
	if (lx->kind != T_STRING)
		return perr(err, err_len, lx, "expected 'value' in WHERE");
	n = where_node(p, lx, err, err_len);
	if (n < 0)
		return n;
	p->where[n].kind = kind;
	snprintf(p->where[n].column, sizeof(p->where[n].column), "%s", c);
	p->where[n].value = lx->str;
	lx->str = NULL;
	lex_next(lx);
	*ret = n;
	return 0;
}

static int where_factor(struct lexer *lx, struct policy *p, unsigned depth, int *ret, char *err,
			size_t err_len)
{
	int r;

	if (lx->kind != T_LPAREN)
		return where_predicate(lx, p, ret, err, err_len);
	if (depth >= POLICY_MAX_PARENS)
		return perr(err, err_len, lx, "WHERE nested too deeply");
	lex_next(lx);
	r = where_or(lx, p, depth + 1, ret, err, err_len);
	if (r < 0)
		return r;
	if (lx->kind != T_RPAREN)
		return perr(err, err_len, lx, "expected ) in WHERE");
	lex_next(lx);
	return 0;
}

/* Parses "x KW y [KW z]..." of one operator (AND or OR) into left-leaning nodes. */
static int where_chain(struct lexer *lx, struct policy *p, unsigned depth, bool is_or, int *ret,
		       char *err, size_t err_len)
{
	int left, right, n, r;

	r = is_or ? where_chain(lx, p, depth, false, &left, err, err_len)
		  : where_factor(lx, p, depth, &left, err, err_len);
	if (r < 0)
		return r;
	while (is_kw(lx, is_or ? "OR" : "AND")) {
		lex_next(lx);
		r = is_or ? where_chain(lx, p, depth, false, &right, err, err_len)
			  : where_factor(lx, p, depth, &right, err, err_len);
		if (r < 0)
			return r;
		n = where_node(p, lx, err, err_len);
		if (n < 0)
			return n;
		p->where[n].kind = is_or ? W_OR : W_AND;
		p->where[n].left = left;
		p->where[n].right = right;
		left = n;
	}
	*ret = left;
	return 0;
}

static int where_or(struct lexer *lx, struct policy *p, unsigned depth, int *ret, char *err,
		    size_t err_len)
{
	return where_chain(lx, p, depth, true, ret, err, err_len);
}

bool policy_like(const char *s, const char *pat)
{
	const char *star_pat = NULL, *star_s = NULL;

	/* greedy match with one backtrack point, the usual wildcard algorithm */
	while (*s) {
		if (*pat == '\\' && pat[1] && pat[1] == *s) {
			pat += 2;
			s++;
		} else if (*pat == '_' || (*pat && *pat != '%' && *pat != '\\' && *pat == *s)) {
			pat++;
			s++;
		} else if (*pat == '%') {
			star_pat = ++pat;
			star_s = s;
		} else if (star_pat) {
			pat = star_pat;
			s = ++star_s;
		} else {
			return false;
		}
	}
	while (*pat == '%')
		pat++;
	return *pat == '\0';
}

static bool where_node_eval(const struct policy *p, int n,
			    const char *(*get)(void *ctx, const char *col), void *ctx)
{
	const struct policy_where *w = &p->where[n];
	const char *v;

	switch (w->kind) {
	case W_AND:
		return where_node_eval(p, w->left, get, ctx) && where_node_eval(p, w->right, get, ctx);
	case W_OR:
		return where_node_eval(p, w->left, get, ctx) || where_node_eval(p, w->right, get, ctx);
	default:
		break;
	}
	v = get(ctx, w->column);
	if (!v)
		return false; /* NULL compares to nothing */
	switch (w->kind) {
	case W_EQ:
		return strcmp(v, w->value) == 0;
	case W_NE:
		return strcmp(v, w->value) != 0;
	case W_LIKE:
		return policy_like(v, w->value);
	default:
		return !policy_like(v, w->value);
	}
}

bool policy_where_eval(const struct policy *p, const char *(*get)(void *ctx, const char *col),
		       void *ctx)
{
	return p->where_root < 0 || where_node_eval(p, p->where_root, get, ctx);
}

int policy_parse(const char *src, struct policy *p, char *err, size_t err_len)
{
	struct lexer lx = {0};
	int r = 0;

	memset(p, 0, sizeof(*p));
	p->where_root = -1;
	if (!src)
		return -EBADMSG;
	lx.s = src;
	lx.len = strnlen(src, EMU_MAX_POLICY_LEN + 1);
	if (lx.len > EMU_MAX_POLICY_LEN)
		return perr(err, err_len, &lx, "policy too long");
	p->redaction = RED_DEFAULT;

	p->where_root = -1;
	lex_next(&lx);
	if (!is_kw(&lx, "ALLOW") && !is_kw(&lx, "DENY")) {
		r = perr(err, err_len, &lx, "expected ALLOW or DENY");
		goto out;
	}
	p->deny = is_kw(&lx, "DENY");
	lex_next(&lx);
	for (;;) {
		if (is_kw(&lx, "READ"))
			p->actions |= ACT_READ;
		else if (is_kw(&lx, "CREATE"))
			p->actions |= ACT_CREATE;
		else if (is_kw(&lx, "UPDATE"))
			p->actions |= ACT_UPDATE;
		else if (is_kw(&lx, "DELETE"))
			p->actions |= ACT_DELETE;
		else if (is_kw(&lx, "ALL"))
			p->actions |= ACT_READ | ACT_CREATE | ACT_UPDATE | ACT_DELETE;
		else if (is_kw(&lx, "TOKENIZATION"))
			p->actions |= ACT_TOKENIZATION;
		else if (is_kw(&lx, "DETOKENIZATION"))
			p->actions |= ACT_DETOKENIZATION;
		else {
			r = perr(err, err_len, &lx, "expected an action");
			goto out;
		}
		lex_next(&lx);
		if (lx.kind != T_COMMA)
			break;
		lex_next(&lx);
	}
	bool data_actions = p->actions & (ACT_READ | ACT_CREATE | ACT_UPDATE | ACT_DELETE);
	if (is_kw(&lx, "ON")) {
		lex_next(&lx);
		for (;;) {
			if (lx.kind != T_WORD || p->nres >= POLICY_MAX_RES ||
			    split_resource(lx.word, p->res[p->nres].table, p->res[p->nres].column,
					   true) < 0) {
				r = perr(err, err_len, &lx, "expected table.column or table.*");
				goto out;
			}
			p->nres++;
			lex_next(&lx);
			if (lx.kind != T_COMMA)
				break;
			lex_next(&lx);
		}
	} else if (data_actions) {
		r = perr(err, err_len, &lx, "expected ON");
		goto out;
	}
	if (is_kw(&lx, "WITH") && p->deny) {
		r = perr(err, err_len, &lx, "DENY takes no WITH REDACTION");
		goto out;
	}
	if (is_kw(&lx, "WITH")) {
		lex_next(&lx);
		if (!is_kw(&lx, "REDACTION")) {
			r = perr(err, err_len, &lx, "expected REDACTION");
			goto out;
		}
		lex_next(&lx);
		if (lx.kind != T_EQ) {
			r = perr(err, err_len, &lx, "expected =");
			goto out;
		}
		lex_next(&lx);
		for (char *w = lx.word; lx.kind == T_WORD && *w; w++)
			*w = (char)toupper((unsigned char)*w); /* values are keywords too */
		if (lx.kind != T_WORD || redaction_from_string(lx.word, &p->redaction) < 0) {
			r = perr(err, err_len, &lx, "expected PLAIN_TEXT, MASKED, REDACTED or DEFAULT");
			goto out;
		}
		lex_next(&lx);
	}
	if (is_kw(&lx, "WHERE")) {
		lex_next(&lx);
		r = where_or(&lx, p, 0, &p->where_root, err, err_len);
		if (r < 0)
			goto out;
	}
	if (lx.kind != T_END) {
		r = perr(err, err_len, &lx, "unexpected trailing input");
		goto out;
	}
	p->text = strdup(src);
	if (!p->text)
		r = -ENOMEM;
out:
	free(lx.str);
	if (r < 0)
		policy_clear(p);
	return r;
}

bool policy_covers(const struct policy *p, const char *table, const char *column)
{
	for (size_t i = 0; i < p->nres; i++)
		if (!strcmp(p->res[i].table, table) &&
		    (!strcmp(p->res[i].column, "*") || !strcmp(p->res[i].column, column)))
			return true;
	return false;
}

bool policy_covers_table(const struct policy *p, const char *table)
{
	for (size_t i = 0; i < p->nres; i++)
		if (!strcmp(p->res[i].table, table))
			return true;
	return false;
}
