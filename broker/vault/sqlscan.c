/* SPDX-License-Identifier: MIT */
/* sqlscan: the tables a query reads, or a refusal for what cannot be accounted for. */
#include "vault/sqlscan.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "proto/limits.h"

#define SQL_MAX_DEPTH 32u /* parentheses */

enum sql_tok {
	SQL_END,
	SQL_WORD,   /* a bare word: keyword or identifier */
	SQL_QUOTED, /* "identifier" or `identifier`, quotes removed */
	SQL_STRING, /* 'literal' */
	SQL_COMMA,
	SQL_LPAREN,
	SQL_RPAREN,
	SQL_SEMI,
	SQL_OTHER,  /* an operator or other punctuation */
	SQL_ERROR,
};

struct sql_scan {
	const char *p;
	char text[SB_MAX_NAME_LEN + 1]; /* the last SQL_WORD or SQL_QUOTED */
	const char *why;                /* set with SQL_ERROR */
	int (*fn)(const char *name, void *userdata);
	void *userdata;
	int r;                          /* fn's error */
	unsigned depth;                 /* open parentheses */
	bool in_from[SQL_MAX_DEPTH + 1]; /* a FROM list is open at this depth */
};

/* Words that never name a table or an alias. */
static const char *const keywords[] = {
	"SELECT", "FROM", "AS", "ON", "USING", "AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE",
	"ILIKE", "BETWEEN", "DISTINCT", "ALL", "CASE", "WHEN", "THEN", "ELSE", "END", "BY", "ASC",
	"DESC", "JOIN", "INNER", "LEFT", "RIGHT", "FULL", "OUTER", "CROSS", "NATURAL", "WHERE",
	"GROUP", "ORDER", "HAVING", "LIMIT", "OFFSET", "WINDOW", "FETCH", "EXISTS", NULL,
};

/* Words refused wherever they are (see sqlscan.h). */
static const char *const refused[] = {
	"TABLE", "UNION", "INTERSECT", "EXCEPT", "WITH", "VALUES", "LATERAL", "STRAIGHT_JOIN",
	"USE", "FORCE", "IGNORE", "INTO", "UNNEST", NULL,
};

/* Words that end a FROM list at its depth. */
static const char *const from_enders[] = {
	"WHERE", "GROUP", "ORDER", "HAVING", "LIMIT", "OFFSET", "WINDOW", "FETCH", NULL,
};

/* What may follow a table reference (with its alias), besides , ) ; and the end. */
static const char *const ref_followers[] = {
	"JOIN", "INNER", "LEFT", "RIGHT", "FULL", "OUTER", "CROSS", "NATURAL", "ON", "USING",
	"WHERE", "GROUP", "ORDER", "HAVING", "LIMIT", "OFFSET", NULL,
};

static bool in_list(const char *word, const char *const *list)
{
	for (size_t i = 0; list[i]; i++)
		if (strcasecmp(word, list[i]) == 0)
			return true;
	return false;
}

static bool is_word(const struct sql_scan *s, enum sql_tok t, const char *kw)
{
	return t == SQL_WORD && strcasecmp(s->text, kw) == 0;
}

/* A bare word or a quoted identifier that can name a table or an alias: not a keyword, and
 * without a '.' (a qualified name, or a dot that some dialects let stand apart: a .b). */
static bool is_name(const struct sql_scan *s, enum sql_tok t)
{
	return (t == SQL_QUOTED || (t == SQL_WORD && !in_list(s->text, keywords))) &&
	       !strchr(s->text, '.');
}

static bool is_word_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.';
}

static enum sql_tok sql_error(struct sql_scan *s, const char *why)
{
	s->why = why;
	return SQL_ERROR;
}

/* A 'literal' (its quote doubled inside) or a "quoted" / `quoted` identifier. */
static enum sql_tok sql_quoted(struct sql_scan *s, char q)
{
	size_t n = 0;

	for (s->p++;; s->p++) {
		if (!*s->p)
			return sql_error(s, "an unterminated quote");
		if (*s->p == '\\')
			return sql_error(s, "a backslash");
		if (*s->p == q && s->p[1] == q) { /* a doubled quote stands for itself */
			s->p++;
		} else if (*s->p == q) {
			s->p++;
			break;
		}
		if (q != '\'' && n < sizeof(s->text) - 1)
			s->text[n++] = *s->p;
		else if (q != '\'')
			return sql_error(s, "an identifier longer than 256 bytes");
	}
	if (q == '\'')
		return SQL_STRING;
	if (n == 0)
		return sql_error(s, "an empty quoted identifier");
	s->text[n] = '\0';
	return SQL_QUOTED;
}

static enum sql_tok sql_word(struct sql_scan *s)
{
	const char *start = s->p;
	size_t n;

	while (is_word_char((unsigned char)*s->p))
		s->p++;
	n = (size_t)(s->p - start);
	if (n > SB_MAX_NAME_LEN)
		return sql_error(s, "a word longer than 256 bytes");
	if (*s->p == '\'' || *s->p == '"' || *s->p == '`')
		return sql_error(s, "a prefixed literal or a quote right after a word");
	memcpy(s->text, start, n);
	s->text[n] = '\0';
	if (in_list(s->text, refused))
		return sql_error(s, "a keyword the broker does not check (TABLE, UNION, WITH ...)");
	return SQL_WORD;
}

static enum sql_tok sql_next(struct sql_scan *s)
{
	unsigned char c;

	while (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r' || *s->p == '\f' ||
	       *s->p == '\v')
		s->p++;
	c = (unsigned char)*s->p;
	if (!c)
		return SQL_END;
	if ((c == '-' && s->p[1] == '-') || (c == '/' && s->p[1] == '*') || c == '#')
		return sql_error(s, "a comment");
	if (c == '\\' || c == '$')
		return sql_error(s, "a backslash or '$'");
	if (c >= 0x80)
		return sql_error(s, "a non-ASCII character outside a literal");
	if (c == '\'' || c == '"' || c == '`')
		return sql_quoted(s, (char)c);
	if (is_word_char(c))
		return sql_word(s);
	s->p++;
	switch (c) {
	case ',':
		return SQL_COMMA;
	case '(':
		return SQL_LPAREN;
	case ')':
		return SQL_RPAREN;
	case ';':
		return SQL_SEMI;
	default:
		return SQL_OTHER;
	}
}

/*
 * After FROM, JOIN or a FROM list's comma: one table, reported to fn, then its optional alias,
 * then only what may follow a table reference. Returns that next token (for the caller), or
 * SQL_ERROR (s->why set, or s->r set by fn).
 */
static enum sql_tok sql_table_ref(struct sql_scan *s)
{
	enum sql_tok t = sql_next(s);

	if (t == SQL_ERROR)
		return t;
	if (t == SQL_LPAREN)
		return sql_error(s, "a subquery or parenthesis where a table name belongs");
	if (t == SQL_WORD && strchr(s->text, '.'))
		return sql_error(s, "a qualified table name (a.b)");
	if (!is_name(s, t))
		return sql_error(s, "no table name after FROM, JOIN or a comma");
	s->r = s->fn(s->text, s->userdata);
	if (s->r < 0)
		return SQL_ERROR;
	t = sql_next(s);
	if (is_word(s, t, "AS")) {
		t = sql_next(s);
		if (!is_name(s, t))
			return t == SQL_ERROR ? t : sql_error(s, "no alias after AS");
		t = sql_next(s);
	} else if (is_name(s, t)) {
		t = sql_next(s); /* an alias */
	}
	if (t == SQL_END || t == SQL_SEMI || t == SQL_COMMA || t == SQL_RPAREN || t == SQL_ERROR ||
	    (t == SQL_WORD && in_list(s->text, ref_followers)))
		return t;
	return sql_error(s, "something after a table name the broker cannot account for");
}

/* One token of the main loop; returns the next token to look at. */
static enum sql_tok sql_step(struct sql_scan *s, enum sql_tok t)
{
	switch (t) {
	case SQL_LPAREN:
		if (s->depth == SQL_MAX_DEPTH)
			return sql_error(s, "parentheses nested too deep");
		s->in_from[++s->depth] = false;
		return sql_next(s);
	case SQL_RPAREN:
		if (s->depth == 0)
			return sql_error(s, "unbalanced parentheses");
		s->in_from[s->depth--] = false;
		return sql_next(s);
	case SQL_SEMI:
		t = sql_next(s);
		return t == SQL_END || t == SQL_ERROR ? t : sql_error(s, "more than one statement");
	case SQL_COMMA:
		return s->in_from[s->depth] ? sql_table_ref(s) : sql_next(s);
	case SQL_WORD:
		if (is_word(s, t, "FROM")) {
			s->in_from[s->depth] = true;
			return sql_table_ref(s);
		}
		if (is_word(s, t, "JOIN")) {
			if (!s->in_from[s->depth])
				return sql_error(s, "JOIN outside a FROM list");
			return sql_table_ref(s);
		}
		if (in_list(s->text, from_enders))
			s->in_from[s->depth] = false;
		return sql_next(s);
	default:
		return sql_next(s);
	}
}

int vault_query_tables(const char *sql, int (*fn)(const char *name, void *userdata),
		       void *userdata, const char **why)
{
	struct sql_scan s = {.p = sql, .fn = fn, .userdata = userdata};
	enum sql_tok t = sql_next(&s);

	*why = NULL;
	while (t != SQL_END && t != SQL_ERROR)
		t = sql_step(&s, t);
	if (s.r < 0)
		return s.r;
	if (t == SQL_END && s.depth != 0)
		t = sql_error(&s, "unbalanced parentheses");
	if (t == SQL_ERROR)
		return *why = s.why, -EBADMSG;
	return 0;
}
