/* SPDX-License-Identifier: MIT */
/* audit: one audit line per request, never a secret. */
#include <stdio.h>

#include "runtime/audit.h"
#include "util/log.h"

static bool audit_enabled = true;

void audit_set_enabled(bool on)
{
	audit_enabled = on;
}

void audit_request(const struct audit_record *a)
{
	char conn[24], uid[16], pid[32], id[24], records[24] = "-", status[8] = "-", latency[24];

	if (!audit_enabled)
		return;
	(void)snprintf(conn, sizeof(conn), "%llu", (unsigned long long)a->conn_id);
	(void)snprintf(uid, sizeof(uid), "%u", (unsigned)a->peer->uid);
	(void)snprintf(pid, sizeof(pid), "%d%s", (int)a->peer->pid,
		       !a->peer_gone || peer_alive(a->peer) ? "" : "(exited)");
	(void)snprintf(id, sizeof(id), "%llu", (unsigned long long)a->id);
	if (a->records >= 0)
		(void)snprintf(records, sizeof(records), "%lld", (long long)a->records);
	if (a->upstream_status > 0 && a->upstream_status < 1000)
		(void)snprintf(status, sizeof(status), "%ld", a->upstream_status);
	(void)snprintf(latency, sizeof(latency), "%llu", (unsigned long long)a->latency_usec);

	/* Every value from outside is one logfmt value in text (quoted and escaped when it must
	 * be): a sub or a table name cannot add a field or a line. The numbers are ours. */
	const struct log_field f[] = {
		{"conn", conn, true, NULL},
		{"uid", uid, true, NULL},
		{"pid", pid, true, NULL},
		{"tenant", a->tenant, false, NULL},
		{"op", a->op, false, NULL},
		{"id", id, true, "REQUEST_ID"},
		{"table", a->table, false, NULL},
		{"sub", a->sub, false, NULL},
		{"token", a->token_hash, false, "TOKEN_HASH"},
		{"outcome", a->outcome, false, NULL},
		{"records", records, true, NULL},
		{"upstream_status", status, true, NULL},
		{"upstream_request_id", a->upstream_request_id, false, NULL},
		{"latency_us", latency, true, NULL},
	};

	/* The audit trail does not depend on --log-level; buffered (see log_buffer_printf). */
	log_record(LOG_INFO, true, true, "audit", f, sizeof(f) / sizeof(f[0]));
	/* No reply will be sent to flush it (the client is gone): write it now. */
	if (a->peer_gone)
		log_flush();
}
