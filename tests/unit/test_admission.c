/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of broker/runtime/admission with real peers: forked children that take other
 * uids, gids and supplementary groups connect to an abstract AF_UNIX socket; the test reads
 * what the kernel says about them (SO_PEERCRED, SO_PEERGROUPS, SO_PEERPIDFD) and which tenant
 * admits them. The table logic alone is in test_tenant.c; the daemon path in
 * tests/integration/test_runtime_admission.c. Needs root (skips otherwise).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/admission.h"
#include "tenancy/config.h"
#include "tenancy/tenant.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

static void require_root(void)
{
	if (geteuid() != 0)
		skip();
}

/* Whether this kernel hands out pidfds for peers (Linux >= 6.5). */
static bool kernel_has_peer_pidfd(void)
{
	int sv[2], pidfd = -1;
	socklen_t len = sizeof(pidfd);
	bool has;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	has = getsockopt(sv[0], SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) == 0 && pidfd >= 0;
	if (pidfd >= 0)
		close(pidfd);
	close(sv[0]);
	close(sv[1]);
	return has;
}

/* ---- a peer in another process ----------------------------------------------------------- */

struct who {
	bool as_root; /* connect without changing ids */
	uid_t uid;
	gid_t gid;
	const gid_t *groups;
	size_t n_groups;
	const char *send; /* written right after connecting, or NULL */
};

struct conn {
	int fd;    /* the accepted end */
	pid_t pid; /* the child on the other end */
};

static socklen_t listen_addr(struct sockaddr_un *sa)
{
	static unsigned counter;
	int n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	/* abstract: no file system permission gets in the way, only admission decides */
	n = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, "skybroker-test-admission-%d-%u",
		     (int)getpid(), counter++);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

/* The child: becomes `w`, connects, optionally writes, then waits for the parent to hang up. */
static _Noreturn void child_main(int lfd, const struct sockaddr_un *sa, socklen_t sl,
				 const struct who *w)
{
	char c;
	int fd;

	close(lfd);
	alarm(30); /* never outlive a failed test */
	if (!w->as_root && (setgroups(w->n_groups, w->groups) < 0 ||
			    setresgid(w->gid, w->gid, w->gid) < 0 ||
			    setresuid(w->uid, w->uid, w->uid) < 0))
		_exit(10);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (const struct sockaddr *)sa, sl) < 0)
		_exit(11);
	if (w->send && write(fd, w->send, strlen(w->send)) != (ssize_t)strlen(w->send))
		_exit(12);
	while (read(fd, &c, 1) > 0) /* until the parent closes */
		;
	_exit(0);
}

static struct conn connect_as(const struct who *w)
{
	struct sockaddr_un sa;
	socklen_t sl = listen_addr(&sa);
	struct conn c;
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sl), 0);
	assert_int_equal(listen(lfd, 4), 0);
	fflush(NULL);
	c.pid = fork();
	assert_true(c.pid >= 0);
	if (c.pid == 0)
		child_main(lfd, &sa, sl, w);
	c.fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	close(lfd);
	assert_true(c.fd >= 0);
	return c;
}

/* Hangs up and reaps the child; it must have connected as asked. */
static void conn_end(struct conn *c)
{
	int st;

	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	while (waitpid(c->pid, &st, 0) < 0)
		assert_int_equal(errno, EINTR);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static int cmp_gid(const void *a, const void *b)
{
	gid_t x = *(const gid_t *)a, y = *(const gid_t *)b;

	return x < y ? -1 : x > y;
}

/* The peer's groups, as a set, are exactly want. */
static void assert_groups(const struct peer *p, const gid_t *want, size_t n)
{
	gid_t *a, *b;

	assert_int_equal(p->n_groups, n);
	if (n == 0)
		return;
	assert_non_null(p->groups);
	a = malloc(n * sizeof(gid_t));
	b = malloc(n * sizeof(gid_t));
	assert_non_null(a);
	assert_non_null(b);
	memcpy(a, p->groups, n * sizeof(gid_t));
	memcpy(b, want, n * sizeof(gid_t));
	qsort(a, n, sizeof(gid_t), cmp_gid);
	qsort(b, n, sizeof(gid_t), cmp_gid);
	assert_memory_equal(a, b, n * sizeof(gid_t));
	free(a);
	free(b);
}

/* The pid a pidfd names, from /proc/self/fdinfo. */
static pid_t pidfd_pid(int pidfd)
{
	char path[64], line[256];
	FILE *f;
	long pid = -1;

	(void)snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	f = fopen(path, "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "Pid:", 4) == 0)
			pid = strtol(line + 4, NULL, 10);
	fclose(f);
	return (pid_t)pid;
}

/* ---- credentials ------------------------------------------------------------------------- */

static void test_peer_credentials(void **state)
{
	static const gid_t groups[] = {40012, 40010, 40011};
	struct who w = {.uid = 40001, .gid = 40002, .groups = groups, .n_groups = 3};
	struct conn c;
	struct peer p;

	(void)state;
	require_root();
	c = connect_as(&w);
	assert_int_equal(peer_from_socket(c.fd, &p), 0);
	assert_int_equal(p.uid, 40001);
	assert_int_equal(p.gid, 40002);
	assert_int_equal(p.pid, c.pid);
	assert_groups(&p, groups, 3);
	if (kernel_has_peer_pidfd()) {
		int flags;

		assert_true(p.pidfd >= 0);
		assert_int_equal(pidfd_pid(p.pidfd), c.pid); /* it names the peer, not someone */
		flags = fcntl(p.pidfd, F_GETFD);
		assert_true(flags >= 0 && (flags & FD_CLOEXEC));
		assert_true(peer_alive(&p));
	} else {
		assert_int_equal(p.pidfd, -1);
	}
	peer_done(&p);
	conn_end(&c);
}

static void test_no_supplementary_groups(void **state)
{
	struct who w = {.uid = 40003, .gid = 40004, .groups = NULL, .n_groups = 0};
	struct conn c;
	struct peer p;

	(void)state;
	require_root();
	c = connect_as(&w);
	assert_int_equal(peer_from_socket(c.fd, &p), 0);
	assert_int_equal(p.uid, 40003);
	assert_int_equal(p.gid, 40004);
	assert_int_equal(p.n_groups, 0);
	peer_done(&p);
	conn_end(&c);
}

/* Group lists around the first read's buffer (64), and past PEER_MAX_GROUPS: every group is
 * seen, so a tenant that admits by the last one admits. */
static void test_many_groups(void **state)
{
	static const size_t counts[] = {63, 64, 65, 200, PEER_MAX_GROUPS, PEER_MAX_GROUPS + 44};
	struct tenant_config t = {.n_allow_gids = 1};

	(void)state;
	require_root();
	for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
		size_t n = counts[k];
		gid_t *groups = malloc(n * sizeof(gid_t));
		gid_t last;
		struct who w = {.uid = 40005, .gid = 40006, .n_groups = n};
		struct conn c;
		struct peer p;

		assert_non_null(groups);
		for (size_t i = 0; i < n; i++)
			groups[i] = (gid_t)(41000 + i);
		last = groups[n - 1];
		w.groups = groups;
		c = connect_as(&w);
		assert_int_equal(peer_from_socket(c.fd, &p), 0);
		assert_int_equal(p.uid, 40005);
		assert_groups(&p, groups, n);
		t.allow_gids = &last;
		assert_true(admission_tenant_admits(&t, &p));
		peer_done(&p);
		conn_end(&c);
		free(groups);
	}
}

static void test_root_peer(void **state)
{
	struct who w = {.as_root = true};
	uid_t uids[] = {40001, 0};
	gid_t gid0 = 0;
	struct tenant_config only_user = {.allow_uids = uids, .n_allow_uids = 1};
	struct tenant_config with_root = {.allow_uids = uids, .n_allow_uids = 2};
	struct tenant_config root_group = {.allow_gids = &gid0, .n_allow_gids = 1};
	struct conn c;
	struct peer p;

	(void)state;
	require_root();
	c = connect_as(&w);
	assert_int_equal(peer_from_socket(c.fd, &p), 0);
	assert_int_equal(p.uid, 0);
	assert_int_equal(p.gid, 0);
	assert_int_equal(p.pid, c.pid);
	/* root is admitted to the admin socket, but to a tenant only when it lists root */
	assert_true(admission_admin_admits(&p));
	assert_false(admission_tenant_admits(&only_user, &p));
	assert_true(admission_tenant_admits(&with_root, &p));
	assert_true(admission_tenant_admits(&root_group, &p));
	peer_done(&p);
	conn_end(&c);
}

static void test_socketpair_is_self(void **state)
{
	int sv[2];
	struct peer p;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(peer_from_socket(sv[0], &p), 0);
	assert_int_equal(p.uid, geteuid());
	assert_int_equal(p.gid, getegid());
	assert_int_equal(p.pid, getpid());
	if (p.pidfd >= 0) {
		assert_int_equal(pidfd_pid(p.pidfd), getpid());
		assert_true(peer_alive(&p));
	}
	peer_done(&p);
	close(sv[0]);
	close(sv[1]);
}

static void test_not_a_connected_socket(void **state)
{
	int pfd[2], fd;
	struct peer p;
	int r;

	(void)state;
	/* not a socket at all: an error, and p is safe to release */
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	memset(&p, 0x5a, sizeof(p));
	assert_int_equal(peer_from_socket(pfd[0], &p), -ENOTSOCK);
	assert_null(p.groups);
	assert_int_equal(p.n_groups, 0);
	assert_int_equal(p.pidfd, -1);
	peer_done(&p);
	close(pfd[0]);
	close(pfd[1]);
	assert_int_equal(peer_from_socket(-1, &p), -EBADF);
	peer_done(&p);

	/* a socket with nobody on the other end must never pass for root or the broker */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	r = peer_from_socket(fd, &p);
	if (r == 0) {
		assert_int_not_equal(p.uid, 0);
		assert_int_not_equal(p.uid, geteuid());
		assert_false(admission_admin_admits(&p));
		assert_int_equal(p.n_groups, 0);
		assert_int_equal(p.pidfd, -1);
	}
	peer_done(&p);
	close(fd);
}

static void test_reads_no_data(void **state)
{
	struct who w = {.uid = 40007, .gid = 40007, .send = "hello, broker"};
	struct conn c;
	struct peer p;
	char buf[64];
	ssize_t n;

	(void)state;
	require_root();
	c = connect_as(&w);
	/* wait for the bytes to be there before reading the credentials */
	n = recv(c.fd, buf, sizeof(buf), MSG_PEEK);
	assert_int_equal(n, 13);
	assert_int_equal(peer_from_socket(c.fd, &p), 0);
	assert_int_equal(p.uid, 40007);
	/* what the client sent is still all there, for the protocol to read */
	n = recv(c.fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	assert_int_equal(n, 13);
	buf[n] = '\0';
	assert_string_equal(buf, "hello, broker");
	peer_done(&p);
	conn_end(&c);
}

/* ---- pidfd ------------------------------------------------------------------------------- */

static void test_peer_alive(void **state)
{
	struct who w = {.uid = 40008, .gid = 40008};
	struct conn c;
	struct peer p, copy;
	siginfo_t si;

	(void)state;
	require_root();
	if (!kernel_has_peer_pidfd())
		skip();
	c = connect_as(&w);
	assert_int_equal(peer_from_socket(c.fd, &p), 0);
	assert_true(p.pidfd >= 0);
	assert_true(peer_alive(&p));
	assert_true(peer_alive(&p)); /* asking does not change the answer */

	/* the peer exits: a zombie already counts as gone */
	close(c.fd);
	c.fd = -1;
	memset(&si, 0, sizeof(si));
	assert_int_equal(waitid(P_PID, (id_t)c.pid, &si, WEXITED | WNOWAIT), 0);
	assert_false(peer_alive(&p));
	/* reaped: still gone (its pid may now be reused; the pidfd still names the old one) */
	conn_end(&c);
	assert_false(peer_alive(&p));

	/* no pidfd: unknown, which counts as alive */
	copy = p;
	copy.pidfd = -1;
	assert_true(peer_alive(&copy));

	/* peer_done closes the pidfd and can be called again */
	{
		int pidfd = p.pidfd;

		peer_done(&p);
		assert_int_equal(p.pidfd, -1);
		assert_null(p.groups);
		assert_int_equal(p.n_groups, 0);
		assert_int_equal(fcntl(pidfd, F_GETFD), -1);
		assert_int_equal(errno, EBADF);
		peer_done(&p);
	}
}

/* ---- which tenant ------------------------------------------------------------------------ */

static const char conf_text[] =
	"[tenant.users]\n"
	"descope_project_id = P1\nvault_url = https://v\nvault_id = v\n"
	"sts_url = https://s\nservice_account_id = sa\n"
	"allow_uids = 40001, 40011\n"
	"[tenant.group]\n"
	"descope_project_id = P1\nvault_url = https://v\nvault_id = v\n"
	"sts_url = https://s\nservice_account_id = sa\n"
	"allow_gids = 40100\n"
	"[tenant.both]\n"
	"descope_project_id = P1\nvault_url = https://v\nvault_id = v\n"
	"sts_url = https://s\nservice_account_id = sa\n"
	"allow_uids = 40003\nallow_gids = 40101, 40102\n";

struct pick_case {
	const char *what;
	uid_t uid;
	gid_t gid;
	gid_t groups[3];
	size_t n_groups;
	const char *want; /* tenant name, NULL: refused */
};

static const struct pick_case pick_cases[] = {
	{"listed uid", 40001, 40001, {0}, 0, "users"},
	{"second listed uid", 40011, 40500, {40500}, 1, "users"},
	{"primary gid", 40002, 40100, {0}, 0, "group"},
	{"supplementary gid", 40002, 40002, {40002, 40100}, 2, "group"},
	{"supplementary gid among others", 40002, 40002, {40099, 40102, 40098}, 3, "both"},
	{"uid and group: first tenant of the socket wins", 40003, 40003, {40100}, 1, "group"},
	{"uid only", 40003, 40003, {0}, 0, "both"},
	{"listed uid, any group", 40001, 40100, {40101}, 1, "users"},
	{"nothing matches", 40004, 40004, {40099, 40103}, 2, NULL},
	{"a gid number as the uid", 40100, 40004, {0}, 0, NULL},
	{"a uid number as the gid", 40005, 40001, {40003, 40011}, 2, NULL},
	{"root, listed nowhere", 0, 0, {0}, 0, NULL},
};

static void test_pick_real_peers(void **state)
{
	struct broker_config *cfg = NULL;
	struct tenant *t[3] = {NULL, NULL, NULL};

	(void)state;
	require_root();
	assert_int_equal(config_load_string("t.conf", conf_text, stderr, &cfg), 0);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(tenant_new(cfg, &cfg->tenants[i], NULL, &t[i]), 0);

	for (size_t i = 0; i < sizeof(pick_cases) / sizeof(pick_cases[0]); i++) {
		const struct pick_case *pc = &pick_cases[i];
		struct who w = {.as_root = pc->uid == 0, .uid = pc->uid, .gid = pc->gid,
				.groups = pc->groups, .n_groups = pc->n_groups};
		struct conn c = connect_as(&w);
		struct peer p;
		struct tenant *got;

		assert_int_equal(peer_from_socket(c.fd, &p), 0);
		got = admission_pick(t, 3, &p);
		if (pc->want && (!got || strcmp(tenant_name(got), pc->want) != 0))
			fail_msg("%s: picked %s, want %s", pc->what, got ? tenant_name(got) : "none",
				 pc->want);
		if (!pc->want && got)
			fail_msg("%s: picked %s, want a refusal", pc->what, tenant_name(got));
		/* the admin socket is another matter: only root here */
		assert_int_equal(admission_admin_admits(&p), pc->uid == 0);
		peer_done(&p);
		conn_end(&c);
	}
	/* no candidates: nobody is admitted */
	{
		struct peer p = {.uid = 40001, .gid = 40001, .pidfd = -1};

		assert_null(admission_pick(t, 0, &p));
		assert_ptr_equal(admission_pick(t, 1, &p), t[0]);
		assert_null(admission_pick(t + 1, 2, &p));
	}
	for (size_t i = 0; i < 3; i++)
		tenant_unref(t[i]);
	config_free(cfg);
}

static void test_tenant_admits_edges(void **state)
{
	uid_t uids[] = {40001, 40002};
	gid_t gids[] = {40100};
	gid_t supp[] = {40001, 40002}; /* numbers of admitted uids, as groups */
	struct tenant_config nobody = {0};
	struct tenant_config by_uid = {.allow_uids = uids, .n_allow_uids = 2};
	struct tenant_config by_gid = {.allow_gids = gids, .n_allow_gids = 1};
	struct peer p = {.uid = 40100, .gid = 40001, .groups = supp, .n_groups = 2, .pidfd = -1};

	(void)state;
	/* ids are compared in their own space: uid 40100 is not group 40100, and groups
	 * 40001/40002 are not users 40001/40002 */
	assert_false(admission_tenant_admits(&by_uid, &p));
	assert_false(admission_tenant_admits(&by_gid, &p));
	/* a tenant with empty lists admits nobody, root included */
	assert_false(admission_tenant_admits(&nobody, &p));
	p.uid = 0;
	p.gid = 0;
	assert_false(admission_tenant_admits(&nobody, &p));
	/* the count bounds the group list: a match past n_groups does not count */
	p.uid = 40009;
	p.gid = 40009;
	supp[1] = 40100;
	p.n_groups = 1;
	assert_false(admission_tenant_admits(&by_gid, &p));
	p.n_groups = 2;
	assert_true(admission_tenant_admits(&by_gid, &p));
	/* and the list counts bound the tenant's lists */
	by_uid.n_allow_uids = 1;
	p.uid = 40002;
	assert_false(admission_tenant_admits(&by_uid, &p));
	by_uid.n_allow_uids = 2;
	assert_true(admission_tenant_admits(&by_uid, &p));
	/* (uid_t)-1, what the kernel reports for "no credentials", matches nothing real */
	p.uid = (uid_t)-1;
	p.gid = (gid_t)-1;
	p.n_groups = 0;
	assert_false(admission_tenant_admits(&by_uid, &p));
	assert_false(admission_tenant_admits(&by_gid, &p));
	assert_false(admission_admin_admits(&p));
}

/* The admin socket admits root and the broker's own euid: checked in a child that runs as
 * an unprivileged broker would. */
static void test_admin_rule_unprivileged_broker(void **state)
{
	pid_t pid;
	int st;

	(void)state;
	require_root();
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct peer self = {.uid = 40020, .gid = 40020, .pidfd = -1};
		struct peer root = {.uid = 0, .gid = 40020, .pidfd = -1};
		struct peer other = {.uid = 40021, .gid = 40020, .pidfd = -1};
		struct peer root_group = {.uid = 40021, .gid = 0, .pidfd = -1};

		if (setgroups(0, NULL) < 0 || setresgid(40020, 40020, 40020) < 0 ||
		    setresuid(40020, 40020, 40020) < 0)
			_exit(10);
		if (!admission_admin_admits(&self))
			_exit(11);
		if (!admission_admin_admits(&root))
			_exit(12);
		if (admission_admin_admits(&other))
			_exit(13);
		if (admission_admin_admits(&root_group)) /* group 0 is not root */
			_exit(14);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);

	/* and as root: the broker's euid is root, so only uid 0 */
	{
		struct peer p = {.uid = 40020, .gid = 0, .pidfd = -1};

		assert_false(admission_admin_admits(&p));
		p.uid = 0;
		assert_true(admission_admin_admits(&p));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_peer_credentials),
		cmocka_unit_test(test_no_supplementary_groups),
		cmocka_unit_test(test_many_groups),
		cmocka_unit_test(test_root_peer),
		cmocka_unit_test(test_socketpair_is_self),
		cmocka_unit_test(test_not_a_connected_socket),
		cmocka_unit_test(test_reads_no_data),
		cmocka_unit_test(test_peer_alive),
		cmocka_unit_test(test_pick_real_peers),
		cmocka_unit_test(test_tenant_admits_edges),
		cmocka_unit_test(test_admin_rule_unprivileged_broker),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
