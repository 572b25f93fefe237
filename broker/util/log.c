/* SPDX-License-Identifier: MIT */
/* log: one stderr line per write with a <N> priority prefix; the buffered audit trail. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util/log.h"

#define LOG_LINE_MAX 2048

static int log_max_level = LOG_INFO;
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

/* Formats one line with its prefix and newline into line (LOG_LINE_MAX); returns its length. */
static __attribute__((format(printf, 3, 0))) size_t format_line(char *line, int level,
							       const char *fmt, va_list ap)
{
	int n, m;

	n = snprintf(line, LOG_LINE_MAX, "<%d>", level);
	m = vsnprintf(line + n, LOG_LINE_MAX - (size_t)n - 1, fmt, ap);
	if (m < 0)
		m = 0;
	if ((size_t)m >= LOG_LINE_MAX - (size_t)n - 1)
		m = (int)(LOG_LINE_MAX - (size_t)n - 2); /* truncated */
	n += m;
	/* A message must stay one line for journald. */
	for (int i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[n++] = '\n';
	return (size_t)n;
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
	char line[LOG_LINE_MAX];
	size_t n;

	if (!log_enabled(level))
		return;
	n = format_line(line, level, fmt, ap);
	log_flush(); /* keep the order of lines */
	log_write_line(line, n);
}

void log_buffer_printf(int level, bool force, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	va_list ap;
	size_t n;

	if (!force && !log_enabled(level))
		return;
	va_start(ap, fmt);
	n = format_line(line, level, fmt, ap);
	va_end(ap);
	if (n > LOG_BUFFER_SIZE - pending_len)
		log_flush();
	memcpy(pending + pending_len, line, n);
	pending_len += n;
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
