/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

/*
 * Logging to stderr, one line per call, with the <N> syslog priority prefix that journald
 * parses (sd-daemon.h's SD_ERR etc.). A line is formatted into a bounded buffer and written
 * with a single write(2), so lines never interleave. Never pass tokens, keys or record values.
 *
 * Functions follow "a function either logs or it does not": log_errno() returns the negative
 * errno it was given, so `return log_errno(LOG_ERR, r, "...")` logs and propagates.
 */

/* Lines above this priority (numerically greater) are dropped. Default LOG_INFO; LOG_SILENT
 * drops every line (fuzzers). */
#define LOG_SILENT (-1)
void log_set_max_level(int level);
int log_get_max_level(void);

/* Parses "emerg".."debug" (also "warn", "error", "crit"...) or a digit 0-7; -EINVAL otherwise. */
int log_level_from_name(const char *name);
const char *log_level_name(int level);

/* Whether a line at this level would be written (to skip costly formatting). */
static inline int log_enabled(int level)
{
	return level <= log_get_max_level();
}

void log_printf(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vprintf(int level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Logs fmt followed by ": <strerror(-r)>" and returns r (a negative errno). */
int log_errno(int level, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Buffered lines (the audit trail): formatted like log_printf but appended to a bounded
 * buffer that is written with one write(2) by log_flush(). Any unbuffered line flushes the
 * buffer first, so the order of lines is kept. The runtime flushes before it sends replies
 * (so an audit line is out before the reply it describes), when no reply will follow (the
 * client is gone), and at exit: a batch of pipelined requests costs one write, not one each.
 * `force` writes the line whatever the log level.
 */
void log_buffer_printf(int level, bool force, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void log_flush(void);
bool log_pending(void);

/*
 * The format of what is written (--log-format; the default is journal when stderr is the
 * journal, else text):
 *  - LOG_FORMAT_TEXT: "<N>message" lines, as above; records as "<N>tag: key=value ..." with
 *    every value a logfmt value (util/logfmt.h).
 *  - LOG_FORMAT_JSON: one JSON object per line, for container log collectors:
 *    {"time":"2026-11-30T06:00:00.123Z","level":"info","priority":6,"message":"..."}, a
 *    record's fields added as string members and "message" its text line. No <N> prefix.
 *  - LOG_FORMAT_JOURNAL: each line and record is one journal entry (sd_journal_sendv):
 *    MESSAGE= the text line, PRIORITY=, SYSLOG_IDENTIFIER=skybrokerd, and for a record
 *    SKYBROKER_<KEY>= each field's value as it is (the native protocol keeps any byte).
 *    Written at once, never buffered (each entry is one datagram to journald); an entry
 *    journald refuses is written to stderr as a text line instead. (When journald's socket
 *    is missing, sd_journal_sendv drops entries without an error: see
 *    log_journal_available.)
 * Whatever the format: never a token, a key or a record value.
 */
enum log_format {
	LOG_FORMAT_TEXT,
	LOG_FORMAT_JSON,
	LOG_FORMAT_JOURNAL,
};
void log_set_format(enum log_format f);
enum log_format log_get_format(void);
/* "text" (also "logfmt"), "json", "journal"; -EINVAL otherwise. */
int log_format_from_name(const char *name);
/* Whether stderr is connected to the journal: $JOURNAL_STREAM names stderr's device and
 * inode (systemd.exec(5)). */
bool log_stderr_is_journal(void);
/* Whether journald's native socket is there to take entries (/run/systemd/journal/socket). */
bool log_journal_available(void);

/* One field of a structured record. key: a literal of [a-z_]; value: text from anywhere
 * (NULL: "-"), escaped as each format wants unless raw (a number or a name we wrote);
 * journal: its journal name after SKYBROKER_ (NULL: key in upper case). */
struct log_field {
	const char *key;
	const char *value;
	bool raw;
	const char *journal;
};
#define LOG_RECORD_MAX_FIELDS 24

/*
 * A structured record (the audit trail): "tag: key=value ..." in text, one object in JSON,
 * one entry with SKYBROKER_* fields in the journal. force: whatever the log level.
 * buffered: as log_buffer_printf (text and JSON; the journal is written at once).
 */
void log_record(int level, bool force, bool buffered, const char *tag, const struct log_field *f,
		size_t n);

/* TEST ONLY: every line (with its "<N>" prefix, without the newline) goes to fn instead of
 * stderr; NULL restores stderr. userdata is borrowed while set. */
typedef void (*log_capture_fn)(const char *line, void *userdata);
void log_set_capture(log_capture_fn fn, void *userdata);

#define log_debug(...) log_printf(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_printf(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_printf(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_printf(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_printf(LOG_ERR, __VA_ARGS__)
