/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * _cleanup_, _cleanup_free_, TAKE_PTR, DEFINE_TRIVIAL_CLEANUP_FUNC: the one cleanup idiom.
 * Defined once in proto/cleanup.h (proto/ is below broker/ and may not include it); broker/
 * code includes this header.
 */
#include "proto/cleanup.h"

/*
 * What every layer above proto/ holds besides its own objects: descriptors, and secrets on the
 * heap, wiped before they are freed.
 *
 *   _cleanup_(closep) int fd = -EBADF;
 *   _cleanup_(erase_and_freep) char *assertion = NULL;   NUL-terminated secret, wiped to
 *                                                          its terminator
 *   _cleanup_(wiped_buf_done) struct wiped_buf p = {0};  counted secret, wiped over p.n bytes
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* For a descriptor; -1 means none. */
static inline void closep(int *fd)
{
	if (*fd >= 0)
		(void)close(*fd);
}

/* For a NUL-terminated secret: wiped up to its terminator, then freed. */
static inline void erase_and_freep(char **p)
{
	if (!*p)
		return;
	explicit_bzero(*p, strlen(*p));
	free(*p);
}

/* A heap buffer of n bytes holding a secret (decoded token payloads, file contents). */
struct wiped_buf {
	uint8_t *p; /* owned */
	size_t n;
};

static inline void wiped_buf_done(struct wiped_buf *b)
{
	if (!b->p)
		return;
	explicit_bzero(b->p, b->n);
	free(b->p);
}
