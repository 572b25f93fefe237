/* SPDX-License-Identifier: MIT */
#pragma once

#include <sys/socket.h>

/*
 * A TCP listening address written as "HOST:PORT": a numeric IPv4 address ("127.0.0.1:9464")
 * or a bracketed numeric IPv6 one ("[::1]:9464"); no names (no resolver at start or reload),
 * port 1-65535. Used by the configuration (to check metrics_listen) and by the metrics
 * listener (to bind it).
 */
#define INETADDR_MAX 64 /* longest text accepted */

/* Parses s into *ret and *ret_len. 0, or -EINVAL for anything else. */
int inetaddr_parse(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len);
