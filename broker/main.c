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
#include "util/hash.h"
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
		"      --log-format FMT  text (logfmt lines), json (one object a line) or journal\n"
		"                        (structured entries); default journal when stderr is the\n"
		"                        journal ($JOURNAL_STREAM), else text\n"
		"      --allow-root      allow running as root (not recommended)\n"
		"  -h, --help            show this help\n"
		"  -V, --version         show the version\n");
}

/* What the command line asks for. */
struct options {
	const char *config_path; /* NULL: the environment */
	bool check;
	bool allow_root;
};

/* Parses argv into *o. Returns -1 to go on, else the exit status (--help, --version, a usage
 * error: 0 or 2). */
static int parse_options(int argc, char **argv, struct options *o)
{
	enum { OPT_ALLOW_ROOT = 0x100, OPT_LOG_FORMAT };
	static const struct option options[] = {
		{"config", required_argument, NULL, 'c'},
		{"no-config", no_argument, NULL, 'E'},
		{"check-config", no_argument, NULL, 't'},
		{"log-level", required_argument, NULL, 'l'},
		{"allow-root", no_argument, NULL, OPT_ALLOW_ROOT},
		{"log-format", required_argument, NULL, OPT_LOG_FORMAT},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{},
	};
	bool no_config = false, log_format_set = false;
	int c, r;

	*o = (struct options){0};
	while ((c = getopt_long(argc, argv, "c:Etl:hV", options, NULL)) >= 0) {
		switch (c) {
		case 'c':
			o->config_path = optarg;
			break;
		case 'E':
			no_config = true;
			break;
		case 't':
			o->check = true;
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
			o->allow_root = true;
			break;
		case OPT_LOG_FORMAT:
			r = log_format_from_name(optarg);
			if (r < 0) {
				fprintf(stderr, "skybrokerd: unknown log format '%s'\n", optarg);
				return 2;
			}
			log_set_format((enum log_format)r);
			log_format_set = true;
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
	if (!log_format_set && log_stderr_is_journal())
		log_set_format(LOG_FORMAT_JOURNAL);
	if (log_get_format() == LOG_FORMAT_JOURNAL && !log_journal_available()) {
		/* libsystemd drops entries silently when journald is not there */
		log_set_format(LOG_FORMAT_TEXT);
		log_warning("--log-format=journal: no journald socket; logging text to stderr");
	}
	if (o->config_path && no_config) {
		fprintf(stderr, "skybrokerd: --config and --no-config exclude each other\n");
		return 2;
	}
	if (!o->config_path && !no_config && access(CONFIG_DEFAULT_PATH, F_OK) == 0)
		o->config_path = CONFIG_DEFAULT_PATH;
	return -1;
}

/* --check-config: errors on stderr, the effective configuration on stdout. */
static int check_config(const char *config_path)
{
	_cleanup_(config_unrefp) struct broker_config *config = NULL;
	int r;

	r = config_path ? config_load_file(config_path, stderr, &config)
			: config_from_env(stderr, &config);
	if (r < 0) {
		fprintf(stderr, "skybrokerd: configuration from %s is invalid\n",
			config_path ? config_path : "the environment");
		return 1;
	}
	config_print(config, stdout);
	return 0;
}

/* Builds the daemon from config (transferred), runs it, and takes it apart again: the tenants
 * (and their module state) first, then the modules, then the process state. */
static int run_daemon(struct broker_config *config, const char *config_path)
{
	struct daemon *d = NULL;
	int r;

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
	daemon_free(d);
	modules_done();
	log_info("skybrokerd stopped");
	return r == 0 ? 0 : 1;
}

static int main_inner(int argc, char **argv);

int main(int argc, char **argv)
{
	int r = main_inner(argc, argv);

	hash_done(); /* every path: --check-config hashes credentials too */
	return r;
}

static int main_inner(int argc, char **argv)
{
	struct broker_config *config = NULL;
	struct options o;
	int r;

	r = parse_options(argc, argv, &o);
	if (r >= 0)
		return r;
	if (o.check)
		return check_config(o.config_path);
	if (hygiene_apply(o.allow_root) < 0)
		return 1;
	r = daemon_load_config(o.config_path, &config);
	if (r < 0) {
		log_error("configuration from %s is invalid; not starting",
			  o.config_path ? o.config_path : "the environment");
		return 1;
	}
	if (!daemon_log_level_locked)
		log_set_max_level(config->log_level);
	log_info("skybrokerd %s starting (pid %d, config %s)", SKYBROKER_VERSION, (int)getpid(),
		 o.config_path ? o.config_path : "from the environment");
	return run_daemon(config, o.config_path);
}
