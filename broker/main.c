/* SPDX-License-Identifier: MIT */
/* main: skybrokerd's command line, start-up and exit. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tenancy/config.h"
#include "runtime/daemon.h"
#include "runtime/hygiene.h"
#include "util/log.h"
#include "modules.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: skybrokerd [OPTIONS]\n"
		"\n"
		"Token broker between MCP servers and a Skyflow vault (see skybrokerd(8)).\n"
		"\n"
		"  -c, --config FILE     configuration file (default " CONFIG_DEFAULT_PATH
		" if it exists,\n"
		"                        else one tenant from the environment)\n"
		"  -E, --no-config       build the configuration from the environment only\n"
		"  -t, --check-config    validate the configuration, print the effective one, exit\n"
		"  -l, --log-level LEVEL err, warning, notice, info or debug (overrides the config)\n"
		"      --allow-root      allow running as root (not recommended)\n"
		"  -h, --help            show this help\n"
		"  -V, --version         show the version\n");
}

int main(int argc, char **argv)
{
	enum { OPT_ALLOW_ROOT = 0x100 };
	static const struct option options[] = {
		{"config", required_argument, NULL, 'c'},
		{"no-config", no_argument, NULL, 'E'},
		{"check-config", no_argument, NULL, 't'},
		{"log-level", required_argument, NULL, 'l'},
		{"allow-root", no_argument, NULL, OPT_ALLOW_ROOT},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{},
	};
	const char *config_path = NULL;
	bool no_config = false, check = false, allow_root = false;
	struct broker_config *config = NULL;
	struct daemon *d = NULL;
	int c, r;

	while ((c = getopt_long(argc, argv, "c:Etl:hV", options, NULL)) >= 0) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'E':
			no_config = true;
			break;
		case 't':
			check = true;
			break;
		case 'l':
			r = log_level_from_name(optarg);
			if (r < 0) {
				fprintf(stderr, "skybrokerd: unknown log level '%s'\n", optarg);
				return 2;
			}
			log_set_max_level(r);
			daemon_log_level_locked = true;
			break;
		case OPT_ALLOW_ROOT:
			allow_root = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("skybrokerd %s (protocol 1)\n", SKYBROKER_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "skybrokerd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (config_path && no_config) {
		fprintf(stderr, "skybrokerd: --config and --no-config exclude each other\n");
		return 2;
	}
	if (!config_path && !no_config && access(CONFIG_DEFAULT_PATH, F_OK) == 0)
		config_path = CONFIG_DEFAULT_PATH;

	if (check) {
		r = config_path ? config_load_file(config_path, stderr, &config)
				: config_from_env(stderr, &config);
		if (r < 0) {
			fprintf(stderr, "skybrokerd: configuration from %s is invalid\n",
				config_path ? config_path : "the environment");
			return 1;
		}
		config_print(config, stdout);
		config_free(config);
		return 0;
	}

	if (hygiene_apply(allow_root) < 0)
		return 1;

	r = daemon_load_config(config_path, &config);
	if (r < 0) {
		log_error("configuration from %s is invalid; not starting",
			  config_path ? config_path : "the environment");
		return 1;
	}
	if (!daemon_log_level_locked)
		log_set_max_level(config->log_level);
	log_info("skybrokerd %s starting (pid %d, config %s)", SKYBROKER_VERSION, (int)getpid(),
		 config_path ? config_path : "from the environment");

	r = daemon_new(config, config_path, &d);
	if (r < 0) {
		log_error("start-up failed: %s", strerror(-r));
		return 1;
	}
	r = modules_init(daemon_event(d), daemon_upstream(d));
	if (r < 0)
		log_error("cannot initialise the operation modules: %s", strerror(-r));
	else {
		r = daemon_start(d);
		if (r < 0)
			log_error("start-up failed: %s", strerror(-r));
		else
			r = daemon_run(d);
	}
	/* Tenants (and their module state) first, then the modules, then the process state. */
	daemon_free(d);
	modules_done();
	log_info("skybrokerd stopped");
	return r == 0 ? 0 : 1;
}
