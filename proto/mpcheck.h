/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "errors.h"

/*
 * A bounded structural validator for msgpack, run over a frame's bytes before msgpack-c's
 * unpacker ever sees them. msgpack-c reserves count x sizeof(msgpack_object) as soon as it
 * reads an array or map header, so a small frame declaring huge counts could make it allocate
 * gigabytes; after this check every declared count is at most the bytes that follow it, so
 * unpacking a checked frame of n bytes allocates O(n).
 *
 * Accepted: exactly one object spanning all n bytes; nil, bool, int, float, str (valid UTF-8,
 * no embedded NUL), array, map with string keys, nested at most SB_MAX_DEPTH deep, each
 * container at most SB_MAX_CONTAINER entries, each string at most SB_MAX_STRING bytes.
 * Rejected: bin and ext types (the protocol's values are JSON-compatible), the reserved 0xc1.
 *
 * Returns 0, or -EBADMSG (truncated, malformed, trailing bytes, non-string key, bad UTF-8,
 * NUL in a string, forbidden type) or -EMSGSIZE (a limit exceeded), with e describing it.
 */
int sb_mp_check(const uint8_t *p, size_t n, struct sb_proto_error *e);

/* Whether s[0..n) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int sb_utf8_valid(const uint8_t *s, size_t n);
