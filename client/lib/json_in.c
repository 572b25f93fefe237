/* SPDX-License-Identifier: MIT */
/* json_in: JSON text (records, fields) parsed into a msgpack tree, bounded, in a wiped arena. */
#include <errno.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/lib/internal.h"
#include "proto/mpcheck.h"

#define ARENA_CHUNK (16u * 1024u)
/* Nesting allowed in the JSON: the request map around it takes one level of SB_MAX_DEPTH. */
#define JSON_MAX_DEPTH (SB_MAX_DEPTH - 1)
#define JSON_MAX_NUMBER 64

struct chunk {
	struct chunk *next;
	size_t size, used;
	alignas(16) unsigned char data[];
};

struct json_doc {
	struct chunk *chunks; /* newest first; every byte wiped when freed */
	size_t total, max;
	msgpack_object root;
};

struct parser {
	struct json_doc *doc;
	const char *p, *start;
	char *why;
	size_t why_size;
};

static int fail(struct parser *ps, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct parser *ps, int code, const char *fmt, ...)
{
	char what[96];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(ps->why, ps->why_size, "%s at byte %zu", what, (size_t)(ps->p - ps->start));
	return code;
}

/* n bytes from the arena, 16-aligned, or NULL past the arena's maximum or out of memory. */
static void *arena_alloc(struct json_doc *d, size_t n)
{
	struct chunk *c = d->chunks;
	size_t size;

	n = (n + 15) & ~(size_t)15;
	if (c && c->size - c->used >= n) {
		c->used += n;
		return c->data + c->used - n;
	}
	size = n > ARENA_CHUNK ? n : ARENA_CHUNK;
	if (d->total + size > d->max)
		return NULL;
	c = calloc(1, sizeof(*c) + size);
	if (!c)
		return NULL;
	c->size = size;
	c->used = n;
	c->next = d->chunks;
	d->chunks = c;
	d->total += size;
	return c->data;
}

void json_doc_free(struct json_doc *d)
{
	if (!d)
		return;
	while (d->chunks) {
		struct chunk *c = d->chunks;

		d->chunks = c->next;
		explicit_bzero(c->data, c->size);
		free(c);
	}
	explicit_bzero(d, sizeof(*d));
	free(d);
}

const msgpack_object *json_doc_root(const struct json_doc *d)
{
	return &d->root;
}

static void skip_ws(struct parser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
		ps->p++;
}

static int hex4(const char *s, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		char c = s[i];
		unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
			     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
			     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
						    : 16;
		if (d == 16)
			return -1;
		*v = *v << 4 | d;
	}
	return 0;
}

/* Writes code point cp as UTF-8 at *o. */
static void put_utf8(char **o, unsigned cp)
{
	unsigned char *u = (unsigned char *)*o;

	if (cp < 0x80) {
		*u++ = (unsigned char)cp;
	} else if (cp < 0x800) {
		*u++ = (unsigned char)(0xc0 | cp >> 6);
		*u++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*u++ = (unsigned char)(0xe0 | cp >> 12);
		*u++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		*u++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else {
		*u++ = (unsigned char)(0xf0 | cp >> 18);
		*u++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		*u++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		*u++ = (unsigned char)(0x80 | (cp & 0x3f));
	}
	*o = (char *)u;
}

/* A \u escape at ps->p (after the backslash and 'u'), with its low surrogate when it is a
 * high one. NUL and lone surrogates are refused. */
static int unicode_escape(struct parser *ps, char **o)
{
	unsigned cp, lo;

	if (hex4(ps->p, &cp) < 0)
		return fail(ps, -EBADMSG, "bad \\u escape");
	ps->p += 4;
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return fail(ps, -EBADMSG, "lone low surrogate");
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (ps->p[0] != '\\' || ps->p[1] != 'u' || hex4(ps->p + 2, &lo) < 0 ||
		    lo < 0xdc00 || lo > 0xdfff)
			return fail(ps, -EBADMSG, "lone high surrogate");
		ps->p += 6;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	if (cp == 0)
		return fail(ps, -EBADMSG, "NUL in a string");
	put_utf8(o, cp);
	return 0;
}

/* A string at ps->p (on the opening quote) into *out. Escapes never grow the text, so the
 * raw length bounds the copy. */
static int parse_string(struct parser *ps, msgpack_object *out)
{
	const char *end = ++ps->p;
	char *s, *o;

	while (*end && *end != '"')
		end += *end == '\\' && end[1] ? 2 : 1;
	if (*end != '"')
		return fail(ps, -EBADMSG, "unterminated string");
	if ((size_t)(end - ps->p) > SB_MAX_STRING)
		return fail(ps, -EMSGSIZE, "string longer than %u bytes", SB_MAX_STRING);
	s = o = arena_alloc(ps->doc, (size_t)(end - ps->p) + 1);
	if (!s)
		return fail(ps, -EMSGSIZE, "document too large");
	while (ps->p < end) {
		char c = *ps->p++;
		int r = 0;

		if ((unsigned char)c < 0x20)
			return fail(ps, -EBADMSG, "control character in a string");
		if (c != '\\') {
			*o++ = c;
			continue;
		}
		c = *ps->p++;
		switch (c) {
		case '"': case '\\': case '/': *o++ = c; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u': r = unicode_escape(ps, &o); break;
		default: r = fail(ps, -EBADMSG, "bad escape");
		}
		if (r < 0)
			return r;
	}
	ps->p = end + 1;
	if (!sb_utf8_valid((const uint8_t *)s, (size_t)(o - s)))
		return fail(ps, -EBADMSG, "invalid UTF-8 in a string");
	out->type = MSGPACK_OBJECT_STR;
	out->via.str.ptr = s;
	out->via.str.size = (uint32_t)(o - s);
	return 0;
}

/* Length of the JSON number at s (RFC 8259 grammar), 0 if there is none; *is_int when it
 * has neither fraction nor exponent. */
static size_t number_span(const char *s, bool *is_int)
{
	const char *p = s;

	*is_int = true;
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		p += strspn(p, "0123456789");
	else
		return 0;
	if (*p == '.') {
		*is_int = false;
		if (!strchr("0123456789", p[1]) || !p[1])
			return 0;
		p += 1 + strspn(p + 1, "0123456789");
	}
	if (*p == 'e' || *p == 'E') {
		*is_int = false;
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!*p || !strchr("0123456789", *p))
			return 0;
		p += strspn(p, "0123456789");
	}
	return (size_t)(p - s);
}

static int parse_number(struct parser *ps, msgpack_object *out)
{
	char num[JSON_MAX_NUMBER + 1];
	bool is_int;
	size_t n = number_span(ps->p, &is_int);
	char *end;

	if (n == 0)
		return fail(ps, -EBADMSG, "unexpected character");
	if (n > JSON_MAX_NUMBER)
		return fail(ps, -EMSGSIZE, "number longer than %d characters", JSON_MAX_NUMBER);
	memcpy(num, ps->p, n);
	num[n] = '\0';
	ps->p += n;
	errno = 0;
	if (is_int && num[0] == '-') {
		out->via.i64 = strtoll(num, &end, 10);
		out->type = out->via.i64 < 0 ? MSGPACK_OBJECT_NEGATIVE_INTEGER
					     : MSGPACK_OBJECT_POSITIVE_INTEGER; /* "-0" */
	} else if (is_int) {
		out->via.u64 = strtoull(num, &end, 10);
		out->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
	}
	if (!is_int || errno == ERANGE) { /* too big for 64 bits: keep it as a float */
		errno = 0;
		out->via.f64 = strtod(num, &end);
		out->type = MSGPACK_OBJECT_FLOAT64;
		if (errno == ERANGE && (out->via.f64 > 1 || out->via.f64 < -1))
			return fail(ps, -EBADMSG, "number out of range");
	}
	explicit_bzero(num, sizeof(num));
	return 0;
}

static int parse_value(struct parser *ps, msgpack_object *out, unsigned depth);

/* Grows a vector of n_max items of size `size` in the arena (the old copy stays in the arena
 * and is wiped with it). */
static void *grow(struct parser *ps, void *old, uint32_t n, uint32_t *n_max, size_t size)
{
	uint32_t nn = *n_max ? *n_max * 2 : 8;
	void *p;

	if (nn > SB_MAX_CONTAINER)
		nn = SB_MAX_CONTAINER;
	p = arena_alloc(ps->doc, nn * size);
	if (p && n)
		memcpy(p, old, n * size);
	*n_max = nn;
	return p;
}

/* The members of an array or object at ps->p (on '[' or '{'). */
static int parse_container(struct parser *ps, msgpack_object *out, unsigned depth)
{
	bool is_map = *ps->p == '{';
	char close = is_map ? '}' : ']';
	size_t item = is_map ? sizeof(msgpack_object_kv) : sizeof(msgpack_object);
	uint32_t n = 0, n_max = 0;
	void *v = NULL;

	if (depth > JSON_MAX_DEPTH)
		return fail(ps, -EMSGSIZE, "nested deeper than %u", JSON_MAX_DEPTH);
	ps->p++;
	skip_ws(ps);
	while (*ps->p != close) {
		msgpack_object *slot;
		int r = 0;

		if (n > 0 && *ps->p != ',') /* never step past the end of the text */
			return fail(ps, -EBADMSG, "expected ',' or '%c'", close);
		if (n > 0)
			ps->p++;
		if (n == SB_MAX_CONTAINER)
			return fail(ps, -EMSGSIZE, "more than %u entries", SB_MAX_CONTAINER);
		if (n == n_max && !(v = grow(ps, v, n, &n_max, item)))
			return fail(ps, -EMSGSIZE, "document too large");
		skip_ws(ps);
		slot = is_map ? &((msgpack_object_kv *)v)[n].key : &((msgpack_object *)v)[n];
		if (is_map) {
			if (*ps->p != '"')
				return fail(ps, -EBADMSG, "expected a string key");
			r = parse_string(ps, slot);
			if (r < 0)
				return r;
			skip_ws(ps);
			if (*ps->p != ':')
				return fail(ps, -EBADMSG, "expected ':'");
			ps->p++;
			slot = &((msgpack_object_kv *)v)[n].val;
		}
		r = parse_value(ps, slot, depth + 1);
		if (r < 0)
			return r;
		n++;
		skip_ws(ps);
	}
	ps->p++;
	out->type = is_map ? MSGPACK_OBJECT_MAP : MSGPACK_OBJECT_ARRAY;
	if (is_map)
		out->via.map = (msgpack_object_map){.size = n, .ptr = v};
	else
		out->via.array = (msgpack_object_array){.size = n, .ptr = v};
	return 0;
}

static int parse_value(struct parser *ps, msgpack_object *out, unsigned depth)
{
	skip_ws(ps);
	*out = (msgpack_object){.type = MSGPACK_OBJECT_NIL};
	switch (*ps->p) {
	case '{':
	case '[':
		return parse_container(ps, out, depth);
	case '"':
		return parse_string(ps, out);
	case 't':
	case 'f':
		if (strncmp(ps->p, "true", 4) == 0 || strncmp(ps->p, "false", 5) == 0) {
			out->type = MSGPACK_OBJECT_BOOLEAN;
			out->via.boolean = *ps->p == 't';
			ps->p += out->via.boolean ? 4 : 5;
			return 0;
		}
		return fail(ps, -EBADMSG, "unexpected character");
	case 'n':
		if (strncmp(ps->p, "null", 4) == 0) {
			ps->p += 4;
			return 0;
		}
		return fail(ps, -EBADMSG, "unexpected character");
	case '\0':
		return fail(ps, -EBADMSG, "unexpected end of the text");
	default:
		return parse_number(ps, out);
	}
}

int json_parse(const char *text, msgpack_object_type want, struct json_doc **ret, char *why,
	       size_t why_size)
{
	struct parser ps = {.p = text, .start = text, .why = why, .why_size = why_size};
	size_t len = strnlen(text, SKYBROKER_MAX_JSON_IN + 1);
	struct json_doc *d;
	int r;

	*ret = NULL;
	if (len > SKYBROKER_MAX_JSON_IN)
		return fail(&ps, -EMSGSIZE, "JSON text longer than %u bytes", SKYBROKER_MAX_JSON_IN);
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	/* a msgpack_object is 16 bytes for each 1-byte JSON value at worst, plus vector slack */
	d->max = len * 64 + ARENA_CHUNK;
	ps.doc = d;
	r = parse_value(&ps, &d->root, 1);
	if (r == 0)
		skip_ws(&ps);
	if (r == 0 && *ps.p)
		r = fail(&ps, -EBADMSG, "trailing characters");
	if (r == 0 && d->root.type != want)
		r = fail(&ps, -EBADMSG, "the text must be a JSON %s",
			 want == MSGPACK_OBJECT_MAP ? "object" : "array");
	if (r < 0) {
		json_doc_free(d);
		return r;
	}
	*ret = d;
	return 0;
}
