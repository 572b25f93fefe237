/* SPDX-License-Identifier: MIT */
/* frame: the 4-byte big-endian length prefix that cuts a byte stream into payloads. */
#include <errno.h>

#include "frame.h"
#include "limits.h"

int sb_frame_next(const struct sb_buf *in, size_t max_payload, const uint8_t **payload,
		  size_t *len, size_t *need)
{
	size_t have = sb_buf_len(in);
	const uint8_t *p = sb_buf_ptr(in);
	uint32_t n;

	*payload = NULL;
	*len = 0;
	if (need)
		*need = SB_FRAME_HEADER_SIZE;
	if (have < SB_FRAME_HEADER_SIZE)
		return SB_FRAME_MORE;

	n = sb_be32_get(p);
	if (n == 0)
		return -EBADMSG;
	if (n > max_payload)
		return -EMSGSIZE;
	if (need)
		*need = SB_FRAME_HEADER_SIZE + (size_t)n;
	if (have - SB_FRAME_HEADER_SIZE < n)
		return SB_FRAME_MORE;

	*payload = p + SB_FRAME_HEADER_SIZE;
	*len = n;
	return SB_FRAME_READY;
}

void sb_frame_consume(struct sb_buf *in, size_t len)
{
	sb_buf_consume(in, SB_FRAME_HEADER_SIZE + len);
}

int sb_frame_begin(struct sb_buf *out, size_t *mark)
{
	static const uint8_t zero[SB_FRAME_HEADER_SIZE];

	*mark = sb_buf_len(out);
	return sb_buf_append(out, zero, sizeof(zero));
}

int sb_frame_end(struct sb_buf *out, size_t mark, size_t max_payload)
{
	size_t n = sb_buf_len(out) - mark - SB_FRAME_HEADER_SIZE;

	if (n == 0 || n > max_payload || n > UINT32_MAX) {
		sb_frame_abort(out, mark);
		return n == 0 ? -EBADMSG : -EMSGSIZE;
	}
	sb_be32_put(sb_buf_mutable_at(out, mark), (uint32_t)n);
	return 0;
}

void sb_frame_abort(struct sb_buf *out, size_t mark)
{
	sb_buf_truncate(out, mark);
}
