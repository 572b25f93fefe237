/* SPDX-License-Identifier: MIT */
/* inetaddr: "HOST:PORT" (numeric IPv4, or [IPv6]) into a socket address. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "util/inetaddr.h"

/* "1".."65535", digits only. */
static int parse_port(const char *s, in_port_t *ret)
{
	unsigned long v = 0;

	if (!*s || strlen(s) > 5)
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v == 0 || v > 65535)
		return -EINVAL;
	*ret = htons((in_port_t)v);
	return 0;
}

int inetaddr_parse(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len)
{
	char host[INETADDR_MAX + 1];
	const char *colon;
	in_port_t port;
	size_t n;

	if (!s || strlen(s) > INETADDR_MAX)
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ret;

		if (!close || close[1] != ':')
			return -EINVAL;
		n = (size_t)(close - s - 1);
		memcpy(host, s + 1, n);
		host[n] = '\0';
		if (parse_port(close + 2, &port) < 0 || inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
			return -EINVAL;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = port;
		*ret_len = sizeof(*a6);
		return 0;
	}
	colon = strrchr(s, ':');
	if (!colon || strchr(s, ':') != colon)
		return -EINVAL;
	n = (size_t)(colon - s);
	memcpy(host, s, n);
	host[n] = '\0';
	struct sockaddr_in *a4 = (struct sockaddr_in *)ret;
	if (parse_port(colon + 1, &port) < 0 || inet_pton(AF_INET, host, &a4->sin_addr) != 1)
		return -EINVAL;
	a4->sin_family = AF_INET;
	a4->sin_port = port;
	*ret_len = sizeof(*a4);
	return 0;
}
