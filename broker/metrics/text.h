/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/buf.h"

/*
 * A writer of Prometheus's text exposition format (version 0.0.4) into a bounded buffer:
 * one family at a time (# HELP, # TYPE, then its samples), label values escaped (\\, \", \n).
 * A write that does not fit sets the error and every later write does nothing, so a caller
 * writes everything and checks once at the end.
 */

#define TEXT_MAX (1024u * 1024u) /* the exposition's cap (also the protocol's string cap) */

struct text {
	struct sb_buf b;
	int err; /* 0, or the first -errno (-EMSGSIZE: over the cap, -ENOMEM) */
};

/* Labels of one sample: n pairs of name (a valid label name, a literal) and value (escaped
 * here). */
struct text_label {
	const char *name;
	const char *value;
};

void text_init(struct text *t, size_t max);
void text_done(struct text *t);

/* "# HELP name help\n# TYPE name type\n"; help is a literal without newlines. */
void text_family(struct text *t, const char *name, const char *type, const char *help);
/* "name{labels} value\n" for an integer and for a floating point value. */
void text_sample_u64(struct text *t, const char *name, const struct text_label *l, size_t n,
		     uint64_t v);
void text_sample_f64(struct text *t, const char *name, const struct text_label *l, size_t n,
		     double v);
/* A histogram's samples: name_bucket{labels,le=...} (cumulative), name_sum (seconds),
 * name_count. bucket[] holds n_buckets non-cumulative counts for the bounds le_usec[]; count
 * is the total (the +Inf bucket). */
void text_histogram(struct text *t, const char *name, const struct text_label *l, size_t n,
		    const uint64_t *le_usec, const uint64_t *bucket, size_t n_buckets,
		    uint64_t count, uint64_t sum_usec);
void text_printf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
