/* SPDX-License-Identifier: MIT */
/* test_config_hardening: what the outside review of the configuration found (issue 9). */
/*
 *  - an empty list turned a check off: "audience =" (or "audience = ,") loaded as no audience
 *    at all, so any aud passed; "allow_tables =" as any table. An empty list is now an error,
 *    as it was for allow_uids and allow_gids, in a file and in the environment;
 *  - --check-config let broken values through: "ca_file = /nonexistent" (no tenant could
 *    ever get ready), "jwks_url = https://" (no host); URLs are now parsed by libcurl's URL
 *    API and need a host, ca_file must be an absolute path to a readable regular file;
 *  - a URL with a user name and password loaded and --check-config printed it in full: a
 *    URL with userinfo is now an error, and no message echoes the password;
 *  - a credentials file was checked for its mode only: one owned by another user, or in a
 *    directory others can write to (where they can swap it), loaded. It must now be owned
 *    by root or the daemon's user, and so must every directory above it, none of them
 *    writable by group or others (but a root-owned sticky one above its own, like /tmp).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "config_load.h"

#include "tenancy/config.h"
#include "util/cleanup.h"

/* Loads text, expecting a failure whose messages hold want. */
static void expect_error(const char *text, const char *want)
{
	struct broker_config *c = (struct broker_config *)1;

	if (load(text, &c) >= 0 || !strstr(errbuf, want))
		print_message("%s\nloaded: %s; messages:\n%s", text, c ? "yes" : "no", errbuf);
	assert_null(c);
	assert_non_null(strstr(errbuf, want));
}

/* config_print(c) into a string the caller frees. */
static char *print(const struct broker_config *c)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	config_print(c, f);
	assert_int_equal(fclose(f), 0);
	return text;
}

static void env_clear(void)
{
	static const char *const vars[] = {
		"DESCOPE_PROJECT_ID", "SKYFLOW_VAULT_URL_IDENTIFIER", "SKYFLOW_VAULT_URL",
		"SKYFLOW_VAULT_ID", "SKYFLOW_SERVICE_ACCOUNT_ID", "SKYFLOW_STS_URL",
		"SKYBROKER_ALLOW_UIDS", "SKYBROKER_AUDIENCE", "SKYBROKER_ALLOW_TABLES",
		"SKYBROKER_CONTEXT_CLAIMS", "SKYBROKER_JWKS_URL", "DESCOPE_BASE_URL",
		"SKYBROKER_CA_FILE", "SKYBROKER_CREDENTIALS_FILE", "SKYBROKER_EXCHANGE",
		"SKYBROKER_INSECURE_HTTP",
	};

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
}

/* config_from_env with a valid tenant plus var=value (var NULL: nothing more). */
static int load_env(const char *var, const char *value, struct broker_config **ret)
{
	FILE *f;
	int r;

	env_clear();
	setenv("DESCOPE_PROJECT_ID", "P9", 1);
	setenv("SKYFLOW_VAULT_URL_IDENTIFIER", "abc", 1);
	setenv("SKYFLOW_VAULT_ID", "v9", 1);
	setenv("SKYFLOW_SERVICE_ACCOUNT_ID", "sa9", 1);
	setenv("SKYFLOW_STS_URL", "https://sts.example.com", 1);
	setenv("SKYBROKER_ALLOW_UIDS", "0", 1);
	if (var)
		setenv(var, value, 1);
	memset(errbuf, 0, sizeof(errbuf));
	f = fmemopen(errbuf, sizeof(errbuf), "w");
	assert_non_null(f);
	r = config_from_env(f, ret);
	fclose(f);
	env_clear();
	return r;
}

static void expect_env_error(const char *var, const char *value, const char *want)
{
	struct broker_config *c = (struct broker_config *)1;

	if (load_env(var, value, &c) >= 0 || !strstr(errbuf, want))
		print_message("%s='%s' loaded: %s; messages:\n%s", var, value, c ? "yes" : "no",
			      errbuf);
	assert_null(c);
	assert_non_null(strstr(errbuf, want));
}

/* ---------------------------------------------------------------- 5. empty lists */

static void test_empty_audience_is_an_error(void **state)
{
	(void)state;
	/* both used to load with no audience, which turns the aud check off */
	expect_error("[tenant.a]\n" TENANT "audience =\n", "t.conf:8: audience: empty list");
	expect_error("[tenant.a]\n" TENANT "audience = ,\n", "t.conf:8: audience: empty list");
	expect_error("[tenant.a]\n" TENANT "audience = , ,\t,\n", "t.conf:8: audience: empty list");
	/* an empty line among given ones is a mistake as well */
	expect_error("[tenant.a]\n" TENANT "audience = a1\naudience = ,\n",
		     "t.conf:9: audience: empty list");
	/* the same from the environment */
	expect_env_error("SKYBROKER_AUDIENCE", "", "environment: SKYBROKER_AUDIENCE: audience: "
						   "empty list");
	expect_env_error("SKYBROKER_AUDIENCE", " , ", "environment: SKYBROKER_AUDIENCE: audience: "
						      "empty list");
}

static void test_other_empty_lists_are_errors(void **state)
{
	(void)state;
	/* "allow_tables =" used to mean any table */
	expect_error("[tenant.a]\n" TENANT "allow_tables =\n", "t.conf:8: allow_tables: empty list");
	expect_error("[tenant.a]\n" TENANT "allow_tables = persons\nallow_tables = ,\n",
		     "t.conf:9: allow_tables: empty list");
	expect_error("[tenant.a]\n" TENANT "exchange = sts\ncontext_claims = ,\n",
		     "t.conf:9: context_claims: empty list");
	expect_env_error("SKYBROKER_ALLOW_TABLES", ",", "SKYBROKER_ALLOW_TABLES: allow_tables: "
							"empty list");
	expect_env_error("SKYBROKER_CONTEXT_CLAIMS", "", "SKYBROKER_CONTEXT_CLAIMS: context_claims: "
							 "empty list");
}

static void test_unset_lists_still_load_and_print_loadably(void **state)
{
	_cleanup_(config_unrefp) struct broker_config *c = NULL, *c2 = NULL, *e = NULL;
	_cleanup_free_ char *text = NULL;

	(void)state;
	/* no audience key: no audience check, as documented; the printed config says so and
	 * loads again (it used to print "audience =", which now would not load) */
	assert_int_equal(load("[tenant.a]\n" TENANT, &c), 0);
	assert_int_equal(c->tenants[0].audience.n, 0);
	assert_int_equal(c->tenants[0].context_claims.n, 0);
	text = print(c);
	assert_null(strstr(text, "\naudience =\n"));
	assert_null(strstr(text, "\ncontext_claims =\n"));
	assert_non_null(strstr(text, "\n# audience: "));
	if (load(text, &c2) < 0)
		print_message("%s\n---\n%s", text, errbuf);
	assert_non_null(c2);
	assert_int_equal(c2->tenants[0].audience.n, 0);
	/* a real list still loads */
	assert_int_equal(load_env("SKYBROKER_AUDIENCE", "a1, a2", &e), 0);
	assert_int_equal(e->tenants[0].audience.n, 2);
}


/* ---------------------------------------------------------------- 7. broken values */

static char tmpdir[] = "/tmp/test_config_hardening.XXXXXX";
static char ca_path[sizeof(tmpdir) + 16];

static int setup(void **state)
{
	FILE *f;

	(void)state;
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(ca_path, sizeof(ca_path), "%s/ca.pem", tmpdir);
	f = fopen(ca_path, "we");
	if (!f)
		return -1;
	fputs("-----BEGIN CERTIFICATE-----\n", f);
	fclose(f);
	return chmod(ca_path, 0600);
}

static int teardown(void **state)
{
	const char *argv[] = {"rm", "-rf", tmpdir, NULL};
	pid_t pid;
	int status;

	(void)state;
	pid = fork(); /* the tests make a tree of files, links and odd modes */
	if (pid == 0) {
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
			       WEXITSTATUS(status) == 0
		       ? 0
		       : -1;
}

/* A valid tenant with `line` on line 2 of the file (and no other vault_url or sts_url when
 * it sets one), into buf. */
static const char *with_line(char *buf, size_t size, const char *line)
{
	snprintf(buf, size,
		 "[tenant.a]\n%s\n"
		 "descope_project_id = P1\nvault_id = v1\nservice_account_id = sa1\n"
		 "allow_uids = 1000\n%s%s",
		 line, strncmp(line, "vault_url", 9) ? "vault_url = https://v.example.com\n" : "",
		 strncmp(line, "sts_url", 7) ? "sts_url = https://sts.example.com\n" : "");
	return buf;
}

static void test_urls_without_a_host_are_refused(void **state)
{
	static const char *const bad[] = {
		"jwks_url = https://",          /* used to load */
		"jwks_url = https:///jwks.json", /* used to load */
		"vault_url = https://:443",     /* used to load */
		"descope_base_url = https://?x", /* used to load */
		"sts_url = https:// x",
		"sts_url = https://sts.example.com:99999/t", /* used to load */
		"sts_url = https://[::1/t",                  /* used to load */
	};
	char text[1024];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char want[64];
		snprintf(want, sizeof(want), "t.conf:2: %.*s:", (int)strcspn(bad[i], " "), bad[i]);
		expect_error(with_line(text, sizeof(text), bad[i]), want);
	}
	expect_env_error("SKYBROKER_JWKS_URL", "https://", "environment: SKYBROKER_JWKS_URL: "
							   "jwks_url:");
	expect_env_error("SKYFLOW_STS_URL", "https://", "environment: SKYFLOW_STS_URL: sts_url:");
}

static void test_good_urls_still_load(void **state)
{
	_cleanup_(config_unrefp) struct broker_config *c = NULL, *e = NULL;
	char text[1024];

	(void)state;
	assert_int_equal(load(with_line(text, sizeof(text),
					"jwks_url = https://[::1]:8443/p/.well-known/jwks.json\n"
					"descope_base_url = https://auth.example.com:8443/base/\n"
					"insecure_http = yes\n"
					"issuer = http://127.0.0.1:1/x"),
			      &c),
			 0);
	assert_string_equal(c->tenants[0].descope_base_url, "https://auth.example.com:8443/base");
	assert_int_equal(load_env("SKYBROKER_JWKS_URL", "https://a.example.com/j?k=v", &e), 0);
	assert_string_equal(e->tenants[0].jwks_url, "https://a.example.com/j?k=v");
}

static void test_urls_with_userinfo_are_refused_without_echo(void **state)
{
	static const char *const bad[] = {
		"sts_url = https://user:s3cretpass@sts.example.com/x", /* used to load */
		"jwks_url = https://s3cretpass@a.example.com/jwks",    /* used to load */
		"vault_url = https://:s3cretpass@v.example.com",       /* used to load */
		"sts_url = https://user:s3cretpass@",
		"sts_url = https://user:s3cretpass@ho st/x",
		"sts_url = https://user:s3cret/pass@host/x",
		"sts_url = https:/user:s3cretpass@host/x",
		"sts_url = ftp://user:s3cretpass@host/x",
		"sts_url = https://user:s3cretpass@host:99999/x",
	};
	static const char *const env[][2] = {
		{"SKYFLOW_STS_URL", "https://u:s3cretpass@sts.example.com"},
		{"SKYFLOW_VAULT_URL", "https://u:s3cretpass@v.example.com"},
		{"DESCOPE_BASE_URL", "https://u:s3cretpass@d.example.com"},
		{"SKYBROKER_JWKS_URL", "https://u:s3cretpass@j.example.com/jwks"},
	};
	char text[1024];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char want[64];
		snprintf(want, sizeof(want), "t.conf:2: %.*s:", (int)strcspn(bad[i], " "), bad[i]);
		expect_error(with_line(text, sizeof(text), bad[i]), want);
		if (strstr(errbuf, "s3cret") || strstr(errbuf, "user:"))
			print_message("%s\n", errbuf);
		assert_null(strstr(errbuf, "s3cret"));
		assert_null(strstr(errbuf, "user:"));
	}
	/* the well-formed ones say why, and show where the userinfo was */
	expect_error(with_line(text, sizeof(text), bad[0]),
		     "sts_url: 'https://***@sts.example.com/x' has a user name or password");
	for (size_t i = 0; i < sizeof(env) / sizeof(env[0]); i++) {
		char want[64];
		snprintf(want, sizeof(want), "environment: %s: ", env[i][0]);
		expect_env_error(env[i][0], env[i][1], want);
		assert_null(strstr(errbuf, "s3cret"));
	}
}

static void test_ca_file_must_be_a_readable_file(void **state)
{
	_cleanup_(config_unrefp) struct broker_config *c = NULL;
	char text[1024], line[256];

	(void)state;
	/* used to load: no tenant could ever get ready */
	expect_error(with_line(text, sizeof(text), "ca_file = /nonexistent"),
		     "t.conf:2: ca_file: /nonexistent: No such file or directory");
	expect_error(with_line(text, sizeof(text), "ca_file = ca.pem"),
		     "t.conf:2: ca_file: 'ca.pem' is not an absolute path");
	snprintf(line, sizeof(line), "ca_file = %s", tmpdir);
	expect_error(with_line(text, sizeof(text), line), "is not a regular file");
	expect_env_error("SKYBROKER_CA_FILE", "/nonexistent",
			 "environment: SKYBROKER_CA_FILE: ca_file: /nonexistent: No such file");
	snprintf(line, sizeof(line), "ca_file = %s", ca_path);
	assert_int_equal(load(with_line(text, sizeof(text), line), &c), 0);
	assert_string_equal(c->tenants[0].ca_file, ca_path);
}

/* In a child under another uid: the root-only ca_file is not readable. */
static void test_ca_file_unreadable(void **state)
{
	char text[1024], line[256];
	pid_t pid;
	int status;

	(void)state;
	if (geteuid() != 0)
		skip();
	snprintf(line, sizeof(line), "ca_file = %s", ca_path);
	with_line(text, sizeof(text), line);
	assert_int_equal(chmod(tmpdir, 0755), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct broker_config *c = NULL;
		if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
			_exit(2);
		if (load(text, &c) >= 0)
			_exit(3);
		_exit(strstr(errbuf, "t.conf:2: ca_file:") && strstr(errbuf, "Permission denied")
			      ? 0
			      : 4);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(chmod(tmpdir, 0700), 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---------------------------------------------------------------- 6. credentials files */

#define OTHER_UID 12345u

/* tmpdir/rel, a directory with mode and owner uid (made if missing). */
static const char *mkdir_as(char *buf, size_t size, const char *rel, mode_t mode, uid_t uid)
{
	snprintf(buf, size, "%s/%s", tmpdir, rel);
	if (mkdir(buf, 0700) < 0)
		assert_int_equal(errno, EEXIST);
	assert_int_equal(chown(buf, uid, 0), 0);
	assert_int_equal(chmod(buf, mode), 0); /* after chown, which may clear mode bits */
	return buf;
}

/* tmpdir/rel, a file with mode and owner uid. */
static const char *file_as(char *buf, size_t size, const char *rel, mode_t mode, uid_t uid)
{
	int fd;

	snprintf(buf, size, "%s/%s", tmpdir, rel);
	fd = open(buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{}\n", 3), 3);
	close(fd);
	assert_int_equal(chown(buf, uid, 0), 0);
	assert_int_equal(chmod(buf, mode), 0);
	return buf;
}

/* Loads a ctx tenant with credentials_file = value: 0 or the loader's error. */
static int load_credentials(const char *value)
{
	_cleanup_(config_unrefp) struct broker_config *c = NULL;
	char text[1024], line[600];

	snprintf(line, sizeof(line), "exchange = ctx\ncredentials_file = %s", value);
	return load(with_line(text, sizeof(text), line), &c);
}

static void expect_credentials_error(const char *value, const char *want)
{
	if (load_credentials(value) >= 0 || !strstr(errbuf, want))
		print_message("credentials_file = %s: %s", value, errbuf);
	assert_true(load_credentials(value) < 0);
	assert_non_null(strstr(errbuf, want));
	assert_non_null(strstr(errbuf, "t.conf:3: credentials_file: "));
}

static void expect_credentials_ok(const char *value)
{
	if (load_credentials(value) < 0)
		print_message("credentials_file = %s: %s", value, errbuf);
	assert_int_equal(load_credentials(value), 0);
}

static void test_credentials_owner_and_directories(void **state)
{
	char d[256], f[256], l[256];

	(void)state;
	if (geteuid() != 0)
		skip(); /* chown needs root */
	mkdir_as(d, sizeof(d), "ok", 0700, 0);
	expect_credentials_ok(file_as(f, sizeof(f), "ok/sa.json", 0600, 0));
	expect_credentials_ok(file_as(f, sizeof(f), "ok/ro.json", 0400, 0));

	/* a file of another user: it can rewrite it (used to load) */
	expect_credentials_error(file_as(f, sizeof(f), "ok/other.json", 0600, OTHER_UID),
				 "is owned by uid 12345, neither root nor the daemon's user");

	/* in a directory others can write to, sticky or not, or that another user owns: they
	 * can swap the file (each used to load) */
	mkdir_as(d, sizeof(d), "open", 0777, 0);
	expect_credentials_error(file_as(f, sizeof(f), "open/sa.json", 0600, 0),
				 "open is writable by group or others (mode 0777)");
	mkdir_as(d, sizeof(d), "sticky", 01777, 0);
	expect_credentials_error(file_as(f, sizeof(f), "sticky/sa.json", 0600, 0),
				 "sticky is writable by group or others (mode 1777)");
	mkdir_as(d, sizeof(d), "group", 0770, 0);
	expect_credentials_error(file_as(f, sizeof(f), "group/sa.json", 0600, 0),
				 "group is writable by group or others (mode 0770)");
	mkdir_as(d, sizeof(d), "foreign", 0700, OTHER_UID);
	expect_credentials_error(file_as(f, sizeof(f), "foreign/sa.json", 0600, 0),
				 "foreign is owned by uid 12345, neither root nor the daemon's user");

	/* further up: a writable directory lets others rename the one below (used to load) */
	mkdir_as(d, sizeof(d), "wide", 0777, 0);
	mkdir_as(d, sizeof(d), "wide/inner", 0700, 0);
	expect_credentials_error(file_as(f, sizeof(f), "wide/inner/sa.json", 0600, 0),
				 "wide is writable by group or others (mode 0777)");
	/* but a root-owned sticky one (as /tmp, where all of this lives) does not */
	mkdir_as(d, sizeof(d), "sticky/inner", 0700, 0);
	expect_credentials_ok(file_as(f, sizeof(f), "sticky/inner/sa.json", 0600, 0));
	mkdir_as(d, sizeof(d), "stickyother", 01777, OTHER_UID);
	mkdir_as(d, sizeof(d), "stickyother/inner", 0700, 0);
	expect_credentials_error(file_as(f, sizeof(f), "stickyother/inner/sa.json", 0600, 0),
				 "stickyother is owned by uid 12345");

	/* symbolic links: both where the link lies and where it leads count */
	snprintf(l, sizeof(l), "%s/ok/to-open.json", tmpdir);
	snprintf(f, sizeof(f), "%s/open/sa.json", tmpdir);
	assert_int_equal(symlink(f, l), 0);
	expect_credentials_error(l, "open is writable by group or others");
	snprintf(l, sizeof(l), "%s/open/to-ok.json", tmpdir);
	snprintf(f, sizeof(f), "%s/ok/sa.json", tmpdir);
	assert_int_equal(symlink(f, l), 0);
	expect_credentials_error(l, "open is writable by group or others");

	/* the same from the environment */
	snprintf(f, sizeof(f), "%s/open/sa.json", tmpdir);
	setenv("SKYBROKER_EXCHANGE", "ctx", 1);
	expect_env_error("SKYBROKER_CREDENTIALS_FILE", f,
			 "environment: SKYBROKER_CREDENTIALS_FILE: credentials_file: ");
	assert_non_null(strstr(errbuf, "open is writable by group or others"));
}

/* Under $CREDENTIALS_DIRECTORY, group or other read access is systemd's (an ACL shows in
 * the group bits); write access, another owner or an open directory are still refused. */
static void test_credentials_directory(void **state)
{
	char d[256], f[256];

	(void)state;
	if (geteuid() != 0)
		skip();
	setenv("CREDENTIALS_DIRECTORY", mkdir_as(d, sizeof(d), "creds", 0500, 0), 1);
	file_as(f, sizeof(f), "creds/sa.json", 0440, 0);
	expect_credentials_ok("sa.json");
	expect_credentials_ok(f);
	file_as(f, sizeof(f), "creds/sa.json", 0644, 0);
	expect_credentials_ok("sa.json");
	file_as(f, sizeof(f), "creds/sa.json", 0660, 0);
	expect_credentials_error("sa.json", "is writable by group or others (mode 0660)");
	file_as(f, sizeof(f), "creds/sa.json", 0400, OTHER_UID);
	expect_credentials_error("sa.json", "is owned by uid 12345");
	file_as(f, sizeof(f), "creds/sa.json", 0400, 0);
	mkdir_as(d, sizeof(d), "creds", 0777, 0);
	expect_credentials_error("sa.json", "creds is writable by group or others (mode 0777)");
	mkdir_as(d, sizeof(d), "creds", 0500, 0);
	expect_credentials_ok("sa.json");
	unsetenv("CREDENTIALS_DIRECTORY");
	/* outside it, group read is refused as before */
	file_as(f, sizeof(f), "ok/loose.json", 0640, 0);
	expect_credentials_error(f, "is accessible by group or others (mode 0640)");
}

/* Run as another user, the daemon's own files are fine, a third user's are not. */
static int load_as_other(void)
{
	char f[256];
	int r;

	snprintf(f, sizeof(f), "%s/mine/sa.json", tmpdir);
	if (load_credentials(f) < 0)
		return 3;
	snprintf(f, sizeof(f), "%s/mine/third.json", tmpdir);
	r = load_credentials(f);
	return r < 0 && strstr(errbuf, "is owned by uid 12346") ? 0 : 4;
}

static void test_credentials_of_the_daemons_user(void **state)
{
	char d[256], f[256];
	pid_t pid;
	int status;

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(chmod(tmpdir, 0711), 0);
	mkdir_as(d, sizeof(d), "mine", 0700, OTHER_UID);
	file_as(f, sizeof(f), "mine/sa.json", 0600, OTHER_UID);
	file_as(f, sizeof(f), "mine/third.json", 0644, OTHER_UID + 1);
	assert_int_equal(chmod(f, 0604), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setresgid(OTHER_UID, OTHER_UID, OTHER_UID) < 0 ||
		    setresuid(OTHER_UID, OTHER_UID, OTHER_UID) < 0)
			_exit(2);
		_exit(load_as_other());
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(chmod(tmpdir, 0700), 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_audience_is_an_error),
		cmocka_unit_test(test_other_empty_lists_are_errors),
		cmocka_unit_test(test_unset_lists_still_load_and_print_loadably),
		cmocka_unit_test(test_urls_without_a_host_are_refused),
		cmocka_unit_test(test_good_urls_still_load),
		cmocka_unit_test(test_urls_with_userinfo_are_refused_without_echo),
		cmocka_unit_test(test_ca_file_must_be_a_readable_file),
		cmocka_unit_test(test_ca_file_unreadable),
		cmocka_unit_test(test_credentials_owner_and_directories),
		cmocka_unit_test(test_credentials_directory),
		cmocka_unit_test(test_credentials_of_the_daemons_user),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
