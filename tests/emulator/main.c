/* skyflow-emulator: a local Skyflow (service-account tokens, STS, vault Data API) and Descope
 * (JWKS, token minting) for tests and the demo. See README.md. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "brokerconf.h"
#include "controls.h"
#include "emu.h"
#include "server.h"
#include "util.h"

#define PEM_MAX (64 * 1024)

struct options {
	const char *config, *listen, *state_dir, *tls_cert, *tls_key, *tls_ca;
	unsigned threads;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: skyflow-emulator --config FILE --listen ADDR:PORT --state-dir DIR\n"
		   "                        [--tls-cert PEM --tls-key PEM [--tls-ca PEM]] [--threads N]\n"
		   "                        [--verbose]\n"
		   "ADDR is an IPv4 address or [IPv6]; PORT 0 picks a free port.\n");
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"listen", required_argument, NULL, 'l'},
		{"state-dir", required_argument, NULL, 's'},
		{"tls-cert", required_argument, NULL, 'C'},
		{"tls-key", required_argument, NULL, 'K'},
		{"tls-ca", required_argument, NULL, 'A'},
		{"threads", required_argument, NULL, 't'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	o->threads = 4;
	while ((c = getopt_long(argc, argv, "c:l:s:C:K:A:t:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': o->config = optarg; break;
		case 'l': o->listen = optarg; break;
		case 's': o->state_dir = optarg; break;
		case 'C': o->tls_cert = optarg; break;
		case 'K': o->tls_key = optarg; break;
		case 'A': o->tls_ca = optarg; break;
		case 't': {
			long n;
			if (emu_parse_long(optarg, 1, 64, &n) < 0)
				return -EINVAL;
			o->threads = (unsigned)n;
			break;
		}
		case 'v': emu_verbose = 1; break;
		case 'h': usage(stdout); exit(0);
		default: return -EINVAL;
		}
	}
	if (optind != argc || !o->config || !o->listen || !o->state_dir ||
	    !o->tls_cert != !o->tls_key || (o->tls_ca && !o->tls_cert))
		return -EINVAL;
	return 0;
}

/* Binds ADDR:PORT ("127.0.0.1:0", "[::1]:8443"). Writes the host part as it should appear in
 * URLs into host (size host_len) and the bound port into *port. Returns the socket or -errno. */
static int bind_listen(const char *spec, char *host, size_t host_len, unsigned *port)
{
	struct sockaddr_storage ss = {0};
	socklen_t sl;
	char addr[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(spec, ':');
	long p;
	int fd, one = 1, family;

	if (!colon || (size_t)(colon - spec) >= sizeof(addr) ||
	    emu_parse_long(colon + 1, 0, 65535, &p) < 0)
		return -EINVAL;
	memcpy(addr, spec, (size_t)(colon - spec));
	addr[colon - spec] = '\0';
	if (addr[0] == '[') {
		size_t n = strlen(addr);
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
		if (n < 3 || addr[n - 1] != ']')
			return -EINVAL;
		addr[n - 1] = '\0';
		if (inet_pton(AF_INET6, addr + 1, &a6->sin6_addr) != 1)
			return -EINVAL;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)p);
		sl = sizeof(*a6);
		family = AF_INET6;
		snprintf(host, host_len, "[%s]", addr + 1);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
		if (inet_pton(AF_INET, addr, &a4->sin_addr) != 1)
			return -EINVAL;
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)p);
		sl = sizeof(*a4);
		family = AF_INET;
		snprintf(host, host_len, "%s",
			 a4->sin_addr.s_addr == htonl(INADDR_ANY) ? "127.0.0.1" : addr);
	}
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 4096) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	*port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					: ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

/* Raises the soft descriptor limit to the hard one; returns the resulting soft limit. */
static rlim_t raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur;
}

int main(int argc, char **argv)
{
	struct options o = {0};
	struct emu emu = {0};
	struct emu_server *srv = NULL;
	char host[INET6_ADDRSTRLEN + 3], path[PATH_MAX], portstr[16];
	char *cert = NULL, *key = NULL;
	unsigned port = 0, conn_limit;
	sigset_t sigs;
	int fd, r, sig, status = 1;
	rlim_t nofile;

	if (parse_options(argc, argv, &o) < 0) {
		usage(stderr);
		return 2;
	}
	nofile = raise_nofile();
	conn_limit = nofile > 256 ? (unsigned)(nofile - 128 > 16384 ? 16384 : nofile - 128) : 128;
	if (conn_limit < 500)
		log_warn("descriptor limit %lu allows only %u connections", (unsigned long)nofile,
			 conn_limit);

	/* Signals are handled by sigwait in this thread; every thread inherits the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (config_load(o.config, &emu.cfg) < 0)
		goto out;
	if (state_open(o.state_dir, &emu.state) < 0)
		goto out;
	if (store_new(emu.cfg, &emu.store) < 0)
		goto out;
	if (o.tls_cert) {
		r = emu_read_file(o.tls_cert, PEM_MAX, &cert, NULL);
		if (r == 0)
			r = emu_read_file(o.tls_key, PEM_MAX, &key, NULL);
		if (r < 0) {
			log_err("cannot read TLS certificate or key: %s", strerror(-r));
			goto out;
		}
	}
	fd = bind_listen(o.listen, host, sizeof(host), &port);
	if (fd < 0) {
		log_err("cannot listen on %s: %s", o.listen, strerror(-fd));
		goto out;
	}
	snprintf(emu.base_url, sizeof(emu.base_url), "%s://%s:%u", cert ? "https" : "http", host,
		 port);
	snprintf(emu.token_uri, sizeof(emu.token_uri), "%s/v1/auth/sa/oauth/token", emu.base_url);
	snprintf(emu.token_issuer, sizeof(emu.token_issuer), "sa-auth@%s:%u", host, port);
	r = state_write_credentials(emu.state, emu.cfg->sa_id, emu.cfg->sa_name, emu.token_uri);
	if (r < 0) {
		log_err("cannot write credentials.json: %s", strerror(-r));
		close(fd);
		goto out;
	}
	controls_init();
	r = server_start(&emu, fd, cert, key, o.threads, conn_limit, &srv);
	emu_free_secret(key);
	key = NULL;
	if (r < 0)
		goto out;
	/* before DIR/port, which tells a waiting script that everything is in place */
	r = brokerconf_write(o.state_dir, &emu,
			     brokerconf_guess_ca(o.tls_ca, o.tls_cert, path, sizeof(path)));
	if (r < 0)
		goto out;
	snprintf(path, sizeof(path), "%s/port", o.state_dir);
	snprintf(portstr, sizeof(portstr), "%u\n", port);
	r = emu_write_file(path, portstr, strlen(portstr), 0644);
	if (r < 0) {
		log_err("cannot write %s: %s", path, strerror(-r));
		goto out;
	}
	printf("port=%u\n", port);
	printf("ready url=%s vault_id=%s project_id=%s credentials=%s/credentials.json\n",
	       emu.base_url, emu.cfg->vault_id, emu.cfg->project_id, o.state_dir);
	fflush(stdout);
	log_info("serving %s (%u threads, up to %u connections)", emu.base_url, o.threads,
		 conn_limit);

	do {
		r = sigwait(&sigs, &sig);
	} while (r == EINTR);
	log_info("signal %d: shutting down", sig);
	status = 0;
out:
	server_stop(srv);
	controls_shutdown();
	store_free(emu.store);
	state_free(emu.state);
	config_free(emu.cfg);
	free(cert);
	emu_free_secret(key);
	return status;
}
