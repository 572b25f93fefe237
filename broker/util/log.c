/* SPDX-License-Identifier: MIT */
/* log: one stderr line per write with a <N> priority prefix; the buffered audit trail. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "util/logrec.h"

#define LOG_LINE_MAX 2048

static int log_max_level = LOG_INFO;
static enum log_format log_format = LOG_FORMAT_TEXT;
static log_capture_fn log_capture;
static void *log_capture_userdata;

#define LOG_BUFFER_SIZE (64u * 1024u)
static char pending[LOG_BUFFER_SIZE];
static size_t pending_len;

static const char *const level_names[] = {
	"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

void log_set_max_level(int level)
{
	if (level < LOG_SILENT)
		level = LOG_SILENT;
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	log_max_level = level;
}

int log_get_max_level(void)
{
	return log_max_level;
}

int log_level_from_name(const char *name)
{
	static const struct {
		const char *name;
		int level;
	} aliases[] = {{"error", LOG_ERR}, {"warn", LOG_WARNING}, {"critical", LOG_CRIT},
		       {"emergency", LOG_EMERG}, {"information", LOG_INFO}};

	if (!name)
		return -EINVAL;
	if (name[0] >= '0' && name[0] <= '7' && name[1] == '\0')
		return name[0] - '0';
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcasecmp(name, level_names[i]) == 0)
			return (int)i;
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (strcasecmp(name, aliases[i].name) == 0)
			return aliases[i].level;
	return -EINVAL;
}

const char *log_level_name(int level)
{
	if (level < 0 || level > LOG_DEBUG)
		return "unknown";
	return level_names[level];
}

void log_set_capture(log_capture_fn fn, void *userdata)
{
	log_flush();
	log_capture = fn;
	log_capture_userdata = userdata;
}

static void log_write_line(char *line, size_t len)
{
	if (log_capture) {
		/* One call per line, without the newline; a buffered batch may hold several. */
		for (char *end; len > 0 && (end = memchr(line, '\n', len)); len -= (size_t)(end + 1 - line), line = end + 1) {
			*end = '\0';
			log_capture(line, log_capture_userdata);
		}
		return;
	}
	/* One write per line; a short write to stderr is retried, EAGAIN drops the line rather
	 * than spin (stderr is blocking unless someone set O_NONBLOCK on a shared pipe). */
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, line, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		line += n;
		len -= (size_t)n;
	}
}

/* Formats one message (no prefix, no newline) into msg (LOG_LINE_MAX - 8); returns its
 * length. A message must stay one line for journald: line breaks become spaces. */
static __attribute__((format(printf, 2, 0))) size_t format_msg(char *msg, const char *fmt,
							      va_list ap)
{
	const size_t max = LOG_LINE_MAX - 8;
	int m = vsnprintf(msg, max, fmt, ap);

	if (m < 0)
		m = 0;
	if ((size_t)m >= max)
		m = (int)(max - 1); /* truncated */
	for (int i = 0; i < m; i++)
		if (msg[i] == '\n' || msg[i] == '\r')
			msg[i] = ' ';
	msg[m] = '\0';
	return (size_t)m;
}

static void buffer_append(const char *line, size_t n)
{
	if (n > LOG_BUFFER_SIZE - pending_len)
		log_flush();
	if (n > LOG_BUFFER_SIZE)
		return;
	memcpy(pending + pending_len, line, n);
	pending_len += n;
}

/*
 * Writes one message in the current format: msg is the text line (without prefix); a record
 * also has fields f[n] and json_msg (its tag) for the JSON "message". buffered: appended to
 * the batch (text, JSON) instead of written now.
 */
static void emit(int level, const char *msg, size_t mlen, const struct log_field *f, size_t n,
		 const char *json_msg, bool buffered)
{
	static char line[LOGREC_JSON_MAX];
	size_t len;

	if (log_format == LOG_FORMAT_JOURNAL && !log_capture) {
		log_flush(); /* keep the order of lines */
		if (logrec_journal(level, msg, f, n) >= 0)
			return;
		/* journald is not there (or refused it): the line goes to stderr as text rather
		 * than nowhere */
		buffered = false;
	}
	if (log_format == LOG_FORMAT_JSON)
		len = logrec_json(line, sizeof(line), level, json_msg ? json_msg : msg, f, n);
	else {
		int k = snprintf(line, LOG_LINE_MAX, "<%d>", level);

		memcpy(line + k, msg, mlen);
		len = (size_t)k + mlen;
		line[len++] = '\n';
	}
	if (buffered) {
		buffer_append(line, len);
		return;
	}
	log_flush(); /* keep the order of lines */
	log_write_line(line, len);
}

void log_flush(void)
{
	if (pending_len) {
		log_write_line(pending, pending_len);
		pending_len = 0;
	}
}

bool log_pending(void)
{
	return pending_len > 0;
}

void log_vprintf(int level, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX];
	size_t n;

	if (!log_enabled(level))
		return;
	n = format_msg(msg, fmt, ap);
	emit(level, msg, n, NULL, 0, NULL, false);
}

void log_buffer_printf(int level, bool force, const char *fmt, ...)
{
	char msg[LOG_LINE_MAX];
	va_list ap;
	size_t n;

	if (!force && !log_enabled(level))
		return;
	va_start(ap, fmt);
	n = format_msg(msg, fmt, ap);
	va_end(ap);
	emit(level, msg, n, NULL, 0, NULL, true);
}

void log_record(int level, bool force, bool buffered, const char *tag, const struct log_field *f,
		size_t n)
{
	char msg[LOG_LINE_MAX];
	size_t len;

	if (!force && !log_enabled(level))
		return;
	if (n > LOG_RECORD_MAX_FIELDS)
		n = LOG_RECORD_MAX_FIELDS;
	len = logrec_text(msg, LOG_LINE_MAX - 8, tag, f, n);
	emit(level, msg, len, f, n, tag, buffered);
}

void log_set_format(enum log_format f)
{
	log_flush();
	log_format = f;
}

enum log_format log_get_format(void)
{
	return log_format;
}

int log_format_from_name(const char *name)
{
	if (!name)
		return -EINVAL;
	if (strcmp(name, "text") == 0 || strcmp(name, "logfmt") == 0)
		return LOG_FORMAT_TEXT;
	if (strcmp(name, "json") == 0)
		return LOG_FORMAT_JSON;
	if (strcmp(name, "journal") == 0)
		return LOG_FORMAT_JOURNAL;
	return -EINVAL;
}

bool log_journal_available(void)
{
	return access("/run/systemd/journal/socket", W_OK) == 0;
}

bool log_stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char tail;

	if (!e || sscanf(e, "%llu:%llu%c", &dev, &ino, &tail) != 2) /* lint:allow bounded */
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_printf(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprintf(level, fmt, ap);
	va_end(ap);
}

int log_errno(int level, int r, const char *fmt, ...)
{
	char msg[LOG_LINE_MAX - 128];
	va_list ap;

	if (log_enabled(level)) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		log_printf(level, "%s: %s", msg, strerror(r < 0 ? -r : r));
	}
	return r < 0 ? r : -r;
}
