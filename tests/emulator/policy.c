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

/* Tokens: WORD (letters, digits, _ . *), STRING ('...' with '' for a quote), or one of , = */
enum tok_kind { T_END, T_WORD, T_STRING, T_COMMA, T_EQ, T_BAD };

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
	if (c == '=') {
		lx->pos++;
		lx->kind = T_EQ;
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
}

int policy_parse(const char *src, struct policy *p, char *err, size_t err_len)
{
	struct lexer lx = {0};
	int r = 0;

	memset(p, 0, sizeof(*p));
	if (!src)
		return -EBADMSG;
	lx.s = src;
	lx.len = strnlen(src, EMU_MAX_POLICY_LEN + 1);
	if (lx.len > EMU_MAX_POLICY_LEN)
		return perr(err, err_len, &lx, "policy too long");
	p->redaction = RED_DEFAULT;

	lex_next(&lx);
	if (!is_kw(&lx, "ALLOW")) {
		r = perr(err, err_len, &lx, is_kw(&lx, "DENY") ? "DENY is not supported"
							       : "expected ALLOW");
		goto out;
	}
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
		for (;;) {
			char t[POLICY_NAME_MAX], c[POLICY_NAME_MAX];
			struct policy_where *w;
			if (p->nwhere >= POLICY_MAX_WHERE || lx.kind != T_WORD) {
				r = perr(err, err_len, &lx, "expected table.column in WHERE");
				goto out;
			}
			if (strchr(lx.word, '.')) {
				if (split_resource(lx.word, t, c, false) < 0) {
					r = perr(err, err_len, &lx, "bad column in WHERE");
					goto out;
				}
				if (p->nres && !policy_covers_table(p, t)) {
					r = perr(err, err_len, &lx, "WHERE names another table");
					goto out;
				}
			} else if (valid_name(lx.word, false) && strlen(lx.word) < POLICY_NAME_MAX) {
				memcpy(c, lx.word, strlen(lx.word) + 1);
			} else {
				r = perr(err, err_len, &lx, "bad column in WHERE");
				goto out;
			}
			w = &p->where[p->nwhere];
			snprintf(w->column, sizeof(w->column), "%s", c);
			lex_next(&lx);
			if (lx.kind != T_EQ) {
				r = perr(err, err_len, &lx, "expected = in WHERE");
				goto out;
			}
			lex_next(&lx);
			if (lx.kind != T_STRING) {
				r = perr(err, err_len, &lx, "expected 'value' in WHERE");
				goto out;
			}
			w->value = lx.str;
			lx.str = NULL;
			p->nwhere++;
			lex_next(&lx);
			if (!is_kw(&lx, "AND"))
				break;
			lex_next(&lx);
		}
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
