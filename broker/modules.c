/* SPDX-License-Identifier: MIT */
#include <stddef.h>

#include "modules.h"
#include "tokens/tokensvc.h"

struct module {
	const char *name;
	int (*init)(void);
};

/* The list: one line per module (see modules.h). The runtime's own operations (ping,
 * health, stats) are registered by daemon_new through ops_register_builtin(). */
static const struct module modules[] = {
	{"tokensvc", tokensvc_module_init}, /* identity, JWKS, exchange, token cache */
	{NULL, NULL},
};

int modules_init(void)
{
	for (size_t i = 0; i < sizeof(modules) / sizeof(modules[0]); i++) {
		int r;
		if (!modules[i].init)
			continue;
		r = modules[i].init();
		if (r < 0)
			return r;
	}
	return 0;
}
