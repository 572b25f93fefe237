/* SPDX-License-Identifier: MIT */
/* config_listen: the parser of TCP listening addresses ([broker] metrics_listen). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tenancy/config_internal.h"
#include "util/inetaddr.h"

int config_parse_listen(struct config_parser *p, const struct config_key *k, const char *value,
			void *field, void *aux, bool append)
{
	struct sockaddr_storage sa;
	socklen_t len;
	char **f = field, *dup;

	(void)aux;
	(void)append;
	if (strcmp(value, "none") == 0) { /* the default, as --check-config prints it */
		free(*f);
		*f = NULL;
		return 0;
	}
	if (inetaddr_parse(value, &sa, &len) < 0)
		return config_key_error(p, k, -EINVAL,
					"'%s' is not a numeric HOST:PORT (127.0.0.1:9464, [::1]:9464)",
					value);
	dup = strdup(value);
	if (!dup)
		return -ENOMEM;
	free(*f);
	*f = dup;
	return 0;
}
