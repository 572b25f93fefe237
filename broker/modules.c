/* SPDX-License-Identifier: MIT */
/* modules: the table of operation modules, initialised in order and done in reverse. */
#include <stddef.h>

#include "metrics/metrics.h"
#include "modules.h"
#include "tokens/tokensvc.h"
#include "vault/vault.h"

struct module {
	const char *name;
	int (*init)(sd_event *event, struct upstream *upstream);
	void (*done)(void);
};

/* The list: one line per module (see modules.h). The runtime's own operations (ping,
 * health, stats) are registered by daemon_new through ops_register_builtin(). */
static const struct module modules[] = {
	{"tokensvc", tokensvc_module_init, tokensvc_module_done}, /* identity, JWKS, exchange, token cache */
	{"vault", vault_module_init, vault_module_done}, /* the Data API operations and the tenant's policy */
	{"metrics", metrics_module_init, metrics_module_done}, /* counters, exposition, health detail */
};

#define N_MODULES (sizeof(modules) / sizeof(modules[0]))

static size_t n_initialised;

int modules_init(sd_event *event, struct upstream *upstream)
{
	for (size_t i = 0; i < N_MODULES; i++) {
		int r = modules[i].init(event, upstream);
		if (r < 0) {
			modules_done();
			return r;
		}
		n_initialised = i + 1;
	}
	return 0;
}

void modules_done(void)
{
	while (n_initialised > 0)
		modules[--n_initialised].done();
}
