/* SPDX-License-Identifier: MIT */
/* audit: one audit line per request, never a secret. */
#include <stdio.h>

#include "runtime/audit.h"
#include "util/log.h"
#include "util/sanitize.h"

static bool audit_enabled = true;

void audit_set_enabled(bool on)
{
	audit_enabled = on;
}

void audit_request(const struct audit_record *a)
{
	char table[128], sub[128], hash[80], reqid[160];

	if (!audit_enabled)
		return;
	/* Field values that came from a client or upstream are sanitized: no forged lines. */
	sanitize_for_log(table, sizeof(table), a->table ? a->table : "-");
	sanitize_for_log(sub, sizeof(sub), a->sub ? a->sub : "-");
	sanitize_for_log(hash, sizeof(hash), a->token_hash ? a->token_hash : "-");
	sanitize_for_log(reqid, sizeof(reqid), a->upstream_request_id ? a->upstream_request_id : "-");

	/* The audit trail does not depend on --log-level; buffered (see log_buffer_printf). */
	log_buffer_printf(LOG_INFO, true,
			  "audit: conn=%llu uid=%u pid=%d%s tenant=%s op=%s id=%llu table=%s sub=%s "
			  "token=%s outcome=%s upstream_request_id=%s latency_us=%llu",
			  (unsigned long long)a->conn_id, (unsigned)a->peer->uid, (int)a->peer->pid,
			  !a->peer_gone || peer_alive(a->peer) ? "" : "(exited)", a->tenant, a->op,
			  (unsigned long long)a->id, table, sub, hash, a->outcome, reqid,
			  (unsigned long long)a->latency_usec);
	/* No reply will be sent to flush it (the client is gone): write it now. */
	if (a->peer_gone)
		log_flush();
}
