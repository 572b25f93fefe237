/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The one cleanup idiom of broker/ and proto/ (docs/internals.md, "Ownership and cleanup"): a
 * local that owns something is declared with a cleanup attribute, every failure simply
 * returns, and the one success path hands ownership out with TAKE_PTR() (systemd's habit).
 * No goto labels. It is defined here, in the lowest layer, so that proto/ can use it without
 * including broker/; broker/util/cleanup.h includes this file. Macros only, no I/O.
 *
 *   _cleanup_free_ char *buf = malloc(n);
 *   _cleanup_(widget_freep) struct widget *w = NULL;
 *   ...
 *   *ret = TAKE_PTR(w);
 *   return 0;
 */

#include <stdlib.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

/* Returns the pointer p holds and sets p to NULL: the one hand-off of ownership. */
#define TAKE_PTR(p)                                                                              \
	({                                                                                       \
		__typeof__(p) *_take_pp = &(p);                                                  \
		__typeof__(p) _take_p = *_take_pp;                                               \
		*_take_pp = NULL;                                                                \
		_take_p;                                                                         \
	})

/* Defines `static inline void funcp(type *p)`, calling func(*p) when *p is not NULL, for use as
 * _cleanup_(funcp). func may return anything (x_free returns NULL by convention). */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                                                  \
	static inline void func##p(type *p)                                                      \
	{                                                                                        \
		if (*p)                                                                          \
			(void)func(*p);                                                          \
	}
