/* SPDX-License-Identifier: MIT */
/* logrec: one log message or record rendered as logfmt text, a JSON line or a journal entry. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include <systemd/sd-journal.h>

#include "util/logfmt.h"
#include "util/logrec.h"

static const char *value_of(const struct log_field *f)
{
	return f->value ? f->value : "-";
}

/* Appends n bytes of s to out (len bytes so far), cut where size stops it with the NUL, as
 * snprintf would: the audit line's hot path, without a format string to parse. */
static void put(char *out, size_t size, size_t *len, const char *s, size_t n)
{
	if (*len + n >= size)
		n = size - 1 - *len;
	memcpy(out + *len, s, n);
	*len += n;
	out[*len] = '\0';
}

size_t logrec_text(char *out, size_t size, const char *tag, const struct log_field *f, size_t n)
{
	size_t len = 0;

	put(out, size, &len, tag, strlen(tag));
	put(out, size, &len, ":", 1);
	for (size_t i = 0; i < n; i++) {
		/* room for this value; the fields after it keep at least 48 bytes each */
		size_t reserve = 48 * (n - i - 1) + strlen(f[i].key) + 3;
		size_t room = size > len + reserve ? size - len - reserve : 0;
		char v[LOGREC_VALUE_MAX];
		const char *val = value_of(&f[i]);
		size_t vl;

		if (room > sizeof(v))
			room = sizeof(v);
		if (room < 4)
			room = 4;
		if (f[i].raw) {
			vl = strnlen(val, room - 1);
		} else {
			val = logfmt_value(v, room, val);
			vl = strlen(v);
		}
		put(out, size, &len, " ", 1);
		put(out, size, &len, f[i].key, strlen(f[i].key));
		put(out, size, &len, "=", 1);
		put(out, size, &len, val, vl);
	}
	return len;
}

/* A JSON string of s, cut (never inside an escape) so that it takes at most max bytes with
 * its quotes. Bytes >= 0x80 are written \u00XX: the line is always valid JSON, whatever
 * encoding the value had. */
static size_t json_string(char *out, size_t max, const char *s)
{
	size_t len = 1;

	out[0] = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[8];
		size_t k;

		if (*p == '"' || *p == '\\')
			k = (size_t)snprintf(esc, sizeof(esc), "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			k = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", *p);
		else {
			esc[0] = (char)*p;
			k = 1;
		}
		if (len + k + 1 > max)
			break;
		memcpy(out + len, esc, k);
		len += k;
	}
	out[len++] = '"';
	return len;
}

size_t logrec_json(char *out, size_t size, int level, const char *msg, const struct log_field *f,
		   size_t n)
{
	struct timespec ts;
	struct tm tm;
	char when[32] = "";
	size_t len;

	if (n > LOG_RECORD_MAX_FIELDS)
		n = LOG_RECORD_MAX_FIELDS;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (gmtime_r(&ts.tv_sec, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	len = (size_t)snprintf(out, size, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"priority\":%d,"
				     "\"message\":", when, ts.tv_nsec / 1000000,
			       log_level_name(level), level);
	/* each part below is bounded: the message and each value by LOGREC_VALUE_MAX, a key by
	 * 64; LOGREC_JSON_MAX holds them all */
	len += json_string(out + len, 2 * LOGREC_VALUE_MAX, msg);
	for (size_t i = 0; i < n; i++) {
		out[len++] = ',';
		len += json_string(out + len, 64, f[i].key);
		out[len++] = ':';
		len += json_string(out + len, LOGREC_VALUE_MAX, value_of(&f[i]));
	}
	out[len++] = '}';
	out[len++] = '\n';
	out[len] = '\0';
	return len;
}

int logrec_journal(int level, const char *msg, const struct log_field *f, size_t n)
{
	char prio[16], buf[LOG_RECORD_MAX_FIELDS][64 + LOGREC_VALUE_MAX];
	struct iovec iov[3 + LOG_RECORD_MAX_FIELDS];
	char *message;
	size_t k = 0, mlen = strlen(msg);
	int r;

	if (n > LOG_RECORD_MAX_FIELDS)
		n = LOG_RECORD_MAX_FIELDS;
	message = malloc(mlen + 9);
	if (!message)
		return -ENOMEM;
	memcpy(message, "MESSAGE=", 8);
	memcpy(message + 8, msg, mlen + 1);
	iov[k++] = (struct iovec){message, mlen + 8};
	(void)snprintf(prio, sizeof(prio), "PRIORITY=%d", level);
	iov[k++] = (struct iovec){prio, strlen(prio)};
	iov[k++] = (struct iovec){(char *)"SYSLOG_IDENTIFIER=skybrokerd", 28};
	for (size_t i = 0; i < n; i++) {
		char name[64];
		size_t j = 0;
		int w;

		for (const char *p = f[i].journal ? f[i].journal : f[i].key; *p && j < 40; p++)
			name[j++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
		name[j] = '\0';
		/* the value as it is: the native protocol carries newlines and any byte */
		w = snprintf(buf[i], sizeof(buf[i]), "SKYBROKER_%s=%s", name, value_of(&f[i]));
		iov[k++] = (struct iovec){buf[i], w < 0 ? 0 : (size_t)w >= sizeof(buf[i]) ?
					  sizeof(buf[i]) - 1 : (size_t)w};
	}
	r = sd_journal_sendv(iov, (int)k);
	free(message);
	return r;
}
