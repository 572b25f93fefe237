/* brokerconf: ready-to-use skybrokerd configurations pointing at this emulator, so that a
 * reader goes from the emulator to a first exchanged token without writing one by hand. */
#include "brokerconf.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"

#define CONF_MAX 4096

const char *brokerconf_guess_ca(const char *tls_ca, const char *tls_cert, char *buf, size_t size)
{
	const char *slash;

	if (tls_ca || !tls_cert)
		return tls_ca;
	slash = strrchr(tls_cert, '/');
	if (slash)
		snprintf(buf, size, "%.*s/ca.pem", (int)(slash - tls_cert), tls_cert);
	else
		snprintf(buf, size, "ca.pem");
	return access(buf, R_OK) == 0 ? buf : NULL;
}

/* The lines that say how to reach the emulator over TLS (or not), into out. */
static void tls_lines(char *out, size_t size, const struct emu *emu, const char *ca)
{
	if (strncmp(emu->base_url, "http://", 7) == 0)
		snprintf(out, size, "# the emulator serves plain HTTP (no --tls-cert)\n"
				    "insecure_http = yes\n");
	else if (ca)
		snprintf(out, size, "ca_file = %s\n", ca);
	else
		snprintf(out, size, "# ca_file = the CA that signed the emulator's certificate (start "
				    "it with --tls-ca)\n");
}

/* One configuration: mode "sts" or "ctx", sockets named after suffix ("" or "-ctx"). */
static int write_one(const char *dir, const struct emu *emu, const char *ca, const char *mode,
		     const char *suffix)
{
	const struct emu_config *c = emu->cfg;
	char path[PATH_MAX], text[CONF_MAX], tls[512], issuer[300] = "", exchange[600];
	int n;

	if (strcmp(c->descope_issuer, c->project_id) != 0)
		snprintf(issuer, sizeof(issuer), "issuer = %s\n", c->descope_issuer);
	if (strcmp(mode, "sts") == 0)
		snprintf(exchange, sizeof(exchange),
			 "exchange = sts\nsts_url = %s/v1/auth/sts/token\nservice_account_id = %s\n",
			 emu->base_url, c->sa_id);
	else
		snprintf(exchange, sizeof(exchange),
			 "exchange = ctx\ncredentials_file = %s/credentials.json\n"
			 "context_claims = roles, sub\n", dir);
	tls_lines(tls, sizeof(tls), emu, ca);
	n = snprintf(text, sizeof(text),
		     "# Written by skyflow-emulator for %s: skybrokerd --config THIS_FILE\n"
		     "# (exchange = %s). Local testing only; it changes with every start.\n"
		     "[broker]\n"
		     "socket = %s/skybroker%s.sock\n"
		     "admin_socket = %s/admin%s.sock\n"
		     "\n"
		     "[tenant.demo]\n"
		     "allow_uids = %u\n"
		     "descope_project_id = %s\n"
		     "%s"
		     "jwks_url = %s/%s/.well-known/jwks.json\n"
		     "%s"
		     "vault_url = %s\n"
		     "vault_id = %s\n"
		     "%s"
		     "# to have the Skyflow token itself in exchange's reply:\n"
		     "# expose_tokens = yes\n",
		     emu->base_url, mode, dir, suffix, dir, suffix, (unsigned)getuid(),
		     c->project_id, issuer, emu->base_url, c->project_id, exchange, emu->base_url,
		     c->vault_id, tls);
	if (n < 0 || (size_t)n >= sizeof(text))
		return -ENAMETOOLONG;
	snprintf(path, sizeof(path), "%s/skybroker%s.conf", dir, suffix);
	return emu_write_file(path, text, (size_t)n, 0644);
}

int brokerconf_write(const char *state_dir, const struct emu *emu, const char *ca_file)
{
	char dir[PATH_MAX], ca[PATH_MAX];
	struct sockaddr_un sun;
	int r;

	if (!realpath(state_dir, dir) || (ca_file && !realpath(ca_file, ca))) {
		r = -errno;
		log_err("cannot write the broker configurations: %s: %s",
			ca_file && realpath(state_dir, dir) ? ca_file : state_dir, strerror(-r));
		return r;
	}
	/* DIR/admin-ctx.sock is the longest socket path written */
	if (strlen(dir) + strlen("/admin-ctx.sock") >= sizeof(sun.sun_path))
		log_warn("state directory %s is too long for socket paths; edit socket and "
			 "admin_socket in %s/skybroker.conf", dir, dir);
	r = write_one(dir, emu, ca_file ? ca : NULL, "sts", "");
	if (r == 0)
		r = write_one(dir, emu, ca_file ? ca : NULL, "ctx", "-ctx");
	if (r < 0)
		log_err("cannot write the broker configurations in %s: %s", dir, strerror(-r));
	return r;
}
