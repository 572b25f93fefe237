/* SPDX-License-Identifier: MIT */
#include "util/idlog.h"

#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

static idlog_sink_t log_sink;
static void *log_sink_userdata;
static int log_max_priority = LOG_INFO;

void idlog_set_sink(idlog_sink_t sink, void *userdata)
{
	log_sink = sink;
	log_sink_userdata = userdata;
}

void idlog_set_max_priority(int max_priority)
{
	log_max_priority = max_priority;
}

void idlogv(int priority, const char *fmt, va_list ap)
{
	char line[1024];

	if (priority > log_max_priority)
		return;
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	/* One line per message: a newline inside would let a value forge a log line. */
	for (char *p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (log_sink)
		log_sink(priority, line, log_sink_userdata);
	else
		(void)fprintf(stderr, "<%d>%s\n", priority, line);
}

void idlog(int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	idlogv(priority, fmt, ap);
	va_end(ap);
}

const char *idlog_fingerprint(const void *data, size_t len, char out[static 13])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256(data, len, md);
	for (size_t i = 0; i < 6; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[12] = '\0';
	return out;
}
