/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "runtime/admission.h"

/*
 * The audit trail: one line per request, on stderr at info priority with an "audit:" tag and
 * key=value fields, written whatever --log-level says (unless [broker] audit = no):
 *
 *   audit: conn=7 uid=1000 pid=4242 tenant=acme op=get_records id=3 table=persons
 *          sub=U2abc token=1f2e3d4c5b6a outcome=ok records=2 upstream_status=200
 *          upstream_request_id=... latency_us=812
 *
 * Every value is one logfmt value (util/logfmt.h): bare when it is plain, else double-quoted
 * with \" \\ \n \r \t and \xHH escapes, so a sub such as "U2x outcome=ok" is logged as
 * sub="U2x outcome=ok" and a line has exactly one of each key. Absent values are "-".
 *
 * Never a token, key or record value: the subject token appears only as a SHA-256 prefix that
 * the identity module computes. A pid the kernel reports as gone since accept (pidfd) is
 * printed as "pid=4242(exited)", so a reused pid is never attributed to the wrong process.
 */

struct audit_record {
	uint64_t conn_id;
	const struct peer *peer;
	const char *tenant;
	const char *op; /* "-" when the request could not be decoded */
	uint64_t id;
	const char *table;      /* may be NULL */
	const char *sub;        /* may be NULL */
	const char *token_hash; /* may be NULL */
	const char *outcome;    /* "ok" or the wire error code */
	int64_t records;        /* records in the result; -1: not a record operation ("-") */
	long upstream_status;   /* HTTP status of the upstream call; 0: none ("-") */
	const char *upstream_request_id; /* may be NULL */
	uint64_t latency_usec;
	bool peer_gone; /* the connection is closed: check whether the pid still names the peer */
};

void audit_set_enabled(bool on);
void audit_request(const struct audit_record *a);
