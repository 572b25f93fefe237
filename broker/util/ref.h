/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Reference counting in one shape. An object that an asynchronous callback can outlive has an
 * `unsigned n_ref` field, starts at 1 from its constructor, and gets its pair from
 *
 *   DEFINE_REF_UNREF(struct widget, widget, widget_destroy)
 *
 * which defines `struct widget *widget_ref(struct widget *)` (returns its argument; NULL is
 * fine) and `struct widget *widget_unref(struct widget *)` (calls widget_destroy on the last
 * reference; always returns NULL, so `w = widget_unref(w);` clears the caller's pointer).
 * destroy frees the object; it is never called twice.
 */

#include <assert.h>

#define DEFINE_REF_UNREF(type, prefix, destroy) DEFINE_REF_UNREF_SCOPED(, type, prefix, destroy)

/* The same pair, static to the file (for an object private to one module). */
#define DEFINE_PRIVATE_REF_UNREF(type, prefix, destroy)                                          \
	DEFINE_REF_UNREF_SCOPED(static, type, prefix, destroy)

#define DEFINE_REF_UNREF_SCOPED(scope, type, prefix, destroy)                                    \
	scope type *prefix##_ref(type *p)                                                        \
	{                                                                                        \
		if (!p)                                                                          \
			return NULL;                                                             \
		assert(p->n_ref > 0);                                                            \
		p->n_ref++;                                                                      \
		return p;                                                                        \
	}                                                                                        \
	scope type *prefix##_unref(type *p)                                                      \
	{                                                                                        \
		if (!p)                                                                          \
			return NULL;                                                             \
		assert(p->n_ref > 0);                                                            \
		if (--p->n_ref == 0)                                                             \
			destroy(p);                                                              \
		return NULL;                                                                     \
	}
