/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

/*
 * The one logfmt value writer, for every value of a key=value field in a log or audit line
 * that can carry text from outside (a subject's sub, a table name, an upstream request id, a
 * client's name), so that a line has exactly one of each key and stays one line:
 *
 *   - bare when src is non-empty and every byte is printable ASCII other than ' ', '=', '"'
 *     and '\\' (the common case: "U2abc", "acme", "ok");
 *   - else double-quoted, with '"' and '\\' written \" and \\, a newline, carriage return and
 *     tab written \n, \r and \t, and every other control byte, DEL and byte >= 0x80 written
 *     \xHH: "U2x outcome=ok", "" for the empty string.
 *
 * Writes into dst (size n >= 3; LOGFMT_MAX(len) holds any value of len bytes whole) and
 * returns dst, always NUL-terminated. A value too long for dst is cut before the byte that
 * does not fit, never inside an escape, and a quoted one keeps its closing quote. src NULL is
 * the empty string. Secrets never go through here: they are never logged.
 */
#define LOGFMT_MAX(len) (4 * (len) + 3)

char *logfmt_value(char *dst, size_t n, const char *src);

/* The same over a counted buffer (src need not be NUL-terminated; a NUL is written \x00). */
char *logfmt_bytes(char *dst, size_t n, const void *src, size_t len);
