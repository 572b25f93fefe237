/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

#include <msgpack.h>

#include "buf.h"

/*
 * A msgpack-c packer that writes into a bounded sb_buf. The first failure (the buffer's cap,
 * or memory) is kept in err and every later write is refused, so an encoder packs blindly and
 * checks err once at the end. Used by proto's own encoders and by the broker where it streams
 * a result (e.g. records converted from an upstream document) straight into a buffer.
 */
struct sb_packer {
	msgpack_packer pk;
	struct sb_buf *out;
	int err; /* 0, or the first negative errno from the buffer */
};

/* Starts p writing at the tail of out (borrowed for p's lifetime). */
void sb_packer_init(struct sb_packer *p, struct sb_buf *out);

/* Packs the NUL-terminated string s (without the NUL). */
void sb_packer_str(struct sb_packer *p, const char *s);

/* Appends n bytes that already are msgpack (the caller vouches for them). */
void sb_packer_raw(struct sb_packer *p, const void *bytes, size_t n);
