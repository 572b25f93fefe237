/* SPDX-License-Identifier: MIT */
/* audit: one audit line per request, never a secret. */
#include <stdio.h>

#include "proto/limits.h"
#include "runtime/audit.h"
#include "tenancy/config.h"
#include "util/log.h"
#include "util/logfmt.h"

static bool audit_enabled = true;

void audit_set_enabled(bool on)
{
	audit_enabled = on;
}

/* Room for each value once escaped: a tenant name (a plain token) always fits whole, a table,
 * sub or request id of plain ASCII too, and the sum stays under the logger's 2 KiB line with
 * the fixed text (about 210 bytes): a longer escaped value is cut, still quoted, and the
 * fields after it are never lost. */
#define AUDIT_NAME_MAX 32 /* op and outcome names */
#define AUDIT_TENANT_MAX (CONFIG_TENANT_NAME_MAX + 3)
#define AUDIT_TABLE_MAX 400
#define AUDIT_SUB_MAX 800
#define AUDIT_TOKEN_MAX 80
#define AUDIT_REQID_MAX 400

void audit_request(const struct audit_record *a)
{
	char tenant[AUDIT_TENANT_MAX], op[AUDIT_NAME_MAX], outcome[AUDIT_NAME_MAX];
	char table[AUDIT_TABLE_MAX], sub[AUDIT_SUB_MAX], hash[AUDIT_TOKEN_MAX];
	char reqid[AUDIT_REQID_MAX];
	char records[24] = "-", status[8] = "-";

	if (!audit_enabled)
		return;
	/* Every value is one logfmt value (quoted and escaped when it must be): a sub or a table
	 * name cannot add a field or a line. */
	logfmt_value(tenant, sizeof(tenant), a->tenant);
	logfmt_value(op, sizeof(op), a->op);
	logfmt_value(table, sizeof(table), a->table ? a->table : "-");
	logfmt_value(sub, sizeof(sub), a->sub ? a->sub : "-");
	logfmt_value(hash, sizeof(hash), a->token_hash ? a->token_hash : "-");
	logfmt_value(outcome, sizeof(outcome), a->outcome);
	logfmt_value(reqid, sizeof(reqid), a->upstream_request_id ? a->upstream_request_id : "-");
	if (a->records >= 0)
		snprintf(records, sizeof(records), "%lld", (long long)a->records);
	if (a->upstream_status > 0 && a->upstream_status < 1000)
		snprintf(status, sizeof(status), "%ld", a->upstream_status);

	/* The audit trail does not depend on --log-level; buffered (see log_buffer_printf). */
	log_buffer_printf(LOG_INFO, true,
			  "audit: conn=%llu uid=%u pid=%d%s tenant=%s op=%s id=%llu table=%s sub=%s "
			  "token=%s outcome=%s records=%s upstream_status=%s upstream_request_id=%s "
			  "latency_us=%llu",
			  (unsigned long long)a->conn_id, (unsigned)a->peer->uid, (int)a->peer->pid,
			  !a->peer_gone || peer_alive(a->peer) ? "" : "(exited)", tenant, op,
			  (unsigned long long)a->id, table, sub, hash, outcome, records, status, reqid,
			  (unsigned long long)a->latency_usec);
	/* No reply will be sent to flush it (the client is gone): write it now. */
	if (a->peer_gone)
		log_flush();
}
