/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Integration test harness: run skybrokerd in a temporary directory with a generated config,
 * talk to it with a small blocking client built on the proto library, run clients under
 * other uids (fork + setresuid), and read the daemon's log.
 *
 * Nothing here sleeps for a fixed time to "let things happen": waits are on conditions (a
 * notify message, a log line, a reply, EOF) with generous timeouts (SBT_TIMEOUT_MS), so the
 * tests are not timing-flaky under ASan or load.
 *
 * Typical use:
 *
 *   struct sbt_daemon d;
 *   sbt_daemon_init(&d);                          // temp dir, socket paths
 *   char conf[4096];
 *   sbt_config(&d, conf, sizeof(conf), "", 1, (const char *[]){"acme"},
 *              (const char *[]){"allow_uids = 0"});
 *   assert_int_equal(sbt_daemon_start(&d, conf, NULL), 0);   // waits for READY=1
 *   struct sbt_client *c = sbt_connect(d.socket);
 *   assert_int_equal(sbt_hello(c, NULL), 0);
 *   assert_int_equal(sbt_ping(c), 0);
 *   sbt_client_free(c);
 *   sbt_daemon_stop(&d);                          // SIGTERM, wait, remove the temp dir
 */

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/buf.h"
#include "proto/message.h"

#define SBT_TIMEOUT_MS 60000 /* generous: ASan, parallel ctest, loaded CI machines */

/* ------------------------------------------------------------------ the daemon */

struct sbt_daemon {
	pid_t pid;
	/* Paths are kept short: socket paths must fit sun_path (108 bytes). */
	char dir[80];     /* temporary directory, 0755 so other uids can reach sockets */
	char conf[108];   /* dir/skybroker.conf */
	char log[108];    /* dir/skybrokerd.log: the daemon's stderr */
	char socket[108]; /* dir/sb.sock: the shared socket used by sbt_config */
	char admin[108];  /* dir/admin.sock */
	char notify[108]; /* dir/notify.sock: NOTIFY_SOCKET for the daemon */
	int notify_fd;
	int exit_status; /* after sbt_daemon_wait_exit: waitpid status */
	bool exited;
};

/* Sets dst (size n) to dir/name, aborting if it does not fit. Returns dst. */
char *sbt_path(char *dst, size_t n, const struct sbt_daemon *d, const char *name);

/* Path of the skybrokerd binary ($SKYBROKERD). Aborts the test when unset. */
const char *sbt_daemon_path(void);

/* Creates the temp dir and fills in the paths. Raises RLIMIT_NOFILE to its hard limit. */
void sbt_daemon_init(struct sbt_daemon *d);

/*
 * Writes a config for n tenants: [broker] with socket = d->socket, admin_socket = d->admin
 * and broker_extra (raw lines, may be NULL); then one [tenant.NAME] per names[i] with dummy but valid
 * Descope/Skyflow settings plus tenant_extra[i] (raw lines, e.g. "allow_uids = 1000").
 * Returns the length written (aborts if buf is too small).
 */
size_t sbt_config(const struct sbt_daemon *d, char *buf, size_t size, const char *broker_extra,
		  size_t n, const char *const *names, const char *const *tenant_extra);

/* Port of the loopback HTTP server (started on first use, one per test process) that serves
 * a JWKS with one RS256 key for any path; sbt_config points tenants at it. */
int sbt_jwks_port(void);

/*
 * sbt_daemon_init, then one tenant "acme" admitting uid 0 with broker_extra in [broker]
 * (written into conf, size bytes, so the test can edit and reload it), then
 * sbt_daemon_start; aborts the test if the daemon does not become ready.
 */
void sbt_start_one(struct sbt_daemon *d, char *conf, size_t size, const char *broker_extra);

/* Writes text to path (mode 0644). */
void sbt_write_file(const char *path, const char *text, unsigned mode);

/*
 * Writes conf_text to d->conf and starts skybrokerd --config d->conf --allow-root [args...]
 * (args NULL-terminated, may be NULL) with stderr to d->log and NOTIFY_SOCKET set; waits for
 * READY=1. Returns 0, or -1 if the daemon exited or never became ready (its log is printed).
 */
int sbt_daemon_start(struct sbt_daemon *d, const char *conf_text, const char *const *args);

/* Starts argv (argv[0] is the program) like sbt_daemon_start, without writing a config or
 * waiting; extra environment entries "K=V" in env (NULL-terminated, may be NULL). */
int sbt_daemon_spawn(struct sbt_daemon *d, const char *const *argv, const char *const *env);

/* Waits for a notify datagram containing `needle` (e.g. "READY=1"). 0 or -1 on timeout/exit. */
int sbt_daemon_wait_notify(struct sbt_daemon *d, const char *needle, int timeout_ms);

/* Whether a notification containing needle has arrived (reads what is queued, no waiting;
 * consumes the messages read). */
bool sbt_daemon_notified(struct sbt_daemon *d, const char *needle);

/* Waits until path exists as a socket (condition-based). 0 or -1 after timeout_ms. */
int sbt_wait_socket(const char *path, int timeout_ms);

/* Sends a signal. */
void sbt_daemon_kill(struct sbt_daemon *d, int sig);

/* Waits for the process to exit; returns its exit code (0..255), 128+signal, or -1 on
 * timeout. */
int sbt_daemon_wait_exit(struct sbt_daemon *d, int timeout_ms);

/* SIGTERM, wait (SIGKILL after the timeout), remove the temp dir. Safe to call twice.
 * Returns the exit code as sbt_daemon_wait_exit (0 for a clean exit, which also means no
 * sanitizer report: ASan/UBSan make the daemon exit non-zero); prints the log otherwise. */
int sbt_daemon_stop(struct sbt_daemon *d);

/* Log: whether the daemon's stderr contains needle / waits until it does (0 or -1). */
bool sbt_log_contains(const struct sbt_daemon *d, const char *needle);
int sbt_log_wait(const struct sbt_daemon *d, const char *needle, int timeout_ms);
/* Number of occurrences of needle in the log. */
size_t sbt_log_count(const struct sbt_daemon *d, const char *needle);
/* Prints the log to stderr (for failing tests). */
void sbt_log_dump(const struct sbt_daemon *d);

/* Runs a command (argv NULL-terminated) with extra env, captures stdout+stderr into out
 * (NUL-terminated, truncated), returns the exit code or -1. Blocks until it exits. */
int sbt_run(const char *const *argv, const char *const *env, char *out, size_t out_size);

/* ------------------------------------------------------------------ the client */

struct sbt_client {
	int fd;
	struct sb_buf in;
	struct sb_buf out;
	uint64_t next_id;
	enum sb_op *ops; /* op of each id sent, indexed by id */
	size_t n_ops;
};

/* Connects (blocking, with SBT_TIMEOUT_MS send/receive timeouts). NULL on failure (errno). */
struct sbt_client *sbt_connect(const char *path);
/* As sbt_connect, but returns -errno instead of NULL (to test refusals). */
int sbt_connect2(const char *path, struct sbt_client **ret);
void sbt_client_free(struct sbt_client *c);

/* Sends raw bytes. 0 or -errno. */
int sbt_send_raw(struct sbt_client *c, const void *p, size_t n);

/* Sends a request; assigns req->id = next id when it is 0, returns the id (> 0) or -errno. */
int64_t sbt_send(struct sbt_client *c, struct sb_request *req);

/* Pipelining: encodes a request into the client's output buffer without sending it (id
 * assigned as by sbt_send); sbt_flush sends everything queued in one write. */
int64_t sbt_queue(struct sbt_client *c, struct sb_request *req);
int sbt_flush(struct sbt_client *c);

/* Receives one reply (blocking up to SBT_TIMEOUT_MS). 0, -EPIPE on EOF, -ETIMEDOUT, or
 * a decode error. Release with sb_reply_done. */
int sbt_recv(struct sbt_client *c, struct sb_reply *rep);

/* hello with versions [1] and client "sbt/1"; rep (optional) receives the reply (caller
 * releases). Returns 0 if the reply is ok. */
int sbt_hello(struct sbt_client *c, struct sb_reply *rep);
/* sbt_connect + sbt_hello; aborts the test (with the reason) if either fails. */
struct sbt_client *sbt_connect_hello(const char *path);

/* ping; 0 if answered ok with the same id. */
int sbt_ping(struct sbt_client *c);
/* Sends a request of op with no arguments (ping/health/stats) and returns its reply. */
int sbt_call(struct sbt_client *c, enum sb_op op, struct sb_reply *rep);

/* Waits until the daemon closes the connection (EOF or reset), discarding replies.
 * 0 when closed, -ETIMEDOUT. */
int sbt_wait_closed(struct sbt_client *c);

/* Error code name of a reply, or "ok". */
const char *sbt_outcome(const struct sb_reply *rep);

/* ------------------------------------------------------------------ other uids */

/*
 * Runs fn(arg) in a child process under uid/gid (setgroups to {gid}, setresgid, setresuid)
 * and returns its exit code (fn's return value), or -1 if it crashed.
 */
int sbt_run_as(uid_t uid, gid_t gid, int (*fn)(void *arg), void *arg);
/* Same with the supplementary groups set to groups[0..n). */
int sbt_run_as_groups(uid_t uid, gid_t gid, const gid_t *groups, size_t n,
		      int (*fn)(void *arg), void *arg);
