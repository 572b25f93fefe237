#include "cel.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

enum cel_kind {
	N_TRUE_CONST, /* empty condition */
	N_OR,
	N_AND,
	N_NOT,
	N_EQ,
	N_NE,
	N_IN,
	N_LIT,  /* literal JSON value */
	N_PATH, /* request.context[.a.b] */
	N_LIST, /* list literal: children are operands */
	N_TRUTH /* operand used as a boolean */
};

struct cel_node {
	enum cel_kind kind;
	int a, b;       /* child indexes (-1 none) */
	int next;       /* next sibling in a list literal */
	json_t *lit;    /* N_LIT */
	char **path;    /* N_PATH: components after request.context */
	size_t npath;
};

struct cel_expr {
	struct cel_node nodes[CEL_MAX_NODES];
	int n;
	int root;
};

struct parser {
	const char *s;
	size_t pos, len;
	int depth;
	struct cel_expr *e;
	char *err;
	size_t err_len;
	int failed;
};

static int fail(struct parser *p, const char *what)
{
	if (!p->failed && p->err)
		snprintf(p->err, p->err_len, "%s at offset %zu", what, p->pos);
	p->failed = 1;
	return -1;
}

static void skip_ws(struct parser *p)
{
	while (p->pos < p->len && isspace((unsigned char)p->s[p->pos]))
		p->pos++;
}

static int peek_str(struct parser *p, const char *tok)
{
	size_t n = strlen(tok);
	skip_ws(p);
	return p->len - p->pos >= n && memcmp(p->s + p->pos, tok, n) == 0;
}

static int is_ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* Matches a keyword only at a word boundary. */
static int peek_word(struct parser *p, const char *w)
{
	size_t n = strlen(w);
	if (!peek_str(p, w))
		return 0;
	return p->pos + n >= p->len || !is_ident_char(p->s[p->pos + n]);
}

static int new_node(struct parser *p, enum cel_kind kind)
{
	struct cel_node *nd;
	if (p->e->n >= CEL_MAX_NODES)
		return fail(p, "expression too large");
	nd = &p->e->nodes[p->e->n];
	memset(nd, 0, sizeof(*nd));
	nd->kind = kind;
	nd->a = nd->b = nd->next = -1;
	return p->e->n++;
}

static int parse_expr(struct parser *p);

static int parse_string(struct parser *p)
{
	char q = p->s[p->pos++];
	struct sbuf b;
	int idx;

	sbuf_init(&b, EMU_MAX_CEL_LEN);
	while (p->pos < p->len && p->s[p->pos] != q) {
		char c = p->s[p->pos++];
		if (c == '\\' && p->pos < p->len) {
			c = p->s[p->pos++];
			if (c == 'n')
				c = '\n';
			else if (c == 't')
				c = '\t';
		}
		if (sbuf_append(&b, &c, 1) < 0) {
			sbuf_free(&b);
			return fail(p, "string too long");
		}
	}
	if (p->pos >= p->len) {
		sbuf_free(&b);
		return fail(p, "unterminated string");
	}
	p->pos++;
	idx = new_node(p, N_LIT);
	if (idx < 0) {
		sbuf_free(&b);
		return -1;
	}
	p->e->nodes[idx].lit = json_stringn(b.p ? b.p : "", b.len);
	sbuf_free(&b);
	if (!p->e->nodes[idx].lit)
		return fail(p, "invalid string (not UTF-8)");
	return idx;
}

static int parse_ident(struct parser *p, char *out, size_t out_len)
{
	size_t start = p->pos;
	while (p->pos < p->len && is_ident_char(p->s[p->pos]))
		p->pos++;
	if (p->pos == start || p->pos - start >= out_len)
		return fail(p, "expected identifier");
	memcpy(out, p->s + start, p->pos - start);
	out[p->pos - start] = '\0';
	return 0;
}

static int parse_path(struct parser *p)
{
	char id[128];
	int idx;
	struct cel_node *nd;

	if (parse_ident(p, id, sizeof(id)) < 0)
		return -1;
	if (strcmp(id, "request") != 0)
		return fail(p, "unknown identifier (only request.context is defined)");
	if (p->pos >= p->len || p->s[p->pos] != '.')
		return fail(p, "expected .context");
	p->pos++;
	if (parse_ident(p, id, sizeof(id)) < 0)
		return -1;
	if (strcmp(id, "context") != 0)
		return fail(p, "expected request.context");
	idx = new_node(p, N_PATH);
	if (idx < 0)
		return -1;
	while (p->pos < p->len && p->s[p->pos] == '.') {
		char **np;
		p->pos++;
		if (parse_ident(p, id, sizeof(id)) < 0)
			return -1;
		nd = &p->e->nodes[idx];
		if (nd->npath >= 8)
			return fail(p, "path too deep");
		np = realloc(nd->path, (nd->npath + 1) * sizeof(*np));
		if (!np)
			return fail(p, "out of memory");
		nd->path = np;
		nd->path[nd->npath] = strdup(id);
		if (!nd->path[nd->npath])
			return fail(p, "out of memory");
		nd->npath++;
	}
	return idx;
}

static int parse_operand(struct parser *p)
{
	int idx;
	char c;

	skip_ws(p);
	if (p->pos >= p->len)
		return fail(p, "unexpected end");
	c = p->s[p->pos];
	if (c == '\'' || c == '"')
		return parse_string(p);
	if (c == '[') {
		int prev = -1;
		p->pos++;
		if (++p->depth > EMU_MAX_CEL_DEPTH)
			return fail(p, "nesting too deep");
		idx = new_node(p, N_LIST);
		if (idx < 0)
			return -1;
		skip_ws(p);
		if (p->pos < p->len && p->s[p->pos] == ']') {
			p->pos++;
			p->depth--;
			return idx;
		}
		for (;;) {
			int item = parse_operand(p);
			if (item < 0)
				return -1;
			if (prev < 0)
				p->e->nodes[idx].a = item;
			else
				p->e->nodes[prev].next = item;
			prev = item;
			skip_ws(p);
			if (p->pos < p->len && p->s[p->pos] == ',') {
				p->pos++;
				continue;
			}
			if (p->pos < p->len && p->s[p->pos] == ']') {
				p->pos++;
				break;
			}
			return fail(p, "expected , or ]");
		}
		p->depth--;
		return idx;
	}
	if (isdigit((unsigned char)c) || c == '-') {
		size_t start = p->pos;
		char num[24];
		long v;
		p->pos++;
		while (p->pos < p->len && isdigit((unsigned char)p->s[p->pos]))
			p->pos++;
		if (p->pos - start >= sizeof(num))
			return fail(p, "number too long");
		memcpy(num, p->s + start, p->pos - start);
		num[p->pos - start] = '\0';
		if (emu_parse_long(num, -1000000000000L, 1000000000000L, &v) < 0)
			return fail(p, "bad number");
		idx = new_node(p, N_LIT);
		if (idx < 0)
			return -1;
		p->e->nodes[idx].lit = json_integer(v);
		return idx;
	}
	if (peek_word(p, "true") || peek_word(p, "false") || peek_word(p, "null")) {
		int t = peek_word(p, "true"), f = peek_word(p, "false");
		p->pos += t ? 4 : f ? 5 : 4;
		idx = new_node(p, N_LIT);
		if (idx < 0)
			return -1;
		p->e->nodes[idx].lit = t ? json_true() : f ? json_false() : json_null();
		return idx;
	}
	if (isalpha((unsigned char)c) || c == '_')
		return parse_path(p);
	return fail(p, "unexpected character");
}

static int parse_primary(struct parser *p)
{
	int left, right, idx;
	enum cel_kind op;

	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == '(') {
		p->pos++;
		if (++p->depth > EMU_MAX_CEL_DEPTH)
			return fail(p, "nesting too deep");
		idx = parse_expr(p);
		if (idx < 0)
			return -1;
		skip_ws(p);
		if (p->pos >= p->len || p->s[p->pos] != ')')
			return fail(p, "expected )");
		p->pos++;
		p->depth--;
		return idx;
	}
	left = parse_operand(p);
	if (left < 0)
		return -1;
	if (peek_str(p, "==")) {
		op = N_EQ;
		p->pos += 2;
	} else if (peek_str(p, "!=")) {
		op = N_NE;
		p->pos += 2;
	} else if (peek_word(p, "in")) {
		op = N_IN;
		p->pos += 2;
	} else {
		idx = new_node(p, N_TRUTH);
		if (idx >= 0)
			p->e->nodes[idx].a = left;
		return idx;
	}
	right = parse_operand(p);
	if (right < 0)
		return -1;
	idx = new_node(p, op);
	if (idx < 0)
		return -1;
	p->e->nodes[idx].a = left;
	p->e->nodes[idx].b = right;
	return idx;
}

static int parse_unary(struct parser *p)
{
	int idx, child;

	if (peek_str(p, "!") && !peek_str(p, "!=")) {
		p->pos++;
		if (++p->depth > EMU_MAX_CEL_DEPTH)
			return fail(p, "nesting too deep");
		child = parse_unary(p);
		p->depth--;
		if (child < 0)
			return -1;
		idx = new_node(p, N_NOT);
		if (idx >= 0)
			p->e->nodes[idx].a = child;
		return idx;
	}
	return parse_primary(p);
}

static int parse_binary(struct parser *p, const char *tok, enum cel_kind kind,
			int (*sub)(struct parser *))
{
	int left = sub(p);
	while (left >= 0 && peek_str(p, tok)) {
		int right, idx;
		p->pos += 2;
		right = sub(p);
		if (right < 0)
			return -1;
		idx = new_node(p, kind);
		if (idx < 0)
			return -1;
		p->e->nodes[idx].a = left;
		p->e->nodes[idx].b = right;
		left = idx;
	}
	return left;
}

static int parse_and(struct parser *p)
{
	return parse_binary(p, "&&", N_AND, parse_unary);
}

static int parse_expr(struct parser *p)
{
	return parse_binary(p, "||", N_OR, parse_and);
}

void cel_free(struct cel_expr *e)
{
	if (!e)
		return;
	for (int i = 0; i < e->n; i++) {
		json_decref(e->nodes[i].lit);
		for (size_t j = 0; j < e->nodes[i].npath; j++)
			free(e->nodes[i].path[j]);
		free(e->nodes[i].path);
	}
	free(e);
}

int cel_parse(const char *src, struct cel_expr **ret, char *err, size_t err_len)
{
	struct parser p = {0};
	struct cel_expr *e;
	int root;

	*ret = NULL;
	if (err && err_len)
		err[0] = '\0';
	if (!src)
		src = "";
	p.len = strnlen(src, EMU_MAX_CEL_LEN + 1);
	if (p.len > EMU_MAX_CEL_LEN) {
		if (err)
			snprintf(err, err_len, "condition too long");
		return -EBADMSG;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	p.s = src;
	p.e = e;
	p.err = err;
	p.err_len = err_len;
	skip_ws(&p);
	if (p.pos == p.len) {
		e->root = new_node(&p, N_TRUE_CONST);
		*ret = e;
		return 0;
	}
	root = parse_expr(&p);
	skip_ws(&p);
	if (root >= 0 && p.pos != p.len)
		root = fail(&p, "trailing input");
	if (root < 0) {
		cel_free(e);
		return -EBADMSG;
	}
	e->root = root;
	*ret = e;
	return 0;
}

/* Values during evaluation: a borrowed JSON value, or for list literals the node index. */
struct val {
	json_t *j;  /* borrowed; NULL means null/missing */
	int list;   /* >= 0: a list literal node */
};

static struct val eval_operand(const struct cel_expr *e, int idx, json_t *ctx)
{
	const struct cel_node *nd = &e->nodes[idx];
	struct val v = {NULL, -1};

	if (nd->kind == N_LIT) {
		v.j = nd->lit;
	} else if (nd->kind == N_LIST) {
		v.list = idx;
	} else if (nd->kind == N_PATH) {
		json_t *cur = ctx;
		for (size_t i = 0; i < nd->npath && cur; i++)
			cur = json_is_object(cur) ? json_object_get(cur, nd->path[i]) : NULL;
		v.j = cur;
	}
	return v;
}

static int val_equal(const struct cel_expr *e, struct val x, struct val y)
{
	if (x.list >= 0 || y.list >= 0)
		return 0; /* list equality is not part of the subset */
	if (!x.j || json_is_null(x.j))
		return !y.j || json_is_null(y.j);
	if (!y.j)
		return 0;
	return json_equal(x.j, y.j);
}

static int eval_node(const struct cel_expr *e, int idx, json_t *ctx)
{
	const struct cel_node *nd = &e->nodes[idx];
	struct val x, y;

	switch (nd->kind) {
	case N_TRUE_CONST:
		return 1;
	case N_OR:
		return eval_node(e, nd->a, ctx) || eval_node(e, nd->b, ctx);
	case N_AND:
		return eval_node(e, nd->a, ctx) && eval_node(e, nd->b, ctx);
	case N_NOT:
		return !eval_node(e, nd->a, ctx);
	case N_EQ:
	case N_NE:
		x = eval_operand(e, nd->a, ctx);
		y = eval_operand(e, nd->b, ctx);
		return nd->kind == N_EQ ? val_equal(e, x, y) : !val_equal(e, x, y);
	case N_IN:
		x = eval_operand(e, nd->a, ctx);
		y = eval_operand(e, nd->b, ctx);
		if (y.list >= 0) {
			for (int it = e->nodes[y.list].a; it >= 0; it = e->nodes[it].next)
				if (val_equal(e, x, eval_operand(e, it, ctx)))
					return 1;
			return 0;
		}
		if (json_is_array(y.j)) {
			size_t i;
			json_t *item;
			json_array_foreach(y.j, i, item)
				if (x.j && json_equal(x.j, item))
					return 1;
			return 0;
		}
		if (json_is_object(y.j) && json_is_string(x.j))
			return json_object_get(y.j, json_string_value(x.j)) != NULL;
		return 0;
	case N_TRUTH:
		x = eval_operand(e, nd->a, ctx);
		return x.j && json_is_true(x.j);
	default:
		return 0;
	}
}

int cel_eval(const struct cel_expr *e, json_t *context)
{
	if (!e)
		return 0;
	return eval_node(e, e->root, context);
}
