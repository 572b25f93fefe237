/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*
 * Strict base64url (RFC 4648 §5) as JWS uses it (RFC 7515 §2): no padding, no whitespace,
 * only [A-Za-z0-9_-]. Non-canonical encodings (non-zero unused bits in the last character)
 * are rejected too, so that one byte string has exactly one accepted text form.
 */

/* Upper bound of the decoded size of n characters. */
static inline size_t b64url_decoded_max(size_t n)
{
	return n / 4 * 3 + 2;
}

/* Encoded size (without NUL) of n bytes. */
static inline size_t b64url_encoded_len(size_t n)
{
	return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

/* Whether every one of the n characters is in the base64url alphabet. */
int b64url_valid_chars(const char *s, size_t n);

/*
 * Decodes n characters of s into out (capacity out_max). Returns the decoded length,
 * -EBADMSG for a character outside the alphabet, a length of 1 mod 4 or non-zero trailing
 * bits, -EMSGSIZE when out is too small. out is not NUL-terminated.
 */
int b64url_decode(const char *s, size_t n, uint8_t *out, size_t out_max);

/*
 * Decodes into a new buffer (caller frees; with one extra NUL byte after the data so that a
 * JSON text can be handed to a parser) and stores its length in *ret_len.
 * Returns 0, -EBADMSG, -ENOMEM.
 */
int b64url_decode_alloc(const char *s, size_t n, uint8_t **ret, size_t *ret_len);

/*
 * Encodes n bytes into out, which must hold b64url_encoded_len(n) + 1 bytes (NUL added).
 * Returns the encoded length (without NUL).
 */
size_t b64url_encode(const void *data, size_t n, char *out);
