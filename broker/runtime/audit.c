/* SPDX-License-Identifier: MIT */
/* audit: one audit line per request, never a secret. */
#include <stdint.h>
#include <stdio.h>

#include "runtime/audit.h"
#include "util/log.h"

static bool audit_enabled = true;

void audit_set_enabled(bool on)
{
	audit_enabled = on;
}

/* v in decimal into out, NUL-terminated: out holds its digits and the NUL (21 bytes hold any
 * uint64_t; a uid takes 11, an HTTP status below 1000 four). */
static void decimal(char *out, uint64_t v)
{
	char tmp[20];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = '\0';
}

void audit_request(const struct audit_record *a)
{
	char conn[24], uid[16], pid[32], id[24], records[24] = "-", status[8] = "-", latency[24];

	if (!audit_enabled)
		return;
	/* one line per request: the numbers without a format string to parse each time */
	decimal(conn, a->conn_id);
	decimal(uid, (unsigned)a->peer->uid);
	if (a->peer->pid < 0 || (a->peer_gone && !peer_alive(a->peer)))
		(void)snprintf(pid, sizeof(pid), "%d%s", (int)a->peer->pid,
			       !a->peer_gone || peer_alive(a->peer) ? "" : "(exited)");
	else
		decimal(pid, (uint64_t)a->peer->pid);
	decimal(id, a->id);
	if (a->records >= 0)
		decimal(records, (uint64_t)a->records);
	if (a->upstream_status > 0 && a->upstream_status < 1000)
		decimal(status, (uint64_t)a->upstream_status);
	decimal(latency, a->latency_usec);

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
