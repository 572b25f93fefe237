/* SPDX-License-Identifier: MIT */
/* logfmt: one value of a key=value log field, quoted and escaped when it must be. */
#include <stdbool.h>
#include <string.h>

#include "util/logfmt.h"

/* Whether byte c may appear in a bare value. */
static bool bare_byte(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '=' && c != '"' && c != '\\';
}

static bool needs_quotes(const unsigned char *s, size_t len)
{
	if (len == 0)
		return true;
	for (size_t i = 0; i < len; i++)
		if (!bare_byte(s[i]))
			return true;
	return false;
}

/* The escape of byte c inside quotes, into e (size >= 5); returns its length. */
static size_t escape_byte(unsigned char c, char e[5])
{
	static const char hex[] = "0123456789abcdef";
	const char *two = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" :
			  c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;

	if (two) {
		memcpy(e, two, 3);
		return 2;
	}
	if (c >= 0x20 && c < 0x7f) {
		e[0] = (char)c;
		e[1] = '\0';
		return 1;
	}
	e[0] = '\\';
	e[1] = 'x';
	e[2] = hex[c >> 4];
	e[3] = hex[c & 15];
	e[4] = '\0';
	return 4;
}

char *logfmt_bytes(char *dst, size_t n, const void *src, size_t len)
{
	const unsigned char *s = src;
	size_t o = 0;

	if (n == 0)
		return dst;
	if (!s)
		len = 0;
	if (!needs_quotes(s, len)) {
		for (; o < len && o + 1 < n; o++)
			dst[o] = (char)s[o];
		dst[o] = '\0';
		return dst;
	}
	if (n < 3) {
		dst[0] = '\0';
		return dst;
	}
	dst[o++] = '"';
	for (size_t i = 0; i < len; i++) {
		char e[5];
		size_t k = escape_byte(s[i], e);

		if (o + k + 2 > n) /* room for the closing quote and the NUL */
			break;
		memcpy(dst + o, e, k);
		o += k;
	}
	dst[o++] = '"';
	dst[o] = '\0';
	return dst;
}

char *logfmt_value(char *dst, size_t n, const char *src)
{
	return logfmt_bytes(dst, n, src, src ? strlen(src) : 0);
}
