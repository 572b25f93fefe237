/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

/*
 * The one sanitiser for text that came from outside (a client name, an upstream message or
 * request id, a kid) before it goes into a log line, an audit line or an error message: copies
 * src into dst (size n >= 1, always NUL-terminated), replacing control characters, DEL and
 * bytes >= 0x80 by '?', truncating to n - 1 bytes. Returns dst. src NULL gives "".
 * Nobody can forge a log line or smuggle terminal escapes through it.
 */
char *sanitize_for_log(char *dst, size_t n, const char *src);

/* The same over a counted buffer (src need not be NUL-terminated; NULs become '?'). */
char *sanitize_bytes_for_log(char *dst, size_t n, const void *src, size_t len);

/* The same with another replacement for what is not printable ASCII: ' ' keeps words apart in
 * a message shown to a client (exchange.c's upstream messages). */
char *sanitize_bytes_replacing(char *dst, size_t n, const void *src, size_t len, char replacement);
