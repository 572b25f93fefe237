/* SPDX-License-Identifier: MIT */
/*
 * Path sockets skybrokerd creates: configured mode and group, a stale socket file replaced,
 * a live one never stolen, a non-socket never touched; removed at exit. A directory another
 * local user could write (0777, sticky 01777 like /tmp, owned by another user, or below such
 * a directory without the sticky bit) is refused; a socket file that replaced ours is not
 * the daemon's to remove, at a reload or at exit (issue 9, item 6).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static const char *names[] = {"acme"};
static const char *extra[] = {"allow_uids = 0\n"};

/* Runs skybrokerd on d's config and returns its exit code (for start-up failures). */
static int run_expect_exit(struct sbt_daemon *d)
{
	const char *argv[] = {sbt_daemon_path(), "--config", d->conf, "--allow-root", NULL};
	assert_int_equal(sbt_daemon_spawn(d, argv, NULL), 0);
	return sbt_daemon_wait_exit(d, SBT_TIMEOUT_MS);
}

static void test_mode_and_group(void **state)
{
	struct sbt_daemon d;
	char conf[8192];
	struct stat st;

	(void)state;
	sbt_daemon_init(&d);
	sbt_config(&d, conf, sizeof(conf), "socket_mode = 0620\nsocket_group = 1234\n", 1, names,
		   extra);
	assert_int_equal(sbt_daemon_start(&d, conf, NULL), 0);
	assert_int_equal(stat(d.socket, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0620);
	if (geteuid() == 0)
		assert_int_equal(st.st_gid, 1234);
	assert_int_equal(stat(d.admin, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0620);

	/* a reload applies a new mode to the existing socket */
	sbt_config(&d, conf, sizeof(conf), "socket_mode = 0600\n", 1, names, extra);
	sbt_write_file(d.conf, conf, 0644);
	sbt_daemon_kill(&d, SIGHUP);
	assert_int_equal(sbt_daemon_wait_notify(&d, "READY=1", SBT_TIMEOUT_MS), 0);
	assert_int_equal(stat(d.socket, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	/* removed at exit */
	sbt_daemon_kill(&d, SIGTERM);
	assert_int_equal(sbt_daemon_wait_exit(&d, SBT_TIMEOUT_MS), 0);
	assert_int_equal(access(d.socket, F_OK), -1);
	assert_int_equal(access(d.admin, F_OK), -1);
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

static void test_stale_socket_replaced(void **state)
{
	struct sbt_daemon d;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char conf[8192];
	struct sbt_client *c;
	int fd;

	(void)state;
	sbt_daemon_init(&d);
	/* a socket file nobody listens on any more (a crashed broker) */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	memcpy(sa.sun_path, d.socket, strlen(d.socket) + 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	sbt_config(&d, conf, sizeof(conf), NULL, 1, names, extra);
	assert_int_equal(sbt_daemon_start(&d, conf, NULL), 0);
	assert_true(sbt_log_contains(&d, "replacing a stale socket file"));
	c = sbt_connect_hello(d.socket);
	sbt_client_free(c);
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

static void test_live_socket_not_stolen(void **state)
{
	struct sbt_daemon a, b;
	char conf[8192];
	struct sbt_client *c;

	(void)state;
	sbt_daemon_init(&a);
	sbt_config(&a, conf, sizeof(conf), NULL, 1, names, extra);
	assert_int_equal(sbt_daemon_start(&a, conf, NULL), 0);

	/* a second broker configured with the same socket refuses to start */
	sbt_daemon_init(&b);
	snprintf(b.socket, sizeof(b.socket), "%s", a.socket);
	sbt_config(&b, conf, sizeof(conf), NULL, 1, names, extra);
	sbt_write_file(b.conf, conf, 0644);
	assert_int_equal(run_expect_exit(&b), 1);
	assert_true(sbt_log_contains(&b, "another process is listening on it; not stealing it"));
	sbt_daemon_stop(&b);

	/* and the first one still serves */
	c = sbt_connect_hello(a.socket);
	sbt_client_free(c);
	assert_int_equal(sbt_daemon_stop(&a), 0);
}

static void test_non_socket_untouched(void **state)
{
	struct sbt_daemon d;
	char conf[8192];
	struct stat st;

	(void)state;
	sbt_daemon_init(&d);
	sbt_write_file(d.socket, "precious\n", 0644);
	sbt_config(&d, conf, sizeof(conf), NULL, 1, names, extra);
	sbt_write_file(d.conf, conf, 0644);
	assert_int_equal(run_expect_exit(&d), 1);
	assert_true(sbt_log_contains(&d, "exists and is not a socket; not touching it"));
	assert_int_equal(stat(d.socket, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	sbt_daemon_stop(&d);
}

/* Points d's shared socket into dir/p/s (p with parent_mode; s with mode, owned by uid) and
 * runs the daemon: it must refuse to start, saying why, and leave nothing there. */
static void expect_refused(unsigned parent_mode, unsigned mode, uid_t uid, const char *why)
{
	struct sbt_daemon d;
	char conf[8192], dir[108], path[108];

	sbt_daemon_init(&d);
	sbt_path(dir, sizeof(dir), &d, "p");
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(chmod(dir, parent_mode), 0);
	sbt_path(dir, sizeof(dir), &d, "p/s");
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(chmod(dir, mode), 0);
	assert_int_equal(chown(dir, uid, uid), 0);
	sbt_path(path, sizeof(path), &d, "p/s/sb.sock");
	snprintf(d.socket, sizeof(d.socket), "%s", path);
	sbt_config(&d, conf, sizeof(conf), NULL, 1, names, extra);
	sbt_write_file(d.conf, conf, 0644);
	assert_int_equal(run_expect_exit(&d), 1);
	if (!sbt_log_contains(&d, why))
		sbt_log_dump(&d);
	assert_true(sbt_log_contains(&d, why));
	assert_true(sbt_log_contains(&d, "another local user could replace the socket"));
	assert_int_equal(access(path, F_OK), -1);
	sbt_daemon_stop(&d);
}

/* The socket reached through a symbolic link: p/link -> safe, in a parent p of mode
 * parent_mode, the link owned by link_uid. */
static void expect_link_refused(unsigned parent_mode, uid_t link_uid, const char *why)
{
	struct sbt_daemon d;
	char conf[8192], dir[108], safe[108], link[108], path[108];

	sbt_daemon_init(&d);
	sbt_path(safe, sizeof(safe), &d, "safe");
	assert_int_equal(mkdir(safe, 0755), 0);
	sbt_path(dir, sizeof(dir), &d, "p");
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(chmod(dir, parent_mode), 0);
	sbt_path(link, sizeof(link), &d, "p/link");
	assert_int_equal(symlink(safe, link), 0);
	assert_int_equal(lchown(link, link_uid, link_uid), 0);
	sbt_path(path, sizeof(path), &d, "p/link/sb.sock");
	snprintf(d.socket, sizeof(d.socket), "%s", path);
	sbt_config(&d, conf, sizeof(conf), NULL, 1, names, extra);
	sbt_write_file(d.conf, conf, 0644);
	assert_int_equal(run_expect_exit(&d), 1);
	if (!sbt_log_contains(&d, why))
		sbt_log_dump(&d);
	assert_true(sbt_log_contains(&d, why));
	sbt_daemon_stop(&d);
}

/* Review of issue 9: only the real path's directories were checked, so a link in a directory
 * anyone may write (or a link anyone owns) let another user redirect the socket path. */
static void test_socket_through_unsafe_link_refused(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip(); /* lchown to another user */
	expect_link_refused(0777, 0, "is writable by its group or by others");
	expect_link_refused(01777, 1000, "symbolic link");
}

static void test_unsafe_directory_refused(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip(); /* chown to another user */
	expect_refused(0755, 0777, 0, "is writable by its group or by others");
	expect_refused(0755, 01777, 0, "is writable by its group or by others"); /* like /tmp */
	expect_refused(0755, 0770, 0, "is writable by its group or by others");
	expect_refused(0755, 0755, 1000, "is owned by uid 1000");
	/* ours, but under a directory others may write without the sticky bit: they could move
	 * ours away and put theirs in its place */
	expect_refused(0777, 0755, 0, "above it, is writable by its group or by others");
}

/*
 * Issue 14: a Kubernetes emptyDir is root-owned and 0777, so the sidecar's socket directory
 * failed the rule above and the pod could not start. socket_dir_shared = yes accepts the
 * socket's own directory writable by others (and says so in the log); its owner, and every
 * directory above it, are still checked.
 */
static void test_shared_socket_dir(void **state)
{
	struct sbt_daemon d;
	char conf[8192], dir[108], path[108];
	struct sbt_client *c;

	(void)state;
	if (geteuid() != 0)
		skip(); /* chown to another user */
	sbt_daemon_init(&d);
	sbt_path(dir, sizeof(dir), &d, "pod");
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(chmod(dir, 0777), 0); /* what the kubelet makes */
	sbt_path(path, sizeof(path), &d, "pod/sb.sock");
	snprintf(d.socket, sizeof(d.socket), "%s", path);
	sbt_config(&d, conf, sizeof(conf), "socket_dir_shared = yes\n", 1, names, extra);
	assert_int_equal(sbt_daemon_start(&d, conf, NULL), 0);
	assert_true(sbt_log_contains(&d, "its directory is shared (socket_dir_shared = yes)"));
	c = sbt_connect_hello(path);
	assert_non_null(c);
	assert_int_equal(sbt_ping(c), 0);
	sbt_client_free(c);
	assert_int_equal(sbt_daemon_stop(&d), 0);

	/* still refused: the directory owned by another user */
	sbt_daemon_init(&d);
	sbt_path(dir, sizeof(dir), &d, "pod");
	assert_int_equal(mkdir(dir, 0777), 0);
	assert_int_equal(chmod(dir, 0777), 0);
	assert_int_equal(chown(dir, 1000, 1000), 0);
	sbt_path(path, sizeof(path), &d, "pod/sb.sock");
	snprintf(d.socket, sizeof(d.socket), "%s", path);
	sbt_config(&d, conf, sizeof(conf), "socket_dir_shared = yes\n", 1, names, extra);
	sbt_write_file(d.conf, conf, 0644);
	assert_int_equal(run_expect_exit(&d), 1);
	assert_true(sbt_log_contains(&d, "is owned by uid 1000"));
	sbt_daemon_stop(&d);
}

/* A listening socket bound at path by "someone else" (this test process): the impostor. */
static int bind_impostor(const char *path, struct stat *st)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	assert_int_equal(unlink(path), 0); /* the daemon's file */
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(lstat(path, st), 0);
	return fd;
}

/* Whether path is still the impostor's file (same inode) and its listener still answers. */
static void assert_impostor_intact(const char *path, const struct stat *was)
{
	struct stat st;
	struct sbt_client *c;

	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_dev, was->st_dev);
	assert_int_equal(st.st_ino, was->st_ino);
	assert_int_equal(sbt_connect2(path, &c), 0);
	sbt_client_free(c);
}

static void test_impostor_not_removed(void **state)
{
	static const char *two[] = {"acme", "beta"};
	struct sbt_daemon d;
	char conf[8192], beta[108], beta_extra[200];
	const char *extras[2];
	struct stat imp_beta, imp_shared;
	int fd_beta, fd_shared;

	(void)state;
	sbt_daemon_init(&d);
	sbt_path(beta, sizeof(beta), &d, "beta.sock");
	snprintf(beta_extra, sizeof(beta_extra), "allow_uids = 0\nsocket = %s\n", beta);
	extras[0] = "allow_uids = 0\n";
	extras[1] = beta_extra;
	sbt_config(&d, conf, sizeof(conf), NULL, 2, two, extras);
	assert_int_equal(sbt_daemon_start(&d, conf, NULL), 0);

	/* someone removes beta's socket file and binds theirs; a reload drops tenant beta, and
	 * with it that socket: the daemon closes its listener but leaves the file alone */
	fd_beta = bind_impostor(beta, &imp_beta);
	sbt_config(&d, conf, sizeof(conf), NULL, 1, names, extra);
	sbt_write_file(d.conf, conf, 0644);
	sbt_daemon_kill(&d, SIGHUP);
	assert_int_equal(sbt_daemon_wait_notify(&d, "READY=1", SBT_TIMEOUT_MS), 0);
	assert_impostor_intact(beta, &imp_beta);

	/* the same with the shared socket at exit */
	fd_shared = bind_impostor(d.socket, &imp_shared);
	sbt_daemon_kill(&d, SIGTERM);
	assert_int_equal(sbt_daemon_wait_exit(&d, SBT_TIMEOUT_MS), 0);
	assert_impostor_intact(d.socket, &imp_shared);
	assert_int_equal(sbt_log_count(&d, "not removing it: the file there is not the socket this daemon bound"), 2);
	/* the admin socket was ours to the end: removed */
	assert_int_equal(access(d.admin, F_OK), -1);
	close(fd_beta);
	close(fd_shared);
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mode_and_group),
		cmocka_unit_test(test_stale_socket_replaced),
		cmocka_unit_test(test_live_socket_not_stolen),
		cmocka_unit_test(test_non_socket_untouched),
		cmocka_unit_test(test_unsafe_directory_refused),
		cmocka_unit_test(test_socket_through_unsafe_link_refused),
		cmocka_unit_test(test_shared_socket_dir),
		cmocka_unit_test(test_impostor_not_removed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
