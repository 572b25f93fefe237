/* SPDX-License-Identifier: MIT */
/* sanitize: untrusted text made safe for one log line. */
#include <string.h>

#include "util/sanitize.h"

char *sanitize_bytes_replacing(char *dst, size_t n, const void *src, size_t len, char replacement)
{
	const unsigned char *s = src;
	size_t i;

	if (n == 0)
		return dst;
	if (!s)
		len = 0;
	for (i = 0; i < len && i + 1 < n; i++)
		dst[i] = (s[i] < 0x20 || s[i] >= 0x7f) ? replacement : (char)s[i];
	dst[i] = '\0';
	return dst;
}

char *sanitize_bytes_for_log(char *dst, size_t n, const void *src, size_t len)
{
	return sanitize_bytes_replacing(dst, n, src, len, '?');
}

char *sanitize_for_log(char *dst, size_t n, const char *src)
{
	return sanitize_bytes_for_log(dst, n, src, src ? strlen(src) : 0);
}
