/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "proto/frame.h"
#include "proto/limits.h"

extern char **environ;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "harness: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ------------------------------------------------------------------ daemon */

const char *sbt_daemon_path(void)
{
	const char *p = getenv("SKYBROKERD");
	if (!p || !*p)
		die("$SKYBROKERD is not set (run through ctest)");
	return p;
}

char *sbt_path(char *dst, size_t n, const struct sbt_daemon *d, const char *name)
{
	size_t a = strlen(d->dir), b = strlen(name);

	if (a + 1 + b + 1 > n)
		die("path %s/%s too long", d->dir, name);
	memcpy(dst, d->dir, a);
	dst[a] = '/';
	memcpy(dst + a + 1, name, b + 1);
	return dst;
}

void sbt_daemon_init(struct sbt_daemon *d)
{
	const char *tmp = getenv("TMPDIR");
	struct rlimit rl;

	memset(d, 0, sizeof(*d));
	d->pid = -1;
	d->notify_fd = -1;
	if ((size_t)snprintf(d->dir, sizeof(d->dir), "%s/sbt.XXXXXX", tmp && *tmp ? tmp : "/tmp") >=
	    sizeof(d->dir))
		die("$TMPDIR is too long for socket paths");
	if (!mkdtemp(d->dir))
		die("mkdtemp: %s", strerror(errno));
	/* other uids must reach the sockets (the socket mode and admission are under test) */
	if (chmod(d->dir, 0755) < 0)
		die("chmod: %s", strerror(errno));
	sbt_path(d->conf, sizeof(d->conf), d, "skybroker.conf");
	sbt_path(d->log, sizeof(d->log), d, "skybrokerd.log");
	sbt_path(d->socket, sizeof(d->socket), d, "sb.sock");
	sbt_path(d->admin, sizeof(d->admin), d, "admin.sock");
	sbt_path(d->notify, sizeof(d->notify), d, "notify.sock");
	/* Many-connection tests need descriptors in both processes (the daemon inherits the
	 * limit): as root raise the hard limit too, else go up to it. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		struct rlimit want = {rl.rlim_max, rl.rlim_max};
		if (geteuid() == 0 && rl.rlim_max < 65536)
			want.rlim_cur = want.rlim_max = 65536;
		if (setrlimit(RLIMIT_NOFILE, &want) < 0) {
			rl.rlim_cur = rl.rlim_max;
			(void)setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	signal(SIGPIPE, SIG_IGN);
}


/*
 * A static JWKS served over plain HTTP on loopback, so that tenants of generated configs
 * become ready (the token service keeps a tenant not ready until its JWKS is loaded) without
 * reaching the Internet. One forked server per test process, killed with it.
 */
static const char harness_jwks[] = "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"SKharnessStaticKey0000000000\",\"alg\":\"RS256\",\"use\":\"sig\",\"n\":\"oJg5OnDI16ctowlmo21ZixcCvOMPs0ek-E0ZqJOmDaVoQyxsw6EM3ohVvTeDvklLJy-amDt9Vjwuj88He39jHT2M5l1GY1cEpuU-t4rlOj6Rrm_oAfVj6YkUmuTWdh3EZEhv4TLODz6lPDemtw8DoEje92aQI0UrxD01Wn4tF-Vl8RPWWoeyNrmAvkBB3RhczF13PlX-dfsvc1HD4caLDu4aVfY-Pd2GJcgff3OMOiib2bNLAwafeQ-g0HTk-HUWdTxx7-f5Nfiff7xuYNvnQR4DO1h537QtVaHkgnDdCYSp8nfVt6YnX9ujDp-yMwp0x--iRflnq2M2M64fEWrNsQ\",\"e\":\"AQAB\"}]}";
static int harness_jwks_port;

static void harness_jwks_serve(int lfd)
{
	char head[512], req[4096];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			 sizeof(harness_jwks) - 1);

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		size_t got = 0;

		if (fd < 0)
			continue;
		while (got < sizeof(req) - 1) {
			ssize_t r = read(fd, req + got, sizeof(req) - 1 - got);

			if (r <= 0)
				break;
			got += (size_t)r;
			req[got] = '\0';
			if (strstr(req, "\r\n\r\n"))
				break;
		}
		if (write(fd, head, (size_t)n) == n &&
		    write(fd, harness_jwks, sizeof(harness_jwks) - 1) < 0)
			(void)0;
		close(fd);
	}
}

static int harness_jwks_url_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	pid_t pid, parent;
	int lfd;

	if (harness_jwks_port)
		return harness_jwks_port;
	parent = getpid();
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 128) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &al) < 0)
		die("static JWKS server: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		/* dies with the test process, and holds none of its output pipes open */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		harness_jwks_serve(lfd);
		_exit(0);
	}
	close(lfd);
	harness_jwks_port = ntohs(a.sin_port);
	return harness_jwks_port;
}

int sbt_jwks_port(void)
{
	return harness_jwks_url_port();
}

size_t sbt_config(const struct sbt_daemon *d, char *buf, size_t size, const char *broker_extra,
		  size_t n, const char *const *names, const char *const *tenant_extra)
{
	size_t len = 0;
	int k;

	k = snprintf(buf, size,
		     "# generated by the integration harness\n"
		     "[broker]\n"
		     "socket = %s\n"
		     "admin_socket = %s\n"
		     "%s%s\n",
		     d->socket, d->admin, broker_extra ? broker_extra : "",
		     broker_extra && *broker_extra && broker_extra[strlen(broker_extra) - 1] != '\n'
			     ? "\n"
			     : "");
	if (k < 0 || (size_t)k >= size)
		die("config buffer too small");
	len = (size_t)k;
	for (size_t i = 0; i < n; i++) {
		const char *extra = tenant_extra && tenant_extra[i] ? tenant_extra[i] : "";
		char jwks[128] = "";

		/* A reachable JWKS unless the test names its own (see harness_jwks). */
		if (!strstr(extra, "jwks_url") && !strstr(extra, "insecure_http"))
			snprintf(jwks, sizeof(jwks),
				 "insecure_http = yes\njwks_url = http://127.0.0.1:%d/jwks.json\n",
				 harness_jwks_url_port());
		k = snprintf(buf + len, size - len,
			     "[tenant.%s]\n"
			     "descope_project_id = P%sTEST\n"
			     "vault_url = https://%s.vault.example.com\n"
			     "vault_id = vault%zu\n"
			     "sts_url = https://sts.example.com/v1/sts\n"
			     "service_account_id = sa-%s\n"
			     "%s%s%s\n",
			     names[i], names[i], names[i], i, names[i], jwks, extra,
			     *extra && extra[strlen(extra) - 1] != '\n' ? "\n" : "");
		if (k < 0 || (size_t)k >= size - len)
			die("config buffer too small");
		len += (size_t)k;
	}
	return len;
}

void sbt_write_file(const char *path, const char *text, unsigned mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	size_t n = strlen(text);

	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	if (write(fd, text, n) != (ssize_t)n)
		die("write %s: %s", path, strerror(errno));
	if (fchmod(fd, mode) < 0)
		die("fchmod %s: %s", path, strerror(errno));
	close(fd);
}

static void open_notify(struct sbt_daemon *d)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (d->notify_fd >= 0)
		return;
	d->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (d->notify_fd < 0)
		die("socket: %s", strerror(errno));
	memcpy(sa.sun_path, d->notify, sizeof(d->notify));
	unlink(d->notify);
	if (bind(d->notify_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind %s: %s", d->notify, strerror(errno));
}

int sbt_daemon_spawn(struct sbt_daemon *d, const char *const *argv, const char *const *env)
{
	char notify_env[sizeof(d->notify) + 32];
	pid_t pid;

	open_notify(d);
	snprintf(notify_env, sizeof(notify_env), "NOTIFY_SOCKET=%s", d->notify);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd < 0 || nul < 0)
			_exit(127);
		dup3(nul, 0, 0);
		dup3(fd, 1, 0);
		dup3(fd, 2, 0);
		putenv(notify_env);
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDNAMES");
		for (size_t i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	d->pid = pid;
	d->exited = false;
	return 0;
}

int sbt_daemon_start(struct sbt_daemon *d, const char *conf_text, const char *const *args)
{
	const char *argv[32];
	size_t n = 0;

	sbt_write_file(d->conf, conf_text, 0644);
	argv[n++] = sbt_daemon_path();
	argv[n++] = "--config";
	argv[n++] = d->conf;
	argv[n++] = "--allow-root";
	for (size_t i = 0; args && args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	sbt_daemon_spawn(d, argv, NULL);
	if (sbt_daemon_wait_notify(d, "READY=1", SBT_TIMEOUT_MS) < 0) {
		fprintf(stderr, "harness: skybrokerd did not become ready; its log:\n");
		sbt_log_dump(d);
		return -1;
	}
	return 0;
}

static bool reap(struct sbt_daemon *d, int flags)
{
	int st;
	pid_t r;

	if (d->pid <= 0 || d->exited)
		return d->exited;
	r = waitpid(d->pid, &st, flags);
	if (r == d->pid) {
		d->exited = true;
		d->exit_status = st;
	}
	return d->exited;
}

int sbt_daemon_wait_notify(struct sbt_daemon *d, const char *needle, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		struct pollfd pfd = {.fd = d->notify_fd, .events = POLLIN};
		char msg[4096];
		ssize_t n;
		uint64_t now = now_ms();
		int r;

		if (now >= deadline) {
			fprintf(stderr, "harness: no '%s' notification within %d ms\n", needle,
				timeout_ms);
			sbt_log_dump(d);
			return -1;
		}
		r = poll(&pfd, 1, 100);
		if (r == 0) {
			if (reap(d, WNOHANG)) {
				fprintf(stderr, "harness: skybrokerd exited while waiting for '%s'\n",
					needle);
				sbt_log_dump(d);
				return -1;
			}
			continue;
		}
		if (r < 0)
			continue;
		n = recv(d->notify_fd, msg, sizeof(msg) - 1, MSG_DONTWAIT);
		if (n <= 0)
			continue;
		msg[n] = '\0';
		if (strstr(msg, needle))
			return 0;
	}
}

bool sbt_daemon_notified(struct sbt_daemon *d, const char *needle)
{
	bool found = false;

	for (;;) {
		char msg[4096];
		ssize_t n = recv(d->notify_fd, msg, sizeof(msg) - 1, MSG_DONTWAIT);
		if (n < 0)
			return found;
		msg[n] = '\0';
		if (strstr(msg, needle))
			found = true;
	}
}

int sbt_wait_socket(const char *path, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	struct stat st;

	while (stat(path, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		if (now_ms() >= deadline)
			return -1;
		sleep_ms(10);
	}
	return 0;
}

void sbt_daemon_kill(struct sbt_daemon *d, int sig)
{
	if (d->pid > 0 && !d->exited)
		kill(d->pid, sig);
}

int sbt_daemon_wait_exit(struct sbt_daemon *d, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;

	while (!reap(d, WNOHANG)) {
		if (now_ms() >= deadline)
			return -1;
		sleep_ms(10);
	}
	if (WIFEXITED(d->exit_status))
		return WEXITSTATUS(d->exit_status);
	if (WIFSIGNALED(d->exit_status))
		return 128 + WTERMSIG(d->exit_status);
	return -1;
}

static void rm_rf(const char *path)
{
	DIR *dir = opendir(path);
	struct dirent *e;

	if (!dir) {
		unlink(path);
		return;
	}
	while ((e = readdir(dir))) {
		char sub[PATH_MAX];
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		if (e->d_type == DT_DIR)
			rm_rf(sub);
		else
			unlink(sub);
	}
	closedir(dir);
	rmdir(path);
}

int sbt_daemon_stop(struct sbt_daemon *d)
{
	int code = d->pid > 0 ? -1 : 0; /* never started: nothing to report */

	if (d->pid > 0 && !d->exited) {
		kill(d->pid, SIGTERM);
		code = sbt_daemon_wait_exit(d, SBT_TIMEOUT_MS);
		if (code < 0) {
			kill(d->pid, SIGKILL);
			reap(d, 0);
		}
	} else if (d->pid > 0) {
		code = sbt_daemon_wait_exit(d, 0);
	}
	if (code != 0 && d->dir[0]) {
		fprintf(stderr, "harness: skybrokerd exited with %d\n", code);
		sbt_log_dump(d);
	}
	if (d->notify_fd >= 0)
		close(d->notify_fd);
	d->notify_fd = -1;
	if (d->dir[0] && !getenv("SBT_KEEP"))
		rm_rf(d->dir);
	d->dir[0] = '\0';
	return code;
}

static char *read_log(const struct sbt_daemon *d)
{
	int fd = open(d->log, O_RDONLY | O_CLOEXEC);
	size_t cap = 65536, len = 0;
	char *buf;

	buf = malloc(cap);
	if (!buf)
		die("out of memory");
	buf[0] = '\0';
	if (fd < 0)
		return buf;
	for (;;) {
		ssize_t n;
		if (cap - len < 4096) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				die("out of memory");
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return buf;
}

bool sbt_log_contains(const struct sbt_daemon *d, const char *needle)
{
	char *log = read_log(d);
	bool found = strstr(log, needle) != NULL;
	free(log);
	return found;
}

size_t sbt_log_count(const struct sbt_daemon *d, const char *needle)
{
	char *log = read_log(d);
	size_t n = 0;
	for (const char *p = log; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	free(log);
	return n;
}

int sbt_log_wait(const struct sbt_daemon *d, const char *needle, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;

	while (!sbt_log_contains(d, needle)) {
		if (now_ms() >= deadline) {
			fprintf(stderr, "harness: '%s' not in the log within %d ms; the log:\n", needle,
				timeout_ms);
			sbt_log_dump(d);
			return -1;
		}
		sleep_ms(20);
	}
	return 0;
}

void sbt_log_dump(const struct sbt_daemon *d)
{
	char *log = read_log(d);
	size_t n = strlen(log);
	/* the tail is what matters */
	fprintf(stderr, "----- %s%s\n%s----- end of log\n", d->log, n > 32768 ? " (tail)" : "",
		n > 32768 ? log + n - 32768 : log);
	free(log);
}

int sbt_run(const char *const *argv, const char *const *env, char *out, size_t out_size)
{
	int p[2], st;
	size_t len = 0;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
		dup3(nul, 0, 0);
		dup3(p[1], 1, 0);
		dup3(p[1], 2, 0);
		for (size_t i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		char tmp[4096];
		ssize_t n = read(p[0], tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n && out && len + 1 < out_size; i++)
			out[len++] = tmp[i];
	}
	if (out && out_size)
		out[len] = '\0';
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ------------------------------------------------------------------ client */

int sbt_connect2(const char *path, struct sbt_client **ret)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = SBT_TIMEOUT_MS / 1000};
	struct sbt_client *c;
	int fd;

	*ret = NULL;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (strlen(path) >= sizeof(sa.sun_path)) {
		close(fd);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->fd = fd;
	c->next_id = 1;
	sb_buf_init(&c->in, SB_MAX_REPLY_FRAME_LIMIT + SB_FRAME_HEADER_SIZE);
	sb_buf_init(&c->out, SB_MAX_REQUEST_FRAME_LIMIT + SB_FRAME_HEADER_SIZE);
	*ret = c;
	return 0;
}

struct sbt_client *sbt_connect(const char *path)
{
	struct sbt_client *c;
	int r = sbt_connect2(path, &c);
	if (r < 0)
		errno = -r;
	return c;
}

void sbt_client_free(struct sbt_client *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	sb_buf_free(&c->in);
	sb_buf_free(&c->out);
	free(c->ops);
	free(c);
}

int sbt_send_raw(struct sbt_client *c, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n > 0) {
		ssize_t k = send(c->fd, b, n, MSG_NOSIGNAL);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

static void remember_op(struct sbt_client *c, uint64_t id, enum sb_op op)
{
	if (id >= c->n_ops) {
		size_t n = id + 64;
		enum sb_op *v = realloc(c->ops, n * sizeof(*v));
		if (!v)
			die("out of memory");
		for (size_t i = c->n_ops; i < n; i++)
			v[i] = SB_OP_INVALID;
		c->ops = v;
		c->n_ops = n;
	}
	c->ops[id] = op;
}

int64_t sbt_queue(struct sbt_client *c, struct sb_request *req)
{
	int r;

	if (req->id == 0)
		req->id = c->next_id++;
	remember_op(c, req->id, req->op);
	r = sb_request_encode(req, &c->out, SB_MAX_REQUEST_FRAME_LIMIT);
	return r < 0 ? r : (int64_t)req->id;
}

int sbt_flush(struct sbt_client *c)
{
	int r = sbt_send_raw(c, sb_buf_ptr(&c->out), sb_buf_len(&c->out));
	sb_buf_consume(&c->out, sb_buf_len(&c->out));
	return r;
}

int64_t sbt_send(struct sbt_client *c, struct sb_request *req)
{
	int64_t id = sbt_queue(c, req);
	int r;

	if (id < 0)
		return id;
	r = sbt_flush(c);
	return r < 0 ? r : id;
}

static enum sb_op op_of_id(uint64_t id, void *userdata)
{
	struct sbt_client *c = userdata;
	return id < c->n_ops ? c->ops[id] : SB_OP_INVALID;
}

int sbt_recv(struct sbt_client *c, struct sb_reply *rep)
{
	for (;;) {
		const uint8_t *payload;
		size_t len;
		uint8_t *dst;
		ssize_t n;
		int r = sb_frame_next(&c->in, SB_MAX_REPLY_FRAME_LIMIT, &payload, &len, NULL);

		if (r == SB_FRAME_READY) {
			struct sb_proto_error e = {0};
			r = sb_reply_decode(rep, payload, len, op_of_id, c, &e);
			sb_frame_consume(&c->in, len);
			if (r < 0)
				fprintf(stderr, "harness: undecodable reply: %s\n", e.message);
			return r;
		}
		if (r < 0)
			return r;
		r = sb_buf_reserve(&c->in, 65536, &dst);
		if (r < 0)
			return r;
		n = recv(c->fd, dst, 65536, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return -ETIMEDOUT;
			return errno == ECONNRESET ? -EPIPE : -errno;
		}
		if (n == 0)
			return -EPIPE;
		sb_buf_commit(&c->in, (size_t)n);
	}
}

int sbt_hello(struct sbt_client *c, struct sb_reply *rep)
{
	uint64_t versions[] = {SB_PROTOCOL_VERSION};
	struct sb_request req = {.op = SB_OP_HELLO};
	struct sb_reply local;
	struct sb_reply *out = rep ? rep : &local;
	int64_t id;
	int r;

	req.u.hello.versions = (struct sb_u64v){.set = true, .n = 1, .v = versions};
	req.u.hello.client = "sbt/1";
	id = sbt_send(c, &req);
	if (id < 0)
		return (int)id;
	r = sbt_recv(c, out);
	if (r < 0)
		return r;
	r = out->ok && out->id == (uint64_t)id ? 0 : -EPROTO;
	if (!rep)
		sb_reply_done(&local);
	return r;
}

int sbt_call(struct sbt_client *c, enum sb_op op, struct sb_reply *rep)
{
	struct sb_request req = {.op = op};
	int64_t id = sbt_send(c, &req);
	int r;

	if (id < 0)
		return (int)id;
	r = sbt_recv(c, rep);
	if (r < 0)
		return r;
	return rep->id == (uint64_t)id ? 0 : -EPROTO;
}

int sbt_ping(struct sbt_client *c)
{
	struct sb_reply rep;
	int r = sbt_call(c, SB_OP_PING, &rep);
	if (r < 0)
		return r;
	r = rep.ok ? 0 : -EPROTO;
	sb_reply_done(&rep);
	return r;
}

int sbt_wait_closed(struct sbt_client *c)
{
	for (;;) {
		uint8_t tmp[4096];
		ssize_t n = recv(c->fd, tmp, sizeof(tmp), 0);
		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return -ETIMEDOUT;
			return 0; /* reset: closed as well */
		}
	}
}

const char *sbt_outcome(const struct sb_reply *rep)
{
	return rep->ok ? "ok" : sb_errcode_name(rep->error.code);
}

/* ------------------------------------------------------------------ uids */

int sbt_run_as(uid_t uid, gid_t gid, int (*fn)(void *arg), void *arg)
{
	return sbt_run_as_groups(uid, gid, &gid, 1, fn, arg);
}

int sbt_run_as_groups(uid_t uid, gid_t gid, const gid_t *groups, size_t n,
		      int (*fn)(void *arg), void *arg)
{
	pid_t pid;
	int st;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		if (setgroups(n, groups) < 0 || setresgid(gid, gid, gid) < 0 ||
		    setresuid(uid, uid, uid) < 0) {
			fprintf(stderr, "harness: cannot become %u:%u: %s\n", (unsigned)uid,
				(unsigned)gid, strerror(errno));
			_exit(126);
		}
		_exit(fn(arg));
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

struct sbt_client *sbt_connect_hello(const char *path)
{
	struct sbt_client *c = sbt_connect(path);

	if (!c)
		die("connect %s: %s", path, strerror(errno));
	if (sbt_hello(c, NULL) != 0)
		die("hello on %s was not answered ok", path);
	return c;
}

void sbt_start_one(struct sbt_daemon *d, char *conf, size_t size, const char *broker_extra)
{
	static const char *const names[] = {"acme"};
	static const char *const extra[] = {"allow_uids = 0\n"};

	sbt_daemon_init(d);
	sbt_config(d, conf, size, broker_extra, 1, names, extra);
	if (sbt_daemon_start(d, conf, NULL) != 0)
		die("skybrokerd did not become ready");
}
