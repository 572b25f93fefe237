/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/*
 * Framing: a frame is a 4-byte big-endian payload length followed by that many bytes, which
 * hold exactly one msgpack map. The length is checked against the cap as soon as the 4 header
 * bytes are there, so a hostile length never makes anyone buffer or allocate the body.
 */

enum {
	SB_FRAME_MORE = 0,  /* not a whole frame yet: read more bytes */
	SB_FRAME_READY = 1, /* *payload and *len describe one whole frame */
};

/*
 * Looks for one frame at the head of `in`. Returns SB_FRAME_READY and sets *payload (borrowed,
 * valid until `in` is modified) and *len; SB_FRAME_MORE when more bytes are needed; -EMSGSIZE
 * when the declared length exceeds max_payload; -EBADMSG when it is 0. Consumes nothing: after
 * handling the payload the caller calls sb_frame_consume(in, len).
 * *need (optional) is set to the total bytes the head frame occupies once its header is known,
 * else to SB_FRAME_HEADER_SIZE, so a reader can size its next read.
 */
int sb_frame_next(const struct sb_buf *in, size_t max_payload, const uint8_t **payload,
		  size_t *len, size_t *need);

/* Drops one frame of payload length len from the head of in. */
void sb_frame_consume(struct sb_buf *in, size_t len);

/*
 * Writing a frame: sb_frame_begin appends a placeholder header and returns its offset in
 * *mark; the caller appends the payload; sb_frame_end patches the length, or, when the payload
 * is empty or longer than max_payload, removes the partial frame and returns -EBADMSG or
 * -EMSGSIZE. sb_frame_abort removes a partial frame after an encoding error.
 */
int sb_frame_begin(struct sb_buf *out, size_t *mark);
int sb_frame_end(struct sb_buf *out, size_t mark, size_t max_payload);
void sb_frame_abort(struct sb_buf *out, size_t mark);
