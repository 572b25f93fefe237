/* SPDX-License-Identifier: MIT */
/* fdlimit: whether max_connections fits RLIMIT_NOFILE, and the spare descriptor. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "runtime/fdlimit.h"
#include "util/cleanup.h"
#include "util/log.h"

/* Length of url's scheme://authority prefix: what libcurl keeps connections per. */
static size_t origin_len(const char *url)
{
	const char *p = strstr(url, "://");

	p = p ? p + 3 : url;
	return (size_t)(p - url) + strcspn(p, "/?#");
}

/* Whether url's origin is among v[0..n). */
static bool origin_seen(const char *const *v, size_t n, const char *url)
{
	size_t len = origin_len(url);

	for (size_t i = 0; i < n; i++)
		if (origin_len(v[i]) == len && strncmp(v[i], url, len) == 0)
			return true;
	return false;
}

/* Distinct hosts the tenants' URLs name (JWKS, STS, vault); a large guess without memory. */
static uint64_t upstream_hosts(const struct broker_config *c)
{
	_cleanup_free_ const char **v = calloc(3 * c->n_tenants + 1, sizeof(*v));
	size_t n = 0;

	if (!v)
		return 3 * c->n_tenants;
	for (size_t i = 0; i < c->n_tenants; i++) {
		const struct tenant_config *t = &c->tenants[i];
		const char *urls[] = {t->jwks_url, t->sts_url, t->vault_url};

		for (size_t k = 0; k < sizeof(urls) / sizeof(urls[0]); k++)
			if (urls[k] && !origin_seen(v, n, urls[k]))
				v[n++] = urls[k];
	}
	return n;
}

/* Everything but the client connections. */
static uint64_t fdlimit_reserve(const struct broker_config *c)
{
	uint64_t listeners = c->n_tenants + 2; /* each tenant's own, the shared, the admin */

	return listeners + c->upstream_max_per_host * upstream_hosts(c) + c->upstream_max_idle +
	       FDLIMIT_RESERVE;
}

uint64_t fdlimit_needed(const struct broker_config *c)
{
	return 2 * c->max_connections + fdlimit_reserve(c);
}

int fdlimit_check(const struct broker_config *c)
{
	uint64_t need = fdlimit_needed(c), reserve = fdlimit_reserve(c), fit;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return log_errno(LOG_ERR, -errno, "getrlimit(RLIMIT_NOFILE)");
	if (rl.rlim_cur < need && rl.rlim_cur < rl.rlim_max) {
		struct rlimit raised = {rl.rlim_max, rl.rlim_max};

		if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
			rl = raised;
		else
			log_warning("cannot raise RLIMIT_NOFILE to %llu: %m",
				    (unsigned long long)rl.rlim_max);
	}
	if (rl.rlim_cur >= need)
		return 0;
	fit = rl.rlim_cur > reserve ? (rl.rlim_cur - reserve) / 2 : 0;
	if (fit == 0)
		log_error("RLIMIT_NOFILE is %llu, and the sockets, upstream connections and files "
			  "alone need %llu descriptors: lower upstream_max_per_host, or raise "
			  "LimitNOFILE=",
			  (unsigned long long)rl.rlim_cur, (unsigned long long)reserve);
	else
		log_error("max_connections = %llu needs %llu descriptors (2 per connection and "
			  "%llu for the sockets, upstream connections and files), but RLIMIT_NOFILE "
			  "is %llu: lower max_connections to %llu, or raise LimitNOFILE=",
			  (unsigned long long)c->max_connections, (unsigned long long)need,
			  (unsigned long long)reserve, (unsigned long long)rl.rlim_cur,
			  (unsigned long long)fit);
	return -EMFILE;
}

int fdlimit_spare_open(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY);

	return fd < 0 ? -errno : fd;
}
