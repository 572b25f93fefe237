/* SPDX-License-Identifier: MIT */
/*
 * Revocation reaches open connections (issue 9, item 3): after a reload, each open connection
 * is re-checked against the new admission rules, on the socket it came in on. One that a new
 * connection would no longer get its tenant for (uid removed from allow_uids, tenant removed,
 * tenant moved to another socket, another tenant now first to admit it) receives one error,
 * {id 0, forbidden}, and is closed; what it had in flight is cancelled, unanswered. The
 * others, and the admin socket (whose rule is not configured), stay open and are served.
 * The clients run as the test's own uid, so the daemon's configuration alone decides.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define REVOKED "no longer admitted after a configuration reload"
#define OTHER_UID 4242u /* nobody in these tests */

/* A hello'd client of tenant want on path. */
static struct sbt_client *client_of(const char *path, const char *want)
{
	struct sbt_client *c = sbt_connect(path);
	struct sb_reply rep;

	assert_non_null(c);
	assert_int_equal(sbt_hello(c, &rep), 0);
	assert_string_equal(rep.u.hello.tenant, want);
	sb_reply_done(&rep);
	return c;
}

/* Sends a ping (delayed by test_ping_delay) and then a health; the health's reply, which comes
 * first, proves the ping is in flight. */
static void ping_in_flight(struct sbt_client *c)
{
	struct sb_request ping = {.op = SB_OP_PING}, health = {.op = SB_OP_HEALTH};
	struct sb_reply rep;
	int64_t id;

	assert_true(sbt_queue(c, &ping) > 0);
	id = sbt_queue(c, &health);
	assert_true(id > 0);
	assert_int_equal(sbt_flush(c), 0);
	assert_int_equal(sbt_recv(c, &rep), 0);
	assert_int_equal(rep.id, id);
	assert_true(rep.ok);
	sb_reply_done(&rep);
}

/* The connection gets exactly one reply, the revocation (id 0, forbidden), then EOF: no reply
 * to what was in flight. */
static void assert_revoked(struct sbt_client *c)
{
	struct sb_reply rep;

	assert_int_equal(sbt_recv(c, &rep), 0);
	assert_false(rep.ok);
	assert_int_equal(rep.id, 0);
	assert_string_equal(sbt_outcome(&rep), "forbidden");
	assert_string_equal(rep.error.message, REVOKED);
	sb_reply_done(&rep);
	assert_int_equal(sbt_recv(c, &rep), -EPIPE);
}

/* The connection is still served by tenant want. */
static void assert_served(struct sbt_client *c, const char *want)
{
	struct sb_reply rep;

	assert_int_equal(sbt_call(c, SB_OP_HEALTH, &rep), 0);
	assert_true(rep.ok);
	assert_string_equal(rep.u.health.tenant, want);
	sb_reply_done(&rep);
}

/* Writes conf_text and reloads; waits for the reload to finish (READY=1). */
static void reload(struct sbt_daemon *d, const char *conf_text)
{
	sbt_write_file(d->conf, conf_text, 0644);
	sbt_daemon_kill(d, SIGHUP);
	assert_int_equal(sbt_daemon_wait_notify(d, "RELOADING=1", SBT_TIMEOUT_MS), 0);
	assert_int_equal(sbt_daemon_wait_notify(d, "READY=1", SBT_TIMEOUT_MS), 0);
}

/* Value of counter k in the admin stats' connections map (0 if absent). */
static uint64_t conn_counter(struct sbt_client *admin, const char *k)
{
	struct sb_reply rep;
	uint64_t v = 0;

	assert_int_equal(sbt_call(admin, SB_OP_STATS, &rep), 0);
	assert_true(rep.ok);
	for (uint32_t i = 0; i < rep.u.stats.connections->via.map.size; i++) {
		const msgpack_object_kv *kv = &rep.u.stats.connections->via.map.ptr[i];

		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(k) &&
		    memcmp(kv->key.via.str.ptr, k, strlen(k)) == 0 &&
		    kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
			v = kv->val.via.u64;
	}
	sb_reply_done(&rep);
	return v;
}

/*
 * acme (shared socket), beta, crew and keep (each on its own socket) admit our uid. The reload
 * takes our uid out of acme's allow_uids, removes beta, moves crew to another socket and
 * leaves keep alone: the connections of acme (with a ping in flight), beta and crew are
 * revoked; keep's and the admin connection are served on.
 */
static void test_reload_revokes(void **state)
{
	struct sbt_daemon d;
	struct sbt_client *a, *b, *c, *k, *m, *c2;
	char conf[8192], sb[108], sc[108], sc2[108], sk[108];
	char ea[64], eb[192], ec[192], ek[192];
	const char *names4[] = {"acme", "beta", "crew", "keep"};
	const char *names3[] = {"acme", "crew", "keep"};
	const char *extra[4];
	unsigned me = (unsigned)getuid();

	(void)state;
	sbt_daemon_init(&d);
	sbt_path(sb, sizeof(sb), &d, "beta.sock");
	sbt_path(sc, sizeof(sc), &d, "crew.sock");
	sbt_path(sc2, sizeof(sc2), &d, "crew2.sock");
	sbt_path(sk, sizeof(sk), &d, "keep.sock");
	snprintf(ea, sizeof(ea), "allow_uids = %u\n", me);
	snprintf(eb, sizeof(eb), "socket = %s\nallow_uids = %u\n", sb, me);
	snprintf(ec, sizeof(ec), "socket = %s\nallow_uids = %u\n", sc, me);
	snprintf(ek, sizeof(ek), "socket = %s\nallow_uids = %u\n", sk, me);
	extra[0] = ea;
	extra[1] = eb;
	extra[2] = ec;
	extra[3] = ek;
	sbt_config(&d, conf, sizeof(conf), "test_ping_delay = 600s\n", 4, names4, extra);
	assert_int_equal(sbt_daemon_start(&d, conf, NULL), 0);
	a = client_of(d.socket, "acme");
	b = client_of(sb, "beta");
	c = client_of(sc, "crew");
	k = client_of(sk, "keep");
	m = client_of(d.admin, "@admin");
	ping_in_flight(a);

	snprintf(ea, sizeof(ea), "allow_uids = %u\n", OTHER_UID);
	snprintf(ec, sizeof(ec), "socket = %s\nallow_uids = %u\n", sc2, me);
	extra[0] = ea;
	extra[1] = ec;
	extra[2] = ek;
	sbt_config(&d, conf, sizeof(conf), "test_ping_delay = 600s\n", 3, names3, extra);
	reload(&d, conf);

	assert_revoked(a);
	assert_revoked(b);
	assert_revoked(c);
	assert_served(k, "keep");
	assert_int_equal(conn_counter(m, "closed_revoked"), 3);
	/* one line per closed connection, naming it */
	assert_int_equal(sbt_log_count(&d, "closing: " REVOKED), 3);
	assert_true(sbt_log_contains(&d, "tenant=acme: closing: " REVOKED));
	assert_true(sbt_log_contains(&d, "tenant=beta: closing: " REVOKED));
	assert_true(sbt_log_contains(&d, "tenant=crew: closing: " REVOKED));
	assert_true(sbt_log_contains(&d, "3 open connection(s) no longer admitted closed"));
	/* crew is served where it moved */
	c2 = client_of(sc2, "crew");
	assert_served(c2, "crew");

	/* a reload that changes nobody's admission closes nothing */
	reload(&d, conf);
	assert_served(k, "keep");
	assert_served(c2, "crew");
	assert_int_equal(conn_counter(m, "closed_revoked"), 3);
	assert_int_equal(sbt_log_count(&d, "closing: " REVOKED), 3);

	sbt_client_free(a);
	sbt_client_free(b);
	sbt_client_free(c);
	sbt_client_free(c2);
	sbt_client_free(k);
	sbt_client_free(m);
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

/*
 * Admission picks the first tenant of the socket, in configuration order, that admits the
 * peer: when the reload puts a tenant before acme that admits our uid too, a new connection
 * would get that tenant, and the open acme connection is revoked like any other.
 */
static void test_reload_revokes_when_another_tenant_comes_first(void **state)
{
	struct sbt_daemon d;
	struct sbt_client *a, *z;
	char conf[8192], e[64];
	const char *names1[] = {"acme"}, *names2[] = {"zeta", "acme"};
	const char *extra[2] = {e, e};

	(void)state;
	snprintf(e, sizeof(e), "allow_uids = %u\n", (unsigned)getuid());
	sbt_daemon_init(&d);
	sbt_config(&d, conf, sizeof(conf), NULL, 1, names1, extra);
	assert_int_equal(sbt_daemon_start(&d, conf, NULL), 0);
	a = client_of(d.socket, "acme");

	sbt_config(&d, conf, sizeof(conf), NULL, 2, names2, extra);
	reload(&d, conf);
	assert_revoked(a);
	z = client_of(d.socket, "zeta");
	assert_served(z, "zeta");
	sbt_client_free(a);
	sbt_client_free(z);
	assert_int_equal(sbt_daemon_stop(&d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reload_revokes),
		cmocka_unit_test(test_reload_revokes_when_another_tenant_comes_first),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
