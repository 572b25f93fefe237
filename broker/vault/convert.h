/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include <jansson.h>
#include <msgpack.h>

#include "proto/packer.h"

/*
 * Record values between the two formats, with their types kept (string, integer, float,
 * boolean, null, nested maps and arrays) and the protocol's limits enforced on the way.
 *
 * JSON to msgpack streams into a bounded buffer (the reply being built), so a large upstream
 * document never exists twice as trees. Everything here runs under jansson's wiping
 * allocator (util/jsonalloc.h) and into wiped buffers: no record value survives in freed
 * memory.
 */

/* Renames one object key while packing (Skyflow's camelCase to the protocol's snake_case). */
struct vault_rename {
	const char *from, *to;
};

/*
 * Packs j at nesting depth `depth` of the reply (the reply's top map is 1). Object keys found
 * in rename (an array ended by {NULL}, may be NULL) are renamed at the first object level
 * only. Returns 0, -EMSGSIZE (deeper than 16, a container over 4096 entries, a string over
 * 1 MiB: the reply would break the protocol's limits) or -EBADMSG (a string holding NUL, or
 * a renamed key that the object also holds under its new name).
 * Buffer overflow shows in p->err, as with any sb_packer.
 */
int vault_pack_json(struct sb_packer *p, json_t *j, unsigned depth,
		    const struct vault_rename *rename);

/*
 * A JSON value for a msgpack value of a request (a record's field), *ret a new reference.
 * Returns 0, -EBADMSG with *why set (an integer beyond int64, a float that is not finite, a
 * non-string map key), -ENOMEM.
 */
int vault_json_of_msgpack(const msgpack_object *o, json_t **ret, const char **why);
