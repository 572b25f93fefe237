/* SPDX-License-Identifier: MIT */
/* text: Prometheus text exposition writing into a bounded buffer, label values escaped. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "metrics/text.h"

void text_init(struct text *t, size_t max)
{
	sb_buf_init(&t->b, max);
	t->err = 0;
}

void text_done(struct text *t)
{
	sb_buf_free(&t->b);
}

static __attribute__((format(printf, 2, 0))) void text_vprintf(struct text *t, const char *fmt,
								va_list ap)
{
	char line[512];
	int n;

	if (t->err)
		return;
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		t->err = -EMSGSIZE;
		return;
	}
	t->err = sb_buf_append(&t->b, line, (size_t)n);
}

void text_printf(struct text *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	text_vprintf(t, fmt, ap);
	va_end(ap);
}

static void text_append(struct text *t, const char *s, size_t n)
{
	if (!t->err)
		t->err = sb_buf_append(&t->b, s, n);
}

void text_family(struct text *t, const char *name, const char *type, const char *help)
{
	text_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value, escaped as the format wants: backslash, double quote and line feed. */
static void text_value(struct text *t, const char *v)
{
	for (const char *p = v; *p; p++) {
		const char *esc = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;

		if (esc)
			text_append(t, esc, 2);
		else
			text_append(t, p, 1);
	}
}

/* "name{a="x",b="y"" without the closing brace (so le can follow), or "name" alone. */
static void text_head(struct text *t, const char *name, const char *suffix,
		      const struct text_label *l, size_t n)
{
	text_printf(t, "%s%s", name, suffix);
	for (size_t i = 0; i < n; i++) {
		text_printf(t, "%c%s=\"", i == 0 ? '{' : ',', l[i].name);
		text_value(t, l[i].value ? l[i].value : "");
		text_append(t, "\"", 1);
	}
}

void text_sample_u64(struct text *t, const char *name, const struct text_label *l, size_t n,
		     uint64_t v)
{
	text_head(t, name, "", l, n);
	text_printf(t, "%s %llu\n", n ? "}" : "", (unsigned long long)v);
}

void text_sample_f64(struct text *t, const char *name, const struct text_label *l, size_t n,
		     double v)
{
	text_head(t, name, "", l, n);
	text_printf(t, "%s %.6f\n", n ? "}" : "", v);
}

void text_histogram(struct text *t, const char *name, const struct text_label *l, size_t n,
		    const uint64_t *le_usec, const uint64_t *bucket, size_t n_buckets,
		    uint64_t count, uint64_t sum_usec)
{
	uint64_t cum = 0;

	for (size_t b = 0; b <= n_buckets; b++) {
		text_head(t, name, "_bucket", l, n);
		if (b < n_buckets) {
			cum += bucket[b];
			text_printf(t, "%cle=\"%g\"} %llu\n", n ? ',' : '{',
				    (double)le_usec[b] / 1e6, (unsigned long long)cum);
		} else
			text_printf(t, "%cle=\"+Inf\"} %llu\n", n ? ',' : '{',
				    (unsigned long long)count);
	}
	text_head(t, name, "_sum", l, n);
	text_printf(t, "%s %.6f\n", n ? "}" : "", (double)sum_usec / 1e6);
	text_head(t, name, "_count", l, n);
	text_printf(t, "%s %llu\n", n ? "}" : "", (unsigned long long)count);
}
