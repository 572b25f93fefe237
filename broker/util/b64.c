/* SPDX-License-Identifier: MIT */
/* b64: strict base64url (no padding, canonical trailing bits). */
#include "util/b64.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int b64url_valid_chars(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b64url_value((unsigned char)s[i]) < 0)
			return 0;
	return 1;
}

int b64url_decode(const char *s, size_t n, uint8_t *out, size_t out_max)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t o = 0;

	size_t decoded = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);

	if (n % 4 == 1)
		return -EBADMSG;
	/* the whole decoded size (partial last group included) must fit the int result */
	if (decoded > out_max || decoded > (size_t)INT32_MAX)
		return -EMSGSIZE;
	for (size_t i = 0; i < n; i++) {
		int v = b64url_value((unsigned char)s[i]);

		if (v < 0)
			return -EBADMSG;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Leftover bits must be zero: otherwise two texts would decode to the same bytes. */
	if (acc != 0)
		return -EBADMSG;
	return (int)o;
}

int b64url_decode_alloc(const char *s, size_t n, uint8_t **ret, size_t *ret_len)
{
	size_t max = b64url_decoded_max(n);
	uint8_t *buf;
	int r;

	buf = malloc(max + 1);
	if (!buf)
		return -ENOMEM;
	r = b64url_decode(s, n, buf, max);
	if (r < 0) {
		/* what was decoded before the bad byte may be part of a token payload */
		explicit_bzero(buf, max);
		free(buf);
		return r;
	}
	buf[r] = 0;
	*ret = buf;
	*ret_len = (size_t)r;
	return 0;
}

size_t b64url_encode(const void *data, size_t n, char *out)
{
	const uint8_t *p = data;
	size_t o = 0, i = 0;

	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
		out[o++] = alphabet[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;

		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;

		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
	}
	out[o] = '\0';
	return o;
}
