/* SPDX-License-Identifier: MIT */
/*
 * The log formats: --log-format=json writes one JSON object a line (the audit records with
 * their fields, plain lines with their message), and when stderr is the journal the audit
 * records are structured journal entries (SKYBROKER_TENANT=, SKYBROKER_OP=,
 * SKYBROKER_OUTCOME=, SKYBROKER_REQUEST_ID=, ... plus MESSAGE=), shown with a private
 * systemd-journald started in a mount namespace of its own (skipped where the machine does
 * not allow one). Neither format carries a token.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <jansson.h>

#include "metrics_test.h"

#define BAD_TOKEN "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"

/* One ping and one exchange with a token that fails validation, on a new connection. */
static void some_requests(const struct sbt_daemon *d)
{
	struct sbt_client *c = sbt_connect_hello(d->socket);
	struct sb_request req = {.op = SB_OP_EXCHANGE};
	struct sb_reply rep;

	assert_int_equal(sbt_ping(c), 0);
	req.u.exchange.subject_token = BAD_TOKEN;
	assert_true(sbt_send(c, &req) > 0);
	assert_int_equal(sbt_recv(c, &rep), 0);
	assert_false(rep.ok);
	sb_reply_done(&rep);
	sbt_client_free(c);
}

static void test_json_lines(void **state)
{
	static const char *const names[] = {"acme"}, *const extra[] = {"allow_uids = 0\n"};
	static const char *const args[] = {"--log-format=json", NULL};
	struct sbt_daemon d;
	char conf[4096], line[16384];
	bool audit_ping = false, audit_exchange = false, plain = false;
	size_t lines = 0;
	FILE *f;

	(void)state;
	sbt_daemon_init(&d);
	sbt_config(&d, conf, sizeof(conf), NULL, 1, names, extra);
	assert_int_equal(sbt_daemon_start(&d, conf, args), 0);
	some_requests(&d);
	assert_int_equal(sbt_log_wait(&d, "\"op\":\"exchange\"", SBT_TIMEOUT_MS), 0);

	f = fopen(d.log, "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		json_error_t err;
		json_t *o = json_loads(line, 0, &err);
		const char *msg, *op;

		if (!o)
			fprintf(stderr, "not JSON: %s", line);
		assert_non_null(o);
		lines++;
		assert_non_null(json_string_value(json_object_get(o, "time")));
		assert_non_null(json_string_value(json_object_get(o, "level")));
		assert_true(json_is_integer(json_object_get(o, "priority")));
		msg = json_string_value(json_object_get(o, "message"));
		assert_non_null(msg);
		op = json_string_value(json_object_get(o, "op"));
		if (strcmp(msg, "audit") == 0 && op && strcmp(op, "ping") == 0) {
			assert_string_equal(json_string_value(json_object_get(o, "tenant")), "acme");
			assert_string_equal(json_string_value(json_object_get(o, "outcome")), "ok");
			assert_non_null(json_string_value(json_object_get(o, "id")));
			assert_non_null(json_string_value(json_object_get(o, "latency_us")));
			audit_ping = true;
		}
		if (strcmp(msg, "audit") == 0 && op && strcmp(op, "exchange") == 0) {
			assert_string_equal(json_string_value(json_object_get(o, "outcome")),
					    "unauthenticated");
			audit_exchange = true;
		}
		if (strstr(msg, "starting"))
			plain = true;
		json_decref(o);
	}
	fclose(f);
	assert_true(lines > 3);
	assert_true(audit_ping && audit_exchange && plain);
	assert_false(sbt_log_contains(&d, BAD_TOKEN));
	assert_false(sbt_log_contains(&d, "eyJ"));
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

/* Runs skybrokerd with its stderr on a private journald's stream socket, in a mount
 * namespace where /run is a fresh tmpfs and /run/log/journal is jdir. */
static const char JOURNAL_SCRIPT[] =
	"set -e\n"
	"mount -t tmpfs tmpfs /run\n"
	"mkdir -p /run/systemd/journal /run/log/journal\n"
	"mount --bind \"$JDIR\" /run/log/journal\n"
	/* its own settings: no kernel messages, nothing forwarded */
	"printf '[Journal]\\nStorage=volatile\\nReadKMsg=no\\nForwardToSyslog=no\\n"
	"ForwardToKMsg=no\\nForwardToConsole=no\\nForwardToWall=no\\n' >\"$JDIR.conf\"\n"
	"mount --bind \"$JDIR.conf\" /etc/systemd/journald.conf\n"
	/* not the test's NOTIFY_SOCKET: that READY=1 is skybrokerd's to send */
	"env -u NOTIFY_SOCKET /lib/systemd/systemd-journald </dev/null >\"$JDIR.log\" 2>&1 &\n"
	"echo $! >\"$JDIR.pid\"\n"
	"i=0; while [ ! -S /run/systemd/journal/stdout ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done\n"
	"exec systemd-cat -t skybrokerd /bin/sh -c "
	"'export JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2); "
	"exec \"$SKYBROKERD\" --config \"$CONF\" --allow-root'\n";

static bool journal_possible(void)
{
	char out[256];

	if (access("/lib/systemd/systemd-journald", X_OK) != 0 ||
	    access("/usr/bin/journalctl", X_OK) != 0 || access("/usr/bin/unshare", X_OK) != 0 ||
	    access("/usr/bin/systemd-cat", X_OK) != 0 || geteuid() != 0)
		return false;
	return sbt_run((const char *const[]){"/usr/bin/unshare", "--mount", "/bin/sh", "-c",
					      "mount -t tmpfs tmpfs /run", NULL},
		       NULL, out, sizeof(out)) == 0;
}

static pid_t read_pid(const char *path)
{
	char buf[32] = "";
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return (pid_t)strtol(buf, NULL, 10);
}

/* Every entry of the journal in jdir, as JSON lines, into out. */
static void journal_read(const char *jdir, char *out, size_t size)
{
	assert_int_equal(sbt_run((const char *const[]){"/usr/bin/journalctl", "-D", jdir, "-o",
						       "json", "--no-pager", NULL},
				 NULL, out, size), 0);
}

/* The journal entry (JSON) whose SKYBROKER_OP is op, or NULL (caller json_decref). */
static json_t *find_entry(char *text, const char *op)
{
	for (char *p = text, *nl; p && *p; p = nl ? nl + 1 : NULL) {
		json_t *o;
		const char *v;

		nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		o = json_loads(p, 0, NULL);
		v = json_string_value(json_object_get(o, "SKYBROKER_OP"));
		if (v && strcmp(v, op) == 0)
			return o;
		json_decref(o);
	}
	return NULL;
}

static struct sbt_daemon jd; /* the journal test's daemon, for the teardown */
static char jpidfile[PATH_MAX + 8];
static pid_t jpid; /* its journald */

/* After the journal test, passed or failed: nothing it started is left running. */
static int journal_teardown(void **state)
{
	(void)state;
	if (jpid <= 0 && jpidfile[0])
		jpid = read_pid(jpidfile);
	if (jd.pid > 0 && !jd.exited)
		sbt_daemon_stop(&jd);
	if (jpid > 0)
		kill(jpid, SIGTERM);
	jpid = 0;
	return 0;
}

static void test_journal_entries(void **state)
{
	static const char *const names[] = {"acme"}, *const extra[] = {"allow_uids = 0\n"};
	struct sbt_daemon *d = &jd;
	char conf[4096], jdir[PATH_MAX], jdir_env[PATH_MAX + 8], conf_env[PATH_MAX + 8],
		bin_env[PATH_MAX + 16];
	static char text[1 << 20];
	json_t *e;

	(void)state;
	if (!journal_possible())
		skip();
	sbt_daemon_init(d);
	sbt_config(d, conf, sizeof(conf), NULL, 1, names, extra);
	sbt_write_file(d->conf, conf, 0644);
	snprintf(jdir, sizeof(jdir), "%s/journal", d->dir);
	assert_int_equal(mkdir(jdir, 0755), 0);
	snprintf(jdir_env, sizeof(jdir_env), "JDIR=%s", jdir);
	snprintf(conf_env, sizeof(conf_env), "CONF=%s", d->conf);
	snprintf(bin_env, sizeof(bin_env), "SKYBROKERD=%s", sbt_daemon_path());
	snprintf(jpidfile, sizeof(jpidfile), "%s.pid", jdir);
	assert_int_equal(sbt_daemon_spawn(d, (const char *const[]){"/usr/bin/unshare", "--mount",
								    "/bin/sh", "-c",
								    JOURNAL_SCRIPT, NULL},
					  (const char *const[]){jdir_env, conf_env, bin_env, NULL}),
			 0);
	assert_int_equal(sbt_daemon_wait_notify(d, "READY=1", SBT_TIMEOUT_MS), 0);
	jpid = read_pid(jpidfile); /* written before skybrokerd started */
	some_requests(d);
	sbt_daemon_kill(d, SIGTERM);
	assert_int_equal(sbt_daemon_wait_exit(d, SBT_TIMEOUT_MS), 0);

	journal_read(jdir, text, sizeof(text));
	e = find_entry(text, "ping");
	if (!e)
		fprintf(stderr, "journal:\n%s\n", text);
	assert_non_null(e);
	assert_string_equal(json_string_value(json_object_get(e, "SKYBROKER_TENANT")), "acme");
	assert_string_equal(json_string_value(json_object_get(e, "SKYBROKER_OUTCOME")), "ok");
	assert_non_null(json_string_value(json_object_get(e, "SKYBROKER_REQUEST_ID")));
	assert_non_null(json_string_value(json_object_get(e, "SKYBROKER_LATENCY_US")));
	assert_string_equal(json_string_value(json_object_get(e, "_TRANSPORT")), "journal");
	assert_string_equal(json_string_value(json_object_get(e, "PRIORITY")), "6");
	assert_string_equal(json_string_value(json_object_get(e, "SYSLOG_IDENTIFIER")), "skybrokerd");
	assert_true(strncmp(json_string_value(json_object_get(e, "MESSAGE")), "audit: conn=", 12) == 0);
	json_decref(e);
	journal_read(jdir, text, sizeof(text));
	e = find_entry(text, "exchange");
	assert_non_null(e);
	assert_string_equal(json_string_value(json_object_get(e, "SKYBROKER_OUTCOME")),
			    "unauthenticated");
	json_decref(e);
	journal_read(jdir, text, sizeof(text));
	assert_null(strstr(text, BAD_TOKEN));
	assert_null(strstr(text, "eyJ"));
	sbt_daemon_stop(d);
}

/* --log-format=journal where no journald listens: libsystemd would drop every entry without a
 * word, so skybrokerd says so and logs text to stderr instead. (A mount namespace with an
 * empty /run makes "no journald" true on any machine.) */
static void test_journal_missing_falls_back_to_text(void **state)
{
	static char out[8192];
	char cmd[PATH_MAX + 128];

	(void)state;
	if (!journal_possible())
		skip();
	snprintf(cmd, sizeof(cmd),
		 "mount -t tmpfs tmpfs /run && exec %s --log-format=journal --no-config --allow-root",
		 sbt_daemon_path());
	/* the environment names no tenant: it refuses to start, which is all the logging we need */
	assert_int_equal(sbt_run((const char *const[]){"/usr/bin/unshare", "--mount", "/bin/sh",
						       "-c", cmd, NULL},
				 (const char *const[]){"DESCOPE_PROJECT_ID=", NULL}, out, sizeof(out)),
			 1);
	assert_non_null(strstr(out, "<4>--log-format=journal: no journald socket"));
	assert_non_null(strstr(out, "<3>configuration from the environment is invalid"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_lines),
		cmocka_unit_test_teardown(test_journal_entries, journal_teardown),
		cmocka_unit_test(test_journal_missing_falls_back_to_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
